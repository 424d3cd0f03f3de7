//! encrypt-data, decrypt-data, re-encrypt and gen-random.
//!
//! An encrypt-data blob is a v1 blob (DESIGN 4) whose plaintext is the caller's text padded
//! as ISO/IEC 7816-4 does (0x80, then zeros) to at least [`MIN_DATA_PAYLOAD`] bytes, so that
//! even a 1-byte text gives the documented `cipher_text` of 128 to 5648 base64 characters;
//! and whose associated data carries [`DATA_BLOB_DOMAIN`] in the encryption-context slot. No
//! canonical encryption context can equal it (those start with `{`), so a data-key blob never
//! opens as an encrypt-data blob, nor the other way round. The padding is checked only after
//! the tag, so it is no oracle.

use super::Kms;
use crate::ciphertext::{BLOB_OVERHEAD, blob_key_id};
use crate::codec::{encode_base64, encode_base64_secret, encode_hex, encode_hex_secret};
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::models::{
    BlobKind, DecryptDataRequest, DecryptDataResponse, EncryptDataRequest, EncryptDataResponse,
    GenRandomRequest, GenRandomResponse, ReEncryptRequest, ReEncryptResponse, SYMMETRIC_DEFAULT,
};
use crate::secret::{SecretBytes, SecretString};
use crate::tenant::Tenant;

/// What an encrypt-data blob binds where a data-key blob binds its encryption context.
const DATA_BLOB_DOMAIN: &[u8] = b"\x00kms encrypt-data blob";
/// The shortest padded plaintext of an encrypt-data blob: 96 bytes of blob, 128 base64
/// characters.
const MIN_DATA_PAYLOAD: usize = 96 - BLOB_OVERHEAD;

/// `plain_text` padded: 0x80, then zeros up to [`MIN_DATA_PAYLOAD`] bytes.
fn pad(plain_text: &[u8]) -> SecretBytes {
    let mut padded = SecretBytes::zeroed((plain_text.len() + 1).max(MIN_DATA_PAYLOAD));
    let out = padded.expose_secret_mut();
    if let Some((text, rest)) = out.split_at_mut_checked(plain_text.len()) {
        text.copy_from_slice(plain_text);
        if let Some(marker) = rest.first_mut() {
            *marker = 0x80;
        }
    }
    padded
}

/// The text of a padded plaintext; KMS.2201 when the padding or the UTF-8 is wrong (which
/// no blob this engine sealed has).
fn unpad(padded: SecretBytes) -> Result<SecretString> {
    let bytes = padded.expose_secret();
    let end = bytes
        .iter()
        .rposition(|byte| *byte != 0)
        .filter(|at| bytes.get(*at) == Some(&0x80))
        .ok_or(KmsError::InvalidCipherText)?;
    let text = SecretBytes::new(bytes.get(..end).unwrap_or_default().to_vec());
    SecretString::from_utf8(text).ok_or(KmsError::InvalidCipherText)
}

impl Kms {
    /// `encrypt-data`: seals 1 to 4096 bytes of text under an AES_256 or SM4 CMK, or
    /// encrypts it to an RSA or SM2 ENCRYPT_DECRYPT key with the asymmetric algorithm the
    /// request names.
    ///
    /// # Errors
    /// The validation errors of [`EncryptDataRequest::validate`]; KMS.0207 unknown key;
    /// KMS.0209 / KMS.0210 / KMS.1301 for a key that is not enabled; KMS.0325 for an
    /// asymmetric key under SYMMETRIC_DEFAULT, KMS.2105 for a symmetric key under an
    /// asymmetric algorithm, KMS.2106 for another key's algorithm, KMS.0335 for a
    /// SIGN_VERIFY key, KMS.2108 for a text longer than the key encrypts; backend failures.
    pub fn encrypt_data(
        &self,
        tenant: &Tenant,
        request: &EncryptDataRequest,
    ) -> Result<EncryptDataResponse> {
        let valid = request.validate()?;
        if let Some(algorithm) = valid.algorithm {
            let ciphertext =
                self.encrypt_asymmetric(tenant, &valid.key_id, algorithm, valid.plain_text)?;
            return Ok(EncryptDataResponse {
                key_id: valid.key_id.to_string(),
                cipher_text: encode_base64(&ciphertext),
            });
        }
        let padded = pad(valid.plain_text);
        let blob = self.with_enabled_key(tenant, &valid.key_id, |key| {
            self.seal_with_context(
                key,
                valid.aad,
                context_of(BlobKind::Data),
                padded.expose_secret(),
            )
        })?;
        Ok(EncryptDataResponse {
            key_id: valid.key_id.to_string(),
            cipher_text: encode_base64(&blob),
        })
    }

    /// `decrypt-data`: opens an encrypt-data blob with the CMK it names; or, under an
    /// asymmetric algorithm, decrypts with the private half of `key_id` (then required).
    ///
    /// # Errors
    /// The validation errors of [`DecryptDataRequest::validate`]; KMS.2201 (one opaque
    /// error) for a blob that does not open, or that names another key than `key_id`;
    /// KMS.0207 unknown key; KMS.0209 / KMS.0210 / KMS.1301 for a key that is not enabled;
    /// backend failures.
    pub fn decrypt_data(
        &self,
        tenant: &Tenant,
        request: &DecryptDataRequest,
    ) -> Result<DecryptDataResponse> {
        let valid = request.validate()?;
        if let Some(algorithm) = valid.algorithm {
            let key_id = valid.key_id.ok_or(KmsError::MissingParameter("key_id"))?;
            let plaintext = self.decrypt_asymmetric(tenant, &key_id, algorithm, &valid.blob)?;
            let base64 = encode_base64_secret(&plaintext);
            // Text another client encrypted need not be UTF-8: its base64 is always exact.
            let text = SecretString::from_utf8(plaintext).unwrap_or_else(|| "".into());
            return Ok(DecryptDataResponse {
                key_id: key_id.to_string(),
                plain_text: text,
                plain_text_base64: base64,
            });
        }
        let key_id = named_key(&valid.blob, valid.key_id)?;
        let padded = self.open(tenant, &key_id, valid.aad, BlobKind::Data, &valid.blob)?;
        let text = unpad(padded)?;
        let base64 =
            encode_base64_secret(&SecretBytes::new(text.expose_secret().as_bytes().to_vec()));
        Ok(DecryptDataResponse {
            key_id: key_id.to_string(),
            plain_text: text,
            plain_text_base64: base64,
        })
    }

    /// `re-encrypt`: opens a data-key or encrypt-data blob under its CMK and seals the
    /// plaintext under the destination CMK, inside the engine; the plaintext is wiped.
    ///
    /// # Errors
    /// The validation errors of [`ReEncryptRequest::validate`]; KMS.2201 for a blob that
    /// does not open under its key and AAD (or names another key than `source_key_id`);
    /// KMS.2204 when a data-key blob opens to another length than `datakey_cipher_length`;
    /// KMS.0207 unknown key; KMS.0209 / KMS.0210 / KMS.1301 for either key not enabled;
    /// backend failures.
    pub fn re_encrypt(
        &self,
        tenant: &Tenant,
        request: &ReEncryptRequest,
    ) -> Result<ReEncryptResponse> {
        let valid = request.validate()?;
        let source = named_key(&valid.blob, valid.source_key_id)?;
        let plaintext = self.open(tenant, &source, valid.source_aad, valid.kind, &valid.blob)?;
        if let BlobKind::DataKey(len) = valid.kind
            && plaintext.len() != len
        {
            return Err(KmsError::CipherTextLengthMismatch);
        }
        let blob = self.with_enabled_key(tenant, &valid.destination_key_id, |key| {
            self.seal_with_context(
                key,
                valid.destination_aad,
                context_of(valid.kind),
                plaintext.expose_secret(),
            )
        })?;
        Ok(ReEncryptResponse {
            key_id: valid.destination_key_id.to_string(),
            source_key_id: source.to_string(),
            source_encryption_algorithm: SYMMETRIC_DEFAULT.into(),
            destination_encryption_algorithm: SYMMETRIC_DEFAULT.into(),
            cipher_text: match valid.kind {
                BlobKind::Data => encode_base64(&blob),
                BlobKind::DataKey(_) => encode_hex(&blob),
            },
        })
    }

    /// `gen-random`: 8 to 8192 bits from the backend's generator (C_GenerateRandom on
    /// PKCS#11).
    ///
    /// # Errors
    /// The validation errors of [`GenRandomRequest::validate`]; backend failures.
    pub fn gen_random(&self, request: &GenRandomRequest) -> Result<GenRandomResponse> {
        let len = request.validate()?;
        let mut random = SecretBytes::zeroed(len);
        self.backend.random(random.expose_secret_mut())?;
        Ok(GenRandomResponse {
            random_data: encode_hex_secret(&random),
        })
    }

    /// The plaintext of a blob of `kind` under enabled key `key_id`.
    fn open(
        &self,
        tenant: &Tenant,
        key_id: &KeyId,
        aad: &[u8],
        kind: BlobKind,
        blob: &[u8],
    ) -> Result<SecretBytes> {
        let (plaintext, _) = self.open_blob(tenant, key_id, aad, context_of(kind), blob)?;
        Ok(plaintext)
    }
}

/// What a blob of `kind` binds in its encryption-context slot.
fn context_of(kind: BlobKind) -> Option<&'static [u8]> {
    match kind {
        BlobKind::Data => Some(DATA_BLOB_DOMAIN),
        BlobKind::DataKey(_) => None,
    }
}

/// The key a blob names, which must be `named` when the request names one: KMS.2201 for a
/// blob too short to name one or naming another.
fn named_key(blob: &[u8], named: Option<KeyId>) -> Result<KeyId> {
    let in_blob = blob_key_id(blob).ok_or(KmsError::InvalidCipherText)?;
    match named {
        Some(named) if named != in_blob => Err(KmsError::InvalidCipherText),
        _ => Ok(in_blob),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_round_trips_every_length_and_reaches_the_minimum() {
        for len in [0, 1, 25, 26, 27, 100, 4096] {
            let text: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let padded = pad(&text);
            assert_eq!(padded.len(), (len + 1).max(MIN_DATA_PAYLOAD));
            assert_eq!(unpad(padded).unwrap().expose_secret().as_bytes(), text);
        }
    }

    #[test]
    fn wrong_padding_is_the_opaque_error() {
        for bad in [
            &[][..],
            &[0, 0],
            &[b'a', 0x81, 0],
            &[0xff, 0xfe, 0x80],
            b"a",
        ] {
            assert!(matches!(
                unpad(SecretBytes::new(bad.to_vec())),
                Err(KmsError::InvalidCipherText)
            ));
        }
    }
}
