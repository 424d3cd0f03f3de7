//! The root key on disk: 32 random bytes in a file only its owner may read.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use kms_core::{KmsError, Result, SecretBytes};

use crate::root_key::{ROOT_KEY_LEN, RootKey};

/// Permission bits that must be clear on the root key file: any access by group or others.
const GROUP_OR_OTHERS: u32 = 0o077;

impl RootKey {
    /// Loads the root key from `path`, first creating it (32 random bytes, mode 0600,
    /// written atomically) if it does not exist.
    ///
    /// # Errors
    /// [`KmsError::Backend`] naming the file when it cannot be created or read, is not 32
    /// bytes, or is accessible to group or others (the message says how to fix it).
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match fs::metadata(path) {
            Ok(_) => Self::load(path),
            Err(error) if error.kind() == ErrorKind::NotFound => {
                create(path)?;
                Self::load(path)
            }
            Err(error) => Err(file_error(path, "reading", &error)),
        }
    }

    /// Loads the root key from an existing file at `path`.
    ///
    /// # Errors
    /// As [`load_or_create`](Self::load_or_create), and when the file is missing.
    pub fn load(path: &Path) -> Result<Self> {
        let mode = fs::metadata(path)
            .map_err(|error| file_error(path, "reading", &error))?
            .permissions()
            .mode();
        if mode & GROUP_OR_OTHERS != 0 {
            return Err(KmsError::Backend(format!(
                "root key file {} is accessible to group or others (mode {:o}); run chmod 600 on it",
                path.display(),
                mode & 0o777
            )));
        }
        let file = fs::File::open(path).map_err(|error| file_error(path, "reading", &error))?;
        // Room for one byte more than a key, so a longer file is noticed; the capacity is
        // never exceeded, so no unwiped copy is left by a reallocation.
        let limit = ROOT_KEY_LEN + 1;
        let mut bytes = Vec::with_capacity(limit);
        let len = file
            .take(limit as u64)
            .read_to_end(&mut bytes)
            .map_err(|error| file_error(path, "reading", &error))?;
        let bytes = SecretBytes::new(bytes);
        if len != ROOT_KEY_LEN {
            return Err(KmsError::Backend(format!(
                "root key file {} must hold exactly {ROOT_KEY_LEN} bytes",
                path.display()
            )));
        }
        let key = SecretBytes::new(
            bytes
                .expose_secret()
                .get(..ROOT_KEY_LEN)
                .unwrap_or_default()
                .to_vec(),
        );
        Self::from_bytes(&key)
    }
}

/// Writes a new root key to `path` without ever exposing a partial file: the bytes go to a
/// private temporary file first, which is then linked into place only if `path` is still
/// free (another process may have won the race; its key is then used).
fn create(path: &Path) -> Result<()> {
    let mut key = SecretBytes::zeroed(ROOT_KEY_LEN);
    getrandom::fill(key.expose_secret_mut())
        .map_err(|error| KmsError::Backend(format!("OS random source: {error}")))?;
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(key.expose_secret())?;
            file.sync_all()
        });
    let linked = written.and_then(|()| match fs::hard_link(&temporary, path) {
        Err(error) if error.kind() == ErrorKind::AlreadyExists => Ok(()),
        other => other,
    });
    let removed = fs::remove_file(&temporary);
    linked.map_err(|error| file_error(path, "creating", &error))?;
    removed.map_err(|error| file_error(&temporary, "removing", &error))?;
    if let Some(directory) = path.parent() {
        // Make the new directory entry itself durable.
        fs::File::open(directory)
            .and_then(|directory| directory.sync_all())
            .map_err(|error| file_error(directory, "syncing", &error))?;
    }
    Ok(())
}

fn file_error(path: &Path, what: &str, error: &std::io::Error) -> KmsError {
    KmsError::Backend(format!("{what} root key file {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kms-root-key-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir.join("root.key")
    }

    #[test]
    fn a_new_root_key_file_is_32_bytes_only_its_owner_can_read() {
        let path = temp_path("new");
        RootKey::load_or_create(&path).unwrap();
        let metadata = fs::metadata(&path).unwrap();
        assert_eq!(metadata.len(), 32);
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        let again = fs::read(&path).unwrap();
        RootKey::load_or_create(&path).unwrap();
        assert_eq!(
            fs::read(&path).unwrap(),
            again,
            "an existing key is never replaced"
        );
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_root_key_file_readable_by_others_is_refused() {
        let path = temp_path("open");
        RootKey::load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = RootKey::load_or_create(&path).unwrap_err();
        assert_eq!(err.code(), "KMS.0103");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_root_key_file_of_the_wrong_length_is_refused() {
        let path = temp_path("short");
        for len in [31, 33, 0] {
            let _ = fs::remove_file(&path);
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .unwrap()
                .write_all(&vec![7; len])
                .unwrap();
            let err = RootKey::load(&path).unwrap_err();
            assert!(err.to_string().contains("exactly 32 bytes"), "{len}: {err}");
        }
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
