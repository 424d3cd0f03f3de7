#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kms_fuzz_bodies::request(kms_core::Operation::Verify, data);
});
