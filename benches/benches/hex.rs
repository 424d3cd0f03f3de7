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

/// A dudect-style check (Reparaz, Balasch, Verbauwhede 2017) of both codecs: calls on two
/// input classes of the same length, one fixed input (all `'0'` characters to decode, all
/// zero bytes to encode) and a fresh random one for every sample, are timed in a random
/// interleaving, and Welch's t statistic of the two classes' times is printed. Encode gets
/// 1023 bytes, so its loops end in their scalar tail; fresh inputs keep a branch predictor
/// from learning one input's pattern, which would hide a data-dependent branch.
///
/// |t| stays small (below about 4.5, dudect's threshold) when the timing distribution does
/// not depend on the class; a value far above it is evidence of a data-dependent timing
/// leak. A single short run is noisy: a larger |t| on a busy machine calls for a rerun
/// before a conclusion. Kept as a benchmark, not a test, because it measures time.
fn timing_classes() {
    const LEN: usize = 1024;
    let zeros = vec![b'0'; 2 * LEN];
    timing_check("decode-1024", &zeros, LEN, random_hex, |input, out| {
        hex::decode_mixed(input, out).unwrap();
    });
    let zero_bytes = vec![0u8; LEN - 1];
    timing_check(
        "encode-1023",
        &zero_bytes,
        2 * LEN,
        random_input,
        |input, out| {
            hex::encode_upper(input, out);
        },
    );
}

fn random_hex(rng: &mut rand_chacha::ChaCha20Rng, text: &mut [u8]) {
    let mut bytes = vec![0u8; text.len() / 2];
    rng.fill_bytes(&mut bytes);
    base16ct::lower::encode(&bytes, text).unwrap();
}

fn random_input(rng: &mut rand_chacha::ChaCha20Rng, bytes: &mut [u8]) {
    rng.fill_bytes(bytes);
}

/// Times `run` on `fixed` and on fresh random inputs of its length (made by `fresh`
/// before every sample of either class, outside the timed window) in a random order, and
/// prints Welch's t of the two classes.
fn timing_check(
    name: &str,
    fixed: &[u8],
    out_len: usize,
    fresh: fn(&mut rand_chacha::ChaCha20Rng, &mut [u8]),
    run: impl Fn(&[u8], &mut [u8]),
) {
    const BATCH: usize = 8;
    // Criterion's `--quick` (as CI runs benches) or test mode gets a shorter run.
    let quick = std::env::args().any(|arg| arg == "--quick" || arg == "--test");
    let samples = if quick { 20_000 } else { 200_000 };
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
    // Both classes are written into the same buffer before each sample, so the caches
    // hold the same lines whichever class is timed.
    let mut input = vec![0u8; fixed.len()];
    let mut out = vec![0u8; out_len];
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..samples {
        let class = usize::from(rng.next_u32() & 1 == 1);
        fresh(&mut rng, &mut input);
        if class == 0 {
            input.copy_from_slice(fixed);
        }
        let start = Instant::now();
        for _ in 0..BATCH {
            run(black_box(&input), black_box(&mut out));
        }
        times[class].push(start.elapsed().as_nanos() as f64);
    }
    // Samples above the 99th percentile of both classes (interrupts, migrations) say
    // nothing of the codec: they are cropped, as dudect does.
    let mut all: Vec<f64> = times.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    let crop = all[all.len() * 99 / 100];
    let [fixed_stats, random_stats] = times.map(|class| {
        let mut stats = Stats::default();
        class
            .into_iter()
            .filter(|&t| t <= crop)
            .for_each(|t| stats.add(t));
        stats
    });
    let t = welch_t(&fixed_stats, &random_stats);
    println!(
        "hex-timing/{name}: fixed {:.1} ns, random {:.1} ns per {BATCH} calls, \
         Welch t = {t:.2} ({samples} samples)",
        fixed_stats.mean(),
        random_stats.mean()
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
