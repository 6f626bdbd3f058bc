//! Replays commitlint's recorded verdicts (`tests/fixtures/commitlint-verdicts.json`, recorded
//! by `tests/fixtures/record-commitlint.mjs`; tool versions and the regenerating command are in
//! the fixture header) and requires the same errors and warnings for every message, except the
//! deliberate differences listed in the crate docs. Each of those must still differ, and give
//! exactly the verdict documented here, so the list cannot rot.

use std::collections::BTreeSet;

use serde_json::Value;
use synod_policy::{CommitRules, Severity};

type Set = BTreeSet<String>;

fn names(v: &Value) -> Set {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn set(items: &[&str]) -> Set {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn ours(rules: &CommitRules, message: &str) -> (Set, Set) {
    let report = rules.check_text(message);
    let pick = |s| report.rules(s).into_iter().map(String::from).collect();
    (pick(Severity::Error), pick(Severity::Warning))
}

/// A documented difference: the message (or its prefix), our errors and warnings, and the
/// number of the difference in the crate docs.
struct Known {
    prefix: &'static str,
    errors: &'static [&'static str],
    warnings: &'static [&'static str],
    doc_item: u8,
}

const KNOWN: &[Known] = &[
    // 1. footers follow the spec: git trailers are footers.
    Known {
        prefix: "fix: y\n\nBody.\nSigned-off-by: A Person",
        errors: &[],
        warnings: &["footer-leading-blank"],
        doc_item: 1,
    },
    Known {
        prefix: "fix: y\n\nBody.\n\nReviewed-by: Z\nRefs #133",
        errors: &[],
        warnings: &[],
        doc_item: 1,
    },
    Known {
        prefix: "fix: y\n\nBody.\n\nSigned-off-by: qqqq",
        errors: &["footer-max-line-length"],
        warnings: &[],
        doc_item: 1,
    },
    // 2. the message is cleaned as git stores it: `feat: ` is stored as `feat:`.
    Known {
        prefix: "feat: ",
        errors: &["type-empty", "subject-empty"],
        warnings: &[],
        doc_item: 2,
    },
    // 3. lengths count characters, not UTF-16 code units.
    Known {
        prefix: "feat: 😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀",
        errors: &[],
        warnings: &[],
        doc_item: 3,
    },
    // 6. blank-line rules look at the cleaned message, not at comment lines.
    Known {
        prefix: "feat: z\n# comment right after header",
        errors: &[],
        warnings: &[],
        doc_item: 6,
    },
    Known {
        prefix: "# leading comment\nfeat: z",
        errors: &[],
        warnings: &[],
        doc_item: 6,
    },
];

fn known(message: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| {
        if k.prefix == "feat: " {
            message == "feat: "
        } else {
            message.starts_with(k.prefix)
        }
    })
}

#[test]
fn corpus_matches_commitlint_except_documented_differences() {
    let text = include_str!("fixtures/commitlint-verdicts.json");
    let fixture: Value = serde_json::from_str(text).expect("fixture is JSON");
    assert_eq!(fixture["tool"]["@commitlint/config-conventional"], "20.5.3");
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(
        cases.len() >= 150,
        "corpus has only {} messages",
        cases.len()
    );
    let rules = CommitRules::default();
    let mut failures = Vec::new();
    let mut used = BTreeSet::new();
    let (mut passing, mut failing) = (0, 0);
    for case in cases {
        let message = case["message"].as_str().expect("message");
        let (errors, warnings) = ours(&rules, message);
        let (their_errors, their_warnings) = (names(&case["errors"]), names(&case["warnings"]));
        if their_errors.is_empty() {
            passing += 1;
        } else {
            failing += 1;
        }
        match known(message) {
            Some(k) => {
                used.insert(k.prefix);
                if (errors.clone(), warnings.clone()) == (their_errors, their_warnings) {
                    failures.push(format!(
                        "documented difference {} no longer differs: {message:?}",
                        k.doc_item
                    ));
                }
                if (errors.clone(), warnings.clone()) != (set(k.errors), set(k.warnings)) {
                    failures.push(format!(
                        "{message:?}: documented as errors {:?} warnings {:?}, got {errors:?} {warnings:?}",
                        k.errors, k.warnings
                    ));
                }
            }
            None => {
                if (&errors, &warnings) != (&their_errors, &their_warnings) {
                    failures.push(format!(
                        "{message:?}\n  synod:      errors {errors:?} warnings {warnings:?}\n  commitlint: errors {their_errors:?} warnings {their_warnings:?}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatch(es):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        used.len(),
        KNOWN.len(),
        "every documented difference appears in the corpus"
    );
    // The corpus exercises both verdicts in earnest.
    assert!(
        passing >= 50 && failing >= 50,
        "passing {passing}, failing {failing}"
    );
}

#[test]
fn messages_file_and_verdicts_agree() {
    let messages: Vec<String> =
        serde_json::from_str(include_str!("fixtures/commit-messages.json")).expect("messages JSON");
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/commitlint-verdicts.json")).expect("fixture");
    let recorded: Vec<&str> = fixture["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter_map(|c| c["message"].as_str())
        .collect();
    assert_eq!(
        messages, recorded,
        "re-record the verdicts after editing commit-messages.json"
    );
}
