//! Every fuzz body over the committed corpus (`fuzz/corpus/<target>/`) and regression
//! inputs (`fuzz/regressions/<target>/`), so that `cargo test` on a stable toolchain runs
//! what the fuzzers found and keeps the seeds honest.
#![allow(clippy::unwrap_used, reason = "tests report failure by panicking")]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use kms_core::{Operation, WrappingAlgorithm};
use kms_fuzz_bodies::{Outcome, ciphertext_blob, import_token, recipient_key, request, unwrap};

type Body = Box<dyn Fn(&[u8]) -> Outcome>;

/// Every fuzz target by name (its file name in `fuzz/fuzz_targets/`), with its body.
fn targets() -> Vec<(String, Body)> {
    let mut targets: Vec<(String, Body)> = Vec::new();
    for &operation in Operation::ALL {
        let name = format!("request_{}", operation.as_str().replace('-', "_"));
        targets.push((name, Box::new(move |data| request(operation, data))));
    }
    targets.push(("ciphertext_blob".into(), Box::new(ciphertext_blob)));
    targets.push(("import_token".into(), Box::new(import_token)));
    for &algorithm in WrappingAlgorithm::ALL {
        let name = format!("unwrap_{}", algorithm.as_str().to_lowercase());
        targets.push((name, Box::new(move |data| unwrap(algorithm, data))));
    }
    targets.push(("recipient_key".into(), Box::new(recipient_key)));
    targets
}

fn fuzz_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(sub)
}

/// The names in `dir`, sorted; none when it does not exist.
fn names_in(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_fuzz_target_has_a_body_and_a_seed_corpus() {
    let targets: BTreeSet<String> = targets().into_iter().map(|(name, _)| name).collect();
    let files: BTreeSet<String> = names_in(&fuzz_dir("fuzz_targets"))
        .into_iter()
        .map(|file| file.trim_end_matches(".rs").to_owned())
        .collect();
    assert_eq!(files, targets, "fuzz/fuzz_targets and the bodies disagree");
    for target in &targets {
        let corpus = fuzz_dir("corpus").join(target);
        assert!(corpus.is_dir(), "{} is missing", corpus.display());
        assert!(
            !names_in(&corpus).is_empty(),
            "{} is empty",
            corpus.display()
        );
    }
    for target in names_in(&fuzz_dir("regressions")) {
        assert!(
            targets.contains(&target),
            "fuzz/regressions/{target} belongs to no target"
        );
    }
}

#[test]
fn every_body_runs_clean_over_its_inputs_and_its_seeds_reach_acceptance() {
    for (target, body) in targets() {
        let mut accepted = false;
        for dir in [fuzz_dir("corpus"), fuzz_dir("regressions")] {
            let dir = dir.join(&target);
            for name in names_in(&dir) {
                let path = dir.join(name);
                eprintln!("{target}: {}", path.display());
                accepted |= body(&fs::read(&path).unwrap()) == Outcome::Accepted;
            }
        }
        assert!(accepted, "no committed input of {target} is accepted");
    }
}
