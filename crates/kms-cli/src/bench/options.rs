//! `kms bench`'s options.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use kms_core::{CmkSpec, KmsError, Result};

use super::endpoint::{EndpointOptions, SecretKeySource};
use super::runner::Limit;
use super::workload::{BenchOp, WorkloadSpec};

/// How long a run lasts when neither `--duration` nor `--iterations` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// What `kms bench` was asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BenchOptions {
    /// The operations, in order.
    pub ops: Vec<BenchOp>,
    /// The thread counts, each run for every operation.
    pub threads: Vec<usize>,
    pub limit: Limit,
    /// Untimed calls per thread before the clock starts.
    pub warmup: u64,
    pub workload: WorkloadSpec,
    /// Print one JSON document instead of a table.
    pub json: bool,
    /// Send signed HTTP requests to this endpoint instead of calling the engine.
    pub endpoint: Option<EndpointOptions>,
    /// Also draw the latency percentiles and throughput into this SVG or HTML file.
    pub report: Option<PathBuf>,
    /// Instead of timing, write a `wrk` script of the first operation's request, signed.
    pub wrk_script: Option<PathBuf>,
}

/// The `bench` subcommand.
pub(crate) fn command() -> Command {
    let op_names: Vec<&'static str> = BenchOp::ALL
        .iter()
        .map(|op| op.as_str())
        .chain(["all"])
        .collect();
    Command::new("bench")
        .about(
            "Throughput and latency of operations: on the engine with the chosen backend (an \
             in-memory key store; CMKs made for the run are destroyed after it), or as signed \
             requests to an endpoint (--endpoint)",
        )
        .arg(
            Arg::new("op")
                .long("op")
                .action(ArgAction::Append)
                .value_parser(op_names)
                .default_value("encrypt-datakey")
                .help("Operation to time; repeat for several, or `all`"),
        )
        .arg(
            Arg::new("threads")
                .long("threads")
                .action(ArgAction::Append)
                .value_delimiter(',')
                .value_parser(value_parser!(u16).range(1..=1024))
                .default_value("1")
                .help("Thread count; repeat or give a list (1,2,4) to run each"),
        )
        .arg(
            Arg::new("duration")
                .long("duration")
                .value_parser(value_parser!(u64).range(1..=86_400))
                .conflicts_with("iterations")
                .help("Seconds each run lasts [default: 10]"),
        )
        .arg(
            Arg::new("iterations")
                .long("iterations")
                .value_parser(value_parser!(u64).range(1..))
                .help("Timed calls per thread, instead of a duration"),
        )
        .arg(
            Arg::new("warmup")
                .long("warmup")
                .value_parser(value_parser!(u64))
                .default_value("100")
                .help("Untimed calls per thread before timing starts"),
        )
        .arg(
            Arg::new("cmk-spec")
                .long("cmk-spec")
                .value_parser(["AES_256", "SM4"])
                .default_value("AES_256")
                .help("Spec of the CMKs"),
        )
        .arg(
            Arg::new("dek-length")
                .long("dek-length")
                .value_parser(value_parser!(u16).range(1..=512))
                .default_value("32")
                .help("DEK length in bytes for the DEK operations"),
        )
        .arg(
            Arg::new("ec-spec")
                .long("ec-spec")
                .default_value("ECC_NIST_P256")
                .help("key_spec of create-ec-datakey-pair"),
        )
        .arg(
            Arg::new("rsa-spec")
                .long("rsa-spec")
                .default_value("RSA_2048")
                .help("key_spec of create-rsa-datakey-pair"),
        )
        .arg(
            Arg::new("wrapping-algorithm")
                .long("wrapping-algorithm")
                .default_value("RSAES_OAEP_SHA_256")
                .help("wrapping_algorithm of get-parameters-for-import"),
        )
        .arg(
            Arg::new("wrapping-key-spec")
                .long("wrapping-key-spec")
                .default_value("RSA_2048")
                .help("wrapping_key_spec of get-parameters-for-import"),
        )
        .arg(
            Arg::new("shared-key")
                .long("shared-key")
                .action(ArgAction::SetTrue)
                .help("All threads use one CMK (a hot key) instead of one each"),
        )
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .help("Print one JSON document (no table, no progress bar)"),
        )
        .arg(
            Arg::new("report")
                .long("report")
                .value_name("FILE")
                .value_parser(value_parser!(PathBuf))
                .help(
                    "Also draw latency percentiles (p0-p99.99) and throughput against threads \
                     into FILE.svg or FILE.html",
                ),
        )
        .arg(
            Arg::new("endpoint")
                .long("endpoint")
                .value_name("URL")
                .requires("ak")
                .help(
                    "Send signed HTTP requests (SDK-HMAC-SHA256, keep-alive, one connection per \
                     thread) to this http(s)://host[:port] in --project, instead of calling the \
                     engine; CMKs made for a run are scheduled for deletion (7 days) after it",
                ),
        )
        .arg(
            Arg::new("ak")
                .long("ak")
                .env("KMS_BENCH_AK")
                .requires("endpoint")
                .help("With --endpoint: the access key"),
        )
        .arg(
            Arg::new("sk-file")
                .long("sk-file")
                .value_name("FILE")
                .value_parser(value_parser!(PathBuf))
                .requires("endpoint")
                .help(
                    "With --endpoint: a file holding the secret key [default: the KMS_BENCH_SK \
                     environment variable]",
                ),
        )
        .arg(
            Arg::new("ca-file")
                .long("ca-file")
                .value_name("PEM")
                .value_parser(value_parser!(PathBuf))
                .requires("endpoint")
                .help("With an https:// --endpoint: CA certificates to trust besides the public roots"),
        )
        .arg(
            Arg::new("wrk-script")
                .long("wrk-script")
                .value_name("FILE")
                .value_parser(value_parser!(PathBuf))
                .requires("key-id")
                .help(
                    "With --endpoint and --key-id: time nothing, write a wrk Lua script that \
                     sends the first --op's request, signed now (valid 15 minutes)",
                ),
        )
        .arg(
            Arg::new("key-id")
                .long("key-id")
                .requires("endpoint")
                .help(
                    "With --endpoint: an existing CMK every thread uses, instead of CMKs made \
                     for each run",
                ),
        )
}

/// Reads the `bench` subcommand's options.
///
/// # Errors
/// [`KmsError::InvalidParameter`] for a value clap cannot check.
pub(crate) fn read(matches: &ArgMatches) -> Result<BenchOptions> {
    let names: Vec<&String> = matches
        .get_many::<String>("op")
        .into_iter()
        .flatten()
        .collect();
    let ops = if names.iter().any(|name| name.as_str() == "all") {
        BenchOp::ALL.to_vec()
    } else {
        let mut ops = Vec::new();
        for name in names {
            let op = BenchOp::from_name(name)
                .ok_or_else(|| KmsError::InvalidParameter(format!("unknown --op {name}")))?;
            if !ops.contains(&op) {
                ops.push(op);
            }
        }
        ops
    };
    let mut threads: Vec<usize> = matches
        .get_many::<u16>("threads")
        .into_iter()
        .flatten()
        .map(|&count| usize::from(count))
        .collect();
    threads.dedup();
    let limit = match (
        matches.get_one::<u64>("iterations"),
        matches.get_one::<u64>("duration"),
    ) {
        (Some(&iterations), _) => Limit::Iterations(iterations),
        (None, Some(&secs)) => Limit::Duration(Duration::from_secs(secs)),
        (None, None) => Limit::Duration(DEFAULT_DURATION),
    };
    let text = |name: &str| matches.get_one::<String>(name).cloned().unwrap_or_default();
    let cmk_spec = CmkSpec::from_wire(&text("cmk-spec"))
        .ok_or_else(|| KmsError::InvalidParameter("--cmk-spec must be AES_256 or SM4".into()))?;
    Ok(BenchOptions {
        ops,
        threads,
        limit,
        warmup: matches
            .get_one::<u64>("warmup")
            .copied()
            .unwrap_or_default(),
        workload: WorkloadSpec {
            cmk_spec,
            dek_len: matches
                .get_one::<u16>("dek-length")
                .map_or(32, |&len| usize::from(len)),
            ec_spec: text("ec-spec"),
            rsa_spec: text("rsa-spec"),
            wrapping_algorithm: text("wrapping-algorithm"),
            wrapping_key_spec: text("wrapping-key-spec"),
            shared_key: matches.get_flag("shared-key"),
        },
        json: matches.get_flag("json"),
        endpoint: endpoint_options(matches),
        report: report_path(matches)?,
        wrk_script: matches.get_one::<PathBuf>("wrk-script").cloned(),
    })
}

/// The endpoint options, when `--endpoint` is given.
fn endpoint_options(matches: &ArgMatches) -> Option<EndpointOptions> {
    let text = |name: &str| matches.get_one::<String>(name).cloned();
    let path = |name: &str| matches.get_one::<PathBuf>(name).cloned();
    Some(EndpointOptions {
        url: text("endpoint")?,
        access_key: text("ak").unwrap_or_default(),
        secret_key: path("sk-file").map_or(SecretKeySource::Environment, SecretKeySource::File),
        ca_file: path("ca-file"),
        key_id: text("key-id"),
    })
}

/// `--report`'s file, which must end in `.svg` or `.html`.
fn report_path(matches: &ArgMatches) -> Result<Option<PathBuf>> {
    let Some(path) = matches.get_one::<PathBuf>("report") else {
        return Ok(None);
    };
    match path.extension().and_then(|extension| extension.to_str()) {
        Some("svg" | "html") => Ok(Some(path.clone())),
        _ => Err(KmsError::InvalidParameter(format!(
            "--report {}: the file must end in .svg or .html",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_args(args: &[&str]) -> BenchOptions {
        let matches = command()
            .try_get_matches_from([&["bench"], args].concat())
            .unwrap();
        read(&matches).unwrap()
    }

    #[test]
    fn defaults_time_encrypt_datakey_on_one_thread_for_ten_seconds() {
        let options = read_args(&[]);
        assert_eq!(options.ops, vec![BenchOp::EncryptDatakey]);
        assert_eq!(options.threads, vec![1]);
        assert_eq!(options.limit, Limit::Duration(Duration::from_secs(10)));
        assert_eq!(options.warmup, 100);
        assert_eq!(options.workload.cmk_spec, CmkSpec::Aes256);
        assert_eq!(options.workload.dek_len, 32);
        assert!(!options.workload.shared_key);
        assert!(!options.json);
    }

    #[test]
    fn ops_and_threads_repeat_and_all_means_every_operation() {
        let options = read_args(&[
            "--op",
            "decrypt-datakey",
            "--op",
            "create-datakey",
            "--threads",
            "1,2",
            "--threads",
            "4",
            "--iterations",
            "50",
            "--shared-key",
            "--json",
        ]);
        assert_eq!(
            options.ops,
            vec![BenchOp::DecryptDatakey, BenchOp::CreateDatakey]
        );
        assert_eq!(options.threads, vec![1, 2, 4]);
        assert_eq!(options.limit, Limit::Iterations(50));
        assert!(options.workload.shared_key);
        assert!(options.json);
        assert_eq!(read_args(&["--op", "all"]).ops, BenchOp::ALL.to_vec());
    }

    #[test]
    fn endpoint_options_take_the_secret_key_from_a_file_or_the_environment() {
        let options = read_args(&[
            "--endpoint",
            "http://127.0.0.1:8080",
            "--ak",
            "AK1",
            "--sk-file",
            "sk.txt",
            "--key-id",
            "k",
            "--report",
            "out.html",
        ]);
        assert_eq!(
            options.endpoint,
            Some(EndpointOptions {
                url: "http://127.0.0.1:8080".into(),
                access_key: "AK1".into(),
                secret_key: SecretKeySource::File("sk.txt".into()),
                ca_file: None,
                key_id: Some("k".into()),
            })
        );
        assert_eq!(options.report, Some(PathBuf::from("out.html")));
        let from_env = read_args(&["--endpoint", "https://kms.example", "--ak", "AK1"]);
        assert_eq!(
            from_env.endpoint.map(|endpoint| endpoint.secret_key),
            Some(SecretKeySource::Environment)
        );
        assert_eq!(read_args(&[]).endpoint, None);
        let matches = command()
            .try_get_matches_from(["bench", "--report", "out.png"])
            .unwrap();
        assert_eq!(read(&matches).unwrap_err().code(), "KMS.0308");
    }

    #[test]
    fn bad_values_are_refused_by_the_parser() {
        for args in [
            &["--op", "delete-key"][..],
            &["--threads", "0"],
            &["--duration", "3", "--iterations", "9"],
            &["--dek-length", "513"],
            &["--cmk-spec", "AES_128"],
            &["--endpoint", "http://127.0.0.1:1"],
            &["--sk-file", "sk.txt"],
            &["--key-id", "k"],
            &[
                "--endpoint",
                "http://h",
                "--ak",
                "A",
                "--wrk-script",
                "s.lua",
            ],
        ] {
            assert!(
                command()
                    .try_get_matches_from([&["bench"], args].concat())
                    .is_err(),
                "{args:?}"
            );
        }
    }
}
