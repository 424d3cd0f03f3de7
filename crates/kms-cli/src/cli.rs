//! The command line: global options, one subcommand per operation, and `demo`.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use kms_core::Operation;

use crate::operations::{describe, fields_help};

/// The options every subcommand shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Global {
    /// The engine's home: root key and key store.
    pub home: PathBuf,
    /// The root key file, when not `<home>/root.key`.
    pub root_key_file: Option<PathBuf>,
    /// Pretty-print responses.
    pub pretty: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// Run one operation on a request body (`None`: read standard input).
    Operation(Operation, Option<String>),
    /// Run the demo in a fresh temporary home.
    Demo,
}

/// The `kms` command's definition.
pub(crate) fn command() -> Command {
    let operations = Operation::ALL.iter().map(|operation| {
        let (about, fields) = describe(*operation);
        Command::new(operation.as_str())
            .about(about)
            .after_help(fields_help(fields))
            .arg(
                Arg::new("REQUEST_JSON")
                    .help("The request body; read from standard input when absent"),
            )
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
                .value_parser(["soft"])
                .help("Where key material lives"),
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
}

/// Reads the parsed command line.
pub(crate) fn read(matches: &ArgMatches) -> (Global, Option<Request>) {
    let global = Global {
        home: matches
            .get_one::<PathBuf>("home")
            .cloned()
            .unwrap_or_default(),
        root_key_file: matches.get_one::<PathBuf>("root-key-file").cloned(),
        pretty: matches.get_flag("pretty"),
    };
    let request = matches.subcommand().and_then(|(name, sub)| {
        if name == "demo" {
            Some(Request::Demo)
        } else {
            Operation::from_wire(name).map(|operation| {
                Request::Operation(operation, sub.get_one::<String>("REQUEST_JSON").cloned())
            })
        }
    });
    (global, request)
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
    fn options_and_request_are_read() {
        let matches = command()
            .try_get_matches_from(["kms", "--home", "/tmp/x", "--pretty", "describe-key", "{}"])
            .unwrap();
        let (global, request) = read(&matches);
        assert_eq!(global.home, PathBuf::from("/tmp/x"));
        assert!(global.pretty);
        assert_eq!(
            request,
            Some(Request::Operation(
                Operation::DescribeKey,
                Some("{}".into())
            ))
        );
    }
}
