//! What the token can do, from its mechanism list: the engine refuses the rest up front
//! with an error naming the missing mechanism and the token. No silent fallback.

use cryptoki::mechanism::MechanismType;
use kms_core::{Capabilities, CmkSpec, KeyPairSpec};

/// The capabilities of a token offering `mechanisms`, named `token` in messages.
pub(crate) fn probe(token: &str, mechanisms: &[MechanismType]) -> Capabilities {
    let has = |mechanism: MechanismType| mechanisms.contains(&mechanism);
    let mut capabilities = Capabilities {
        name: token.to_owned(),
        cmk_specs: Vec::new(),
        key_pair_specs: Vec::new(),
        wrapping_key_specs: Vec::new(),
        wrapping_algorithms: Vec::new(),
        missing: Vec::new(),
    };
    if has(MechanismType::AES_KEY_GEN) && has(MechanismType::AES_GCM) {
        capabilities.cmk_specs.push(CmkSpec::Aes256);
    } else {
        capabilities.missing.push((
            CmkSpec::Aes256.as_str().into(),
            "CKM_AES_KEY_GEN and CKM_AES_GCM".into(),
        ));
    }
    // SM4 and SM2 are vendor-defined mechanisms; without a mapping for this token's vendor
    // they are not available (SoftHSM2 has neither).
    capabilities.missing.push((
        CmkSpec::Sm4.as_str().into(),
        "CKM_SM4_KEY_GEN and SM4-GCM (vendor mechanisms)".into(),
    ));
    capabilities.missing.push((
        KeyPairSpec::Sm2.as_str().into(),
        "CKM_SM2_KEY_PAIR_GEN (vendor mechanism)".into(),
    ));
    if has(MechanismType::ECC_KEY_PAIR_GEN) {
        capabilities.key_pair_specs.extend([
            KeyPairSpec::EccNistP256,
            KeyPairSpec::EccNistP384,
            KeyPairSpec::EccNistP521,
            KeyPairSpec::EccSecgP256k1,
        ]);
    }
    for spec in [
        KeyPairSpec::Rsa2048,
        KeyPairSpec::Rsa3072,
        KeyPairSpec::Rsa4096,
    ] {
        capabilities.missing.push((
            spec.as_str().into(),
            "RSA data key pairs through PKCS#11 (not built yet)".into(),
        ));
    }
    capabilities
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_softhsm_like_token_offers_aes_cmks_and_ec_pairs_but_not_sm4_or_sm2() {
        let capabilities = probe(
            "token 'x'",
            &[
                MechanismType::AES_KEY_GEN,
                MechanismType::AES_GCM,
                MechanismType::ECC_KEY_PAIR_GEN,
            ],
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
    fn a_token_without_gcm_offers_no_cmk() {
        let capabilities = probe("token 'y'", &[MechanismType::AES_KEY_GEN]);
        let err = capabilities.require_cmk(CmkSpec::Aes256).unwrap_err();
        assert!(err.to_string().contains("CKM_AES_GCM"), "{err}");
    }
}
