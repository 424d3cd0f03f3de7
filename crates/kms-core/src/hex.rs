//! A constant-time hex codec into buffers the caller sizes: mixed-case decode (behind
//! [`crate::decode_hex`] and [`crate::decode_hex_secret`]) and upper-case encode (public for
//! the benchmarks; the `String` encoders keep base16ct, see `codec.rs`).
//!
//! # Constant time
//!
//! Neither function branches on, or indexes memory with, a value derived from the bytes it
//! converts; only the lengths (public) steer loops and pick the block count and the tail.
//!
//! - Every byte is converted with the same wrapping `u8` arithmetic (subtract, shift, mask,
//!   add); a "this nibble is a letter" or "this character is in a range" decision is a
//!   byte computed from the value's bits (a sign bit spread by [`sign_mask`] in decode, bit
//!   4 of `n + 6` in encode), never a condition.
//! - Decode ANDs each character's validity mask into an accumulator for the whole input,
//!   without an early exit; the accumulator is folded once at the end, and that single
//!   "valid or not" outcome is the only thing a branch depends on.
//! - The loops are plain element-wise maps, so LLVM vectorises them with the x86-64
//!   baseline (SSE2): straight-line `psubb`/`pand`/`pcmpgtb`/`punpcklbw`-style lane
//!   arithmetic. Decode works in fixed-size blocks and pads its last partial block with
//!   `'0'` (a public length decides how much), so no scalar code computes on a character.
//!   Encode's loops end in scalar code for the last few bytes, so its digit function is
//!   one LLVM keeps branch-free there too (see [`upper_digit`]).
//!
//! Source-level arithmetic is only half of the argument: the compiler decides what the
//! machine does. The release build's x86-64 code of both functions was read, and its only
//! conditional jumps test lengths. `benches/benches/hex.rs` keeps a dudect-style timing
//! check of both, with a length that reaches encode's scalar tail, to repeat after a
//! compiler upgrade.

use crate::codec::HexError;

/// Hex characters one decode block reads (it writes half as many bytes).
const DECODE_BLOCK: usize = 32;

/// All ones if the top bit of `x` is set, else zero: an arithmetic shift, no comparison.
#[inline(always)]
fn sign_mask(x: u8) -> u8 {
    // Two's complement reinterpretation; the shift copies the top bit into every bit.
    #[allow(
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        reason = "bit reinterpretation"
    )]
    let mask = ((x as i8) >> 7) as u8;
    mask
}

/// The upper-case hex digit of a nibble (`n <= 15`).
#[inline(always)]
fn upper_digit(n: u8) -> u8 {
    // n + 6 reaches 16 exactly when n > 9 (n <= 15, so it stays below 32): its bit 4 is one
    // for letters, which get the 7 between '9' + 1 and 'A'. A shift and a multiply, not
    // [`sign_mask`]: in the scalar code LLVM makes for a loop's last few bytes, it turns
    // `sign_mask(9 - n) & 7` into a conditional jump on the nibble, and this it does not.
    let letter = (n.wrapping_add(6) >> 4).wrapping_mul(7);
    n.wrapping_add(b'0').wrapping_add(letter)
}

/// All ones if `c - low < count` (as bytes), else zero; `count <= 128`.
#[inline(always)]
fn in_range(c: u8, low: u8, count: u8) -> u8 {
    let x = c.wrapping_sub(low);
    // x < count: x - count borrows (top bit set) and x itself is below 128 (top bit clear).
    sign_mask(x.wrapping_sub(count) & !x)
}

/// A hex character's nibble and validity mask (all ones when `c` is `[0-9a-fA-F]`).
///
/// The nibble of an invalid character is unspecified; callers reject the whole input then.
#[inline(always)]
fn decode_digit(c: u8) -> (u8, u8) {
    // Setting bit 5 folds 'A'..='F' onto 'a'..='f' and leaves '0'..='9' unchanged.
    let folded = c | 0x20;
    let digit = in_range(c, b'0', 10);
    let letter = in_range(folded, b'a', 6);
    // Digits: folded - '0'. Letters: folded - 'a' + 10 = folded - '0' - 0x27.
    let nibble = folded.wrapping_sub(b'0').wrapping_sub(letter & 0x27);
    (nibble, digit | letter)
}

/// Writes the upper-case hex of `src` into `dst[..2 * src.len()]`.
///
/// Bytes of `src` beyond `dst.len() / 2` are not encoded: callers size `dst` as
/// `2 * src.len()`. Constant time in the bytes' values (module docs).
pub fn encode_upper(src: &[u8], dst: &mut [u8]) {
    let len = src.len().min(dst.len() / 2);
    let (Some(src), Some(dst)) = (src.get(..len), dst.get_mut(..2 * len)) else {
        return;
    };
    // Two element-wise passes over `dst` (it stays in L1): spread each byte into its two
    // nibbles, then turn every nibble into its digit. Each pass vectorises at full width.
    for (pair, &byte) in dst.as_chunks_mut::<2>().0.iter_mut().zip(src) {
        *pair = [byte >> 4, byte & 0x0f];
    }
    for digit in dst.iter_mut() {
        *digit = upper_digit(*digit);
    }
}

/// One block: 32 hex characters into 16 bytes, ANDing validity into `valid`.
#[inline(always)]
fn decode_block(
    src: &[u8; DECODE_BLOCK],
    dst: &mut [u8; DECODE_BLOCK / 2],
    valid: &mut [u8; DECODE_BLOCK],
) {
    let mut nibbles = [0u8; DECODE_BLOCK];
    for ((nibble, valid), &c) in nibbles.iter_mut().zip(valid.iter_mut()).zip(src) {
        let (value, mask) = decode_digit(c);
        *nibble = value;
        *valid &= mask;
    }
    for (byte, pair) in dst.iter_mut().zip(nibbles.as_chunks::<2>().0) {
        *byte = (pair[0] << 4) | (pair[1] & 0x0f);
    }
}

/// Decodes hex of either case from `src` into `dst[..src.len() / 2]`.
///
/// Every character is checked, whatever comes before it; `dst` then holds unspecified
/// bytes if the input was not valid (callers drop it). Characters beyond
/// `2 * dst.len()` are not read: callers size `dst` as `src.len() / 2`.
/// Constant time in the characters' values (module docs).
///
/// # Errors
/// [`HexError::OddLength`] when `src.len()` is odd, [`HexError::NotHex`] when a character is
/// outside `[0-9a-fA-F]` (any byte of a multi-byte UTF-8 character is).
pub fn decode_mixed(src: &[u8], dst: &mut [u8]) -> Result<(), HexError> {
    if !src.len().is_multiple_of(2) {
        return Err(HexError::OddLength);
    }
    let len = (src.len() / 2).min(dst.len());
    let (Some(src), Some(dst)) = (src.get(..2 * len), dst.get_mut(..len)) else {
        return Err(HexError::OddLength);
    };
    let mut valid = [0xffu8; DECODE_BLOCK];
    let (blocks, tail) = src.as_chunks::<DECODE_BLOCK>();
    let (out_blocks, out_tail) = dst.as_chunks_mut::<{ DECODE_BLOCK / 2 }>();
    for (block, out) in blocks.iter().zip(out_blocks.iter_mut()) {
        decode_block(block, out, &mut valid);
    }
    if !tail.is_empty() {
        // The tail's length is public: pad it with '0' and run the same block code.
        let mut padded = [b'0'; DECODE_BLOCK];
        for (to, &from) in padded.iter_mut().zip(tail) {
            *to = from;
        }
        let mut out = [0u8; DECODE_BLOCK / 2];
        decode_block(&padded, &mut out, &mut valid);
        for (to, &from) in out_tail.iter_mut().zip(&out) {
            *to = from;
        }
        // The stack copies may hold secret bytes: wipe them.
        zeroize::Zeroize::zeroize(&mut out);
        zeroize::Zeroize::zeroize(&mut padded);
    }
    let all = valid.iter().fold(0xffu8, |all, &mask| all & mask);
    if all == 0xff {
        Ok(())
    } else {
        Err(HexError::NotHex)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn encode(bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![0; 2 * bytes.len()];
        encode_upper(bytes, &mut out);
        out
    }

    fn decode(text: &[u8]) -> Result<Vec<u8>, HexError> {
        let mut out = vec![0; text.len() / 2];
        decode_mixed(text, &mut out).map(|()| out)
    }

    #[test]
    fn every_byte_encodes_as_base16ct_upper() {
        for byte in 0..=255u8 {
            assert_eq!(
                encode(&[byte]),
                base16ct::upper::encode_string(&[byte]).into_bytes(),
                "{byte:#04x}"
            );
        }
    }

    #[test]
    fn every_character_pair_decodes_as_base16ct_mixed() {
        for first in 0..=255u8 {
            for second in 0..=255u8 {
                let text = [first, second];
                let mut expected = [0u8; 1];
                let expected = base16ct::mixed::decode(text, &mut expected).map(<[u8]>::to_vec);
                match (decode(&text), expected) {
                    (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "{text:?}"),
                    (Err(error), Err(_)) => assert_eq!(error, HexError::NotHex, "{text:?}"),
                    (ours, theirs) => panic!("{text:?}: {ours:?} vs {theirs:?}"),
                }
            }
        }
    }

    #[test]
    fn a_bad_character_anywhere_is_rejected() {
        // Every position of full blocks and of the padded tail, in inputs of several sizes.
        for len in [2usize, 30, 32, 34, 64, 96, 192, 200] {
            let good = vec![b'a'; len];
            assert_eq!(decode(&good).unwrap(), vec![0xaa; len / 2]);
            for position in 0..len {
                for bad in [b'g', b'G', b'/', b':', b'@', b'`', 0x10, 0x80, 0xff] {
                    let mut text = good.clone();
                    text[position] = bad;
                    assert_eq!(
                        decode(&text).unwrap_err(),
                        HexError::NotHex,
                        "{len} {position}"
                    );
                }
            }
        }
    }

    #[test]
    fn multibyte_utf8_and_odd_lengths_are_rejected() {
        for text in ["é", "0é0", "€0", "0000€0", "😀", "ａｂ"] {
            assert_eq!(
                decode(text.as_bytes()).unwrap_err(),
                HexError::NotHex,
                "{text}"
            );
        }
        for text in ["0", "abc", "€", "0é", "00000"] {
            assert_eq!(
                decode(text.as_bytes()).unwrap_err(),
                HexError::OddLength,
                "{text}"
            );
        }
        assert_eq!(decode(b"").unwrap(), Vec::<u8>::new());
        assert_eq!(encode(b""), Vec::<u8>::new());
    }

    #[test]
    fn every_length_to_4096_round_trips_like_base16ct() {
        for len in 0..=4096usize {
            let bytes: Vec<u8> = (0..len)
                .map(|i| (i as u8).wrapping_mul(151) ^ (len as u8))
                .collect();
            let text = encode(&bytes);
            assert_eq!(
                text,
                base16ct::upper::encode_string(&bytes).into_bytes(),
                "{len}"
            );
            assert_eq!(decode(&text).unwrap(), bytes, "{len}");
            assert_eq!(
                decode(text.to_ascii_lowercase().as_slice()).unwrap(),
                bytes,
                "{len}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn round_trips_like_base16ct(
            bytes in proptest::collection::vec(any::<u8>(), 0..=4096),
            case_mask in proptest::collection::vec(any::<bool>(), 8192),
        ) {
            let upper = base16ct::upper::encode_string(&bytes);
            prop_assert_eq!(encode(&bytes), upper.as_bytes().to_vec());
            let lower = base16ct::lower::encode_string(&bytes);
            let mixed: Vec<u8> = upper
                .bytes()
                .zip(&case_mask)
                .map(|(c, &lower)| if lower { c.to_ascii_lowercase() } else { c })
                .collect();
            for text in [upper.as_bytes(), lower.as_bytes(), &mixed] {
                prop_assert_eq!(decode(text).unwrap(), bytes.clone());
                prop_assert_eq!(base16ct::mixed::decode_vec(text).unwrap(), bytes.clone());
            }
        }

        #[test]
        fn arbitrary_text_is_judged_like_base16ct(text in proptest::collection::vec(any::<u8>(), 0..=300)) {
            let theirs = if text.len() % 2 == 1 {
                Err(HexError::OddLength)
            } else {
                base16ct::mixed::decode_vec(&text).map_err(|_| HexError::NotHex)
            };
            prop_assert_eq!(decode(&text), theirs);
        }
    }
}
