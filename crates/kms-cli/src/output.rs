//! How responses and errors are printed.

use kms_core::{KmsError, SecretString};

/// The response JSON, compact as the engine wrote it, or pretty-printed.
pub(crate) fn render(response: &SecretString, pretty: bool) -> String {
    if !pretty {
        return response.expose_secret().to_owned();
    }
    serde_json::from_str::<serde_json::Value>(response.expose_secret())
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_else(|_| response.expose_secret().to_owned())
}

/// The exit code for an error: 1 for what the caller can fix (4xx), 2 for the engine's own
/// failures (5xx).
pub(crate) fn exit_code(error: &KmsError) -> u8 {
    if error.status() >= 500 { 2 } else { 1 }
}
