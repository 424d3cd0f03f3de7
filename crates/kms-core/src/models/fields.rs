//! Validation of the fields many requests share: key IDs, sequences, AAD, decimal strings,
//! and the level-4 testing fields this engine does not offer.

use crate::ciphertext::MAX_AAD_LEN;
use crate::error::{KmsError, Result};
use crate::key_id::KeyId;
use crate::secret::SecretString;

/// The longest `sequence`, in bytes: the API pages' 36-byte serial number (a UUID).
pub const MAX_SEQUENCE_LEN: usize = 36;

/// The value of a mandatory field.
pub(crate) fn required<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str> {
    value.ok_or(KmsError::MissingParameter(name))
}

/// The mandatory `key_id`, validated (KMS.0204 when absent, KMS.0205 when malformed).
pub(crate) fn key_id(value: Option<&str>) -> Result<KeyId> {
    KeyId::parse(required(value, "key_id")?)
}

/// The optional `sequence`: when present, 1 to 36 bytes (KMS.0206). The field tables call it
/// a 36-byte serial number, while the pages' own example requests and the SDK examples send
/// `"sequence"`; both are accepted, so existing clients work unchanged.
pub(crate) fn sequence(value: Option<&str>) -> Result<()> {
    match value {
        Some(text) if text.is_empty() || text.len() > MAX_SEQUENCE_LEN => {
            Err(KmsError::InvalidSequence)
        }
        _ => Ok(()),
    }
}

/// The optional `additional_authenticated_data` as bytes: at most 128 (KMS.0308).
pub(crate) fn aad(value: Option<&str>) -> Result<&[u8]> {
    let bytes = value.unwrap_or_default().as_bytes();
    if bytes.len() > MAX_AAD_LEN {
        return Err(KmsError::InvalidParameter(format!(
            "additional_authenticated_data must be at most {MAX_AAD_LEN} bytes"
        )));
    }
    Ok(bytes)
}

/// What a numeric field holds after [`number_or_string`] when the client sent a JSON number
/// that is not a non-negative integer (a fraction, a negative, an exponent or an integer too
/// large for 64 bits): not a decimal, so the field's own validation refuses it with the
/// field's own code, and not the value, so no message can echo it.
pub(crate) const NOT_A_WHOLE_NUMBER: &str = "-";

/// Deserializes a field the API types as a string holding a number (`limit`, `marker`,
/// `key_state`, `pending_days`, `datakey_length`, `datakey_plain_length`,
/// `datakey_cipher_length`) from either a JSON string or a JSON number, as the Terraform
/// provider and older SDKs send `"limit": 2000`. A non-negative integer becomes its decimal
/// string, so both forms then pass the same range checks; any other number becomes
/// [`NOT_A_WHOLE_NUMBER`], which those checks refuse with the field's code. Every other JSON
/// type is a wrong type (KMS.0202), reported without its value by the request parser.
pub(crate) fn number_or_string<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> core::result::Result<Option<String>, D::Error> {
    struct NumberOrString;

    impl serde::de::Visitor<'_> for NumberOrString {
        type Value = Option<String>;

        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("a string or an integer")
        }

        fn visit_str<E: serde::de::Error>(
            self,
            text: &str,
        ) -> core::result::Result<Self::Value, E> {
            Ok(Some(text.to_owned()))
        }

        fn visit_string<E: serde::de::Error>(
            self,
            text: String,
        ) -> core::result::Result<Self::Value, E> {
            Ok(Some(text))
        }

        fn visit_u64<E: serde::de::Error>(self, n: u64) -> core::result::Result<Self::Value, E> {
            Ok(Some(n.to_string()))
        }

        fn visit_i64<E: serde::de::Error>(self, n: i64) -> core::result::Result<Self::Value, E> {
            Ok(Some(match u64::try_from(n) {
                Ok(n) => n.to_string(),
                Err(_) => NOT_A_WHOLE_NUMBER.to_owned(),
            }))
        }

        fn visit_u128<E: serde::de::Error>(self, _: u128) -> core::result::Result<Self::Value, E> {
            Ok(Some(NOT_A_WHOLE_NUMBER.to_owned()))
        }

        fn visit_i128<E: serde::de::Error>(self, _: i128) -> core::result::Result<Self::Value, E> {
            Ok(Some(NOT_A_WHOLE_NUMBER.to_owned()))
        }

        fn visit_f64<E: serde::de::Error>(self, _: f64) -> core::result::Result<Self::Value, E> {
            Ok(Some(NOT_A_WHOLE_NUMBER.to_owned()))
        }

        // `null` is an absent field, as it is for every other optional field.
        fn visit_unit<E: serde::de::Error>(self) -> core::result::Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: serde::de::Error>(self) -> core::result::Result<Self::Value, E> {
            Ok(None)
        }
    }

    deserializer.deserialize_any(NumberOrString)
}

/// A decimal string of at most nine digits (no sign, no spaces), as lengths are sent.
pub(crate) fn decimal(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Refuses the level-4 cryptography testing fields (`pin`, `pin_type`, and `key_spec` of
/// encrypt-datakey): this engine has no such scenario, and silently ignoring a PIN would be
/// worse than saying so.
pub(crate) fn refuse_level4_fields(
    pin: Option<&SecretString>,
    pin_type: Option<&str>,
    key_spec: Option<&str>,
) -> Result<()> {
    let refused = if pin.is_some() {
        Some("pin")
    } else if pin_type.is_some() {
        Some("pin_type")
    } else if key_spec.is_some() {
        Some("key_spec")
    } else {
        None
    };
    match refused {
        Some(field) => Err(KmsError::Unsupported(format!(
            "{field} (the level-4 cryptography testing scenario) is not supported"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_is_1_to_36_bytes() {
        assert!(sequence(None).is_ok());
        assert!(sequence(Some("919c82d4-8046-4722-9094-35c3c6524cff")).is_ok());
        assert!(sequence(Some("sequence")).is_ok());
        assert!(sequence(Some("s")).is_ok());
        assert_eq!(sequence(Some("")).unwrap_err().code(), "KMS.0206");
        let too_long = "919c82d4-8046-4722-9094-35c3c6524cff0";
        assert_eq!(too_long.len(), MAX_SEQUENCE_LEN + 1);
        assert_eq!(sequence(Some(too_long)).unwrap_err().code(), "KMS.0206");
        // 36 bytes of UTF-8 in 12 characters: the limit is in bytes.
        assert!(sequence(Some(&"序".repeat(12))).is_ok());
        assert_eq!(
            sequence(Some(&"序".repeat(13))).unwrap_err().code(),
            "KMS.0206"
        );
    }

    #[derive(Debug, serde::Deserialize)]
    struct Numeric {
        #[serde(default, deserialize_with = "number_or_string")]
        n: Option<String>,
    }

    fn numeric(json: &str) -> Option<String> {
        serde_json::from_str::<Numeric>(json).unwrap().n
    }

    #[test]
    fn numeric_fields_take_a_string_or_a_whole_number() {
        assert_eq!(numeric(r#"{"n":"2000"}"#).as_deref(), Some("2000"));
        assert_eq!(numeric(r#"{"n":2000}"#).as_deref(), Some("2000"));
        assert_eq!(numeric("{}"), None);
        for not_whole in ["1.5", "-1", "1e30", "2000.0", "99999999999999999999999"] {
            let body = format!(r#"{{"n":{not_whole}}}"#);
            assert_eq!(
                numeric(&body).as_deref(),
                Some(NOT_A_WHOLE_NUMBER),
                "{not_whole}"
            );
            assert_eq!(decimal(NOT_A_WHOLE_NUMBER), None);
        }
        assert!(serde_json::from_str::<Numeric>(r#"{"n":true}"#).is_err());
        assert!(serde_json::from_str::<Numeric>(r#"{"n":[1]}"#).is_err());
        assert_eq!(numeric(r#"{"n":null}"#), None);
    }

    #[test]
    fn decimal_accepts_only_plain_digits() {
        assert_eq!(decimal("64"), Some(64));
        assert_eq!(decimal("0"), Some(0));
        for bad in ["", "+64", "-1", " 64", "6 4", "0x40", "1234567890", "６４"] {
            assert_eq!(decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn aad_is_limited_to_128_bytes() {
        assert_eq!(aad(None).unwrap(), b"");
        assert_eq!(aad(Some(&"a".repeat(128))).unwrap().len(), 128);
        assert_eq!(aad(Some(&"a".repeat(129))).unwrap_err().code(), "KMS.0308");
    }

    #[test]
    fn level4_fields_are_refused_by_name() {
        let pin = SecretString::from("123456");
        let err = refuse_level4_fields(Some(&pin), None, None).unwrap_err();
        assert_eq!(err.code(), "KMS.9001");
        assert!(err.to_string().contains("pin "), "{err}");
        assert!(!err.to_string().contains("123456"));
        let err = refuse_level4_fields(None, Some("CipherText"), None).unwrap_err();
        assert!(err.to_string().contains("pin_type"));
        let err = refuse_level4_fields(None, None, Some("SM2")).unwrap_err();
        assert!(err.to_string().contains("key_spec"));
    }
}
