//! Pre-commit checks as a committer meets them: which checks run for the staged files, what
//! a failing check's output looks like, and the summary printed at the end.

#![cfg(all(unix, feature = "hooks"))]

use std::path::Path;
use std::time::Duration;

mod common;

use common::git_in;
use synod_policy::checks::{
    CheckResult, CheckSpec, CheckStatus, ChecksConfig, ChecksReport, run_checks, staged_files,
};

fn sh(name: &str, script: &str) -> CheckSpec {
    CheckSpec::new(name, "sh", &["-c", script])
}

fn config(checks: Vec<CheckSpec>) -> ChecksConfig {
    ChecksConfig {
        checks,
        budget_secs: 60,
        max_parallel: Some(2),
    }
}

fn only(name: &str, files: &str) -> CheckSpec {
    CheckSpec {
        files: Some(files.to_owned()),
        ..sh(name, "exit 0")
    }
}

#[tokio::test]
async fn a_check_runs_only_when_a_staged_file_matches_its_glob() {
    let dir = tempfile::tempdir().unwrap();
    let changed = vec!["src/lib.rs".to_owned(), "README.md".to_owned()];
    let report = run_checks(
        dir.path(),
        &config(vec![
            only("rust-anywhere", "*.rs"),
            only("rust-in-src", "src/*.rs"),
            only("rust-in-tests", "tests/*.rs"),
            only("toml", "*.toml"),
        ]),
        &changed,
    )
    .await;
    let statuses: Vec<&CheckStatus> = report.results.iter().map(|r| &r.status).collect();
    assert_eq!(statuses[0], &CheckStatus::Passed);
    assert_eq!(statuses[1], &CheckStatus::Passed);
    assert_eq!(
        statuses[2],
        &CheckStatus::Skipped {
            reason: "no staged file matches tests/*.rs".into()
        }
    );
    assert_eq!(
        statuses[3],
        &CheckStatus::Skipped {
            reason: "no staged file matches *.toml".into()
        }
    );
    assert!(report.passed(), "skipped checks do not fail the commit");
}

#[tokio::test]
async fn a_failing_check_shows_its_exit_code_and_what_it_printed() {
    let dir = tempfile::tempdir().unwrap();
    let report = run_checks(
        dir.path(),
        &config(vec![
            sh("both", "printf 'out'; printf 'err\\n' >&2; exit 3"),
            sh("lines", "echo out; echo err >&2; exit 4"),
            sh("stderr-only", "echo err >&2; exit 5"),
            sh("blank-stderr", "echo out; printf '  \\n' >&2; exit 6"),
            sh("fine", "echo all good"),
        ]),
        &[],
    )
    .await;
    assert!(!report.passed());
    let got: Vec<(&CheckStatus, &str)> = report
        .results
        .iter()
        .map(|r| (&r.status, r.output.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (&CheckStatus::Failed { code: Some(3) }, "out\nerr\n"),
            (&CheckStatus::Failed { code: Some(4) }, "out\nerr\n"),
            (&CheckStatus::Failed { code: Some(5) }, "err\n"),
            (&CheckStatus::Failed { code: Some(6) }, "out\n"),
            (&CheckStatus::Passed, ""),
        ]
    );
}

#[tokio::test]
async fn a_check_killed_by_a_signal_fails_without_an_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let report = run_checks(
        dir.path(),
        &config(vec![sh("killed", "echo before; kill -KILL $$")]),
        &[],
    )
    .await;
    assert_eq!(report.results[0].status, CheckStatus::Failed { code: None });
    assert_eq!(report.results[0].output, "before\n");
    assert!(!report.passed());
}

fn result(name: &str, status: CheckStatus, millis: u64, output: &str) -> CheckResult {
    CheckResult {
        name: name.to_owned(),
        status,
        duration: Duration::from_millis(millis),
        output: output.to_owned(),
    }
}

#[test]
fn the_summary_has_a_line_per_check_then_the_output_of_those_that_failed() {
    let report = ChecksReport {
        results: vec![
            result("fmt", CheckStatus::Passed, 1_250, ""),
            result(
                "clippy",
                CheckStatus::Failed { code: Some(101) },
                30_000,
                "error: x\n\n",
            ),
            result("signal", CheckStatus::Failed { code: None }, 10, ""),
            result(
                "slow",
                CheckStatus::TimedOut { after_ms: 5_000 },
                5_000,
                "   \n",
            ),
            result(
                "docs",
                CheckStatus::Skipped {
                    reason: "no staged file matches *.md".into(),
                },
                0,
                "",
            ),
            result(
                "missing",
                CheckStatus::Error {
                    message: "program not found".into(),
                },
                0,
                "",
            ),
        ],
        total: Duration::from_millis(31_500),
    };
    assert_eq!(
        report.to_human(),
        "     ok fmt                          1.25s\n\
         \x20FAILED clippy                      30.00s (exit 101)\n\
         \x20FAILED signal                       0.01s (killed by a signal)\n\
         TIMEOUT slow                         5.00s (after 5000 ms)\n\
         skipped docs                         0.00s (no staged file matches *.md)\n\
         \x20 ERROR missing                      0.00s (program not found)\n\
         \n--- clippy ---\nerror: x\n\
         total 31.50s\n"
    );
    assert!(!report.passed());
    let passing = ChecksReport {
        results: vec![
            result("fmt", CheckStatus::Passed, 1, ""),
            result(
                "docs",
                CheckStatus::Skipped {
                    reason: "none".into(),
                },
                0,
                "",
            ),
        ],
        total: Duration::ZERO,
    };
    assert!(passing.passed());
    assert!(ChecksReport::default().passed());
}

fn git(dir: &Path, args: &[&str]) {
    git_in(dir, &dir.join(".test-home"), args);
}

#[tokio::test]
async fn staged_files_are_the_added_copied_modified_and_renamed_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["config", "user.name", "Synod Test"]);
    git(repo, &["config", "user.email", "test@synod.invalid"]);
    std::fs::write(repo.join("gone.txt"), "old\n").unwrap();
    std::fs::write(repo.join("kept.txt"), "old\n").unwrap();
    std::fs::write(
        repo.join("moved.txt"),
        "a file long enough to be seen as renamed\n",
    )
    .unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "chore: start"]);
    assert!(staged_files(repo).await.unwrap().is_empty());

    git(repo, &["rm", "-q", "gone.txt"]);
    git(repo, &["mv", "moved.txt", "renamed.txt"]);
    std::fs::write(repo.join("kept.txt"), "new\n").unwrap();
    std::fs::create_dir(repo.join("src")).unwrap();
    std::fs::write(repo.join("src/new file.rs"), "fn main() {}\n").unwrap();
    std::fs::write(repo.join("unstaged.txt"), "x\n").unwrap();
    git(repo, &["add", "kept.txt", "src/new file.rs"]);
    assert_eq!(
        staged_files(repo).await.unwrap(),
        ["kept.txt", "renamed.txt", "src/new file.rs"]
    );
}
