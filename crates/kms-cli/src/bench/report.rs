//! `kms bench`'s results: throughput and latency percentiles per operation and thread
//! count, as a table or as one JSON document.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::runner::{CallError, Limit, Timings};

/// Latency figures of one run, in microseconds, exact to 3 significant digits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Latency {
    pub mean: f64,
    pub min: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub p99_99: f64,
    pub max: f64,
}

/// Nanoseconds as microseconds.
fn micros(ns: f64) -> f64 {
    ns / 1_000.0
}

impl Latency {
    /// The figures of `latency_ns`; all zero when it is empty.
    pub(crate) fn of(latency_ns: &Histogram<u64>) -> Self {
        if latency_ns.is_empty() {
            return Self::default();
        }
        let at = |quantile: f64| micros(latency_ns.value_at_quantile(quantile) as f64);
        Self {
            mean: micros(latency_ns.mean()),
            min: micros(latency_ns.min() as f64),
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            p99_9: at(0.999),
            p99_99: at(0.9999),
            max: micros(latency_ns.max() as f64),
        }
    }
}

/// How finely the percentile curve is drawn: points per decade of "nines".
const CURVE_POINTS_PER_NINE: u32 = 20;

/// The most nines the curve reaches: p99.99.
pub(crate) const CURVE_NINES: u32 = 4;

/// The latency-percentile curve of `latency_ns`: `(nines, microseconds)` points from p0
/// (0 nines) to p99.99 (4 nines), where percentile `p` is at `-log10(1 - p/100)` nines.
fn percentile_curve(latency_ns: &Histogram<u64>) -> Vec<(f64, f64)> {
    if latency_ns.is_empty() {
        return Vec::new();
    }
    (0..=CURVE_NINES * CURVE_POINTS_PER_NINE)
        .map(|step| {
            let nines = f64::from(step) / f64::from(CURVE_POINTS_PER_NINE);
            let quantile = 1.0 - 10f64.powf(-nines);
            let value = if step == 0 {
                latency_ns.min()
            } else {
                latency_ns.value_at_quantile(quantile)
            };
            (nines, micros(value as f64))
        })
        .collect()
}

/// One operation at one thread count.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunResult {
    pub op: &'static str,
    pub threads: usize,
    pub operations: u64,
    pub errors_by_code: BTreeMap<String, u64>,
    pub first_error: Option<String>,
    pub elapsed_secs: f64,
    pub latency_us: Latency,
    /// For the `--report` plot: see [`percentile_curve`].
    pub percentile_curve: Vec<(f64, f64)>,
}

impl RunResult {
    /// The result of `timings` for `op` on `threads` threads.
    pub(crate) fn new(op: &'static str, threads: usize, timings: Timings) -> Self {
        Self {
            op,
            threads,
            operations: timings.latency_ns.len(),
            errors_by_code: timings.errors_by_code,
            first_error: timings.first_error,
            elapsed_secs: timings.elapsed.as_secs_f64(),
            latency_us: Latency::of(&timings.latency_ns),
            percentile_curve: percentile_curve(&timings.latency_ns),
        }
    }

    /// An operation refused before timing (its set-up or trial call failed), with that
    /// error.
    pub(crate) fn refused(op: &'static str, threads: usize, error: CallError) -> Self {
        let mut timings = Timings::default();
        timings.count_error(error);
        Self::new(op, threads, timings)
    }

    /// Failed calls.
    pub(crate) fn errors(&self) -> u64 {
        self.errors_by_code.values().sum()
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
            "errors": self.errors(),
            "errors_by_code": self.errors_by_code,
            "first_error": self.first_error,
            "elapsed_secs": self.elapsed_secs,
            "ops_per_sec": self.ops_per_sec(),
            "latency_us": {
                "mean": latency.mean,
                "min": latency.min,
                "p50": latency.p50,
                "p95": latency.p95,
                "p99": latency.p99,
                "p99.9": latency.p99_9,
                "p99.99": latency.p99_99,
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
            result.errors(),
        ));
        if result.errors() > 0 {
            let by_code: Vec<String> = result
                .errors_by_code
                .iter()
                .map(|(code, count)| format!("{code} x{count}"))
                .collect();
            table.push_str(&format!("    errors: {}\n", by_code.join(", ")));
        }
        if let Some(error) = &result.first_error {
            table.push_str(&format!("    first error: {error}\n"));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram_of(values_ns: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut histogram = Histogram::new(3).unwrap();
        for value in values_ns {
            histogram.record(value).unwrap();
        }
        histogram
    }

    /// Within the histogram's 3 significant digits.
    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= expected * 1e-3
    }

    #[test]
    fn percentiles_are_exact_to_three_significant_digits() {
        let latency = Latency::of(&histogram_of((1..=10_000).map(|us| us * 1_000)));
        for (actual, expected) in [
            (latency.min, 1.0),
            (latency.p50, 5_000.0),
            (latency.p95, 9_500.0),
            (latency.p99, 9_900.0),
            (latency.p99_9, 9_990.0),
            (latency.p99_99, 9_999.0),
            (latency.max, 10_000.0),
            (latency.mean, 5_000.5),
        ] {
            assert!(
                close(actual, expected),
                "{actual} vs {expected}: {latency:?}"
            );
        }
        let one = Latency::of(&histogram_of([7_000]));
        assert!(close(one.p50, 7.0) && close(one.p99_99, 7.0) && close(one.max, 7.0));
        assert_eq!(Latency::of(&histogram_of([])), Latency::default());
    }

    #[test]
    fn the_curve_runs_from_p0_to_p99_99_and_never_falls() {
        let curve = percentile_curve(&histogram_of((1..=100_000).map(|ns| ns * 100)));
        assert_eq!(curve.len(), 81);
        assert_eq!(curve[0], (0.0, 0.1));
        assert_eq!(curve[80].0, 4.0);
        assert!(close(curve[80].1, 9_999.0), "{:?}", curve[80]);
        // 1 nine is p90.
        assert!(close(curve[20].1, 9_000.0), "{:?}", curve[20]);
        assert!(curve.windows(2).all(|pair| pair[0].1 <= pair[1].1));
        assert!(percentile_curve(&histogram_of([])).is_empty());
    }

    #[test]
    fn ops_per_second_counts_successes_and_errors_are_counted_by_code() {
        let mut timings = Timings {
            latency_ns: histogram_of(std::iter::repeat_n(1_000, 500)),
            elapsed: std::time::Duration::from_millis(250),
            ..Timings::default()
        };
        for code in ["KMS.0207", "APIGW.0301", "KMS.0207"] {
            timings.count_error(CallError {
                code: code.into(),
                message: "m".into(),
            });
        }
        let result = RunResult::new("encrypt-datakey", 2, timings);
        assert_eq!(result.operations, 500);
        assert_eq!(result.errors(), 3);
        assert_eq!(
            result.errors_by_code,
            BTreeMap::from([("APIGW.0301".into(), 1), ("KMS.0207".into(), 2)])
        );
        assert_eq!(result.first_error.as_deref(), Some("KMS.0207: m"));
        assert_eq!(result.ops_per_sec(), 2_000.0);
        let refused = RunResult::refused(
            "x",
            1,
            CallError {
                code: "KMS.9002".into(),
                message: "no".into(),
            },
        );
        assert_eq!(refused.ops_per_sec(), 0.0);
        assert_eq!(
            refused.errors_by_code,
            BTreeMap::from([("KMS.9002".into(), 1)])
        );
    }
}
