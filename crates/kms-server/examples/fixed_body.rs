//! The HTTP stack's own limit, for comparing `kms serve` with: a server on the same
//! runtime, hyper HTTP/1.1 keep-alive connections and TCP settings as `kms serve`, that
//! answers every request with the same fixed JSON body and does nothing else (no
//! signature check, no engine, no log).
//!
//! `cargo run --release -p kms-server --example fixed_body -- 127.0.0.1:18081 251`
//! listens on the address and answers with a body of 251 bytes (the size of an
//! encrypt-datakey answer; see docs/BENCHMARKS.md).

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A JSON body of `len` bytes: `{"pad":"xxx…"}`.
fn fixed_body(len: usize) -> Bytes {
    let padding = len.saturating_sub(r#"{"pad":""}"#.len());
    Bytes::from(format!(r#"{{"pad":"{}"}}"#, "x".repeat(padding)))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen: SocketAddr = args
        .next()
        .as_deref()
        .unwrap_or("127.0.0.1:18081")
        .parse()?;
    let len: usize = args.next().as_deref().unwrap_or("251").parse()?;
    let body = fixed_body(len);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(listen).await?;
        println!("listening on http://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let body = body.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_: Request<Incoming>| {
                    let body = body.clone();
                    async move {
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "application/json;charset=UTF-8")
                                .body(Full::new(body))
                                .unwrap_or_default(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
