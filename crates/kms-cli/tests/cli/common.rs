//! Running the `kms` binary in a home of its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

/// A home directory for the engine, removed when dropped.
pub struct Home(PathBuf);

impl Home {
    /// A fresh home under the system temp dir (not yet created: `kms` creates it).
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "kms-cli-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `kms --home <home> <args...>` with `stdin`.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = kms()
            .arg("--home")
            .arg(&self.0)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Runs `operation` with `body` and returns the response; fails the test unless it
    /// exits 0 with nothing on standard error.
    pub fn ok(&self, operation: &str, body: &Value) -> Value {
        let output = self.run(&[operation, &body.to_string()], None);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{operation}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.stderr.is_empty());
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Runs `operation` with `body` and returns its exit code and error JSON; fails the test
    /// if it succeeds.
    pub fn fails(&self, operation: &str, body: &Value) -> (i32, Value) {
        let output = self.run(&[operation, &body.to_string()], None);
        assert!(
            output.stdout.is_empty(),
            "{operation} printed {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let error: Value = serde_json::from_slice(&output.stderr).unwrap();
        (output.status.code().unwrap(), error)
    }

    /// Creates a key of `spec` and returns its ID.
    pub fn create_key(&self, alias: &str, spec: &str) -> String {
        let created = self.ok(
            "create-key",
            &serde_json::json!({"key_alias": alias, "key_spec": spec}),
        );
        created["key_info"]["key_id"].as_str().unwrap().to_owned()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `kms` binary, with no home from the environment.
pub fn kms() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kms"));
    command.env_remove("KMS_HOME");
    command
}

/// The error code of an error JSON.
pub fn code(error: &Value) -> &str {
    error["error"]["error_code"].as_str().unwrap()
}

/// hex of DEK ‖ SHA-256(DEK): encrypt-datakey's `plain_text` for an AES_256 key.
pub fn plain_text(dek: &[u8]) -> String {
    kms_core::encode_hex(&[dek, &kms_core::dek_digest(kms_core::CmkSpec::Aes256, dek)].concat())
}

impl Home {
    /// Creates an external key waiting for material and returns its ID.
    pub fn create_external_key(&self, alias: &str) -> String {
        let created = self.ok(
            "create-key",
            &serde_json::json!({"key_alias": alias, "origin": "external"}),
        );
        created["key_info"]["key_id"].as_str().unwrap().to_owned()
    }
}

/// What a client sends as `encrypted_key_material`: `material` wrapped with `algorithm` to
/// the public key of a get-parameters-for-import response, base64.
pub fn wrap_for_import(
    parameters: &Value,
    algorithm: kms_core::WrappingAlgorithm,
    material: &[u8],
) -> String {
    let public_key = kms_core::decode_base64(parameters["public_key"].as_str().unwrap()).unwrap();
    let client = kms_soft::SoftBackend::new(kms_soft::RootKey::generate().unwrap());
    let secret = kms_core::SecretBytes::new(material.to_vec());
    let wrapped =
        kms_core::Backend::wrap_for_recipient(&client, &public_key, algorithm, &secret).unwrap();
    kms_core::encode_base64(&wrapped)
}
