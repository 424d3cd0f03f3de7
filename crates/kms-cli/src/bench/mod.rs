//! `kms bench`: throughput and latency of engine operations on the soft backend or a
//! PKCS#11 token, per operation and thread count.
//!
//! Each run gets a fresh engine over an in-memory key store (no store I/O on the timed
//! path, nothing written to the home). On PKCS#11 the session pool is sized to the thread
//! count, and the CMKs and wrapping keys a run made are destroyed in the token after it.

mod options;
mod report;
mod runner;
mod workload;

use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use kms_core::{Backend, Kms, KmsConfig, MemoryStore, Result};
use kms_soft::{RootKey, SoftBackend};

use crate::cli::{BackendChoice, Global};
use crate::home;
pub(crate) use options::{BenchOptions, command};
use report::{RunResult, RunSettings};
use workload::Workload;

/// Reads the `bench` subcommand's options.
///
/// # Errors
/// As [`options::read`].
pub(crate) fn read(matches: &clap::ArgMatches) -> Result<BenchOptions> {
    options::read(matches)
}

/// Runs every operation at every thread count and prints the report.
///
/// # Errors
/// Opening the backend; a failure to clean up what a run made in a token.
pub(crate) fn run(global: &Global, options: &BenchOptions) -> Result<()> {
    let max_threads = options.threads.iter().copied().max().unwrap_or(1);
    let backend: Arc<dyn Backend> = match &global.backend {
        // A throwaway root key: the bench's keys are never kept.
        BackendChoice::Soft { .. } => Arc::new(SoftBackend::new(RootKey::generate()?)),
        choice @ BackendChoice::Pkcs11 { .. } => {
            Arc::new(home::open_pkcs11(choice, Some(max_threads))?)
        }
    };
    let settings = RunSettings {
        backend: backend.capabilities().name.clone(),
        limit: options.limit,
        warmup: options.warmup,
        shared_key: options.workload.shared_key,
    };
    let show_progress = !options.json && std::io::stderr().is_terminal();
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
            results.push(run_one(&kms, op, threads, options, show_progress));
            kms.destroy_all_keys()?;
        }
    }
    if options.json {
        println!("{}", report::to_json(&settings, &results));
    } else {
        print!("{}", report::to_table(&settings, &results));
    }
    Ok(())
}

/// One operation on `threads` threads: per-thread workloads, one trial call each (a refused
/// operation is reported with its error, untimed), then the timed run.
fn run_one(
    kms: &Kms,
    op: workload::BenchOp,
    threads: usize,
    options: &BenchOptions,
    show_progress: bool,
) -> RunResult {
    let spec = &options.workload;
    let mut workloads = Vec::with_capacity(threads);
    let shared_key = if spec.shared_key {
        match workload::create_cmk(kms, op, spec, 0) {
            Ok(key_id) => Some(key_id),
            Err(error) => return RunResult::refused(op.as_str(), threads, error.to_string()),
        }
    } else {
        None
    };
    for thread in 0..threads {
        let key_id = match &shared_key {
            Some(key_id) => Ok(key_id.clone()),
            None => workload::create_cmk(kms, op, spec, thread),
        };
        let prepared = key_id
            .and_then(|key_id| Workload::prepare(kms, op, spec, &key_id))
            .and_then(|workload| workload.call(kms).map(|()| workload));
        match prepared {
            Ok(workload) => workloads.push(workload),
            Err(error) => return RunResult::refused(op.as_str(), threads, error.to_string()),
        }
    }
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
    let timings = runner::run(kms, &workloads, options.warmup, options.limit, &bar);
    bar.finish_and_clear();
    RunResult::new(op.as_str(), threads, timings)
}
