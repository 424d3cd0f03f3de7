//! The hex codec of secrets (`kms_core::hex`) beside base16ct, the codec it replaced:
//! encode and decode of 96 bytes (a 64-byte DEK and its digest) and 2048 bytes, into
//! caller buffers (`hex-encode`, `hex-decode`) and through the engine's allocating
//! functions (`hex-encode-string`, `hex-decode-vec`). Then a timing-leak check (see
//! [`timing_classes`]).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark set-up fails loudly"
)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use kms_core::{decode_hex, encode_hex, hex};
use rand_core::{Rng, SeedableRng};

const SIZES: [usize; 2] = [96, 2048];

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rand_chacha::ChaCha20Rng::from_seed([7; 32]).fill_bytes(&mut bytes);
    bytes
}

fn codecs(c: &mut Criterion) {
    for len in SIZES {
        let bytes = random_bytes(len);
        // Mixed case, as requests may send it.
        let text: Vec<u8> = base16ct::upper::encode_string(&bytes)
            .bytes()
            .enumerate()
            .map(|(i, c)| {
                if i % 3 == 0 {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect();
        let text_str = String::from_utf8(text.clone()).unwrap();
        let mut encoded = vec![0u8; 2 * len];
        let mut decoded = vec![0u8; len];

        let mut group = c.benchmark_group(format!("hex-encode/{len}"));
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function("base16ct", |b| {
            b.iter(|| {
                base16ct::upper::encode(black_box(&bytes), black_box(&mut encoded)).unwrap();
            });
        });
        group.bench_function("kms", |b| {
            b.iter(|| hex::encode_upper(black_box(&bytes), black_box(&mut encoded)));
        });
        group.finish();

        let mut group = c.benchmark_group(format!("hex-decode/{len}"));
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function("base16ct", |b| {
            b.iter(|| {
                base16ct::mixed::decode(black_box(&text), black_box(&mut decoded)).unwrap();
            });
        });
        group.bench_function("kms", |b| {
            b.iter(|| hex::decode_mixed(black_box(&text), black_box(&mut decoded)).unwrap());
        });
        group.finish();

        // What the engine's callers get: a fresh String or Vec per call (ours also runs
        // the standard library's UTF-8 check, since the crate forbids unsafe code).
        let mut group = c.benchmark_group("hex-encode-string");
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("base16ct", len), |b| {
            b.iter(|| base16ct::upper::encode_string(black_box(&bytes)));
        });
        group.bench_function(BenchmarkId::new("kms", len), |b| {
            b.iter(|| encode_hex(black_box(&bytes)));
        });
        group.finish();

        let mut group = c.benchmark_group("hex-decode-vec");
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("base16ct", len), |b| {
            b.iter(|| base16ct::mixed::decode_vec(black_box(&text_str)).unwrap());
        });
        group.bench_function(BenchmarkId::new("kms", len), |b| {
            b.iter(|| decode_hex(black_box(&text_str)).unwrap());
        });
        group.finish();
    }
}

/// A dudect-style check (Reparaz, Balasch, Verbauwhede 2017) of `hex::decode_mixed`:
/// decodes of two input classes of the same length, all `'0'` characters and the hex of
/// random bytes, are timed in a random interleaving, and Welch's t statistic of the two
/// classes' times is printed.
///
/// |t| stays small (below about 4.5, dudect's threshold) when the timing distribution does
/// not depend on the class; a value far above it is evidence of a data-dependent timing
/// leak. A single short run is noisy: a larger |t| on a busy machine calls for a rerun
/// before a conclusion. Kept as a benchmark, not a test, because it measures time.
fn timing_classes() {
    const LEN: usize = 1024;
    const BATCH: usize = 8;
    // Criterion's `--quick` (as CI runs benches) or test mode gets a shorter run.
    let quick = std::env::args().any(|arg| arg == "--quick" || arg == "--test");
    let samples = if quick { 20_000 } else { 200_000 };
    let zeros = vec![b'0'; 2 * LEN];
    let random = base16ct::lower::encode_string(&random_bytes(LEN)).into_bytes();
    let mut out = vec![0u8; LEN];
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
    let mut classes = vec![0u8; samples];
    rng.fill_bytes(&mut classes);
    let (mut fixed, mut other) = (Stats::default(), Stats::default());
    for class in classes {
        let input = if class & 1 == 0 { &zeros } else { &random };
        let start = Instant::now();
        for _ in 0..BATCH {
            hex::decode_mixed(black_box(input), black_box(&mut out)).unwrap();
        }
        let nanos = start.elapsed().as_nanos() as f64;
        if class & 1 == 0 {
            fixed.add(nanos);
        } else {
            other.add(nanos);
        }
    }
    // Samples above the 99th percentile (interrupts, migrations) say nothing of the codec.
    let t = welch_t(&fixed, &other);
    println!(
        "hex-timing/decode-{LEN}: zeros {:.1} ns, random {:.1} ns per {BATCH} decodes, \
         Welch t = {t:.2} ({samples} samples)",
        fixed.mean(),
        other.mean()
    );
}

/// Running mean and variance (Welford).
#[derive(Default)]
struct Stats {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Stats {
    fn add(&mut self, x: f64) {
        self.n += 1.0;
        let delta = x - self.mean;
        self.mean += delta / self.n;
        self.m2 += delta * (x - self.mean);
    }

    fn mean(&self) -> f64 {
        self.mean
    }

    fn variance(&self) -> f64 {
        self.m2 / (self.n - 1.0)
    }
}

fn welch_t(a: &Stats, b: &Stats) -> f64 {
    (a.mean - b.mean) / (a.variance() / a.n + b.variance() / b.n).sqrt()
}

criterion_group!(benches, codecs);

fn main() {
    benches();
    timing_classes();
    Criterion::default().configure_from_args().final_summary();
}
