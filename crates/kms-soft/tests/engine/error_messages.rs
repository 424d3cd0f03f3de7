//! No error message holds a value of the request (DESIGN 7 and 8), whatever its shape: a
//! body that is a JSON string holding the JSON, an array of the fields, a secret field of
//! any JSON type (nested, in arrays, as a number), a secret-looking key, or a string that
//! fails validation after parsing. Every case goes through `Kms::call_json` for every
//! operation; messages still name the field and the problem.

use std::sync::LazyLock;

use crate::common::{create_key, engine, external_key_with_import_token};
use kms_core::{Kms, KmsError, Operation};
use proptest::prelude::*;
use serde_json::{Value, json};

/// The request fields that can carry secret material: a DEK with its digest, a PIN, wrapped
/// key material (both fields), and the single-use import token.
const SECRET_FIELDS: [&str; 5] = [
    "plain_text",
    "pin",
    "encrypted_key_material",
    "encrypted_privatekey",
    "import_token",
];

/// Keys, and a base body for each operation that gets past the mandatory fields, so that a
/// string in a secret field reaches that field's own validation.
struct Fixture {
    kms: Kms,
    bases: Vec<(Operation, Value)>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let kms = engine();
    let aes = create_key(&kms, "AES_256");
    let (external, token) = external_key_with_import_token(&kms);
    let bases = Operation::ALL
        .iter()
        .map(|&operation| {
            let base = match operation {
                Operation::CreateKey => json!({"key_alias": "messages"}),
                Operation::ListKeys | Operation::GenRandom | Operation::ListKmsTags => json!({}),
                Operation::ReEncrypt => json!({"destination_key_id": aes}),
                Operation::EncryptDatakey => json!({"key_id": aes, "datakey_plain_length": "32"}),
                Operation::ImportKeyMaterial => json!({"key_id": external, "import_token": token}),
                Operation::GetParametersForImport | Operation::DeleteImportedKeyMaterial => {
                    json!({"key_id": external})
                }
                _ => json!({"key_id": aes}),
            };
            (operation, base)
        })
        .collect();
    Fixture { kms, bases }
});

/// Text no message could hold by chance: 24 to 64 upper-case hex digits, as a DEK is sent.
fn secret_text() -> impl Strategy<Value = String> {
    "[0-9A-F]{24,64}"
}

/// Fails if `message` holds any 10 consecutive characters of `secret`, or any run of 10
/// digits (the secret written as a number, whichever way a number is formatted).
fn assert_not_echoed(message: &str, secret: &str) {
    let secret: Vec<char> = secret.chars().collect();
    for window in secret.windows(10) {
        let piece: String = window.iter().collect();
        assert!(!message.contains(&piece), "{message} echoes {piece}");
    }
    let longest_number = message
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest_number < 10, "{message} echoes a number");
}

/// `secret` as every JSON type but a string: digits as an integer and as a float, and the
/// text inside arrays, objects (as a value and as a key) and deeper nestings.
fn wrong_types(secret: &str, digits: u64) -> Vec<Value> {
    vec![
        json!(digits),
        json!(-i64::try_from(digits / 2).unwrap()),
        json!(digits as f64 / 8.0),
        json!(true),
        json!([secret]),
        json!([digits]),
        json!({ "a": secret }),
        json!({ secret: 1 }),
        json!([[{ "x": [secret, digits] }]]),
        json!({ "a": { "b": [secret] } }),
    ]
}

fn refusal(operation: Operation, body: &str) -> KmsError {
    FIXTURE
        .kms
        .call_json(operation, body)
        .expect_err("a refusal")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_body_that_is_not_an_object_is_refused_without_its_values(
        secret in secret_text(),
        digits in 1_000_000_000_000_u64..u64::MAX / 2,
    ) {
        for (operation, base) in &FIXTURE.bases {
            let mut object = base.clone();
            object["plain_text"] = json!(secret);
            let fields: Vec<Value> = object.as_object().unwrap().values().cloned().collect();
            for body in [
                // Double-encoded: a JSON string holding the JSON.
                Value::String(object.to_string()).to_string(),
                // Positional: the fields in order.
                Value::Array(fields).to_string(),
                json!([object]).to_string(),
                json!([secret, digits]).to_string(),
                json!(secret).to_string(),
                digits.to_string(),
            ] {
                let err = refusal(*operation, &body);
                prop_assert_eq!(err.code(), "KMS.0202");
                let message = err.to_string();
                prop_assert!(message.contains("the request body must be a JSON object, not "), "{}", message);
                assert_not_echoed(&message, &secret);
            }
        }
    }

    #[test]
    fn a_secret_field_of_any_json_type_is_refused_naming_the_field_not_the_value(
        secret in secret_text(),
        digits in 1_000_000_000_000_u64..u64::MAX / 2,
    ) {
        for (operation, base) in &FIXTURE.bases {
            for field in SECRET_FIELDS {
                for value in wrong_types(&secret, digits) {
                    let mut body = base.clone();
                    body[field] = value;
                    let err = refusal(*operation, &body.to_string());
                    prop_assert_eq!(err.code(), "KMS.0202", "{:?} {}", operation, body);
                    let message = err.to_string();
                    // The field is named: as the mistyped one, or as an unknown one.
                    prop_assert!(message.contains(field), "{}", message);
                    assert_not_echoed(&message, &secret);
                }
                // A string: parsed, then refused by the field's own validation (or as an
                // unknown field), without echo either.
                let mut body = base.clone();
                body[field] = json!(secret);
                if let Err(err) = FIXTURE.kms.call_json(*operation, &body.to_string()) {
                    assert_not_echoed(&err.to_string(), &secret);
                }
            }
        }
    }

    #[test]
    fn a_secret_looking_key_is_not_echoed(secret in secret_text()) {
        for (operation, base) in &FIXTURE.bases {
            let mut body = base.clone();
            body[secret.as_str()] = json!("x");
            let err = refusal(*operation, &body.to_string());
            prop_assert_eq!(err.code(), "KMS.0202");
            let message = err.to_string();
            prop_assert!(message.contains("unknown field (its name is not shown"), "{}", message);
            assert_not_echoed(&message, &secret);
        }
    }
}

#[test]
fn validation_after_parsing_names_the_problem_without_the_value() {
    let secret = "0123456789ABCDEF0123456789ABCDEFZZ";
    let cases = [
        (Operation::EncryptDatakey, "plain_text", "KMS.2101"),
        (Operation::EncryptDatakey, "pin", "KMS.9001"),
        (Operation::ImportKeyMaterial, "import_token", "KMS.2605"),
    ];
    for (operation, field, code) in cases {
        let (_, base) = FIXTURE
            .bases
            .iter()
            .find(|(candidate, _)| *candidate == operation)
            .unwrap();
        let mut body = base.clone();
        // Odd length for plain_text: KMS.2101 before the length check.
        body[field] = json!(&secret[1..]);
        let err = refusal(operation, &body.to_string());
        assert_eq!(err.code(), code, "{field}: {err}");
        assert_not_echoed(&err.to_string(), &secret[1..]);
    }
}
