//! The needles of a private key: its secret parts, in each form they can show in memory.

use std::ops::Range;

use rsa::pkcs1::RsaPrivateKeyRef;
use rsa::pkcs8::PrivateKeyInfoRef;
use sec1::EcPrivateKey;

use crate::needle::Needle;

/// How the secret parts of a PKCS#8 DER private key (an EC scalar; every RSA field but
/// the public n and e) can show in memory. The DER whole is no needle: its public parts,
/// such as the public key, are rightly copied around.
pub struct PrivateKeyNeedles {
    /// As the engine and the API hold them: each part's bytes (big-endian, as in the DER),
    /// its hex and base64 alone, and its characters in the base64 of the whole DER (as
    /// `private_key_plain_text` writes the key).
    pub encoded: Vec<Needle>,
    /// As big-integer code holds them: each part as little-endian limbs.
    pub limbs: Vec<Needle>,
}

impl PrivateKeyNeedles {
    /// The needles of `pkcs8`; `None` when it is not an RSA or EC PKCS#8 private key.
    #[must_use]
    pub fn of(pkcs8: &[u8]) -> Option<Self> {
        let info = PrivateKeyInfoRef::try_from(pkcs8).ok()?;
        let private_key = info.private_key.as_bytes();
        let parts: Vec<(&str, &[u8])> = match RsaPrivateKeyRef::try_from(private_key) {
            Ok(rsa) => vec![
                ("d", rsa.private_exponent.as_bytes()),
                ("p", rsa.prime1.as_bytes()),
                ("q", rsa.prime2.as_bytes()),
                ("d mod (p-1)", rsa.exponent1.as_bytes()),
                ("d mod (q-1)", rsa.exponent2.as_bytes()),
                ("q^-1 mod p", rsa.coefficient.as_bytes()),
            ],
            Err(_) => vec![(
                "scalar",
                EcPrivateKey::try_from(private_key).ok()?.private_key,
            )],
        };
        let mut needles = Self {
            encoded: Vec::new(),
            limbs: Vec::new(),
        };
        for (name, part) in parts {
            let at = offset_in(pkcs8, part)?;
            needles.encoded.extend(Needle::renderings(name, part));
            needles.encoded.push(Needle::base64_within(name, pkcs8, at));
            let little_endian: Vec<u8> = part.iter().rev().copied().collect();
            needles
                .limbs
                .push(Needle::new(format!("{name} limbs"), little_endian));
        }
        Some(needles)
    }
}

/// Where `part`, a sub-slice of `whole`, lies in it.
fn offset_in(whole: &[u8], part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}
