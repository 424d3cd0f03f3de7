//! `kms`: every operation of kms-engine from the shell, as the cloud KMS API's JSON.
//!
//! `kms [--home DIR] [--backend soft|pkcs11] [--pretty] <operation> [REQUEST_JSON]` prints the
//! response JSON and exits 0; on failure it prints `{"error":{...}}` to standard error and
//! exits 1 for errors the caller can fix (4xx) or 2 for the engine's own (5xx). Usage
//! errors exit 1 too. `kms demo` runs the whole API in a fresh temporary home; `kms bench`
//! times operations on the backend; `kms serve` serves the API over HTTP.
#![forbid(unsafe_code)]

mod bench;
mod cli;
mod demo;
mod home;
mod maintenance;
mod operations;
mod output;
mod serve;

use std::fs::File;
use std::io::{self, IsTerminal};
use std::os::fd::AsFd;
use std::process::ExitCode;

use clap::error::ErrorKind;
use cli::{Global, Request};
use kms_core::{KmsError, Operation, Result, SecretString, Tenant};
use output::exit_code;

/// Every block the process frees is wiped first. The engine and this command wipe their
/// own copies of secrets; this covers the copies made by code they do not control: the
/// `rsa` crate's big-integer temporaries (primes of every RSA data key pair and wrapping
/// key), clap's copy of a request given as an argument, serde_json's scratch buffer for a
/// string with escapes. README "Security notes" gives its measured cost.
#[cfg(feature = "wipe-freed-memory")]
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<std::alloc::System> =
    zeroizing_alloc::ZeroAlloc(std::alloc::System);

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
        Some(Request::PurgeDeletedKeys) => maintenance::purge(&global),
        Some(Request::Maintain) => maintenance::maintain(&global),
        Some(Request::Serve(options)) => serve::run(&global, &options),
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
fn run(global: &Global, operation: Operation, body: Option<SecretString>) -> Result<()> {
    let body = match body {
        Some(body) => body,
        None => read_standard_input()?,
    };
    let kms = home::open(global)?;
    let mut out = unbuffered(io::stdout().as_fd())
        .map_err(|error| KmsError::Store(format!("opening standard output: {error}")))?;
    let tenant = Tenant {
        project_id: global.project.clone(),
        ..kms.default_tenant().clone()
    };
    kms_cli::run_operation(&kms, &tenant, operation, &body, global.pretty, &mut out)
}

/// The request body from standard input; `{}` when standard input is a terminal.
fn read_standard_input() -> Result<SecretString> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        return Ok(SecretString::from("{}"));
    }
    let mut input = unbuffered(stdin.as_fd())
        .map_err(|error| KmsError::InvalidJson(format!("reading standard input: {error}")))?;
    kms_cli::read_request(&mut input)
}

/// A duplicate of a standard stream's descriptor, read or written without std's buffer:
/// `Stdin` and `Stdout` keep a buffer for the life of the process that would hold a copy
/// of the request or the response, never wiped.
fn unbuffered(stream: std::os::fd::BorrowedFd<'_>) -> io::Result<File> {
    stream.try_clone_to_owned().map(File::from)
}
