//! `kms`: every operation of kms-engine from the shell, as the cloud KMS API's JSON.
//!
//! `kms [--home DIR] [--backend soft|pkcs11] [--pretty] <operation> [REQUEST_JSON]` prints the
//! response JSON and exits 0; on failure it prints `{"error":{...}}` to standard error and
//! exits 1 for errors the caller can fix (4xx) or 2 for the engine's own (5xx). Usage
//! errors exit 1 too. `kms demo` runs the whole API in a fresh temporary home; `kms bench`
//! times operations on the backend.
#![forbid(unsafe_code)]

mod bench;
mod cli;
mod demo;
mod home;
mod operations;
mod output;
mod purge;

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use clap::error::ErrorKind;
use cli::{Global, Request};
use kms_core::{KmsError, Operation, Result};
use output::{exit_code, render};

fn main() -> ExitCode {
    let matches = match cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => {
            // Help and version go to standard output and succeed; usage errors are the
            // caller's to fix, like any 4xx.
            let _ = error.print();
            return match error.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(1),
            };
        }
    };
    let outcome = cli::read(&matches).and_then(|(global, request)| match request {
        Some(Request::Demo) => demo::run(global.pretty),
        Some(Request::Bench(options)) => bench::run(&global, &options),
        Some(Request::PurgeDeletedKeys) => purge::run(&global),
        Some(Request::Operation(operation, body)) => run(&global, operation, body),
        None => Err(KmsError::InvalidParameter("no operation given".into())),
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", error.to_json());
            ExitCode::from(exit_code(&error))
        }
    }
}

/// Runs one operation and prints its response.
fn run(global: &Global, operation: Operation, body: Option<String>) -> Result<()> {
    let body = match body {
        Some(body) => body,
        None => read_standard_input()?,
    };
    let kms = home::open(global)?;
    let response = kms.call_json(operation, &body)?;
    println!("{}", render(&response, global.pretty));
    Ok(())
}

/// The request body from standard input; `{}` when standard input is a terminal.
fn read_standard_input() -> Result<String> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok("{}".into());
    }
    let mut body = String::new();
    stdin
        .read_to_string(&mut body)
        .map_err(|error| KmsError::InvalidJson(format!("reading standard input: {error}")))?;
    Ok(body)
}
