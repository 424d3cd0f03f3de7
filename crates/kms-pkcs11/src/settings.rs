//! The PKCS#11 configuration file, and the one struct it and the `kms` command's
//! `--pkcs11-*` flags both fill: [`Pkcs11Settings`]. Flags override the file entry by entry;
//! [`Pkcs11Settings::config`] then checks what is left and reads the PIN.
//!
//! ```toml
//! module = "/usr/lib/softhsm/libsofthsm2.so"
//! token_label = "kms"            # or: slot = 1 (one of the two)
//! pin_file = "/etc/kms/pin"      # or: pin_env = "KMS_PKCS11_PIN" (the default)
//! session_pool_size = 4
//! host_assisted_unwrap = false
//!
//! [vendor_mechanisms.sm4]
//! key_type = 0x80000100
//! key_gen = 0x80000101
//! gcm = 0x80000102
//!
//! [vendor_mechanisms.sm2]
//! key_type = 0x80000200
//! key_pair_gen = 0x80000201
//! ```
//!
//! A PIN is never written in the file: a `pin` entry is refused (without echoing it).

use std::path::{Path, PathBuf};

use kms_core::{KmsError, Result};
use serde::Deserialize;

use crate::config::{Pkcs11Config, TokenSelector};
use crate::vendor::VendorMechanisms;

/// The environment variable the PIN is read from when neither `pin_file` nor `pin_env`
/// names one.
pub const DEFAULT_PIN_VARIABLE: &str = "KMS_PKCS11_PIN";

/// How to reach a token, as a configuration file or the command line gives it: every entry
/// optional, the PIN named (by file or variable), never held.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Settings {
    /// The PKCS#11 module (shared library).
    pub module: Option<PathBuf>,
    /// The token's label (not with `slot`).
    pub token_label: Option<String>,
    /// The token's slot (not with `token_label`).
    pub slot: Option<u64>,
    /// A file holding the user PIN (not with `pin_env`).
    pub pin_file: Option<PathBuf>,
    /// The environment variable holding the user PIN (not with `pin_file`); when neither
    /// is given, [`DEFAULT_PIN_VARIABLE`].
    pub pin_env: Option<String>,
    /// How many logged-in sessions the backend keeps open at most (default 4, at least 1).
    pub session_pool_size: Option<usize>,
    /// [`Pkcs11Config::host_assisted_unwrap`]; off when absent.
    pub host_assisted_unwrap: Option<bool>,
    /// The token's vendor-defined SM4 and SM2 numbers (`[vendor_mechanisms.sm4]` with
    /// `key_type`, `key_gen`, `gcm`; `[vendor_mechanisms.sm2]` with `key_type`,
    /// `key_pair_gen`).
    #[serde(default)]
    pub vendor_mechanisms: VendorMechanisms,
}

impl Pkcs11Settings {
    /// Reads the configuration file at `path`.
    ///
    /// # Errors
    /// [`KmsError::InvalidParameter`] naming the file and the field: the file cannot be
    /// read or is not TOML, an unknown field, a value of the wrong type, a `pin` field,
    /// both `token_label` and `slot`, both `pin_file` and `pin_env`, a pool size of 0.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            KmsError::InvalidParameter(format!(
                "reading the PKCS#11 configuration file {}: {error}",
                path.display()
            ))
        })?;
        let settings = Self::from_toml(&text, &path.display().to_string());
        zeroize::Zeroize::zeroize(&mut { text });
        settings
    }

    /// Parses a configuration file's text; `origin` names the file in errors.
    ///
    /// # Errors
    /// As [`Self::from_file`].
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let invalid = |what: String| {
            KmsError::InvalidParameter(format!("PKCS#11 configuration file {origin}: {what}"))
        };
        // The message and position only: toml's own rendering quotes the line, which could
        // be a PIN someone wrote in the file.
        let table = toml::from_str::<toml::Table>(text).map_err(|error| {
            let line = error
                .span()
                .map(|span| text.get(..span.start).unwrap_or("").lines().count().max(1));
            let at = line.map_or_else(String::new, |line| format!(" (line {line})"));
            invalid(format!("not TOML{at}: {}", error.message().trim_end()))
        })?;
        if table.contains_key("pin") {
            return Err(invalid(
                "field `pin`: a PIN is never written in the configuration file; \
                 name a file holding it (`pin_file`) or an environment variable (`pin_env`)"
                    .into(),
            ));
        }
        let settings: Self =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|error| {
                let path = error.path().to_string();
                let inner = error.into_inner();
                let message = inner.message().trim_end();
                if path == "." || path == "?" {
                    invalid(message.to_owned())
                } else {
                    invalid(format!("field `{path}`: {message}"))
                }
            })?;
        settings.check().map_err(invalid)?;
        Ok(settings)
    }

    /// What no source may say at once, whichever it is.
    fn check(&self) -> core::result::Result<(), String> {
        if self.token_label.is_some() && self.slot.is_some() {
            return Err("fields `token_label` and `slot`: give one, not both".into());
        }
        if self.pin_file.is_some() && self.pin_env.is_some() {
            return Err("fields `pin_file` and `pin_env`: give one, not both".into());
        }
        if self.session_pool_size == Some(0) {
            return Err("field `session_pool_size`: must be at least 1".into());
        }
        Ok(())
    }

    /// These settings with every entry `overrides` gives replacing this one's. The token
    /// (`token_label` or `slot`) and the PIN's source (`pin_file` or `pin_env`) are each
    /// replaced as a whole; the vendor map entry by entry (`sm4`, `sm2`).
    #[must_use]
    pub fn overridden_by(self, overrides: Self) -> Self {
        let token_given = overrides.token_label.is_some() || overrides.slot.is_some();
        let pin_given = overrides.pin_file.is_some() || overrides.pin_env.is_some();
        Self {
            module: overrides.module.or(self.module),
            token_label: if token_given {
                overrides.token_label
            } else {
                self.token_label
            },
            slot: if token_given {
                overrides.slot
            } else {
                self.slot
            },
            pin_file: if pin_given {
                overrides.pin_file
            } else {
                self.pin_file
            },
            pin_env: if pin_given {
                overrides.pin_env
            } else {
                self.pin_env
            },
            session_pool_size: overrides.session_pool_size.or(self.session_pool_size),
            host_assisted_unwrap: overrides.host_assisted_unwrap.or(self.host_assisted_unwrap),
            vendor_mechanisms: VendorMechanisms {
                sm4: overrides
                    .vendor_mechanisms
                    .sm4
                    .or(self.vendor_mechanisms.sm4),
                sm2: overrides
                    .vendor_mechanisms
                    .sm2
                    .or(self.vendor_mechanisms.sm2),
            },
        }
    }

    /// The module and the token, checked: what a backend cannot open without.
    ///
    /// # Errors
    /// [`KmsError::InvalidParameter`] naming the missing field (and the `kms` flag that
    /// gives it), or the conflicting ones.
    pub fn target(&self) -> Result<(&Path, TokenSelector)> {
        self.check().map_err(KmsError::InvalidParameter)?;
        let module = self.module.as_deref().ok_or_else(|| {
            KmsError::InvalidParameter(
                "the PKCS#11 backend needs a module: `module` in the configuration file \
                 (--pkcs11-config) or --pkcs11-module"
                    .into(),
            )
        })?;
        let token = match (&self.token_label, self.slot) {
            (Some(label), _) => TokenSelector::Label(label.clone()),
            (None, Some(slot)) => TokenSelector::Slot(slot),
            (None, None) => {
                return Err(KmsError::InvalidParameter(
                    "the PKCS#11 backend needs a token: `token_label` or `slot` in the \
                     configuration file (--pkcs11-config), or --pkcs11-token-label or \
                     --pkcs11-slot"
                        .into(),
                ));
            }
        };
        Ok((module, token))
    }

    /// The backend's configuration: [`Self::target`], the PIN read from its file or
    /// variable, and the defaults for what is absent.
    ///
    /// # Errors
    /// Those of [`Self::target`], [`Pkcs11Config::pin_from_file`] and
    /// [`Pkcs11Config::pin_from_env`].
    pub fn config(&self) -> Result<Pkcs11Config> {
        let (module, token) = self.target()?;
        let pin = match (&self.pin_file, &self.pin_env) {
            (Some(path), _) => Pkcs11Config::pin_from_file(path)?,
            (None, variable) => {
                Pkcs11Config::pin_from_env(variable.as_deref().unwrap_or(DEFAULT_PIN_VARIABLE))?
            }
        };
        let mut config = Pkcs11Config::new(module, token, pin);
        if let Some(size) = self.session_pool_size {
            config.session_pool_size = size;
        }
        config.host_assisted_unwrap = self.host_assisted_unwrap.unwrap_or(false);
        config.vendor_mechanisms = self.vendor_mechanisms;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests report failure by panicking")]

    use super::*;
    use crate::vendor::{Sm2Mechanisms, Sm4Mechanisms};

    fn parse(text: &str) -> Result<Pkcs11Settings> {
        Pkcs11Settings::from_toml(text, "kms.toml")
    }

    fn error(text: &str) -> String {
        let error = parse(text).unwrap_err();
        assert_eq!(error.code(), "KMS.0308", "{error}");
        error.to_string()
    }

    #[test]
    fn a_full_file_fills_every_entry() {
        let settings = parse(
            r#"
            module = "/usr/lib/softhsm/libsofthsm2.so"
            token_label = "kms"
            pin_file = "/etc/kms/pin"
            session_pool_size = 8
            host_assisted_unwrap = true

            [vendor_mechanisms.sm4]
            key_type = 0x80000100
            key_gen = 0x80000101
            gcm = 2147484034

            [vendor_mechanisms.sm2]
            key_type = 0x80000200
            key_pair_gen = 0x80000201
            "#,
        )
        .unwrap();
        assert_eq!(
            settings,
            Pkcs11Settings {
                module: Some("/usr/lib/softhsm/libsofthsm2.so".into()),
                token_label: Some("kms".into()),
                slot: None,
                pin_file: Some("/etc/kms/pin".into()),
                pin_env: None,
                session_pool_size: Some(8),
                host_assisted_unwrap: Some(true),
                vendor_mechanisms: VendorMechanisms {
                    sm4: Some(Sm4Mechanisms {
                        key_type: 0x8000_0100,
                        key_gen: 0x8000_0101,
                        gcm: 0x8000_0182,
                    }),
                    sm2: Some(Sm2Mechanisms {
                        key_type: 0x8000_0200,
                        key_pair_gen: 0x8000_0201,
                    }),
                },
            }
        );
        let (module, token) = settings.target().unwrap();
        assert_eq!(module, Path::new("/usr/lib/softhsm/libsofthsm2.so"));
        assert_eq!(token, TokenSelector::Label("kms".into()));
    }

    #[test]
    fn every_bad_file_is_refused_naming_the_file_and_the_field() {
        let cases = [
            (
                "module = \"/m.so\"\nslot = 1\nlabel = \"kms\"\n",
                "PKCS#11 configuration file kms.toml: field `label`: unknown field `label`, \
                 expected one of \
                 `module`, `token_label`, `slot`, `pin_file`, `pin_env`, `session_pool_size`, \
                 `host_assisted_unwrap`, `vendor_mechanisms`",
            ),
            (
                "slot = \"one\"\n",
                "PKCS#11 configuration file kms.toml: field `slot`: invalid type: string \
                 \"one\", expected u64",
            ),
            (
                "session_pool_size = 0\n",
                "PKCS#11 configuration file kms.toml: field `session_pool_size`: must be at \
                 least 1",
            ),
            (
                "host_assisted_unwrap = \"yes\"\n",
                "PKCS#11 configuration file kms.toml: field `host_assisted_unwrap`: invalid \
                 type: string \"yes\", expected a boolean",
            ),
            (
                "token_label = \"kms\"\nslot = 1\n",
                "PKCS#11 configuration file kms.toml: fields `token_label` and `slot`: give \
                 one, not both",
            ),
            (
                "pin_file = \"/p\"\npin_env = \"PIN\"\n",
                "PKCS#11 configuration file kms.toml: fields `pin_file` and `pin_env`: give \
                 one, not both",
            ),
            (
                "[vendor_mechanisms.sm4]\nkey_type = 1\nkey_gen = 2\n",
                "PKCS#11 configuration file kms.toml: field `vendor_mechanisms.sm4`: missing \
                 field `gcm`",
            ),
            (
                "[vendor_mechanisms.sm3]\nkey_type = 1\n",
                "PKCS#11 configuration file kms.toml: field `vendor_mechanisms.sm3`: unknown \
                 field `sm3`, expected `sm4` or `sm2`",
            ),
            (
                "module = \"/m.so\"\ntoken_label = \n",
                "PKCS#11 configuration file kms.toml: not TOML (line 2): string values must \
                 be quoted, expected literal string",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                error(text),
                format!("Invalid parameter: {expected}"),
                "for the file:\n{text}"
            );
        }
    }

    #[test]
    fn a_pin_in_the_file_is_refused_without_showing_it() {
        for text in [
            "module = \"/m.so\"\npin = \"s3cret-1234\"\n",
            "pin = 1234\n",
            "[pin]\nvalue = \"s3cret-1234\"\n",
        ] {
            let message = error(text);
            assert_eq!(
                message,
                "Invalid parameter: PKCS#11 configuration file kms.toml: field `pin`: a PIN is never \
                 written in the configuration file; name a file holding it (`pin_file`) or an \
                 environment variable (`pin_env`)"
            );
        }
        // Not TOML on the PIN's line: the message names the line, never quotes it.
        let message = error("pin = s3cret-1234\n");
        assert!(!message.contains("s3cret"), "{message}");
        assert!(message.contains("(line 1)"), "{message}");
    }

    #[test]
    fn the_module_and_the_token_are_required_and_named() {
        let none = Pkcs11Settings::default();
        let error = none.target().unwrap_err().to_string();
        assert_eq!(
            error,
            "Invalid parameter: the PKCS#11 backend needs a module: `module` in the configuration file \
             (--pkcs11-config) or --pkcs11-module"
        );
        let module_only = parse("module = \"/m.so\"\n").unwrap();
        assert_eq!(
            module_only.target().unwrap_err().to_string(),
            "Invalid parameter: the PKCS#11 backend needs a token: `token_label` or `slot` in the \
             configuration file (--pkcs11-config), or --pkcs11-token-label or --pkcs11-slot"
        );
        let slot = parse("module = \"/m.so\"\nslot = 3\n").unwrap();
        assert_eq!(slot.target().unwrap().1, TokenSelector::Slot(3));
    }

    #[test]
    fn overrides_replace_the_token_and_the_pin_source_as_a_whole() {
        let file = parse(
            "module = \"/file.so\"\nslot = 1\npin_env = \"FILE_PIN\"\nsession_pool_size = 2\n\
             host_assisted_unwrap = true\n[vendor_mechanisms.sm2]\nkey_type = 0x80000200\n\
             key_pair_gen = 0x80000201\n",
        )
        .unwrap();
        let flags = Pkcs11Settings {
            token_label: Some("flag".into()),
            pin_file: Some("/flag-pin".into()),
            vendor_mechanisms: VendorMechanisms {
                sm4: Some(Sm4Mechanisms {
                    key_type: 0x8000_0100,
                    key_gen: 0x8000_0101,
                    gcm: 0x8000_0102,
                }),
                sm2: None,
            },
            ..Pkcs11Settings::default()
        };
        let merged = file.clone().overridden_by(flags);
        assert_eq!(
            merged,
            Pkcs11Settings {
                module: Some("/file.so".into()),
                token_label: Some("flag".into()),
                slot: None,
                pin_file: Some("/flag-pin".into()),
                pin_env: None,
                session_pool_size: Some(2),
                host_assisted_unwrap: Some(true),
                vendor_mechanisms: VendorMechanisms {
                    sm4: Some(Sm4Mechanisms {
                        key_type: 0x8000_0100,
                        key_gen: 0x8000_0101,
                        gcm: 0x8000_0102,
                    }),
                    sm2: file.vendor_mechanisms.sm2,
                },
            }
        );
        assert_eq!(file.clone().overridden_by(Pkcs11Settings::default()), file);
    }

    #[test]
    fn the_pin_comes_from_the_named_variable_or_the_default_one() {
        let settings = parse(
            "module = \"/m.so\"\ntoken_label = \"kms\"\npin_env = \"KMS_SETTINGS_TEST_UNSET_PIN\"\n",
        )
        .unwrap();
        assert_eq!(
            settings.config().unwrap_err().to_string(),
            "Invalid parameter: the PIN variable KMS_SETTINGS_TEST_UNSET_PIN is not set"
        );
        let from_file = parse(
            "module = \"/m.so\"\ntoken_label = \"kms\"\npin_file = \"/nonexistent/kms-pin\"\n",
        )
        .unwrap();
        let error = from_file.config().unwrap_err().to_string();
        assert!(
            error.starts_with("Invalid parameter: reading the PIN file /nonexistent/kms-pin: "),
            "{error}"
        );
    }
}
