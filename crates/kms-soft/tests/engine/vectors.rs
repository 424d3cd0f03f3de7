//! Standard vectors through the code the engine uses: the soft CMK's AEADs, the DEK
//! digests, and the SM4 block cipher SM4-GCM is built on.

use kms_core::{CmkHandle, CmkSpec, SecretBytes, dek_digest};
use kms_soft::SoftCmk;
use sm4::cipher::{BlockCipherEncrypt, KeyInit};

fn bytes(hex: &str) -> Vec<u8> {
    kms_core::decode_hex(hex).unwrap()
}

/// Seals with a soft CMK of `spec`, checks ciphertext and tag, then opens it again.
fn check_aead(
    spec: CmkSpec,
    key: &str,
    nonce: &str,
    aad: &str,
    plain: &str,
    cipher: &str,
    tag: &str,
) {
    let cmk = SoftCmk::new(spec, &SecretBytes::new(bytes(key))).unwrap();
    let nonce: [u8; 12] = bytes(nonce).try_into().unwrap();
    let mut buffer = bytes(plain);
    let sealed_tag = cmk.seal_in_place(&nonce, &bytes(aad), &mut buffer).unwrap();
    assert_eq!(buffer, bytes(cipher));
    assert_eq!(sealed_tag.to_vec(), bytes(tag));
    cmk.open_in_place(&nonce, &bytes(aad), &mut buffer, &sealed_tag)
        .unwrap();
    assert_eq!(buffer, bytes(plain));
}

#[test]
fn aes_256_gcm_passes_the_gcm_spec_test_case_16() {
    // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (NIST GCM vectors).
    check_aead(
        CmkSpec::Aes256,
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
         1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
         8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b",
    );
}

#[test]
fn sm4_gcm_passes_the_rfc_8998_vector() {
    // RFC 8998, appendix A.1.
    check_aead(
        CmkSpec::Sm4,
        "0123456789ABCDEFFEDCBA9876543210",
        "00001234567800000000ABCD",
        "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2",
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD\
         EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735\
         D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
        "83DE3541E4C2B58177E065A9BF7B62EC",
    );
}

#[test]
fn a_tampered_tag_does_not_open_and_says_invalid_cipher_text() {
    let cmk = SoftCmk::new(CmkSpec::Sm4, &SecretBytes::new(vec![1; 16])).unwrap();
    let mut buffer = b"dek".to_vec();
    let mut tag = cmk.seal_in_place(&[0; 12], b"aad", &mut buffer).unwrap();
    tag[15] ^= 1;
    let err = cmk
        .open_in_place(&[0; 12], b"aad", &mut buffer, &tag)
        .unwrap_err();
    assert_eq!(err.code(), "KMS.2201");
}

#[test]
fn sm4_single_block_passes_the_gbt_32907_vector() {
    // GB/T 32907-2016 appendix A, example 1: key = plaintext.
    let key = bytes("0123456789abcdeffedcba9876543210");
    let cipher = sm4::Sm4::new_from_slice(&key).unwrap();
    let mut block = sm4::cipher::Block::<sm4::Sm4>::try_from(key.as_slice()).unwrap();
    cipher.encrypt_block(&mut block);
    assert_eq!(block.to_vec(), bytes("681edf34d206965e86b3e94f536e4246"));
}

#[test]
fn sm4_a_million_encryptions_pass_the_gbt_32907_vector() {
    // GB/T 32907-2016 appendix A, example 2: the plaintext encrypted 1,000,000 times.
    let key = bytes("0123456789abcdeffedcba9876543210");
    let cipher = sm4::Sm4::new_from_slice(&key).unwrap();
    let mut block = sm4::cipher::Block::<sm4::Sm4>::try_from(key.as_slice()).unwrap();
    for _ in 0..1_000_000 {
        cipher.encrypt_block(&mut block);
    }
    assert_eq!(block.to_vec(), bytes("595298c7c6fd271f0402f804c33d3f66"));
}

#[test]
fn sm3_of_abc_passes_the_gbt_32905_vector() {
    assert_eq!(
        dek_digest(CmkSpec::Sm4, b"abc").to_vec(),
        bytes("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    );
}

#[test]
fn sm3_of_a_512_bit_message_passes_the_gbt_32905_vector() {
    // GB/T 32905-2016 appendix A, example 2: "abcd" 16 times, two blocks once padded.
    assert_eq!(
        dek_digest(CmkSpec::Sm4, "abcd".repeat(16).as_bytes()).to_vec(),
        bytes("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")
    );
}

#[test]
fn sha256_of_abc_passes_the_fips_180_vector() {
    assert_eq!(
        dek_digest(CmkSpec::Aes256, b"abc").to_vec(),
        bytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
}
