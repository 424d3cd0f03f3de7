//! One operation's bodies: the request read into a wiped buffer, the response written from
//! the engine's wiped buffer, never copied into a plain `String` (DESIGN 8).

use std::io::{Read, Write};

use kms_core::{Kms, KmsError, Operation, Result, SecretBytes, SecretString, Tenant};

/// Reads a request body from `input` (standard input) to its end, into a buffer that is
/// wiped, as is every smaller buffer it outgrew (see [`SecretBytes::read_to_end`]).
///
/// # Errors
/// KMS.0202 when `input` fails or is not UTF-8.
pub fn read_request(input: &mut impl Read) -> Result<SecretString> {
    let bytes = SecretBytes::read_to_end(input)
        .map_err(|error| KmsError::InvalidJson(format!("reading standard input: {error}")))?;
    SecretString::from_utf8(bytes)
        .ok_or_else(|| KmsError::InvalidJson("standard input is not UTF-8".into()))
}

/// Runs `operation` on `body` for `tenant` and writes the response JSON (pretty-printed by
/// the engine when `pretty`), then a newline, to `out`, straight from the engine's buffer.
///
/// # Errors
/// The operation's errors; KMS.0102 when `out` fails.
pub fn run_operation(
    kms: &Kms,
    tenant: &Tenant,
    operation: Operation,
    body: &SecretString,
    pretty: bool,
    out: &mut impl Write,
) -> Result<()> {
    let response = if pretty {
        kms.call_json_pretty_as(tenant, operation, body.expose_secret())
    } else {
        kms.call_json_as(tenant, operation, body.expose_secret())
    }?;
    out.write_all(response.expose_secret().as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|error| KmsError::Store(format!("writing the response: {error}")))
}
