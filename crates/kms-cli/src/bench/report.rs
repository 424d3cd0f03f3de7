//! `kms bench`'s results: throughput and latency percentiles per operation and thread
//! count, as a table or as one JSON document.

use serde_json::{Value, json};

use super::runner::{Limit, Timings};

/// Latency figures of one run, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// The figures of `latencies_ns`, sorted here; all zero when empty.
    pub(crate) fn of(latencies_ns: &mut [u64]) -> Self {
        latencies_ns.sort_unstable();
        let Some(&max) = latencies_ns.last() else {
            return Self::default();
        };
        let total: u128 = latencies_ns.iter().map(|&ns| u128::from(ns)).sum();
        let micros = |ns: f64| ns / 1_000.0;
        Self {
            mean: micros(total as f64 / latencies_ns.len() as f64),
            p50: micros(nearest_rank(latencies_ns, 50) as f64),
            p95: micros(nearest_rank(latencies_ns, 95) as f64),
            p99: micros(nearest_rank(latencies_ns, 99) as f64),
            max: micros(max as f64),
        }
    }
}

/// The `percent`th percentile of non-empty `sorted` by the nearest-rank method.
fn nearest_rank(sorted: &[u64], percent: usize) -> u64 {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

/// One operation at one thread count.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunResult {
    pub op: &'static str,
    pub threads: usize,
    pub operations: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed_secs: f64,
    pub latency_us: Latency,
}

impl RunResult {
    /// The result of `timings` for `op` on `threads` threads.
    pub(crate) fn new(op: &'static str, threads: usize, mut timings: Timings) -> Self {
        Self {
            op,
            threads,
            operations: timings.latencies_ns.len() as u64,
            errors: timings.errors,
            first_error: timings.first_error,
            elapsed_secs: timings.elapsed.as_secs_f64(),
            latency_us: Latency::of(&mut timings.latencies_ns),
        }
    }

    /// An operation refused before timing (its trial call failed), with that error.
    pub(crate) fn refused(op: &'static str, threads: usize, error: String) -> Self {
        Self {
            op,
            threads,
            operations: 0,
            errors: 1,
            first_error: Some(error),
            elapsed_secs: 0.0,
            latency_us: Latency::default(),
        }
    }

    /// Successful operations per second over the run.
    pub(crate) fn ops_per_sec(&self) -> f64 {
        if self.elapsed_secs > 0.0 {
            self.operations as f64 / self.elapsed_secs
        } else {
            0.0
        }
    }

    fn to_json(&self) -> Value {
        let latency = &self.latency_us;
        json!({
            "op": self.op,
            "threads": self.threads,
            "operations": self.operations,
            "errors": self.errors,
            "first_error": self.first_error,
            "elapsed_secs": self.elapsed_secs,
            "ops_per_sec": self.ops_per_sec(),
            "latency_us": {
                "mean": latency.mean,
                "p50": latency.p50,
                "p95": latency.p95,
                "p99": latency.p99,
                "max": latency.max,
            },
        })
    }
}

/// How a bench was run, for its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunSettings {
    /// The backend's name: `soft`, or the token's description.
    pub backend: String,
    pub limit: Limit,
    pub warmup: u64,
    /// All threads used one CMK.
    pub shared_key: bool,
}

/// The whole report as one JSON document.
pub(crate) fn to_json(settings: &RunSettings, results: &[RunResult]) -> Value {
    let (duration_secs, iterations) = match settings.limit {
        Limit::Duration(duration) => (Some(duration.as_secs_f64()), None),
        Limit::Iterations(iterations) => (None, Some(iterations)),
    };
    json!({
        "backend": settings.backend,
        "duration_secs": duration_secs,
        "iterations_per_thread": iterations,
        "warmup_per_thread": settings.warmup,
        "shared_key": settings.shared_key,
        "results": results.iter().map(RunResult::to_json).collect::<Vec<_>>(),
    })
}

/// The whole report as a table, with each refused operation's error below it.
pub(crate) fn to_table(settings: &RunSettings, results: &[RunResult]) -> String {
    let mut table = format!(
        "backend: {}{}\n{:<34} {:>7} {:>10} {:>12} {:>10} {:>10} {:>10} {:>10} {:>7}\n",
        settings.backend,
        if settings.shared_key {
            " (all threads on one CMK)"
        } else {
            ""
        },
        "operation",
        "threads",
        "ops",
        "ops/s",
        "p50 us",
        "p95 us",
        "p99 us",
        "max us",
        "errors",
    );
    for result in results {
        let latency = &result.latency_us;
        table.push_str(&format!(
            "{:<34} {:>7} {:>10} {:>12.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>7}\n",
            result.op,
            result.threads,
            result.operations,
            result.ops_per_sec(),
            latency.p50,
            latency.p95,
            latency.p99,
            latency.max,
            result.errors,
        ));
        if let Some(error) = &result.first_error {
            table.push_str(&format!("    first error: {error}\n"));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut latencies: Vec<u64> = (1..=100).rev().map(|us| us * 1_000).collect();
        let latency = Latency::of(&mut latencies);
        assert_eq!(latency.p50, 50.0);
        assert_eq!(latency.p95, 95.0);
        assert_eq!(latency.p99, 99.0);
        assert_eq!(latency.max, 100.0);
        assert_eq!(latency.mean, 50.5);
        let mut one = vec![7_000];
        let latency = Latency::of(&mut one);
        assert_eq!((latency.p50, latency.p99, latency.max), (7.0, 7.0, 7.0));
        assert_eq!(Latency::of(&mut []), Latency::default());
    }

    #[test]
    fn ops_per_second_counts_successes_over_the_elapsed_time() {
        let timings = Timings {
            latencies_ns: vec![1_000; 500],
            errors: 3,
            first_error: Some("KMS.0207".into()),
            elapsed: std::time::Duration::from_millis(250),
        };
        let result = RunResult::new("encrypt-datakey", 2, timings);
        assert_eq!(result.operations, 500);
        assert_eq!(result.errors, 3);
        assert_eq!(result.ops_per_sec(), 2_000.0);
        assert_eq!(RunResult::refused("x", 1, "no".into()).ops_per_sec(), 0.0);
    }
}
