//! What the token can do, from its mechanism list and what trying showed (the curves it
//! generates on, OAEP with SHA-256): the engine refuses the rest up front with an error
//! naming the missing mechanism and the token. No silent fallback, and nothing chosen by
//! the token's name.

use cryptoki::mechanism::MechanismType;
use kms_core::{
    AsymmetricSpec, Capabilities, CmkSpec, KeyPairSpec, MacSpec, WrappingAlgorithm, WrappingKeySpec,
};

use crate::key_pair::{EC_CURVES, RSA_SPECS, curve_name};
use crate::vendor::Vendor;
use crate::{mac_key, private_key};

/// What a token does differently from what its mechanism list shows, found by trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Quirks {
    /// The token lists CKM_RSA_PKCS_OAEP but refuses it with SHA-256 (SoftHSM2 2.6.1
    /// answers CKR_ARGUMENTS_BAD; see `import::oaep_sha256_offered`).
    pub(crate) oaep_sha1_only: bool,
    /// The configuration allows host-assisted unwrap for what the token refuses.
    pub(crate) host_assisted_unwrap: bool,
}

impl Quirks {
    /// The quirks of a token that lists OAEP (or not) and did OAEP with SHA-256 (or not)
    /// when tried.
    pub(crate) fn new(lists_oaep: bool, oaep_sha256: bool, host_assisted_unwrap: bool) -> Self {
        Self {
            oaep_sha1_only: lists_oaep && !oaep_sha256,
            host_assisted_unwrap,
        }
    }

    /// Whether OAEP with SHA-256 is done on the host rather than in the token.
    pub(crate) fn host_oaep_sha256(self) -> bool {
        self.oaep_sha1_only && self.host_assisted_unwrap
    }
}

/// The capabilities of a token offering `mechanisms`, named `token` in messages, with the
/// vendor-defined numbers of `vendor`, generating EC pairs on the curves of `curves` (of
/// [`EC_CURVES`], found by trying each: see `key_pair::curve_offered`).
pub(crate) fn probe(
    token: &str,
    mechanisms: &[MechanismType],
    curves: &[KeyPairSpec],
    quirks: Quirks,
    vendor: &Vendor,
) -> Capabilities {
    let has = |mechanism: MechanismType| mechanisms.contains(&mechanism);
    let mut capabilities = Capabilities {
        name: token.to_owned(),
        cmk_specs: Vec::new(),
        asymmetric_specs: Vec::new(),
        mac_specs: Vec::new(),
        key_pair_specs: Vec::new(),
        wrapping_key_specs: Vec::new(),
        wrapping_algorithms: Vec::new(),
        missing: Vec::new(),
    };
    let mut missing = |name: &str, lacking: &str| {
        capabilities
            .missing
            .push((name.to_owned(), lacking.to_owned()));
    };
    // SM4 and SM2 are vendor-defined mechanisms: only the vendor mechanism map can name
    // them (SoftHSM2 has neither).
    let sm4 = vendor.sm4.filter(|sm4| has(sm4.key_gen) && has(sm4.gcm));
    match (vendor.sm4, sm4) {
        (_, Some(_)) => {}
        (Some(sm4), None) => missing(
            CmkSpec::Sm4.as_str(),
            &format!(
                "the vendor mechanisms {:#x} (CKM_SM4_KEY_GEN) and {:#x} (SM4-GCM), which this token does not offer",
                u64::from(sm4.key_gen),
                u64::from(sm4.gcm)
            ),
        ),
        (None, None) => missing(
            CmkSpec::Sm4.as_str(),
            "CKM_SM4_KEY_GEN and SM4-GCM (vendor mechanisms; none in the vendor mechanism map)",
        ),
    }
    let sm2 = vendor.sm2.filter(|sm2| has(sm2.key_pair_gen));
    match (vendor.sm2, sm2) {
        (_, Some(_)) => {}
        (Some(sm2), None) => missing(
            KeyPairSpec::Sm2.as_str(),
            &format!(
                "the vendor mechanism {:#x} (CKM_SM2_KEY_PAIR_GEN), which this token does not offer",
                u64::from(sm2.key_pair_gen)
            ),
        ),
        (None, None) => missing(
            KeyPairSpec::Sm2.as_str(),
            "CKM_SM2_KEY_PAIR_GEN (vendor mechanism; none in the vendor mechanism map)",
        ),
    }
    missing(
        WrappingAlgorithm::Sm2Encrypt.as_str(),
        "SM2 decryption (vendor mechanism)",
    );
    missing(
        WrappingKeySpec::Sm2.as_str(),
        "CKM_SM2_KEY_PAIR_GEN (vendor mechanism)",
    );
    let rsa_pairs = has(MechanismType::RSA_PKCS_KEY_PAIR_GEN);
    if !rsa_pairs {
        for spec in RSA_SPECS {
            missing(spec.as_str(), "CKM_RSA_PKCS_KEY_PAIR_GEN");
        }
    }
    let aes_cmk = has(MechanismType::AES_KEY_GEN) && has(MechanismType::AES_GCM);
    if !aes_cmk {
        missing(CmkSpec::Aes256.as_str(), "CKM_AES_KEY_GEN and CKM_AES_GCM");
    }
    let rsa_import = has(MechanismType::RSA_PKCS_KEY_PAIR_GEN) && has(MechanismType::RSA_PKCS_OAEP);
    if !rsa_import {
        missing(
            WrappingKeySpec::Rsa2048.as_str(),
            "CKM_RSA_PKCS_KEY_PAIR_GEN and CKM_RSA_PKCS_OAEP",
        );
    }
    let key_wrap = has(MechanismType::AES_KEY_WRAP_PAD);
    if rsa_import && !key_wrap {
        // The composed RSA_AES_KEY_WRAP needs RFC 5649 in the token under the number
        // cryptoki can name. PKCS#11 3.0 tokens (Kryoptic) number it 0x210B,
        // CKM_AES_KEY_WRAP_KWP, which cryptoki 0.12 can neither list nor name.
        for algorithm in [
            WrappingAlgorithm::RsaAesKeyWrapSha1,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
        ] {
            missing(
                algorithm.as_str(),
                "CKM_RSA_AES_KEY_WRAP, or CKM_AES_KEY_WRAP_PAD (0x210A) to compose it, which this token does not list (CKM_AES_KEY_WRAP_KWP, 0x210B, cannot be named through cryptoki 0.12)",
            );
        }
    }
    if quirks.oaep_sha1_only && !quirks.host_assisted_unwrap {
        for algorithm in [
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
        ] {
            missing(
                algorithm.as_str(),
                "CKM_RSA_PKCS_OAEP with SHA-256, which this token refuses; host_assisted_unwrap is off",
            );
        }
    }
    if aes_cmk {
        capabilities.cmk_specs.push(CmkSpec::Aes256);
    }
    if sm4.is_some() {
        capabilities.cmk_specs.push(CmkSpec::Sm4);
    }
    let ec = has(MechanismType::ECC_KEY_PAIR_GEN);
    for spec in EC_CURVES {
        if ec && curves.contains(&spec) {
            capabilities.key_pair_specs.push(spec);
        } else if ec {
            missing(
                spec.as_str(),
                &format!(
                    "CKM_EC_KEY_PAIR_GEN on the curve {}, which this token refuses",
                    curve_name(spec)
                ),
            );
        } else {
            missing(spec.as_str(), "CKM_EC_KEY_PAIR_GEN");
        }
    }
    if sm2.is_some() {
        capabilities.key_pair_specs.push(KeyPairSpec::Sm2);
    }
    if rsa_pairs {
        capabilities.key_pair_specs.extend(RSA_SPECS);
    }
    cmk_key_pairs(&mut capabilities, mechanisms, curves);
    if rsa_import {
        capabilities.wrapping_key_specs.extend([
            WrappingKeySpec::Rsa2048,
            WrappingKeySpec::Rsa3072,
            WrappingKeySpec::Rsa4096,
        ]);
        let mut offer = |algorithm, usable: bool| {
            if usable {
                capabilities.wrapping_algorithms.push(algorithm);
            }
        };
        offer(WrappingAlgorithm::RsaesOaepSha1, true);
        offer(WrappingAlgorithm::RsaAesKeyWrapSha1, key_wrap);
        let sha256 = !quirks.oaep_sha1_only || quirks.host_assisted_unwrap;
        offer(WrappingAlgorithm::RsaesOaepSha256, sha256);
        offer(
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            sha256 && (key_wrap || quirks.host_oaep_sha256()),
        );
    }
    capabilities
}

/// Adds the asymmetric and HMAC CMK specs a token offering `mechanisms` (and generating EC
/// pairs on `curves`) can do, and why the others are missing.
fn cmk_key_pairs(
    capabilities: &mut Capabilities,
    mechanisms: &[MechanismType],
    curves: &[KeyPairSpec],
) {
    let has = |mechanism: MechanismType| mechanisms.contains(&mechanism);
    let mut missing = |name: &str, lacking: &str| {
        capabilities
            .missing
            .push((name.to_owned(), lacking.to_owned()));
    };
    let rsa = [
        (
            MechanismType::RSA_PKCS_KEY_PAIR_GEN,
            "CKM_RSA_PKCS_KEY_PAIR_GEN",
        ),
        (MechanismType::RSA_PKCS, "CKM_RSA_PKCS"),
        (MechanismType::RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS"),
    ];
    let rsa_lacking: Vec<&str> = rsa
        .iter()
        .filter(|(mechanism, _)| !has(*mechanism))
        .map(|(_, name)| *name)
        .collect();
    let ec = has(MechanismType::ECC_KEY_PAIR_GEN) && has(MechanismType::ECDSA);
    let mut offered = Vec::new();
    for spec in AsymmetricSpec::ALL.iter().copied() {
        if spec.is_rsa() {
            if rsa_lacking.is_empty() {
                offered.push(spec);
            } else {
                missing(spec.as_str(), &rsa_lacking.join(" and "));
            }
            continue;
        }
        match (spec, spec.key_pair_spec()) {
            (AsymmetricSpec::Sm2, _) => missing(
                spec.as_str(),
                "CKM_SM2_KEY_PAIR_GEN and SM2 signing (vendor mechanisms, which this backend does not use for CMKs)",
            ),
            (AsymmetricSpec::Ed25519, _) | (_, None) => {
                missing(spec.as_str(), private_key::ED25519_MISSING);
            }
            (_, Some(pair)) if ec && curves.contains(&pair) => offered.push(spec),
            (_, Some(pair)) if ec => missing(
                spec.as_str(),
                &format!(
                    "CKM_EC_KEY_PAIR_GEN on the curve {}, which this token refuses",
                    curve_name(pair)
                ),
            ),
            (_, Some(_)) => missing(spec.as_str(), "CKM_EC_KEY_PAIR_GEN and CKM_ECDSA"),
        }
    }
    let generic = has(MechanismType::GENERIC_SECRET_KEY_GEN);
    let mut macs = Vec::new();
    for spec in MacSpec::ALL.iter().copied() {
        match mac_key::mechanism(spec) {
            Some(hmac) if generic && has(hmac) => macs.push(spec),
            Some(hmac) => missing(
                spec.as_str(),
                &format!("CKM_GENERIC_SECRET_KEY_GEN and {hmac}"),
            ),
            None => missing(spec.as_str(), mac_key::HMAC_SM3_MISSING),
        }
    }
    capabilities.asymmetric_specs = offered;
    capabilities.mac_specs = macs;
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOFTHSM_LIKE: [MechanismType; 6] = [
        MechanismType::AES_KEY_GEN,
        MechanismType::AES_GCM,
        MechanismType::ECC_KEY_PAIR_GEN,
        MechanismType::RSA_PKCS_KEY_PAIR_GEN,
        MechanismType::RSA_PKCS_OAEP,
        MechanismType::AES_KEY_WRAP_PAD,
    ];

    #[test]
    fn a_softhsm_like_token_offers_aes_cmks_and_ec_pairs_but_not_sm4_or_sm2() {
        let capabilities = probe(
            "token 'x'",
            &SOFTHSM_LIKE,
            &EC_CURVES,
            Quirks::new(true, false, false),
            &Vendor::default(),
        );
        assert!(capabilities.require_cmk(CmkSpec::Aes256).is_ok());
        let err = capabilities.require_cmk(CmkSpec::Sm4).unwrap_err();
        assert_eq!(err.code(), "KMS.9002");
        assert!(err.to_string().contains("CKM_SM4_KEY_GEN"), "{err}");
        assert!(err.to_string().contains("token 'x'"), "{err}");
        assert!(
            capabilities
                .require_key_pair(KeyPairSpec::EccSecgP256k1)
                .is_ok()
        );
        let err = capabilities.require_key_pair(KeyPairSpec::Sm2).unwrap_err();
        assert!(err.to_string().contains("CKM_SM2_KEY_PAIR_GEN"), "{err}");
    }

    #[test]
    fn softhsm_imports_with_oaep_sha1_only_and_says_why_not_sha256() {
        let capabilities = probe(
            "token 's'",
            &SOFTHSM_LIKE,
            &EC_CURVES,
            Quirks::new(true, false, false),
            &Vendor::default(),
        );
        let import = |algorithm| capabilities.require_import(algorithm, WrappingKeySpec::Rsa2048);
        assert!(import(WrappingAlgorithm::RsaesOaepSha1).is_ok());
        assert!(import(WrappingAlgorithm::RsaAesKeyWrapSha1).is_ok());
        let err = import(WrappingAlgorithm::RsaesOaepSha256).unwrap_err();
        assert!(
            err.to_string()
                .contains("SHA-256, which this token refuses"),
            "{err}"
        );
        let other = probe(
            "token 'h'",
            &SOFTHSM_LIKE,
            &EC_CURVES,
            Quirks::new(true, true, false),
            &Vendor::default(),
        );
        let import = other.require_import(
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            WrappingKeySpec::Rsa4096,
        );
        assert!(import.is_ok());
    }

    #[test]
    fn host_assisted_unwrap_offers_oaep_sha256_on_softhsm() {
        let assisted = probe(
            "token 's'",
            &SOFTHSM_LIKE,
            &EC_CURVES,
            Quirks::new(true, false, true),
            &Vendor::default(),
        );
        for algorithm in [
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
        ] {
            assert!(
                assisted
                    .require_import(algorithm, WrappingKeySpec::Rsa2048)
                    .is_ok()
            );
        }
        assert!(Quirks::new(true, false, true).host_oaep_sha256());
        assert!(!Quirks::new(true, true, true).host_oaep_sha256());
    }

    #[test]
    fn a_token_without_gcm_offers_no_cmk() {
        let capabilities = probe(
            "token 'y'",
            &[MechanismType::AES_KEY_GEN],
            &[],
            Quirks::default(),
            &Vendor::default(),
        );
        let err = capabilities.require_cmk(CmkSpec::Aes256).unwrap_err();
        assert!(err.to_string().contains("CKM_AES_GCM"), "{err}");
    }

    #[test]
    fn sm4_and_sm2_are_offered_when_the_map_names_mechanisms_the_token_lists() {
        use crate::vendor::{Sm2Mechanisms, Sm4Mechanisms, VendorMechanisms};
        let map = VendorMechanisms {
            sm4: Some(Sm4Mechanisms {
                key_type: 0x8000_0101,
                key_gen: 0x8000_0102,
                gcm: 0x8000_0103,
            }),
            sm2: Some(Sm2Mechanisms {
                key_type: 0x8000_0201,
                key_pair_gen: 0x8000_0202,
            }),
        };
        let vendor = map.check().unwrap();
        let listed: Vec<MechanismType> = [0x8000_0102, 0x8000_0103, 0x8000_0202]
            .into_iter()
            .map(|number| MechanismType::new_vendor_defined(number).unwrap())
            .chain(SOFTHSM_LIKE)
            .collect();
        let capabilities = probe("token 'v'", &listed, &EC_CURVES, Quirks::default(), &vendor);
        assert_eq!(capabilities.cmk_specs, [CmkSpec::Aes256, CmkSpec::Sm4]);
        assert!(capabilities.require_key_pair(KeyPairSpec::Sm2).is_ok());

        let unlisted = probe(
            "token 'w'",
            &SOFTHSM_LIKE,
            &EC_CURVES,
            Quirks::default(),
            &vendor,
        );
        let err = unlisted.require_cmk(CmkSpec::Sm4).unwrap_err();
        assert_eq!(err.code(), "KMS.9002");
        assert!(
            err.to_string().contains("0x80000102 (CKM_SM4_KEY_GEN)"),
            "{err}"
        );
        assert!(err.to_string().contains("token 'w'"), "{err}");
        let err = unlisted.require_key_pair(KeyPairSpec::Sm2).unwrap_err();
        assert!(err.to_string().contains("0x80000202"), "{err}");
    }

    /// What Kryoptic 1.5.4 lists through cryptoki: no CKM_AES_KEY_WRAP_PAD (its 0x210B is
    /// dropped from the list), and its EC key generation has no secp256k1.
    const KRYOPTIC_LIKE: [MechanismType; 5] = [
        MechanismType::AES_KEY_GEN,
        MechanismType::AES_GCM,
        MechanismType::ECC_KEY_PAIR_GEN,
        MechanismType::RSA_PKCS_KEY_PAIR_GEN,
        MechanismType::RSA_PKCS_OAEP,
    ];

    /// What a Kryoptic-like token (the NIST curves only, no AES key wrap) is offered.
    fn kryoptic_like() -> Capabilities {
        probe(
            "token 'k'",
            &KRYOPTIC_LIKE,
            &EC_CURVES[..3],
            Quirks::new(true, true, false),
            &Vendor::default(),
        )
    }

    #[test]
    fn a_curve_the_token_refuses_is_refused_naming_the_curve_and_the_token() {
        let capabilities = kryoptic_like();
        assert_eq!(
            capabilities.key_pair_specs,
            [
                KeyPairSpec::EccNistP256,
                KeyPairSpec::EccNistP384,
                KeyPairSpec::EccNistP521,
                KeyPairSpec::Rsa2048,
                KeyPairSpec::Rsa3072,
                KeyPairSpec::Rsa4096
            ]
        );
        let err = capabilities
            .require_key_pair(KeyPairSpec::EccSecgP256k1)
            .unwrap_err();
        assert_eq!(err.code(), "KMS.9002");
        assert_eq!(
            err.to_string(),
            "Not supported by the backend: key pair spec ECC_SECG_P256K1 on backend token 'k' (needs CKM_EC_KEY_PAIR_GEN on the curve secp256k1 (1.3.132.0.10), which this token refuses)"
        );
    }

    #[test]
    fn rsa_pairs_are_offered_with_rsa_key_generation_and_refused_naming_it_without() {
        let capabilities = probe(
            "token 's'",
            &SOFTHSM_LIKE,
            &EC_CURVES,
            Quirks::default(),
            &Vendor::default(),
        );
        assert_eq!(
            capabilities.key_pair_specs,
            [
                KeyPairSpec::EccNistP256,
                KeyPairSpec::EccNistP384,
                KeyPairSpec::EccNistP521,
                KeyPairSpec::EccSecgP256k1,
                KeyPairSpec::Rsa2048,
                KeyPairSpec::Rsa3072,
                KeyPairSpec::Rsa4096
            ]
        );
        let without = probe(
            "token 'n'",
            &[MechanismType::AES_KEY_GEN, MechanismType::AES_GCM],
            &[],
            Quirks::default(),
            &Vendor::default(),
        );
        for spec in RSA_SPECS {
            let err = without.require_key_pair(spec).unwrap_err();
            assert_eq!(err.code(), "KMS.9002");
            assert_eq!(
                err.to_string(),
                format!(
                    "Not supported by the backend: key pair spec {} on backend token 'n' (needs CKM_RSA_PKCS_KEY_PAIR_GEN)",
                    spec.as_str()
                )
            );
        }
    }

    #[test]
    fn a_token_without_ec_key_generation_names_it_for_every_curve() {
        let capabilities = probe(
            "token 'n'",
            &[MechanismType::AES_KEY_GEN, MechanismType::AES_GCM],
            &[],
            Quirks::default(),
            &Vendor::default(),
        );
        assert!(capabilities.key_pair_specs.is_empty());
        for spec in EC_CURVES {
            let err = capabilities.require_key_pair(spec).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "Not supported by the backend: key pair spec {} on backend token 'n' (needs CKM_EC_KEY_PAIR_GEN)",
                    spec.as_str()
                )
            );
        }
    }

    #[test]
    fn without_aes_key_wrap_pad_rsa_aes_key_wrap_is_refused_naming_the_mechanisms() {
        let capabilities = kryoptic_like();
        assert_eq!(
            capabilities.wrapping_algorithms,
            [
                WrappingAlgorithm::RsaesOaepSha1,
                WrappingAlgorithm::RsaesOaepSha256
            ]
        );
        for algorithm in [
            WrappingAlgorithm::RsaAesKeyWrapSha1,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
        ] {
            let err = capabilities
                .require_import(algorithm, WrappingKeySpec::Rsa2048)
                .unwrap_err();
            assert_eq!(err.code(), "KMS.9002");
            assert_eq!(
                err.to_string(),
                format!(
                    "Not supported by the backend: wrapping algorithm {} on backend token 'k' (needs CKM_RSA_AES_KEY_WRAP, or CKM_AES_KEY_WRAP_PAD (0x210A) to compose it, which this token does not list (CKM_AES_KEY_WRAP_KWP, 0x210B, cannot be named through cryptoki 0.12))",
                    algorithm.as_str()
                )
            );
        }
    }

    #[test]
    fn asymmetric_and_hmac_cmks_follow_the_mechanism_list_and_name_what_is_missing() {
        use kms_core::{AsymmetricSpec, KeySpec, MacSpec};
        let listed: Vec<MechanismType> = SOFTHSM_LIKE
            .into_iter()
            .chain([
                MechanismType::RSA_PKCS,
                MechanismType::RSA_PKCS_PSS,
                MechanismType::ECDSA,
                MechanismType::GENERIC_SECRET_KEY_GEN,
                MechanismType::SHA256_HMAC,
                MechanismType::SHA512_HMAC,
            ])
            .collect();
        let capabilities = probe(
            "token 'a'",
            &listed,
            &EC_CURVES[..3],
            Quirks::default(),
            &Vendor::default(),
        );
        assert_eq!(
            capabilities.asymmetric_specs,
            [
                AsymmetricSpec::Rsa2048,
                AsymmetricSpec::Rsa3072,
                AsymmetricSpec::Rsa4096,
                AsymmetricSpec::EcP256,
                AsymmetricSpec::EcP384,
            ]
        );
        assert_eq!(capabilities.mac_specs, [MacSpec::Hmac256, MacSpec::Hmac512]);
        let refused = |spec| {
            let err = capabilities.require_key_spec(spec).unwrap_err();
            assert_eq!(err.code(), "KMS.9002");
            err.to_string()
        };
        assert_eq!(
            refused(KeySpec::Asymmetric(AsymmetricSpec::Secp256k1)),
            "Not supported by the backend: CMK spec SECP256K1 on backend token 'a' (needs CKM_EC_KEY_PAIR_GEN on the curve secp256k1 (1.3.132.0.10), which this token refuses)"
        );
        assert!(refused(KeySpec::Asymmetric(AsymmetricSpec::Ed25519)).contains("CKM_EDDSA"),);
        assert!(refused(KeySpec::Asymmetric(AsymmetricSpec::Sm2)).contains("CKM_SM2_KEY_PAIR_GEN"));
        assert!(refused(KeySpec::Mac(MacSpec::Hmac384)).contains("CKM_SHA384_HMAC"));
        assert!(refused(KeySpec::Mac(MacSpec::HmacSm3)).contains("CKM_SM3_HMAC"));

        let without_pss = probe(
            "token 'b'",
            &SOFTHSM_LIKE,
            &EC_CURVES,
            Quirks::default(),
            &Vendor::default(),
        );
        assert!(without_pss.asymmetric_specs.is_empty());
        let err = without_pss
            .require_key_spec(KeySpec::Asymmetric(AsymmetricSpec::Rsa3072))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Not supported by the backend: CMK spec RSA_3072 on backend token 'b' (needs CKM_RSA_PKCS and CKM_RSA_PKCS_PSS)"
        );
    }
}
