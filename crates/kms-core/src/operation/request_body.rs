//! Parsing a request body: one JSON object of the operation's fields, refused with KMS.0202
//! and a message that names the field and the problem, and never holds a request value.

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use super::value_free::{A_JSON_OBJECT, Guarded, Refusal, Slot, shown_key};
use crate::error::{KmsError, Result};

/// Parses a request body.
///
/// The body must be one JSON object (a string holding JSON, an array of the fields in
/// order, or any other value is refused) with only `T`'s fields. Every refusal is KMS.0202,
/// and its message says where (the field's path) and what (the kind of value found and
/// what was expected, a syntax error and its position, an unknown field and the fields
/// there are) but never holds a value from the body, whatever its shape: a secret given
/// as a number, in an array, or nested in an object under a secret field is no more echoed
/// than one given as a string. An unknown field is named only when its name looks like one
/// (at most 40 ASCII letters, digits and `_`, not all hex digits).
///
/// # Errors
/// [`KmsError::InvalidJson`] when `body` is not one JSON object of `T`'s fields.
pub fn parse<T: DeserializeOwned>(body: &str) -> Result<T> {
    let slot = Slot::default();
    let mut json = serde_json::Deserializer::from_str(body);
    let parsed =
        serde_path_to_error::deserialize(Guarded::new(&mut json, &slot)).map_err(|error| {
            let mut segments: Vec<&Segment> = error.path().iter().collect();
            // An unknown field's path ends with the field itself, which the message names.
            if let Refusal::UnknownField { .. } = error.inner() {
                segments.pop();
            }
            refused(shown_path(&segments), error.inner())
        })?;
    json.end()
        .map_err(|error| refused(None, &Refusal::foreign(&error)))?;
    Ok(parsed)
}

/// The KMS.0202 error for `refusal` at `path` (`None`: the body itself).
fn refused(path: Option<String>, refusal: &Refusal) -> KmsError {
    let message = match (path, refusal) {
        (None, Refusal::WrongType { found, expected }) if expected == A_JSON_OBJECT => {
            format!("the request body must be {A_JSON_OBJECT}, not {found}")
        }
        (None, refusal) => refusal.to_string(),
        (Some(path), refusal) => format!("{path}: {refusal}"),
    };
    KmsError::InvalidJson(message)
}

/// A path as `field`, `field.inner` or `field[2]`; `None` at the root. A key that
/// [`shown_key`] does not allow is shown as `?`.
fn shown_path(path: &[&Segment]) -> Option<String> {
    let mut shown = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => shown.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !shown.is_empty() {
                    shown.push('.');
                }
                shown.push_str(shown_key(key).unwrap_or("?"));
            }
            Segment::Unknown => shown.push_str(".?"),
        }
    }
    (!shown.is_empty()).then_some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{
        CreateEcDatakeyPairRequest, EncryptDatakeyRequest, ImportKeyMaterialRequest, KeyIdRequest,
    };

    fn message<T: DeserializeOwned + core::fmt::Debug>(body: &str) -> String {
        let err = parse::<T>(body).unwrap_err();
        assert_eq!(err.code(), "KMS.0202", "{err}");
        err.to_string()
            .strip_prefix("Invalid JSON format of the request message: ")
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_mistyped_field_is_named_with_the_kind_found_and_expected() {
        assert_eq!(
            message::<CreateEcDatakeyPairRequest>(r#"{"with_plain_text":"yes"}"#),
            "with_plain_text: invalid type: a string, expected a boolean"
        );
        assert_eq!(
            message::<EncryptDatakeyRequest>(r#"{"plain_text":123456789}"#),
            "plain_text: invalid type: an integer, expected a string"
        );
        assert_eq!(
            message::<EncryptDatakeyRequest>(r#"{"pin":[123456789]}"#),
            "pin: invalid type: a JSON array, expected a string"
        );
        assert_eq!(
            message::<EncryptDatakeyRequest>(r#"{"plain_text":{"a":"SECRET"}}"#),
            "plain_text: invalid type: a JSON object, expected a string"
        );
        assert_eq!(
            message::<ImportKeyMaterialRequest>(r#"{"expiration_time":-1}"#),
            "expiration_time: data did not match any variant of untagged enum NumberOrString"
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_as_such() {
        for (body, found) in [
            (r#""{\"plain_text\":\"00FF\"}""#, "a string"),
            (
                r#"["0d0466b0-e727-4d9c-b35d-f84bb474a37f"]"#,
                "a JSON array",
            ),
            ("42", "an integer"),
            ("null", "null"),
            ("true", "a boolean"),
        ] {
            assert_eq!(
                message::<KeyIdRequest>(body),
                format!("the request body must be a JSON object, not {found}")
            );
        }
    }

    #[test]
    fn an_unknown_field_is_named_when_it_looks_like_a_name() {
        assert_eq!(
            message::<KeyIdRequest>(r#"{"keyid":"x"}"#),
            "unknown field `keyid`, expected `key_id` or `sequence`"
        );
        assert!(
            message::<CreateEcDatakeyPairRequest>(r#"{"with_plaintext":true}"#)
                .starts_with("unknown field `with_plaintext`, expected one of `key_id`, ")
        );
        for key in [
            "0A1B2C3D4E5F60718293A4B5C6D7E8F9",
            "has space",
            "quote\"",
            "line\nbreak",
            &"a".repeat(41),
        ] {
            let body = serde_json::json!({ key: 1 }).to_string();
            assert_eq!(
                message::<KeyIdRequest>(&body),
                "unknown field (its name is not shown: not a field name), \
                 expected `key_id` or `sequence`"
            );
        }
    }

    #[test]
    fn syntax_errors_keep_serde_json_text_and_position() {
        assert_eq!(
            message::<KeyIdRequest>(r#"{"key_id" "x"}"#),
            "expected `:` at line 1 column 11"
        );
        assert_eq!(
            message::<KeyIdRequest>(""),
            "EOF while parsing a value at line 1 column 0"
        );
        assert_eq!(
            message::<KeyIdRequest>("{} {}"),
            "trailing characters at line 1 column 4"
        );
        assert_eq!(
            message::<KeyIdRequest>(r#"{"key_id":"x","key_id":"y"}"#),
            "duplicate field `key_id`"
        );
    }

    #[test]
    fn only_fixed_texts_of_foreign_errors_are_shown() {
        let shown = |text: &str| Refusal::foreign(&text).to_string();
        assert_eq!(
            shown("trailing comma at line 3 column 9"),
            "trailing comma at line 3 column 9"
        );
        assert_eq!(
            shown("invalid type: string \"SECRET\", expected u8"),
            "invalid value"
        );
        assert_eq!(shown("SECRET at line 1 column 2"), "invalid value");
        assert_eq!(
            shown("trailing comma at line SECRET column 2"),
            "invalid value"
        );
    }
}
