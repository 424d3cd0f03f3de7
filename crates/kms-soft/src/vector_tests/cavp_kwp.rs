//! NIST CAVP AES-KWP authenticated decryption (SP 800-38F, `KWP_AD_128.txt` and
//! `KWP_AD_256.txt`, trimmed to every FAIL record and some passing ones: see the data
//! files' headers) through `wrapping::kwp_unwrap`, the AES-KWP step of RSA_AES_KEY_WRAP
//! import. A passing record of at least 16 bytes unwraps to exactly its plaintext; a FAIL
//! record, and a passing one under 16 bytes (the engine's minimum), gives exactly KMS.0311.

use kms_core::SecretBytes;

use super::MIN_KWP_PLAINTEXT;
use super::tally::{Tally, gives, refused_with};
use crate::wrapping::kwp_unwrap;

const KWP_AD_128: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/cavp_kwp_ad_128.txt"
));
const KWP_AD_256: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/cavp_kwp_ad_256.txt"
));
/// FAIL records in each original file: 20 for each of its 5 plaintext lengths.
const FAIL_RECORDS_PER_FILE: usize = 100;

/// One CAVP record: key, ciphertext, and the plaintext, or `None` where it says FAIL.
struct Record {
    count: String,
    plaintext_bits: usize,
    key: Vec<u8>,
    ciphertext: Vec<u8>,
    plaintext: Option<Vec<u8>>,
}

fn hex(text: &str) -> Vec<u8> {
    kms_core::decode_hex(text).unwrap()
}

/// The records of a CAVP response file: `[PLAINTEXT LENGTH = n]` sections of blank-line
/// separated `COUNT`, `K`, `C`, then `P` or `FAIL`.
fn records(file: &str) -> Vec<Record> {
    let mut records = Vec::new();
    let mut plaintext_bits = None;
    for block in file.split("\n\n").map(str::trim) {
        if block.is_empty() || block.starts_with('#') {
            continue;
        }
        if let Some(bits) = block
            .strip_prefix("[PLAINTEXT LENGTH = ")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            plaintext_bits = Some(bits.parse().unwrap());
            continue;
        }
        let field = |name: &str| block.lines().find_map(|line| line.strip_prefix(name));
        let record = Record {
            count: field("COUNT = ").unwrap().to_owned(),
            plaintext_bits: plaintext_bits.unwrap(),
            key: hex(field("K = ").unwrap()),
            ciphertext: hex(field("C = ").unwrap()),
            plaintext: field("P = ").map(hex),
        };
        let says_fail = block.lines().any(|line| line == "FAIL");
        assert_ne!(record.plaintext.is_some(), says_fail, "{block}");
        if let Some(plaintext) = &record.plaintext {
            assert_eq!(plaintext.len() * 8, record.plaintext_bits, "{block}");
        }
        records.push(record);
    }
    records
}

fn run(name: &str, file: &str) {
    let records = records(file);
    let fail_records = records.iter().filter(|r| r.plaintext.is_none()).count();
    assert_eq!(
        fail_records, FAIL_RECORDS_PER_FILE,
        "{name}: every FAIL record"
    );
    let mut tally = Tally::new(name, &["pass", "FAIL refused"]);
    for record in &records {
        let unwrapped = kwp_unwrap(&SecretBytes::new(record.key.clone()), &record.ciphertext);
        let (label, outcome) = match &record.plaintext {
            None => ("FAIL refused", refused_with("KMS.0311", unwrapped)),
            Some(plaintext) if plaintext.len() < MIN_KWP_PLAINTEXT => (
                "pass under 16 bytes refused (engine minimum)",
                refused_with("KMS.0311", unwrapped),
            ),
            Some(plaintext) => ("pass", gives(plaintext, unwrapped)),
        };
        let case = format_args!(
            "COUNT = {} of [PLAINTEXT LENGTH = {}]",
            record.count, record.plaintext_bits
        );
        tally.check(label, case, outcome);
    }
    tally.finish();
}

#[test]
fn rsa_aes_key_wrap_kwp_step_passes_cavp_kwp_ad_128() {
    run("CAVP KWP_AD_128.txt (subset)", KWP_AD_128);
}

#[test]
fn rsa_aes_key_wrap_kwp_step_passes_cavp_kwp_ad_256() {
    run("CAVP KWP_AD_256.txt (subset)", KWP_AD_256);
}
