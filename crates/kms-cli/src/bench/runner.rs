//! Runs one workload per thread and times every call, as p11perftest does: each thread has
//! its own CMK (so its own object handle and, on PKCS#11, its own session from a pool sized
//! to the thread count), runs its warm-up calls untimed, then all threads start together.
//! A stop signal ends the calls of every thread at once.

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use kms_core::KmsError;

use super::interrupt::interrupted;

/// One thread's way of making a call: the engine in-process, or a signed request to an
/// endpoint over the thread's own connection.
pub(crate) trait Caller: Send {
    /// Makes the call once; the response is dropped (and its secrets wiped).
    ///
    /// # Errors
    /// The call's failure, with the code it is counted under.
    fn call(&mut self) -> Result<(), CallError>;
}

/// A failed call: the API's error code (or what stood in for one, such as `HTTP 502` or
/// `connection`), and a message that never holds key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallError {
    pub code: String,
    pub message: String,
}

impl From<KmsError> for CallError {
    fn from(error: KmsError) -> Self {
        Self {
            code: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

/// When each thread stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// After this long.
    Duration(Duration),
    /// After this many calls per thread.
    Iterations(u64),
}

/// What the timed calls of one run did.
#[derive(Debug)]
pub(crate) struct Timings {
    /// Latency of every successful call, in nanoseconds (3 significant digits).
    pub latency_ns: Histogram<u64>,
    /// Failed calls by error code.
    pub errors_by_code: BTreeMap<String, u64>,
    /// The first failure's message (error messages never hold key material).
    pub first_error: Option<String>,
    /// From the first thread's start to the last thread's end.
    pub elapsed: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            latency_ns: new_histogram(),
            errors_by_code: BTreeMap::new(),
            first_error: None,
            elapsed: Duration::ZERO,
        }
    }
}

impl Timings {
    /// Counts one failed call.
    pub(crate) fn count_error(&mut self, error: CallError) {
        *self.errors_by_code.entry(error.code.clone()).or_default() += 1;
        self.first_error
            .get_or_insert_with(|| format!("{}: {}", error.code, error.message));
    }

    /// Records one successful call's latency.
    pub(crate) fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        // The record grows to fit; only a latency beyond its largest possible range (about
        // 146 years) is clamped.
        if self.latency_ns.record(ns).is_err() {
            self.latency_ns.saturating_record(ns);
        }
    }

    /// Adds another thread's timings (its span is merged by the caller).
    fn merge(&mut self, other: Self) {
        // Both histograms resize themselves, so adding cannot fail for want of range.
        let _ = self.latency_ns.add(&other.latency_ns);
        for (code, count) in other.errors_by_code {
            *self.errors_by_code.entry(code).or_default() += count;
        }
        self.first_error = self.first_error.take().or(other.first_error);
    }
}

/// A latency record from 1 ns up, growing as needed, exact to 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    match Histogram::new(SIGNIFICANT_DIGITS) {
        Ok(histogram) => histogram,
        // `new` refuses only more than 5 significant digits.
        Err(_) => unreachable!("{SIGNIFICANT_DIGITS} significant digits are in range"),
    }
}

/// The latency record's precision.
const SIGNIFICANT_DIGITS: u8 = 3;

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

/// Runs `callers` (one per thread): `warmup` untimed calls each, then timed calls until
/// `limit`, updating `bar`.
pub(crate) fn run<C: Caller>(
    callers: Vec<C>,
    warmup: u64,
    limit: Limit,
    bar: &ProgressBar,
) -> Timings {
    let start_line = Barrier::new(callers.len() + 1);
    let progress: Vec<Progress> = callers.iter().map(|_| Progress::default()).collect();
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let threads: Vec<_> = callers
            .into_iter()
            .zip(&progress)
            .map(|(mut caller, counter)| {
                let start_line = &start_line;
                scope.spawn(move || {
                    for _ in 0..warmup {
                        if interrupted() {
                            break;
                        }
                        let _ = caller.call();
                    }
                    start_line.wait();
                    time_calls(&mut caller, limit, counter)
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
                timings.merge(thread.timings);
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
fn time_calls(caller: &mut impl Caller, limit: Limit, counter: &Progress) -> ThreadTimings {
    let mut timings = Timings::default();
    let start = Instant::now();
    let mut calls = 0u64;
    loop {
        let before = Instant::now();
        let outcome = caller.call();
        let after = Instant::now();
        match outcome {
            Ok(()) => timings.record(after - before),
            Err(error) => timings.count_error(error),
        }
        calls += 1;
        counter.0.store(calls, Ordering::Relaxed);
        let done = interrupted()
            || match limit {
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
