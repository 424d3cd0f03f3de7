//! Runs one workload per thread and times every call, as p11perftest does: each thread has
//! its own CMK (so its own object handle and, on PKCS#11, its own session from a pool sized
//! to the thread count), runs its warm-up calls untimed, then all threads start together.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use kms_core::Kms;

use super::workload::Workload;

/// When each thread stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// After this long.
    Duration(Duration),
    /// After this many calls per thread.
    Iterations(u64),
}

/// What the timed calls of one run did.
#[derive(Debug, Default)]
pub(crate) struct Timings {
    /// Latency of every successful call, in nanoseconds.
    pub latencies_ns: Vec<u64>,
    /// Failed calls.
    pub errors: u64,
    /// The first failure's message (error messages never hold key material).
    pub first_error: Option<String>,
    /// From the first thread's start to the last thread's end.
    pub elapsed: Duration,
}

/// One thread's timed calls and when they started and ended.
#[derive(Debug)]
struct ThreadTimings {
    timings: Timings,
    start: Instant,
    end: Instant,
}

/// A thread's call counter, on a cache line of its own so counting costs no contention.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Progress(AtomicU64);

/// How often the progress bar is redrawn.
const PROGRESS_TICK: Duration = Duration::from_millis(100);

/// Runs `workloads` (one per thread) against `kms`: `warmup` untimed calls each, then timed
/// calls until `limit`, updating `bar`.
pub(crate) fn run(
    kms: &Kms,
    workloads: &[Workload],
    warmup: u64,
    limit: Limit,
    bar: &ProgressBar,
) -> Timings {
    let start_line = Barrier::new(workloads.len() + 1);
    let progress: Vec<Progress> = workloads.iter().map(|_| Progress::default()).collect();
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let threads: Vec<_> = workloads
            .iter()
            .zip(&progress)
            .map(|(workload, counter)| {
                let start_line = &start_line;
                scope.spawn(move || {
                    for _ in 0..warmup {
                        let _ = workload.call(kms);
                    }
                    start_line.wait();
                    time_calls(kms, workload, limit, counter)
                })
            })
            .collect();
        start_line.wait();
        let (progress, finished) = (&progress, &finished);
        let ticker =
            scope.spawn(move || show_progress(bar, progress, finished, limit, Instant::now()));
        let mut timings = Timings::default();
        let mut span: Option<(Instant, Instant)> = None;
        for thread in threads {
            // A thread panics only on a bug; its calls are then lost from the report, which
            // says how many calls were counted.
            if let Ok(thread) = thread.join() {
                timings.latencies_ns.extend(thread.timings.latencies_ns);
                timings.errors += thread.timings.errors;
                timings.first_error = timings.first_error.or(thread.timings.first_error);
                span = Some(span.map_or((thread.start, thread.end), |(start, end)| {
                    (start.min(thread.start), end.max(thread.end))
                }));
            }
        }
        timings.elapsed = span.map_or(Duration::ZERO, |(start, end)| end - start);
        finished.store(true, Ordering::Release);
        let _ = ticker.join();
        timings
    })
}

/// One thread's timed calls.
fn time_calls(kms: &Kms, workload: &Workload, limit: Limit, counter: &Progress) -> ThreadTimings {
    let mut timings = Timings::default();
    let start = Instant::now();
    let mut calls = 0u64;
    loop {
        let before = Instant::now();
        let outcome = workload.call(kms);
        let after = Instant::now();
        match outcome {
            Ok(()) => timings
                .latencies_ns
                .push(u64::try_from((after - before).as_nanos()).unwrap_or(u64::MAX)),
            Err(error) => {
                timings.errors += 1;
                timings.first_error.get_or_insert_with(|| error.to_string());
            }
        }
        calls += 1;
        counter.0.store(calls, Ordering::Relaxed);
        let done = match limit {
            Limit::Duration(duration) => after - start >= duration,
            Limit::Iterations(iterations) => calls >= iterations,
        };
        if done {
            return ThreadTimings {
                timings,
                start,
                end: after,
            };
        }
    }
}

/// Redraws `bar` until `finished`: elapsed time against the duration, or calls made
/// against the total.
fn show_progress(
    bar: &ProgressBar,
    progress: &[Progress],
    finished: &AtomicBool,
    limit: Limit,
    start: Instant,
) {
    while !finished.load(Ordering::Acquire) {
        let position = match limit {
            Limit::Duration(_) => u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
            Limit::Iterations(_) => progress
                .iter()
                .map(|counter| counter.0.load(Ordering::Relaxed))
                .sum(),
        };
        bar.set_position(position);
        std::thread::sleep(PROGRESS_TICK);
    }
}

/// The progress bar's length for `threads` threads under `limit`.
pub(crate) fn progress_len(limit: Limit, threads: usize) -> u64 {
    match limit {
        Limit::Duration(duration) => u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        Limit::Iterations(iterations) => iterations.saturating_mul(threads as u64),
    }
}
