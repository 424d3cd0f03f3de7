//! About SoftHSM2 only (the CKR codes asserted are SoftHSM2 2.6.1's).
//!
//! The wrapping keys of import are no unwrap oracle for whoever else holds the PIN (DESIGN
//! 6). The attacker is a session of its own logged in with the PIN (and, for C_SignRecover,
//! which cryptoki lacks, another process: `attacker/sign_recover.c`). It finds the wrapping
//! private key get-parameters-for-import made, holds a customer's real
//! `encrypted_key_material`, and tries every way of turning that into readable material:
//! the token refuses each one, with the CKR asserted here (SoftHSM2 2.6.1's).
//!
//! The tests of this binary take turns: the attacker changes objects outside the backend's
//! object-change lock, and the attacker process must not open the token while another test
//! rewrites it (SoftHSM2's file store is not safe across processes).
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests report failure by panicking"
)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use aes_kw::{KeyInit, KwpAes256};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use getrandom::SysRng;
use kms_core::{Kms, encode_hex};
use kms_pkcs11::unwrapped_key_policy;
use rsa::Oaep;
use rsa::traits::PublicKeyParts;
use sha1::Sha1;
use softhsm_tests::{
    assisted_engine, backend, build_c, engine, external_key, import, import_parameters, module,
    round_trip, wrap_out, wrapping_private_key,
};

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn oaep_sha1() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    ))
}

/// The CKR the token refused `attempt` with.
fn refused<T>(attempt: cryptoki::error::Result<T>) -> RvError {
    match attempt {
        Err(Error::Pkcs11(rv, _)) => rv,
        Err(other) => panic!("not a PKCS#11 refusal: {other}"),
        Ok(_) => panic!("the token allowed it"),
    }
}

/// An AES session key template the attacker asks for: one that decrypts and unwraps, plus
/// `extra`.
fn aes_template(extra: &[Attribute]) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Unwrap(true),
    ];
    template.extend_from_slice(extra);
    template
}

/// `template` with the unwrapped-key policy in the place of its own attributes of the same
/// types: what the wrapping key's CKA_UNWRAP_TEMPLATE lets through.
fn under_policy(mut template: Vec<Attribute>) -> Vec<Attribute> {
    let policy = unwrapped_key_policy();
    template.retain(|attribute| {
        !policy
            .iter()
            .any(|forced| forced.attribute_type() == attribute.attribute_type())
    });
    template.extend(policy);
    template
}

/// `attribute` with another value.
fn other_value(attribute: &Attribute) -> Attribute {
    match attribute {
        Attribute::Class(_) => Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Sensitive(value) => Attribute::Sensitive(!value),
        Attribute::Extractable(value) => Attribute::Extractable(!value),
        Attribute::Wrap(value) => Attribute::Wrap(!value),
        Attribute::Derive(value) => Attribute::Derive(!value),
        Attribute::Copyable(value) => Attribute::Copyable(!value),
        Attribute::Modifiable(value) => Attribute::Modifiable(!value),
        Attribute::AllowedMechanisms(_) => {
            Attribute::AllowedMechanisms(vec![MechanismType::AES_ECB])
        }
        other => panic!("no other value for {other:?}"),
    }
}

/// The wrapping private key's attributes: a sensitive, never-extractable token object that
/// unwraps with CKM_RSA_PKCS_OAEP and does nothing else, and cannot be changed or copied.
fn assert_wrapping_key_policy(session: &Session, wrapping: ObjectHandle) {
    let policy = [
        AttributeType::Token,
        AttributeType::Private,
        AttributeType::Sensitive,
        AttributeType::Extractable,
        AttributeType::Unwrap,
        AttributeType::Decrypt,
        AttributeType::Sign,
        AttributeType::SignRecover,
        AttributeType::Derive,
        AttributeType::Copyable,
        AttributeType::Modifiable,
        AttributeType::AllowedMechanisms,
    ];
    assert_eq!(
        session.get_attributes(wrapping, &policy).unwrap(),
        vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Unwrap(true),
            Attribute::Decrypt(false),
            Attribute::Sign(false),
            Attribute::SignRecover(false),
            Attribute::Derive(false),
            Attribute::Copyable(false),
            Attribute::Modifiable(false),
            Attribute::AllowedMechanisms(vec![MechanismType::RSA_PKCS_OAEP]),
        ]
    );
}

/// The attacker process's answer to C_SignRecover with the key `wrapping`.
fn sign_recover_in_another_process(session: &Session, wrapping: ObjectHandle) -> String {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    let program = PROGRAM.get_or_init(|| build_c("attacker/sign_recover.c", "sign-recover", &[]));
    let id = match session
        .get_attributes(wrapping, &[AttributeType::Id])
        .unwrap()
        .as_slice()
    {
        [Attribute::Id(id)] => encode_hex(id),
        other => panic!("no CKA_ID: {other:?}"),
    };
    let output = Command::new(program)
        .arg(module())
        .arg(id)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the attacker process: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Every way a PIN holder might read `wrapped` with the wrapping key `wrapping` is refused.
fn assert_no_unwrap_oracle(attacker: &Session, wrapping: ObjectHandle, wrapped: &[u8]) {
    let unwrap = |mechanism: &Mechanism<'_>, template: &[Attribute]| {
        attacker.unwrap_key(mechanism, wrapping, wrapped, template)
    };
    // Into an extractable or a non-sensitive key: the unwrap template refuses.
    for (name, template) in [
        (
            "extractable",
            aes_template(&[Attribute::Sensitive(false), Attribute::Extractable(true)]),
        ),
        (
            "extractable though sensitive",
            aes_template(&[Attribute::Sensitive(true), Attribute::Extractable(true)]),
        ),
        (
            "not sensitive",
            aes_template(&[Attribute::Sensitive(false), Attribute::Extractable(false)]),
        ),
        ("no policy asked for", aes_template(&[])),
    ] {
        assert_eq!(
            refused(unwrap(&oaep_sha1(), &template)),
            RvError::TemplateInconsistent,
            "{name}"
        );
    }
    // The whole policy but one attribute, each in turn (derivable, wrapping, copyable,
    // modifiable, usable with CKM_AES_ECB...).
    let compliant = under_policy(aes_template(&[]));
    for (index, forced) in compliant.iter().enumerate() {
        if !unwrapped_key_policy().contains(forced) {
            continue;
        }
        let mut template = compliant.clone();
        template[index] = other_value(forced);
        assert_eq!(
            refused(unwrap(&oaep_sha1(), &template)),
            RvError::TemplateInconsistent,
            "{forced:?} changed"
        );
    }
    // With another mechanism than the key's one OAEP.
    for mechanism in [Mechanism::RsaPkcs, Mechanism::RsaX509] {
        assert_eq!(
            refused(unwrap(&mechanism, &compliant)),
            RvError::MechanismInvalid,
            "{mechanism:?}"
        );
    }
    // Decrypting or signing with the wrapping key, or giving it those powers.
    assert_eq!(
        refused(attacker.decrypt(&oaep_sha1(), wrapping, wrapped)),
        RvError::KeyFunctionNotPermitted
    );
    assert_eq!(
        refused(attacker.decrypt(&Mechanism::RsaX509, wrapping, wrapped)),
        RvError::KeyFunctionNotPermitted
    );
    assert_eq!(
        refused(attacker.sign(&Mechanism::Sha256RsaPkcs, wrapping, b"data")),
        RvError::KeyFunctionNotPermitted
    );
    // SoftHSM2 2.6.1 has no C_SignRecover (CKR_FUNCTION_NOT_SUPPORTED); the key's
    // CKA_SIGN_RECOVER is false for tokens that do.
    assert_eq!(
        sign_recover_in_another_process(attacker, wrapping),
        "init 0x54\n"
    );
    for change in [
        Attribute::Decrypt(true),
        Attribute::SignRecover(true),
        Attribute::AllowedMechanisms(vec![MechanismType::RSA_X_509]),
    ] {
        assert_eq!(
            refused(attacker.update_attributes(wrapping, std::slice::from_ref(&change))),
            RvError::ActionProhibited,
            "C_SetAttributeValue {change:?}"
        );
        assert_eq!(
            refused(attacker.copy_object(wrapping, std::slice::from_ref(&change))),
            RvError::ActionProhibited,
            "C_CopyObject {change:?}"
        );
    }
    // What the policy lets through is a key nobody can read, wrap out, change or copy.
    let key = unwrap(&oaep_sha1(), &compliant).unwrap();
    assert_eq!(
        attacker
            .get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable])
            .unwrap(),
        [Attribute::Sensitive(true), Attribute::Extractable(false)]
    );
    // (Not printed if it fails: it would be the material.)
    assert!(
        attacker
            .get_attributes(key, &[AttributeType::Value])
            .unwrap()
            .is_empty(),
        "CKA_VALUE was readable"
    );
    assert_eq!(refused(wrap_out(attacker, key)), RvError::KeyUnextractable);
    for change in [Attribute::Extractable(true), Attribute::Derive(true)] {
        assert_eq!(
            refused(attacker.update_attributes(key, std::slice::from_ref(&change))),
            RvError::ActionProhibited,
            "C_SetAttributeValue {change:?}"
        );
        assert_eq!(
            refused(attacker.copy_object(key, std::slice::from_ref(&change))),
            RvError::ActionProhibited,
            "C_CopyObject {change:?}"
        );
    }
    // No raw block decryption either (CKA_ALLOWED_MECHANISMS).
    assert_eq!(
        refused(attacker.decrypt(&Mechanism::AesEcb, key, &[0; 16])),
        RvError::MechanismInvalid
    );
    attacker.destroy_object(key).unwrap();
}

/// A customer's external key, its import token and its material wrapped with
/// RSAES_OAEP_SHA_1 to the wrapping key `kms` made.
fn customer(kms: &Kms, material: &[u8]) -> (String, String, rsa::PublicKey, Vec<u8>) {
    let key_id = external_key(kms);
    let (token, public) = import_parameters(kms, &key_id, "RSAES_OAEP_SHA_1").unwrap();
    let wrapped = public
        .encrypt(&mut SysRng, Oaep::<Sha1>::new(), material)
        .unwrap();
    (key_id, token, public, wrapped)
}

#[test]
fn a_pin_holder_cannot_turn_a_customers_wrapped_material_into_readable_material() {
    let _turn = one_at_a_time();
    let kms = engine();
    let (key_id, token, public, wrapped) = customer(&kms, &[0xD4; 32]);
    let attacker = backend().session_pool().open_unpooled().unwrap();
    let wrapping = wrapping_private_key(&attacker, &public);
    assert_wrapping_key_policy(&attacker, wrapping);
    assert_no_unwrap_oracle(&attacker, wrapping, &wrapped);
    // The customer's import is unaffected.
    import(&kms, &key_id, &token, &wrapped).unwrap();
    round_trip(&kms, &key_id);
}

#[test]
fn the_host_assisted_wrapping_key_object_has_the_same_policy() {
    let _turn = one_at_a_time();
    let (kms, backend) = assisted_engine();
    // Under the policy every RSA wrapping key is made on the host and stored in the token;
    // RSAES_OAEP_SHA_1 still unwraps with the token object.
    let (key_id, token, public, wrapped) = customer(&kms, &[0xD5; 32]);
    let attacker = backend.session_pool().open_unpooled().unwrap();
    let wrapping = wrapping_private_key(&attacker, &public);
    assert_wrapping_key_policy(&attacker, wrapping);
    assert_no_unwrap_oracle(&attacker, wrapping, &wrapped);
    import(&kms, &key_id, &token, &wrapped).unwrap();
    round_trip(&kms, &key_id);
}

/// What remains (kms-pkcs11's `import` module docs): SoftHSM2 2.6.1 cannot make a key that
/// the wrapping key unwraps carry an unwrap template of its own (it refuses nested
/// templates with CKR_ATTRIBUTE_VALUE_INVALID). So a PIN holder who has an
/// RSA_AES_KEY_WRAP_SHA_1 `encrypted_key_material` while its wrapping key exists can unwrap
/// the temporary AES key (under the policy: no raw block decryption) and unwrap the
/// material with it into a key of their choosing. When this test fails, the token has
/// closed that gap: tighten the policy and the docs.
#[test]
fn what_remains_the_temporary_key_of_rsa_aes_key_wrap_still_unwraps_freely() {
    let _turn = one_at_a_time();
    let kms = engine();
    let key_id = external_key(&kms);
    let (_token, public) = import_parameters(&kms, &key_id, "RSA_AES_KEY_WRAP_SHA_1").unwrap();
    let (temporary_key, material) = ([0x61u8; 32], [0xD6u8; 32]);
    let mut buffer = [0u8; 40];
    let kwp_part = KwpAes256::new_from_slice(&temporary_key)
        .unwrap()
        .wrap_key(&material, &mut buffer)
        .unwrap()
        .to_vec();
    let oaep_part = public
        .encrypt(&mut SysRng, Oaep::<Sha1>::new(), &temporary_key)
        .unwrap();
    assert_eq!(oaep_part.len(), public.size());
    let attacker = backend().session_pool().open_unpooled().unwrap();
    let wrapping = wrapping_private_key(&attacker, &public);
    assert_eq!(
        refused(attacker.unwrap_key(
            &oaep_sha1(),
            wrapping,
            &oaep_part,
            &aes_template(&[Attribute::Sensitive(true), Attribute::Extractable(false)]),
        )),
        RvError::TemplateInconsistent,
        "a temporary key that may decrypt with CKM_AES_ECB"
    );
    let temporary = attacker
        .unwrap_key(
            &oaep_sha1(),
            wrapping,
            &oaep_part,
            &under_policy(aes_template(&[])),
        )
        .unwrap();
    assert_eq!(
        refused(attacker.decrypt(&Mechanism::AesEcb, temporary, &[0; 16])),
        RvError::MechanismInvalid
    );
    let readable = attacker
        .unwrap_key(
            &Mechanism::AesKeyWrapPad,
            temporary,
            &kwp_part,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::Token(false),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
            ],
        )
        .unwrap();
    let read = attacker
        .get_attributes(readable, &[AttributeType::Value])
        .unwrap();
    assert!(
        matches!(read.as_slice(), [Attribute::Value(value)] if value.as_slice() == material),
        "the material did not come out (not printed)"
    );
    attacker.destroy_object(readable).unwrap();
    attacker.destroy_object(temporary).unwrap();
    kms.destroy_all_keys().unwrap();
}
