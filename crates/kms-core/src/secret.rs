//! Secret newtypes (DESIGN 8): wiped on drop, not `Clone`, a `Debug` that prints no bytes,
//! and bytes reachable only through accessors named `expose_secret*`.

use core::fmt;
use std::io;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// The first buffer [`SecretBytes::read_to_end`] reads into: room for any request body but
/// an import of the largest wrapped material, which grows it once or twice.
const FIRST_READ_BUFFER: usize = 4096;

/// Secret bytes: a DEK, a PKCS#8 private key, CMK material.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes`; they are wiped when the value drops.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// `len` zero bytes, to be filled in place (for example by a decryption).
    #[must_use]
    pub fn zeroed(len: usize) -> Self {
        Self::new(vec![0; len])
    }

    /// The secret bytes.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The secret bytes, writable in place.
    pub fn expose_secret_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Number of bytes (not secret: ciphertext lengths reveal it anyway).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads `reader` to its end (standard input holding a request body, say).
    ///
    /// `Read::read_to_end` would grow its `Vec` by reallocation, giving up each smaller
    /// block unwiped with a copy of what was read so far. Here the buffer is only ever
    /// replaced: when it is full, a buffer twice its size takes a copy, and the old one is
    /// wiped as it drops.
    ///
    /// # Errors
    /// The reader's error (the bytes read so far are wiped); [`io::ErrorKind::OutOfMemory`]
    /// when the input would need a buffer larger than the address space.
    pub fn read_to_end(reader: &mut impl io::Read) -> io::Result<Self> {
        let mut buffer = Self::zeroed(FIRST_READ_BUFFER);
        let mut filled = 0;
        loop {
            if filled == buffer.len() {
                let larger = buffer
                    .len()
                    .checked_mul(2)
                    .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
                let mut grown = Self::zeroed(larger);
                if let (Some(to), Some(from)) = (grown.0.get_mut(..filled), buffer.0.get(..filled))
                {
                    to.copy_from_slice(from);
                }
                buffer = grown;
            }
            let Some(free) = buffer.0.get_mut(filled..) else {
                break;
            };
            match reader.read(free) {
                Ok(0) => break,
                // A reader claiming more than it was given room for is held to the room.
                Ok(read) => filled += read.min(free.len()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        // Shortening keeps the block (and its capacity, wiped on drop as a whole).
        buffer.0.truncate(filled);
        Ok(buffer)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {} bytes])", self.0.len())
    }
}

/// A secret in text form: hex of a DEK, base64 of a private key, a PIN.
///
/// Deserializes from and serializes to a plain JSON string, so request and response models
/// carry secrets without ever printing them.
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Takes ownership of `text`; it is wiped when the value drops.
    #[must_use]
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The secret text.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The bytes as text, in place (no copy); `None` when they are not UTF-8, the bytes
    /// wiped either way.
    #[must_use]
    pub fn from_utf8(mut bytes: SecretBytes) -> Option<Self> {
        // Taking the Vec out of the wrapper leaves an empty one in it: nothing to wipe there.
        match String::from_utf8(core::mem::take(&mut *bytes.0)) {
            Ok(text) => Some(Self::new(text)),
            Err(error) => {
                drop(SecretBytes::new(error.into_bytes()));
                None
            }
        }
    }

    /// The text `write` writes, in a buffer of exactly its size.
    ///
    /// `write` runs twice: into a counter that keeps nothing, to learn the size, then into a
    /// wiped buffer of that size, which never grows (a growing buffer gives up, unwiped,
    /// each block it outgrows). `write` must write the same bytes both times.
    ///
    /// # Errors
    /// `write`'s error; [`io::ErrorKind::WriteZero`] when the second run writes more than the
    /// first, [`io::ErrorKind::UnexpectedEof`] when it writes less, and
    /// [`io::ErrorKind::InvalidData`] when the text is not UTF-8 (the bytes are wiped).
    pub fn write_exact(write: impl Fn(&mut dyn io::Write) -> io::Result<()>) -> io::Result<Self> {
        let mut counter = Counter(0);
        write(&mut counter)?;
        let mut bytes = SecretBytes::zeroed(counter.0);
        let mut rest: &mut [u8] = bytes.expose_secret_mut();
        // A slice refuses to write past its end: this cannot reallocate.
        write(&mut rest)?;
        if !rest.is_empty() {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        Self::from_utf8(bytes).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))
    }
}

/// A writer that only counts what it is given.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl From<&str> for SecretString {
    fn from(text: &str) -> Self {
        Self::new(text.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([REDACTED])")
    }
}

impl Serialize for SecretString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_secret_bytes_shows_no_bytes() {
        let secret = SecretBytes::new(vec![0xAB; 4]);
        let shown = format!("{secret:?}");
        assert_eq!(shown, "SecretBytes([REDACTED; 4 bytes])");
    }

    #[test]
    fn debug_of_secret_string_shows_no_text() {
        let secret = SecretString::from("DEADBEEF");
        assert_eq!(format!("{secret:?}"), "SecretString([REDACTED])");
        assert_eq!(format!("{secret:#?}"), "SecretString([REDACTED])");
    }

    #[test]
    fn write_exact_fills_a_buffer_of_exactly_the_written_size() {
        let text = SecretString::write_exact(|out| {
            out.write_all(b"{\"a\":")?;
            out.write_all(b"\"00FF\"}")
        })
        .unwrap();
        assert_eq!(text.expose_secret(), r#"{"a":"00FF"}"#);
        assert_eq!(text.0.capacity(), text.0.len());
    }

    #[test]
    fn write_exact_refuses_a_second_run_that_differs() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        for (first, second, kind) in [
            (1, 2, io::ErrorKind::WriteZero),
            (2, 1, io::ErrorKind::UnexpectedEof),
        ] {
            let runs = AtomicUsize::new(0);
            let err = SecretString::write_exact(|out| {
                let len = if runs.fetch_add(1, Ordering::Relaxed) == 0 {
                    first
                } else {
                    second
                };
                out.write_all(&b"ab"[..len])
            })
            .unwrap_err();
            assert_eq!(err.kind(), kind);
        }
        let err = SecretString::write_exact(|out| out.write_all(&[0xFF])).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn read_to_end_reads_everything_across_buffer_growth() {
        for len in [
            0,
            1,
            FIRST_READ_BUFFER - 1,
            FIRST_READ_BUFFER,
            3 * FIRST_READ_BUFFER + 7,
        ] {
            let input: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let read = SecretBytes::read_to_end(&mut input.as_slice()).unwrap();
            assert_eq!(read.expose_secret(), input.as_slice(), "{len}");
        }
    }

    #[test]
    fn from_utf8_takes_text_and_refuses_other_bytes() {
        let text = SecretString::from_utf8(SecretBytes::new(b"00ff".to_vec())).unwrap();
        assert_eq!(text.expose_secret(), "00ff");
        assert!(SecretString::from_utf8(SecretBytes::new(vec![0xC3])).is_none());
    }

    #[test]
    fn secret_string_round_trips_through_json_as_a_plain_string() {
        let secret: SecretString = serde_json::from_str("\"00FF\"").unwrap();
        assert_eq!(secret.expose_secret(), "00FF");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"00FF\"");
    }
}
