//! The command line: global options, one subcommand per operation, `demo` and `bench`.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use kms_core::{KmsError, Operation, ProjectId, Result, SecretString};
use kms_pkcs11::{Pkcs11Settings, Sm2Mechanisms, Sm4Mechanisms, VendorMechanisms};

use crate::bench::{self, BenchOptions};
use crate::operations::{describe, fields_help};
use crate::serve::{self, ServeOptions};

/// Where key material lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BackendChoice {
    /// The pure-Rust backend, CMKs sealed under a root key file.
    Soft {
        /// The root key file, when not `<home>/root.key`.
        root_key_file: Option<PathBuf>,
    },
    /// A PKCS#11 token: the configuration file's settings with the flags' over them,
    /// the module and the token checked present.
    Pkcs11(Pkcs11Settings),
}

/// Where key metadata lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreChoice {
    /// A SQLite file: `<home>/keys.db` when `None`.
    Sqlite(Option<PathBuf>),
    /// A PostgreSQL database shared by several engines.
    Postgres {
        /// `postgres://USER@HOST:PORT/DB`, without a password.
        url: String,
        /// The file holding the password; `PGPASSWORD` when absent.
        password_file: Option<PathBuf>,
    },
}

/// The options every subcommand shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Global {
    /// The engine's home: the key store (and the soft backend's root key).
    pub home: PathBuf,
    /// Where key material lives.
    pub backend: BackendChoice,
    /// Where key metadata lives.
    pub store: StoreChoice,
    /// Pretty-print responses.
    pub pretty: bool,
    /// The project the operations run in.
    pub project: ProjectId,
}

/// What the command line asks for. Not `Clone` or comparable: a request body may hold a
/// secret (`Debug` shows it redacted).
#[derive(Debug)]
pub(crate) enum Request {
    /// Run one operation on a request body (`None`: read standard input).
    Operation(Operation, Option<SecretString>),
    /// Run the demo in a fresh temporary home.
    Demo,
    /// Time operations on the backend.
    Bench(Box<BenchOptions>),
    /// Delete the keys whose pending deletion time has come.
    PurgeDeletedKeys,
    /// The periodic work: expiry of imported material, unused tokens' wrapping keys, purge.
    Maintain,
    /// Serve the API over HTTP.
    Serve(ServeOptions),
}

/// What `kms <operation> --help` says of the request argument.
const REQUEST_HELP: &str = "The request body; read from standard input when absent. \
    An argument is visible to every local user (ps, /proc/PID/cmdline): give a request \
    that carries a secret (encrypt-datakey's or encrypt-data's plain_text, import-key-material) on standard \
    input";

/// The `kms` command's definition.
pub(crate) fn command() -> Command {
    let operations = Operation::ALL.iter().map(|operation| {
        let (about, fields) = describe(*operation);
        Command::new(operation.as_str())
            .about(about)
            .after_help(fields_help(fields))
            .arg(Arg::new("REQUEST_JSON").help(REQUEST_HELP))
    });
    Command::new("kms")
        .about("A KMS engine: every operation takes and returns the cloud KMS API's JSON")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            Arg::new("home")
                .long("home")
                .global(true)
                .env("KMS_HOME")
                .default_value(".kms")
                .value_parser(value_parser!(PathBuf))
                .help("Directory of the root key and the key store"),
        )
        .arg(
            Arg::new("backend")
                .long("backend")
                .global(true)
                .default_value("soft")
                .value_parser(["soft", "pkcs11"])
                .help("Where key material lives"),
        )
        .arg(
            Arg::new("pkcs11-config")
                .long("pkcs11-config")
                .global(true)
                .env("KMS_PKCS11_CONFIG")
                .value_name("FILE")
                .value_parser(value_parser!(PathBuf))
                .help(
                    "With --backend pkcs11: a TOML file of the token settings (module, token, \
                     PIN file or variable, pool size, ...); the --pkcs11-* flags override it",
                ),
        )
        .arg(
            Arg::new("pkcs11-module")
                .long("pkcs11-module")
                .global(true)
                .value_parser(value_parser!(PathBuf))
                .help("With --backend pkcs11: the PKCS#11 module (shared library)"),
        )
        .arg(
            Arg::new("pkcs11-token-label")
                .long("pkcs11-token-label")
                .global(true)
                .conflicts_with("pkcs11-slot")
                .help("With --backend pkcs11: the token's label"),
        )
        .arg(
            Arg::new("pkcs11-slot")
                .long("pkcs11-slot")
                .global(true)
                .value_parser(value_parser!(u64))
                .help("With --backend pkcs11: the token's slot"),
        )
        .arg(
            Arg::new("pkcs11-host-assisted-unwrap")
                .long("pkcs11-host-assisted-unwrap")
                .global(true)
                .action(ArgAction::SetTrue)
                .help(
                    "With --backend pkcs11: decrypt OAEP-SHA-256 import material on the host \
                     when the token refuses it (weaker; off by default)",
                ),
        )
        .arg(
            Arg::new("pkcs11-vendor-sm4")
                .long("pkcs11-vendor-sm4")
                .global(true)
                .value_name("KEY_TYPE,KEY_GEN,GCM")
                .value_delimiter(',')
                .value_parser(vendor_number)
                .help(
                    "With --backend pkcs11: the token's vendor-defined SM4 key type, key \
                     generation and GCM mechanism numbers, as 0x8000xxxx,0x8000xxxx,0x8000xxxx",
                ),
        )
        .arg(
            Arg::new("pkcs11-vendor-sm2")
                .long("pkcs11-vendor-sm2")
                .global(true)
                .value_name("KEY_TYPE,KEY_PAIR_GEN")
                .value_delimiter(',')
                .value_parser(vendor_number)
                .help(
                    "With --backend pkcs11: the token's vendor-defined SM2 key type and key \
                     pair generation mechanism numbers, as 0x8000xxxx,0x8000xxxx",
                ),
        )
        .arg(
            Arg::new("pkcs11-pin-file")
                .long("pkcs11-pin-file")
                .global(true)
                .value_parser(value_parser!(PathBuf))
                .help(
                    "With --backend pkcs11: a file holding the user PIN (default: $KMS_PKCS11_PIN)",
                ),
        )
        .arg(
            Arg::new("root-key-file")
                .long("root-key-file")
                .global(true)
                .value_parser(value_parser!(PathBuf))
                .help(
                    "The soft backend's root key (default <home>/root.key, created on first use)",
                ),
        )
        .arg(
            Arg::new("store")
                .long("store")
                .global(true)
                .env("KMS_STORE_URL")
                .value_name("URL")
                .help(
                    "The key store: postgres://USER@HOST:PORT/DB (shared by several engines; \
                     the password from --store-password-file or $PGPASSWORD, never the URL) \
                     or sqlite:PATH (default: sqlite:<home>/keys.db)",
                ),
        )
        .arg(
            Arg::new("store-password-file")
                .long("store-password-file")
                .global(true)
                .env("KMS_STORE_PASSWORD_FILE")
                .value_parser(value_parser!(PathBuf))
                .help("With a postgres:// store: a file holding the database password (mode 0600)"),
        )
        .arg(
            Arg::new("project")
                .long("project")
                .global(true)
                .env("KMS_PROJECT_ID")
                .default_value(ProjectId::DEFAULT)
                .value_name("PROJECT_ID")
                .help(
                    "The project the operation runs in: it sees that project's keys only \
                     (the project of a kms serve client's path)",
                ),
        )
        .arg(
            Arg::new("pretty")
                .long("pretty")
                .global(true)
                .action(ArgAction::SetTrue)
                .help("Pretty-print the response JSON"),
        )
        .subcommands(operations)
        .subcommand(Command::new("demo").about(
            "In a fresh temporary home: create a key, a data key pair, encrypt and decrypt a \
             DEK, and import key material, printing every request and response",
        ))
        .subcommand(bench::command())
        .subcommand(Command::new("purge-deleted-keys").about(
            "Delete the keys whose pending deletion time has come, from the store and the \
             backend, and print their IDs (run it periodically; a key's deletion can be \
             cancelled until then)",
        ))
        .subcommand(Command::new("maintain").about(
            "The periodic work, once: destroy imported material past its expiration_time, \
             the wrapping keys of import tokens that expired unused, and the keys whose \
             pending deletion time has come; print what was done",
        ))
        .subcommand(serve::command())
}

/// A PKCS#11 number in hex (`0x80000101`) or decimal.
fn vendor_number(text: &str) -> core::result::Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("{text} is not a number (hex as 0x80000101, or decimal)"))
}

/// The vendor mechanism map given by `--pkcs11-vendor-sm4` and `--pkcs11-vendor-sm2`.
///
/// # Errors
/// [`KmsError::InvalidParameter`] for a list of the wrong length.
fn vendor_mechanisms(matches: &ArgMatches) -> Result<VendorMechanisms> {
    let numbers = |id: &str| -> Vec<u64> {
        matches
            .get_many::<u64>(id)
            .into_iter()
            .flatten()
            .copied()
            .collect()
    };
    let wrong = |option: &str, names: &str| {
        KmsError::InvalidParameter(format!("{option} takes {names}, comma-separated"))
    };
    Ok(VendorMechanisms {
        sm4: match numbers("pkcs11-vendor-sm4")[..] {
            [] => None,
            [key_type, key_gen, gcm] => Some(Sm4Mechanisms {
                key_type,
                key_gen,
                gcm,
            }),
            _ => return Err(wrong("--pkcs11-vendor-sm4", "KEY_TYPE,KEY_GEN,GCM")),
        },
        sm2: match numbers("pkcs11-vendor-sm2")[..] {
            [] => None,
            [key_type, key_pair_gen] => Some(Sm2Mechanisms {
                key_type,
                key_pair_gen,
            }),
            _ => return Err(wrong("--pkcs11-vendor-sm2", "KEY_TYPE,KEY_PAIR_GEN")),
        },
    })
}

/// The store `--store` names.
///
/// # Errors
/// [`KmsError::InvalidParameter`] for a URL of another scheme, and for a password file
/// without a PostgreSQL store.
fn store_choice(url: Option<&str>, password_file: Option<PathBuf>) -> Result<StoreChoice> {
    let choice = match url {
        None => StoreChoice::Sqlite(None),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            return Ok(StoreChoice::Postgres {
                url: url.to_owned(),
                password_file,
            });
        }
        Some(url) => match url.strip_prefix("sqlite:") {
            Some(path) if !path.is_empty() => StoreChoice::Sqlite(Some(PathBuf::from(path))),
            _ => {
                return Err(KmsError::InvalidParameter(
                    "--store takes postgres://USER@HOST:PORT/DB or sqlite:PATH".into(),
                ));
            }
        },
    };
    if password_file.is_some() {
        return Err(KmsError::InvalidParameter(
            "--store-password-file needs a postgres:// --store".into(),
        ));
    }
    Ok(choice)
}

/// The PKCS#11 settings: `--pkcs11-config`'s file (if any), each `--pkcs11-*` flag given
/// overriding its entry.
///
/// # Errors
/// [`KmsError::InvalidParameter`] for a bad configuration file, and when neither gives the
/// module or the token.
fn pkcs11_settings(matches: &ArgMatches) -> Result<Pkcs11Settings> {
    let flags = Pkcs11Settings {
        module: matches.get_one::<PathBuf>("pkcs11-module").cloned(),
        token_label: matches.get_one::<String>("pkcs11-token-label").cloned(),
        slot: matches.get_one::<u64>("pkcs11-slot").copied(),
        pin_file: matches.get_one::<PathBuf>("pkcs11-pin-file").cloned(),
        pin_env: None,
        session_pool_size: None,
        host_assisted_unwrap: matches
            .get_flag("pkcs11-host-assisted-unwrap")
            .then_some(true),
        vendor_mechanisms: vendor_mechanisms(matches)?,
    };
    let settings = match matches.get_one::<PathBuf>("pkcs11-config") {
        Some(path) => Pkcs11Settings::from_file(path)?.overridden_by(flags),
        None => flags,
    };
    settings.target()?;
    Ok(settings)
}

/// Reads the parsed command line.
///
/// # Errors
/// [`KmsError::InvalidParameter`] for `--backend pkcs11` without its module or token, or
/// with a bad configuration file.
pub(crate) fn read(matches: &ArgMatches) -> Result<(Global, Option<Request>)> {
    let backend = if matches.get_one::<String>("backend").map(String::as_str) == Some("pkcs11") {
        BackendChoice::Pkcs11(pkcs11_settings(matches)?)
    } else {
        BackendChoice::Soft {
            root_key_file: matches.get_one::<PathBuf>("root-key-file").cloned(),
        }
    };
    let store = store_choice(
        matches.get_one::<String>("store").map(String::as_str),
        matches.get_one::<PathBuf>("store-password-file").cloned(),
    )?;
    let global = Global {
        store,
        home: matches
            .get_one::<PathBuf>("home")
            .cloned()
            .unwrap_or_default(),
        backend,
        pretty: matches.get_flag("pretty"),
        project: ProjectId::parse(
            matches
                .get_one::<String>("project")
                .map_or(ProjectId::DEFAULT, String::as_str),
        )?,
    };
    let request = match matches.subcommand() {
        Some(("demo", _)) => Some(Request::Demo),
        Some(("bench", sub)) => Some(Request::Bench(Box::new(bench::read(sub)?))),
        Some(("purge-deleted-keys", _)) => Some(Request::PurgeDeletedKeys),
        Some(("maintain", _)) => Some(Request::Maintain),
        Some(("serve", sub)) => Some(Request::Serve(serve::read(sub))),
        Some((name, sub)) => Operation::from_wire(name).map(|operation| {
            // The copy is wiped; clap's own (and the process's arguments) are not: the
            // argument is visible to other users anyway, which the help says.
            let body = sub
                .get_one::<String>("REQUEST_JSON")
                .map(|body| SecretString::from(body.as_str()));
            Request::Operation(operation, body)
        }),
        None => None,
    };
    Ok((global, request))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_a_subcommand_with_its_fields_in_the_help() {
        let mut command = command();
        for operation in Operation::ALL {
            let sub = command.find_subcommand_mut(operation.as_str()).unwrap();
            let help = sub.render_long_help().to_string();
            for (field, _) in describe(*operation).1 {
                assert!(
                    help.contains(field),
                    "{} help lacks {field}",
                    operation.as_str()
                );
            }
        }
        command.debug_assert();
    }

    #[test]
    fn the_store_is_sqlite_in_the_home_unless_named() {
        assert_eq!(store_choice(None, None).unwrap(), StoreChoice::Sqlite(None));
        assert_eq!(
            store_choice(Some("sqlite:/var/lib/kms/keys.db"), None).unwrap(),
            StoreChoice::Sqlite(Some(PathBuf::from("/var/lib/kms/keys.db")))
        );
        assert_eq!(
            store_choice(
                Some("postgres://kms@db:5432/kms"),
                Some(PathBuf::from("pw"))
            )
            .unwrap(),
            StoreChoice::Postgres {
                url: "postgres://kms@db:5432/kms".into(),
                password_file: Some(PathBuf::from("pw")),
            }
        );
        for bad in ["mysql://kms@db/kms", "sqlite:", "keys.db"] {
            assert_eq!(
                store_choice(Some(bad), None).unwrap_err().code(),
                "KMS.0308",
                "{bad}"
            );
        }
        assert_eq!(
            store_choice(None, Some(PathBuf::from("pw")))
                .unwrap_err()
                .code(),
            "KMS.0308"
        );
    }

    #[test]
    fn options_and_request_are_read() {
        let matches = command()
            .try_get_matches_from(["kms", "--home", "/tmp/x", "--pretty", "describe-key", "{}"])
            .unwrap();
        let (global, request) = read(&matches).unwrap();
        assert_eq!(global.home, PathBuf::from("/tmp/x"));
        assert_eq!(
            global.backend,
            BackendChoice::Soft {
                root_key_file: None
            }
        );
        assert!(global.pretty);
        match request {
            Some(Request::Operation(Operation::DescribeKey, Some(body))) => {
                assert_eq!(body.expose_secret(), "{}");
            }
            other => panic!("read {other:?}"),
        }
    }

    #[test]
    fn the_pkcs11_backend_needs_a_module_and_a_token() {
        let read_args = |args: &[&str]| {
            let argv = [&["kms", "--backend", "pkcs11"], args, &["list-keys"]].concat();
            let matches = command().try_get_matches_from(argv).unwrap();
            read(&matches).map(|(global, _)| global.backend)
        };
        let err = read_args(&["--pkcs11-slot", "0"]).unwrap_err();
        assert_eq!(err.code(), "KMS.0308");
        assert!(err.to_string().contains("--pkcs11-module"), "{err}");
        let err = read_args(&["--pkcs11-module", "/m.so"]).unwrap_err();
        assert!(err.to_string().contains("--pkcs11-token-label"), "{err}");
        assert_eq!(
            read_args(&["--pkcs11-module", "/m.so", "--pkcs11-token-label", "t"]).unwrap(),
            BackendChoice::Pkcs11(Pkcs11Settings {
                module: Some("/m.so".into()),
                token_label: Some("t".into()),
                ..Pkcs11Settings::default()
            })
        );
    }

    #[test]
    fn a_configuration_file_alone_is_enough_and_flags_override_it() {
        let dir = std::env::temp_dir().join(format!("kms-cli-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pkcs11.toml");
        std::fs::write(
            &file,
            "module = \"/file.so\"\nslot = 2\npin_env = \"FILE_PIN\"\nsession_pool_size = 3\n",
        )
        .unwrap();
        let file_arg = file.to_str().unwrap();
        let read_args = |args: &[&str]| {
            let argv = [&["kms", "--backend", "pkcs11"], args, &["list-keys"]].concat();
            let matches = command().try_get_matches_from(argv).unwrap();
            read(&matches).map(|(global, _)| global.backend)
        };
        let from_file = Pkcs11Settings {
            module: Some("/file.so".into()),
            slot: Some(2),
            pin_env: Some("FILE_PIN".into()),
            session_pool_size: Some(3),
            ..Pkcs11Settings::default()
        };
        assert_eq!(
            read_args(&["--pkcs11-config", file_arg]).unwrap(),
            BackendChoice::Pkcs11(from_file.clone())
        );
        assert_eq!(
            read_args(&[
                "--pkcs11-config",
                file_arg,
                "--pkcs11-module",
                "/flag.so",
                "--pkcs11-token-label",
                "flag",
                "--pkcs11-host-assisted-unwrap",
            ])
            .unwrap(),
            BackendChoice::Pkcs11(Pkcs11Settings {
                module: Some("/flag.so".into()),
                token_label: Some("flag".into()),
                slot: None,
                host_assisted_unwrap: Some(true),
                ..from_file
            })
        );
        std::fs::write(&file, "module = \"/file.so\"\nslot = 2\npin = \"1234\"\n").unwrap();
        let err = read_args(&["--pkcs11-config", file_arg]).unwrap_err();
        assert_eq!(err.code(), "KMS.0308");
        assert_eq!(
            err.to_string(),
            format!(
                "Invalid parameter: PKCS#11 configuration file {file_arg}: field `pin`: a PIN \
                 is never written in the configuration file; name a file holding it \
                 (`pin_file`) or an environment variable (`pin_env`)"
            )
        );
        let missing = dir.join("absent.toml");
        let err = read_args(&["--pkcs11-config", missing.to_str().unwrap()]).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "Invalid parameter: reading the PKCS#11 configuration file {}: ",
                missing.display()
            )),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_vendor_mechanism_map_is_read_in_hex_or_decimal() {
        let read_vendor = |vendor_args: &[&str]| {
            let base = ["kms", "--backend", "pkcs11", "--pkcs11-module", "/m.so"];
            let argv = [
                &base[..],
                &["--pkcs11-slot", "0"],
                vendor_args,
                &["list-keys"],
            ]
            .concat();
            read(&command().try_get_matches_from(argv).unwrap()).map(|(global, _)| {
                match global.backend {
                    BackendChoice::Pkcs11(settings) => settings.vendor_mechanisms,
                    BackendChoice::Soft { .. } => panic!("not the PKCS#11 backend"),
                }
            })
        };
        let map = read_vendor(&[
            "--pkcs11-vendor-sm4",
            "0x80000100,0x80000101,2147484034",
            "--pkcs11-vendor-sm2",
            "0x80000200,0X80000201",
        ])
        .unwrap();
        assert_eq!(
            map,
            VendorMechanisms {
                sm4: Some(Sm4Mechanisms {
                    key_type: 0x8000_0100,
                    key_gen: 0x8000_0101,
                    gcm: 0x8000_0182,
                }),
                sm2: Some(Sm2Mechanisms {
                    key_type: 0x8000_0200,
                    key_pair_gen: 0x8000_0201,
                }),
            }
        );
        assert_eq!(read_vendor(&[]).unwrap(), VendorMechanisms::default());
        let err = read_vendor(&["--pkcs11-vendor-sm4", "1,2"]).unwrap_err();
        assert!(err.to_string().contains("KEY_TYPE,KEY_GEN,GCM"), "{err}");
        let parsed = command().try_get_matches_from([
            "kms",
            "--pkcs11-vendor-sm4",
            "0x8000010G,1,2",
            "list-keys",
        ]);
        assert!(parsed.is_err());
    }
}
