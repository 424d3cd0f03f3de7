//! The holding allocator finds what the engine tests rely on it to find: a plain copy of a
//! secret, the partial copies a growing buffer leaves, the old block of a reallocation, a
//! secret inside a larger structure's base64; and it finds nothing that was wiped or that
//! another thread freed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use base64ct::{Base64, Encoding};
use kms_test_alloc::{FRAGMENT, Hit, HoldingAllocator, Needle, record};
use zeroize::Zeroizing;

#[global_allocator]
static ALLOCATOR: HoldingAllocator = HoldingAllocator;

const SECRET: [u8; 32] = *b"\x13\x8a\xf0\x5c\x61\x2e\xd4\x97\xb3\x08\x7f\xe1\x4a\x36\xc9\x52\
                            \x0d\x9b\x64\xae\x25\xf8\x71\xc3\x1e\x86\x5d\xb0\x3a\xe7\x49\x02";

fn hex() -> String {
    base16ct::upper::encode_string(&SECRET)
}

fn blocks_holding(hits: &[Hit<'_>], label: &str) -> usize {
    hits.iter()
        .find(|hit| hit.needle == label)
        .map_or(0, |hit| hit.blocks)
}

#[test]
fn a_plain_copy_is_found_and_a_wiped_one_is_not() {
    let needles = Needle::renderings("secret", &SECRET);
    let text = hex();
    let ((), freed) = record(|| drop(text.clone()));
    assert_eq!(blocks_holding(&freed.hits(&needles), "secret HEX"), 1);
    drop(freed);

    let ((), freed) = record(|| drop(Zeroizing::new(text.clone())));
    assert!(freed.blocks() > 0);
    assert_eq!(freed.hits(&needles), []);
}

#[test]
fn a_growing_buffer_leaves_partial_copies_even_when_its_last_block_is_wiped() {
    let needles = Needle::renderings("secret", &SECRET);
    let text = hex();
    let ((), freed) = record(|| {
        let mut grown = Zeroizing::new(String::new());
        for character in text.chars() {
            grown.push(character);
        }
        // One more byte: the 64-byte block holding the whole hex is given up.
        grown.push('!');
    });
    // The blocks of 16, 32 and 64 bytes (a quarter, half and all of the hex; the 8-byte one
    // holds less than a fragment); the last one, wiped, holds nothing.
    assert_eq!(blocks_holding(&freed.hits(&needles), "secret HEX"), 3);
}

#[test]
fn the_old_block_of_a_reallocation_is_held() {
    let needles = Needle::renderings("secret", &SECRET);
    let ((), freed) = record(|| {
        let mut bytes = Zeroizing::new(Vec::with_capacity(SECRET.len()));
        bytes.extend_from_slice(&SECRET);
        bytes.reserve(4096);
    });
    assert_eq!(
        freed.hits(&needles),
        [Hit {
            needle: "secret bytes",
            blocks: 1
        }]
    );
}

#[test]
fn a_copy_of_fewer_bytes_than_a_fragment_is_not_counted() {
    let needles = Needle::renderings("secret", &SECRET);
    let text = hex();
    let ((), freed) = record(|| drop(text[..FRAGMENT - 1].to_owned()));
    assert_eq!(freed.hits(&needles), []);
}

#[test]
fn blocks_another_thread_frees_are_not_held() {
    let needles = Needle::renderings("secret", &SECRET);
    let text = hex();
    let worker = std::thread::spawn(move || {
        // Waits for the recording to have started on the test thread.
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(text.clone());
    });
    let ((), freed) = record(|| worker.join().unwrap());
    assert_eq!(blocks_holding(&freed.hits(&needles), "secret HEX"), 0);
}

#[test]
fn a_part_of_a_structure_is_found_in_the_structure_s_base64() {
    // SECRET at offset 7 of a larger structure, as a scalar sits inside a PKCS#8 key.
    let whole: Vec<u8> = [&b"header!"[..], &SECRET, b"public trailer"].concat();
    let needle = Needle::base64_within("part", &whole, 7..7 + SECRET.len());
    let encoded = Base64::encode_string(&whole);
    let ((), freed) = record(|| drop(encoded.clone()));
    assert_eq!(
        freed.hits(&[needle]),
        [Hit {
            needle: "part in base64",
            blocks: 1
        }]
    );
    drop(freed);
    // The public parts alone are no hit.
    let needle = Needle::base64_within("part", &whole, 7..7 + SECRET.len());
    let public = Base64::encode_string(&whole[..7]) + &Base64::encode_string(&whole[39..]);
    let ((), freed) = record(|| drop(public.clone()));
    assert_eq!(freed.hits(&[needle]), []);
}
