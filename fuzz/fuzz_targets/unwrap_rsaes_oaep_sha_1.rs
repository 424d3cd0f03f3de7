#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kms_fuzz_bodies::unwrap(kms_core::WrappingAlgorithm::RsaesOaepSha1, data);
});
