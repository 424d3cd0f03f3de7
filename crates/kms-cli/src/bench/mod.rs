//! `kms bench`: throughput and latency of operations per operation and thread count: on
//! the engine in-process (soft backend or a PKCS#11 token), or as signed HTTP requests to
//! an endpoint (`--endpoint`: `kms serve` or any endpoint of this API).
//!
//! In-process, each run gets a fresh engine over an in-memory key store (no store I/O on
//! the timed path, nothing written to the home). On PKCS#11 the session pool is sized to
//! the thread count, and the CMKs and wrapping keys a run made are destroyed in the token
//! after it. Against an endpoint, each thread has its own keep-alive connection, and the
//! CMKs a run made are scheduled for deletion after it (unless `--key-id` names one).

mod endpoint;
mod interrupt;
mod options;
mod plot;
mod report;
mod runner;
mod workload;

use std::io::{IsTerminal, Write as _};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use kms_core::{Backend, Kms, KmsConfig, KmsError, MemoryStore, Result};
use kms_soft::{RootKey, SoftBackend};

use crate::cli::{BackendChoice, Global};
use crate::home;
use endpoint::{Endpoint, EndpointOptions, HttpCaller};
pub(crate) use options::{BenchOptions, command};
use report::{RunResult, RunSettings};
use runner::{CallError, Caller};
use workload::{BenchOp, EngineCaller, Workload};

/// Reads the `bench` subcommand's options.
///
/// # Errors
/// As [`options::read`].
pub(crate) fn read(matches: &clap::ArgMatches) -> Result<BenchOptions> {
    options::read(matches)
}

/// Runs every operation at every thread count, prints the report and writes the plot.
///
/// # Errors
/// Opening the backend or the endpoint; a failure to clean up what a run made; writing
/// the `--report` file.
pub(crate) fn run(global: &Global, options: &BenchOptions) -> Result<()> {
    if options.endpoint.is_some() && matches!(global.backend, BackendChoice::Pkcs11 { .. }) {
        return Err(KmsError::InvalidParameter(
            "--endpoint sends requests to a server, whose backend is its own: drop --backend"
                .into(),
        ));
    }
    if let (Some(path), Some(endpoint)) = (&options.wrk_script, &options.endpoint) {
        return write_wrk_script(global, options, endpoint, path);
    }
    interrupt::watch()?;
    let show_progress = !options.json && std::io::stderr().is_terminal();
    let (settings, results) = match &options.endpoint {
        Some(endpoint) => run_on_endpoint(global, options, endpoint, show_progress)?,
        None => run_in_process(global, options, show_progress)?,
    };
    if let Some(path) = &options.report {
        plot::write(path, &settings, &results)?;
    }
    if options.json {
        println!("{}", report::to_json(&settings, &results));
    } else {
        print!("{}", report::to_table(&settings, &results));
    }
    if interrupt::interrupted() {
        // The runs done are reported and what they made is cleaned up; the status says
        // the bench did not finish.
        let _ = std::io::stdout().flush();
        std::process::exit(interrupt::EXIT_STATUS);
    }
    Ok(())
}

/// How a run of `options` on `target` is described in its report.
fn settings(target: String, options: &BenchOptions) -> RunSettings {
    RunSettings {
        backend: target,
        limit: options.limit,
        warmup: options.warmup,
        shared_key: options.workload.shared_key,
    }
}

/// The runs on the engine in-process.
fn run_in_process(
    global: &Global,
    options: &BenchOptions,
    show_progress: bool,
) -> Result<(RunSettings, Vec<RunResult>)> {
    let max_threads = options.threads.iter().copied().max().unwrap_or(1);
    let backend: Arc<dyn Backend> = match &global.backend {
        // A throwaway root key: the bench's keys are never kept.
        BackendChoice::Soft { .. } => Arc::new(SoftBackend::new(RootKey::generate()?)),
        choice @ BackendChoice::Pkcs11 { .. } => {
            Arc::new(home::open_pkcs11(choice, Some(max_threads))?)
        }
    };
    let settings = settings(backend.capabilities().name.clone(), options);
    let mut results = Vec::new();
    for &op in &options.ops {
        for &threads in &options.threads {
            let kms = Kms::with_config(
                Arc::clone(&backend),
                Arc::new(MemoryStore::new()),
                // No background key generation competing with the timed calls.
                KmsConfig {
                    wrapping_key_pool_size: 0,
                    ..KmsConfig::default()
                },
            );
            let result = match engine_callers(&kms, op, threads, options) {
                Ok(callers) => time(op, threads, callers, options, show_progress),
                Err(error) => RunResult::refused(op.as_str(), threads, error.into()),
            };
            results.push(result);
            kms.destroy_all_keys()?;
            if interrupt::interrupted() {
                return Ok((settings, results));
            }
        }
    }
    Ok((settings, results))
}

/// One engine caller per thread, each with its CMK (or all on one, `--shared-key`), after
/// one trial call each: an operation the backend refuses is reported with its error.
fn engine_callers<'k>(
    kms: &'k Kms,
    op: BenchOp,
    threads: usize,
    options: &BenchOptions,
) -> Result<Vec<EngineCaller<'k>>> {
    let spec = &options.workload;
    let shared_key = if spec.shared_key {
        Some(workload::create_cmk(kms, op, spec, 0)?)
    } else {
        None
    };
    (0..threads)
        .map(|thread| {
            let key_id = match &shared_key {
                Some(key_id) => key_id.clone(),
                None => workload::create_cmk(kms, op, spec, thread)?,
            };
            let workload = Workload::prepare(kms, op, spec, &key_id)?;
            workload.call(kms)?;
            Ok(EngineCaller { kms, workload })
        })
        .collect()
}

/// The runs against an endpoint.
fn run_on_endpoint(
    global: &Global,
    options: &BenchOptions,
    endpoint_options: &EndpointOptions,
    show_progress: bool,
) -> Result<(RunSettings, Vec<RunResult>)> {
    let endpoint = Arc::new(Endpoint::open(endpoint_options, global.project.as_str())?);
    let settings = settings(format!("endpoint {}", endpoint_options.url), options);
    // Aliases stay taken while keys await deletion: each bench's keys have aliases of
    // their own.
    let bench_id = format!(
        "{}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis()),
        std::process::id()
    );
    let mut results = Vec::new();
    for &op in &options.ops {
        for &threads in &options.threads {
            let mut created = Vec::new();
            let run = format!("{bench_id}/x{threads}");
            let result = match http_callers(&endpoint, op, &run, threads, options, &mut created) {
                Ok(callers) => time(op, threads, callers, options, show_progress),
                Err(error) => RunResult::refused(op.as_str(), threads, error),
            };
            results.push(result);
            // A connection of its own: one left idle through the run may have been closed
            // by the server.
            let mut cleanup = HttpCaller::new(Arc::clone(&endpoint))?;
            for key_id in created {
                endpoint::schedule_deletion(&mut cleanup, &key_id).map_err(|error| {
                    KmsError::Backend(format!(
                        "scheduling the deletion of bench key {key_id}: {}: {}",
                        error.code, error.message
                    ))
                })?;
            }
            if interrupt::interrupted() {
                return Ok((settings, results));
            }
        }
    }
    Ok((settings, results))
}

/// Writes a `wrk` script of the first operation's request under `--key-id`, and says so.
fn write_wrk_script(
    global: &Global,
    options: &BenchOptions,
    endpoint_options: &EndpointOptions,
    path: &std::path::Path,
) -> Result<()> {
    let endpoint = Arc::new(Endpoint::open(endpoint_options, global.project.as_str())?);
    let op = options
        .ops
        .first()
        .copied()
        .unwrap_or(BenchOp::EncryptDatakey);
    let failed = |error: CallError| {
        KmsError::Backend(format!(
            "preparing {}: {}: {}",
            op.as_str(),
            error.code,
            error.message
        ))
    };
    let callers =
        http_callers(&endpoint, op, "wrk", 1, options, &mut Vec::new()).map_err(failed)?;
    let script = callers
        .first()
        .map(HttpCaller::wrk_script)
        .transpose()
        .map_err(failed)?
        .unwrap_or_default();
    std::fs::write(path, script)
        .map_err(|error| KmsError::Store(format!("writing {}: {error}", path.display())))?;
    println!(
        "{}",
        serde_json::json!({"wrk_script": path.display().to_string(), "op": op.as_str()})
    );
    Ok(())
}

/// One HTTP caller per thread, each with its CMK (`--key-id`'s, one shared, or its own,
/// recorded in `created`). No trial call: a request the endpoint refuses is counted under
/// its error code in the run.
fn http_callers(
    endpoint: &Arc<Endpoint>,
    op: BenchOp,
    run: &str,
    threads: usize,
    options: &BenchOptions,
    created: &mut Vec<String>,
) -> std::result::Result<Vec<HttpCaller>, CallError> {
    let spec = &options.workload;
    let given_key = options
        .endpoint
        .as_ref()
        .and_then(|endpoint| endpoint.key_id.clone());
    let mut callers = Vec::with_capacity(threads);
    let mut shared_key = given_key;
    for thread in 0..threads {
        let mut caller = HttpCaller::new(Arc::clone(endpoint))?;
        let key_id = match &shared_key {
            Some(key_id) => key_id.clone(),
            None => {
                let key_id = endpoint::create_key(
                    &mut caller,
                    &workload::create_key_body(op, spec, run, thread),
                )?;
                created.push(key_id.clone());
                if spec.shared_key {
                    shared_key = Some(key_id.clone());
                }
                key_id
            }
        };
        let sealed = if op.needs_sealed_dek() {
            let body = workload::request_body(BenchOp::EncryptDatakey, spec, &key_id, None);
            Some(endpoint::seal(&mut caller, &body)?)
        } else {
            None
        };
        caller.set_request(
            op.as_str(),
            &workload::request_body(op, spec, &key_id, sealed.as_deref()),
        );
        callers.push(caller);
    }
    Ok(callers)
}

/// Times `callers` (one per thread) with a progress bar when `show_progress`.
fn time<C: Caller>(
    op: BenchOp,
    threads: usize,
    callers: Vec<C>,
    options: &BenchOptions,
    show_progress: bool,
) -> RunResult {
    let bar = if show_progress {
        ProgressBar::new(runner::progress_len(options.limit, threads))
            .with_style(
                ProgressStyle::with_template("{msg:>40} [{bar:30}] {percent:>3}%")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            )
            .with_message(format!("{} x{threads}", op.as_str()))
    } else {
        ProgressBar::hidden()
    };
    let timings = runner::run(callers, options.warmup, options.limit, &bar);
    bar.finish_and_clear();
    RunResult::new(op.as_str(), threads, timings)
}
