//! Where the database password comes from: a file only its owner can read, or the
//! `PGPASSWORD` environment variable, never a URL or a command-line argument.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use kms_core::{KmsError, Result, SecretBytes, SecretString};

/// Permission bits that must be clear on a password file: any access by group or others.
const GROUP_OR_OTHERS: u32 = 0o077;

/// The environment variable PostgreSQL's own tools read the password from.
const PASSWORD_VARIABLE: &str = "PGPASSWORD";

/// The database password: the content of `file` when one is given (a trailing newline is
/// not part of it), else `PGPASSWORD` when it is set and not empty, else `None` (for a
/// server that trusts the connection or authenticates it otherwise).
///
/// # Errors
/// [`KmsError::InvalidParameter`] naming the file when it cannot be read, can be read or
/// written by its group or others (the message says how to fix it), is empty or is not
/// UTF-8; and when `PGPASSWORD` is not UTF-8.
pub fn password_from_env_or_file(file: Option<&Path>) -> Result<Option<SecretString>> {
    match file {
        Some(path) => read_password_file(path).map(Some),
        None => match std::env::var(PASSWORD_VARIABLE) {
            Ok(text) => {
                let password = SecretString::new(text);
                Ok((!password.expose_secret().is_empty()).then_some(password))
            }
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(KmsError::InvalidParameter(format!(
                "{PASSWORD_VARIABLE} is not UTF-8"
            ))),
        },
    }
}

fn read_password_file(path: &Path) -> Result<SecretString> {
    let invalid = |what: &str| {
        KmsError::InvalidParameter(format!("the password file {}: {what}", path.display()))
    };
    let mut file = File::open(path).map_err(|error| invalid(&error.to_string()))?;
    let mode = file
        .metadata()
        .map_err(|error| invalid(&error.to_string()))?
        .permissions()
        .mode();
    if mode & GROUP_OR_OTHERS != 0 {
        return Err(invalid(&format!(
            "its group or others can access it (mode {:o}); make it readable by its owner \
             alone (chmod 600)",
            mode & 0o777
        )));
    }
    // Read into a buffer that is wiped, never into one that grows by reallocation.
    let bytes = SecretBytes::read_to_end(&mut file).map_err(|error| invalid(&error.to_string()))?;
    let text = bytes.expose_secret();
    let line = text.strip_suffix(b"\n").unwrap_or(text);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(invalid("it is empty"));
    }
    SecretString::from_utf8(SecretBytes::new(line.to_vec()))
        .ok_or_else(|| invalid("it is not UTF-8"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests panic to fail")]

    use std::fs;

    use super::*;

    fn file_with(name: &str, content: &str, mode: u32) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kms-store-pw-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("password");
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_password_file_gives_its_first_line_without_the_newline() {
        let path = file_with("line", "s3cret\r\n", 0o600);
        let password = password_from_env_or_file(Some(&path)).unwrap().unwrap();
        assert_eq!(password.expose_secret(), "s3cret");
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_password_file_others_can_read_is_refused() {
        let path = file_with("readable", "s3cret\n", 0o640);
        let error = password_from_env_or_file(Some(&path)).unwrap_err();
        assert_eq!(error.code(), "KMS.0308");
        assert!(error.to_string().contains("chmod 600"), "{error}");
        assert!(!error.to_string().contains("s3cret"), "{error}");
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn an_empty_or_missing_password_file_is_refused() {
        let path = file_with("empty", "\n", 0o600);
        assert_eq!(
            password_from_env_or_file(Some(&path)).unwrap_err().code(),
            "KMS.0308"
        );
        let missing = path.with_file_name("missing");
        assert!(
            password_from_env_or_file(Some(&missing))
                .unwrap_err()
                .to_string()
                .contains("missing")
        );
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
