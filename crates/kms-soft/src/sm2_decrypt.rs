//! SM2 public key decryption (GB/T 32918.4-2016, section 7, steps B3 to B7) of a parsed
//! ciphertext, with C3 checked in constant time.
//!
//! The `sm2` crate's own decryption compares C3 with `!=`, which stops at the first wrong
//! byte: its timing tells how much of a guessed C3 is right, so a caller who may try many
//! times can forge C3 for a C2 it altered (C2 is the plaintext XOR a key stream, so
//! altering it alters the plaintext at will). A fuzzer with comparison tracing did exactly
//! that. Import tokens are single use, which leaves a real caller one try per wrapping key;
//! this removes the oracle as well. The crate still parses the ciphertext (C1 checked to be
//! on the curve) and does the curve arithmetic.

use sm2::elliptic_curve::sec1::{Coordinates, ToSec1Point};
use sm2::pke::Cipher;
use sm2::{NonZeroScalar, ProjectivePoint, Sm2};
use sm3::{Digest, Sm3};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Length of an SM3 digest, and of each KDF block.
const SM3_LEN: usize = 32;

/// Decrypts `cipher` with the private scalar `secret` into `plaintext`, which must be
/// exactly as long as C2. False, with `plaintext` holding garbage the caller must wipe,
/// when C3 does not match, or the key stream is all zero (which the standard refuses; so
/// is an empty C2).
pub(crate) fn decrypt(
    secret: &NonZeroScalar,
    cipher: &Cipher<'_, Sm2, Sm3>,
    plaintext: &mut [u8],
) -> bool {
    let c2 = cipher.c2();
    if plaintext.len() != c2.len() {
        return false;
    }
    // B3: (x2, y2) = [d]C1. SM2's cofactor is 1, so B2 (S = [h]C1 is not the point at
    // infinity) holds for every C1 on the curve, which parsing checked.
    let shared = (ProjectivePoint::from(*cipher.c1()) * secret.as_ref()).to_affine();
    let encoded = Zeroizing::new(shared.to_sec1_point(false));
    let Coordinates::Uncompressed { x, y } = encoded.coordinates() else {
        return false;
    };
    // B4, B5: t = KDF(x2 ‖ y2, klen), M' = C2 ⊕ t.
    let mut key_stream_seen = 0u8;
    let mut block = Zeroizing::new([0u8; SM3_LEN]);
    for (counter, (c2_block, plain_block)) in
        (1u32..).zip(c2.chunks(SM3_LEN).zip(plaintext.chunks_mut(SM3_LEN)))
    {
        block.copy_from_slice(
            &Sm3::new()
                .chain_update(x)
                .chain_update(y)
                .chain_update(counter.to_be_bytes())
                .finalize(),
        );
        for ((plain, cipher_byte), key_byte) in
            plain_block.iter_mut().zip(c2_block).zip(block.iter())
        {
            *plain = cipher_byte ^ key_byte;
            key_stream_seen |= key_byte;
        }
    }
    // B6: u = Hash(x2 ‖ M' ‖ y2) must equal C3, compared in constant time.
    let u = Sm3::new()
        .chain_update(x)
        .chain_update(&*plaintext)
        .chain_update(y)
        .finalize();
    let matches = u.as_slice().ct_eq(cipher.c3().as_slice());
    bool::from(matches) && key_stream_seen != 0
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};
    use sm2::elliptic_curve::Generate;
    use sm2::pke::{DecryptingKey, EncryptingKey, Mode};

    use super::*;

    /// This decryption and the `sm2` crate's agree on every ciphertext: the same plaintext
    /// for each valid one (1 to 100 bytes, random keys), and a refusal for each with one
    /// byte of C3 or C2 changed.
    #[test]
    fn agrees_with_the_sm2_crate_on_valid_and_altered_ciphertexts() {
        let mut rng = ChaCha20Rng::from_seed([9; 32]);
        for case in 0..100usize {
            let secret = sm2::SecretKey::generate_from_rng(&mut rng);
            let scalar = secret.to_nonzero_scalar();
            let reference = DecryptingKey::new(secret.clone());
            let mut message = vec![0u8; 1 + case];
            rng.fill_bytes(&mut message);
            let ciphertext = EncryptingKey::new(secret.public_key())
                .encrypt(&mut rng, &message)
                .unwrap();
            let ours = |bytes: &[u8]| {
                let cipher = Cipher::<Sm2, Sm3>::from_slice(bytes, Mode::C1C3C2).unwrap();
                let mut plaintext = vec![0u8; cipher.c2().len()];
                decrypt(&scalar, &cipher, &mut plaintext).then_some(plaintext)
            };
            assert_eq!(ours(&ciphertext).as_deref(), Some(message.as_slice()));
            assert_eq!(reference.decrypt(&ciphertext).unwrap(), message);
            // C1 is 65 bytes, then C3 (32), then C2: alter one byte after C1.
            let mut altered = ciphertext.clone();
            let position = 65 + case % (altered.len() - 65);
            altered[position] ^= 1 << (case % 8);
            assert_eq!(ours(&altered), None, "case {case}, byte {position}");
            assert!(reference.decrypt(&altered).is_err());
        }
    }

    #[test]
    fn a_plaintext_buffer_of_another_length_is_refused() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let secret = sm2::SecretKey::generate_from_rng(&mut rng);
        let ciphertext = EncryptingKey::new(secret.public_key())
            .encrypt(&mut rng, &[7; 16])
            .unwrap();
        let cipher = Cipher::<Sm2, Sm3>::from_slice(&ciphertext, Mode::C1C3C2).unwrap();
        let scalar = secret.to_nonzero_scalar();
        assert!(!decrypt(&scalar, &cipher, &mut [0; 15]));
        assert!(!decrypt(&scalar, &cipher, &mut [0; 17]));
        assert!(decrypt(&scalar, &cipher, &mut [0; 16]));
    }
}
