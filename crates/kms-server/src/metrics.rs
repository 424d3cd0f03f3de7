//! Prometheus metrics (DESIGN 10): requests and errors by operation and status, and a
//! latency histogram by operation, in the text exposition format. Labels carry operation
//! names, status codes and error codes only: never a request field.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Debug, Default)]
struct Latency {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

#[derive(Debug, Default)]
struct Counts {
    /// Requests by (operation, HTTP status).
    requests: BTreeMap<(&'static str, u16), u64>,
    /// Refusals by (operation, error code).
    errors: BTreeMap<(&'static str, &'static str), u64>,
    latency: BTreeMap<&'static str, Latency>,
}

/// The server's counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    counts: Mutex<Counts>,
}

impl Metrics {
    /// Counts one request of `operation` answered with `status` (and `error_code` if it
    /// failed) after `latency`. Names are static (operation names and error codes are), so
    /// counting allocates nothing.
    pub(crate) fn record(
        &self,
        operation: &'static str,
        status: u16,
        error_code: Option<&'static str>,
        latency: Duration,
    ) {
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        *counts.requests.entry((operation, status)).or_default() += 1;
        if let Some(code) = error_code {
            *counts.errors.entry((operation, code)).or_default() += 1;
        }
        let seconds = latency.as_secs_f64();
        let histogram = counts.latency.entry(operation).or_default();
        for (bucket, bound) in histogram.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum_seconds += seconds;
    }

    /// Everything counted so far, in the Prometheus text format.
    pub(crate) fn render(&self) -> String {
        let Ok(counts) = self.counts.lock() else {
            return String::new();
        };
        let mut out = String::new();
        out.push_str(
            "# HELP kms_requests_total Requests answered, by operation and HTTP status.\n",
        );
        out.push_str("# TYPE kms_requests_total counter\n");
        for ((operation, status), count) in &counts.requests {
            let _ = writeln!(
                out,
                "kms_requests_total{{operation=\"{operation}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str("# HELP kms_errors_total Requests refused, by operation and error code.\n");
        out.push_str("# TYPE kms_errors_total counter\n");
        for ((operation, code), count) in &counts.errors {
            let _ = writeln!(
                out,
                "kms_errors_total{{operation=\"{operation}\",code=\"{code}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP kms_request_duration_seconds Time from request to response, by operation.\n",
        );
        out.push_str("# TYPE kms_request_duration_seconds histogram\n");
        for (operation, latency) in &counts.latency {
            for (bound, count) in BUCKETS.iter().zip(latency.buckets) {
                let _ = writeln!(
                    out,
                    "kms_request_duration_seconds_bucket{{operation=\"{operation}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "kms_request_duration_seconds_bucket{{operation=\"{operation}\",le=\"+Inf\"}} {}",
                latency.count
            );
            let _ = writeln!(
                out,
                "kms_request_duration_seconds_sum{{operation=\"{operation}\"}} {}",
                latency.sum_seconds
            );
            let _ = writeln!(
                out,
                "kms_request_duration_seconds_count{{operation=\"{operation}\"}} {}",
                latency.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_as_prometheus_text() {
        let metrics = Metrics::default();
        metrics.record("encrypt-datakey", 200, None, Duration::from_micros(300));
        metrics.record(
            "encrypt-datakey",
            400,
            Some("KMS.2103"),
            Duration::from_millis(3),
        );
        let text = metrics.render();
        assert!(
            text.contains("kms_requests_total{operation=\"encrypt-datakey\",status=\"200\"} 1\n")
        );
        assert!(
            text.contains("kms_errors_total{operation=\"encrypt-datakey\",code=\"KMS.2103\"} 1\n")
        );
        assert!(text.contains(
            "kms_request_duration_seconds_bucket{operation=\"encrypt-datakey\",le=\"0.0005\"} 1\n"
        ));
        assert!(text.contains(
            "kms_request_duration_seconds_bucket{operation=\"encrypt-datakey\",le=\"+Inf\"} 2\n"
        ));
        assert!(
            text.contains("kms_request_duration_seconds_count{operation=\"encrypt-datakey\"} 2\n")
        );
    }
}
