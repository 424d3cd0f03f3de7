//! How what is not a response of the engine is printed, and exit codes. (Responses are
//! printed by `kms_cli::run_operation`, straight from the engine's wiped buffer.)

use kms_core::KmsError;
use serde_json::Value;

/// JSON holding no secret (a report of the command's own), compact or pretty-printed.
pub(crate) fn render_public(value: &Value, pretty: bool) -> String {
    let rendered = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    // Serializing a Value cannot fail; fall back to the compact form anyway.
    rendered.unwrap_or_else(|_| value.to_string())
}

/// The exit code for an error: 1 for what the caller can fix (4xx), 2 for the engine's own
/// failures (5xx).
pub(crate) fn exit_code(error: &KmsError) -> u8 {
    if error.status() >= 500 { 2 } else { 1 }
}
