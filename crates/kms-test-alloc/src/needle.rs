//! What a test looks for in freed memory: a secret in each form the code may have held it,
//! found even where only part of it was copied.

use std::collections::HashMap;
use std::ops::Range;

use base64ct::{Base64, Encoding};

/// The length of the pieces a needle is looked for by. A block holding any 16 bytes of a
/// needle at a multiple of 16 (or its last 16) counts as holding it, so a copy of any
/// 31 consecutive bytes of a needle is found: a buffer that grew half-way through a secret
/// left such a partial copy. Needles shorter than this are looked for whole.
pub const FRAGMENT: usize = 16;

/// Bytes to look for, with a label to report them by. It has no `Debug`: the bytes are a
/// secret's.
pub struct Needle {
    label: String,
    bytes: Vec<u8>,
}

impl Needle {
    /// `bytes`, reported as `label`.
    #[must_use]
    pub fn new(label: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            label: label.into(),
            bytes: bytes.into(),
        }
    }

    /// `secret` as raw bytes, upper- and lower-case hex, and standard base64: the forms the
    /// API and its callers write secrets in. Labelled `"<label> bytes"`, `"<label> HEX"`,
    /// `"<label> hex"` and `"<label> base64"`.
    #[must_use]
    pub fn renderings(label: &str, secret: &[u8]) -> Vec<Self> {
        vec![
            Self::new(format!("{label} bytes"), secret),
            Self::new(
                format!("{label} HEX"),
                base16ct::upper::encode_string(secret),
            ),
            Self::new(
                format!("{label} hex"),
                base16ct::lower::encode_string(secret),
            ),
            Self::new(format!("{label} base64"), Base64::encode_string(secret)),
        ]
    }

    /// The characters of the base64 of `whole` that only the bytes `part` of it determine:
    /// how a secret field inside a larger structure (the scalar inside a PKCS#8 key) shows
    /// in that structure's base64, which is not the base64 of the field alone. Labelled
    /// `"<label> in base64"`; empty when `part` is out of range or too short to determine a
    /// whole group of four characters.
    #[must_use]
    pub fn base64_within(label: &str, whole: &[u8], part: Range<usize>) -> Self {
        // Base64 writes each 3 bytes as 4 characters: the groups wholly inside `part`.
        let first_group = part.start.div_ceil(3);
        let end_group = part.end / 3;
        let text = Base64::encode_string(whole);
        let characters = text
            .get(first_group * 4..end_group * 4)
            .filter(|_| part.end <= whole.len())
            .unwrap_or_default();
        Self::new(format!("{label} in base64"), characters)
    }

    /// The label.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The pieces this needle is looked for by: [`FRAGMENT`] bytes at each multiple of it
    /// and the last ones, or the whole needle when it is shorter.
    fn fragments(&self) -> impl Iterator<Item = &[u8]> {
        let tail = self
            .bytes
            .len()
            .checked_sub(FRAGMENT)
            .and_then(|start| self.bytes.get(start..));
        let short = (self.bytes.len() < FRAGMENT).then_some(self.bytes.as_slice());
        self.bytes
            .chunks_exact(FRAGMENT)
            .chain(tail)
            .chain(short)
            .filter(|fragment| !fragment.is_empty())
    }
}

/// Finds which needles a block holds, in one pass over the block.
pub(crate) struct Finder {
    /// Needles by their full-length fragments.
    by_fragment: HashMap<[u8; FRAGMENT], Vec<usize>>,
    /// Needles shorter than a fragment, looked for whole.
    short: Vec<(usize, Vec<u8>)>,
}

impl Finder {
    pub(crate) fn new(needles: &[Needle]) -> Self {
        let mut by_fragment: HashMap<[u8; FRAGMENT], Vec<usize>> = HashMap::new();
        let mut short = Vec::new();
        for (index, needle) in needles.iter().enumerate() {
            for fragment in needle.fragments() {
                match <[u8; FRAGMENT]>::try_from(fragment) {
                    Ok(key) => by_fragment.entry(key).or_default().push(index),
                    Err(_) => short.push((index, fragment.to_vec())),
                }
            }
        }
        Self { by_fragment, short }
    }

    /// Sets `found[i]` for each needle `i` that `block` holds.
    pub(crate) fn mark(&self, block: &[u8], found: &mut [bool]) {
        for window in block.windows(FRAGMENT) {
            let Ok(key) = <[u8; FRAGMENT]>::try_from(window) else {
                continue;
            };
            for &index in self.by_fragment.get(&key).into_iter().flatten() {
                if let Some(flag) = found.get_mut(index) {
                    *flag = true;
                }
            }
        }
        for (index, bytes) in &self.short {
            if block
                .windows(bytes.len())
                .any(|window| window == bytes.as_slice())
                && let Some(flag) = found.get_mut(*index)
            {
                *flag = true;
            }
        }
    }
}

/// A needle found in freed memory: its label, and how many held blocks hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'n> {
    /// The needle's label.
    pub needle: &'n str,
    /// How many held blocks hold it.
    pub blocks: usize,
}
