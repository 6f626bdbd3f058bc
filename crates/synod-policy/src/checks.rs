//! Pre-commit checks: configured commands run in parallel through synod-exec within an
//! overall time budget, with per-check timing; output is kept only for failing checks.
//!
//! A check with a `files` glob runs only when a staged file matches it (a pattern without `/`
//! matches the file name at any depth, like `.gitignore`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use synod_policy::checks::{run_checks, CheckSpec, ChecksConfig, CheckStatus};
//!
//! // A command that passes and one that prints "broken" and exits with 3 (`cmd /C` on Windows).
//! let (ok, fails) = if cfg!(windows) {
//!     (CheckSpec::new("ok", "cmd", &["/C", "exit", "0"]),
//!      CheckSpec::new("fails", "cmd", &["/C", "echo", "broken&", "exit", "3"]))
//! } else {
//!     (CheckSpec::new("ok", "true", &[]), CheckSpec::new("fails", "sh", &["-c", "echo broken; exit 3"]))
//! };
//! let config = ChecksConfig {
//!     checks: vec![
//!         ok.clone(),
//!         fails,
//!         CheckSpec { files: Some("*.rs".into()), name: "rust-only".into(), ..ok },
//!     ],
//!     ..ChecksConfig::default()
//! };
//! let report = run_checks(std::path::Path::new("."), &config, &["README.md".into()]).await;
//! assert!(!report.passed());
//! assert_eq!(report.results[0].status, CheckStatus::Passed);
//! assert_eq!(report.results[1].status, CheckStatus::Failed { code: Some(3) });
//! assert_eq!(report.results[1].output.trim(), "broken");
//! assert!(matches!(report.results[2].status, CheckStatus::Skipped { .. }));
//! # }
//! ```

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use synod_exec::AgentCommand;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::Result;
use crate::git::git;
use crate::glob::Glob;

// The configuration types are pure and live in `config` (available without the `hooks`
// feature); they stay reachable here, where they always were.
pub use crate::config::{CheckSpec, ChecksConfig};

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum CheckStatus {
    /// Exit code 0.
    Passed,
    /// Non-zero exit or killed by a signal (`code` is `None` then).
    Failed {
        /// The exit code.
        code: Option<i32>,
    },
    /// Stopped by its own timeout or the overall budget.
    TimedOut {
        /// The limit that elapsed, in milliseconds.
        after_ms: u64,
    },
    /// Not run because no staged file matched its glob.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Could not be started (missing program, ...).
    Error {
        /// The error.
        message: String,
    },
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// How it ended.
    pub status: CheckStatus,
    /// Wall time.
    pub duration: Duration,
    /// stdout then stderr, only for a check that did not pass.
    pub output: String,
}

/// All checks' outcomes, in configuration order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecksReport {
    /// One result per configured check.
    pub results: Vec<CheckResult>,
    /// Wall time of the whole run.
    pub total: Duration,
}

impl ChecksReport {
    /// True when every check passed or was skipped.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.results
            .iter()
            .all(|r| matches!(r.status, CheckStatus::Passed | CheckStatus::Skipped { .. }))
    }

    /// A summary line per check (with timing), followed by the output of failing checks.
    #[must_use]
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            let (mark, detail) = match &r.status {
                CheckStatus::Passed => ("ok", String::new()),
                CheckStatus::Failed { code: Some(c) } => ("FAILED", format!(" (exit {c})")),
                CheckStatus::Failed { code: None } => ("FAILED", " (killed by a signal)".into()),
                CheckStatus::TimedOut { after_ms } => {
                    ("TIMEOUT", format!(" (after {after_ms} ms)"))
                }
                CheckStatus::Skipped { reason } => ("skipped", format!(" ({reason})")),
                CheckStatus::Error { message } => ("ERROR", format!(" ({message})")),
            };
            let _ = writeln!(
                out,
                "{mark:>7} {:<24} {:>8.2}s{detail}",
                r.name,
                r.duration.as_secs_f64()
            );
        }
        for r in &self.results {
            if !r.output.trim().is_empty() {
                let _ = writeln!(out, "\n--- {} ---\n{}", r.name, r.output.trim_end());
            }
        }
        let _ = writeln!(out, "total {:.2}s", self.total.as_secs_f64());
        out
    }
}

fn file_glob_matches(pattern: &str, files: &[String]) -> bool {
    let glob = if pattern.contains('/') {
        Glob::new(pattern)
    } else {
        Glob::new(&format!("**/{pattern}"))
    };
    files.iter().any(|f| glob.matches(f))
}

/// The staged paths (`git diff --cached --name-only`), relative to the repository root.
///
/// # Errors
/// [`crate::Error::Git`] when git fails.
pub async fn staged_files(repo: &Path) -> Result<Vec<String>> {
    let out = git(
        repo,
        &[
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--diff-filter=ACMR",
        ],
    )
    .await?;
    Ok(out
        .stdout
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect())
}

/// Runs the configured checks in `dir` given the changed files. Never fails as a whole: each
/// check's failure is in its result.
pub async fn run_checks(dir: &Path, config: &ChecksConfig, changed: &[String]) -> ChecksReport {
    let started = Instant::now();
    let budget = Duration::from_secs(config.budget_secs.max(1));
    let cancel = CancellationToken::new();
    let parallel = config
        .max_parallel
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
        .max(1);
    let mut results: Vec<Option<CheckResult>> = vec![None; config.checks.len()];
    let mut to_run = Vec::new();
    let mut commands = Vec::new();
    for (index, spec) in config.checks.iter().enumerate() {
        if let Some(pattern) = &spec.files
            && !file_glob_matches(pattern, changed)
        {
            results[index] = Some(CheckResult {
                name: spec.name.clone(),
                status: CheckStatus::Skipped {
                    reason: format!("no staged file matches {pattern}"),
                },
                duration: Duration::ZERO,
                output: String::new(),
            });
            continue;
        }
        let timeout = spec
            .timeout_secs
            .map_or(budget, |s| Duration::from_secs(s).min(budget));
        commands.push(
            AgentCommand::new(&spec.command)
                .args(&spec.args)
                .cwd(dir)
                .timeout(timeout)
                .kill_grace(Duration::from_secs(2)),
        );
        to_run.push((index, timeout));
    }
    let watchdog = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(budget).await;
            cancel.cancel();
        })
    };
    let outcomes = synod_exec::run_all(commands, parallel, &cancel)
        .instrument(tracing::info_span!(
            "pre_commit_checks",
            count = to_run.len()
        ))
        .await;
    watchdog.abort();
    let elapsed = started.elapsed();
    for ((index, timeout), outcome) in to_run.into_iter().zip(outcomes) {
        let name = config.checks[index].name.clone();
        let result = to_result(name, outcome, elapsed, timeout, budget);
        tracing::debug!(check = %result.name, ms = result.duration.as_millis() as u64, "check finished");
        results[index] = Some(result);
    }
    let results = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| CheckResult {
                name: config.checks[i].name.clone(),
                status: CheckStatus::Error {
                    message: "synod-exec returned no result for this check".into(),
                },
                duration: Duration::ZERO,
                output: String::new(),
            })
        })
        .collect();
    ChecksReport {
        results,
        total: started.elapsed(),
    }
}

fn combined(out: &synod_exec::Output) -> String {
    let mut s = out.stdout_lossy().into_owned();
    let err = out.stderr_lossy();
    if !err.trim().is_empty() {
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&err);
    }
    s
}

fn to_result(
    name: String,
    outcome: synod_exec::Result<synod_exec::Output>,
    elapsed: Duration,
    timeout: Duration,
    budget: Duration,
) -> CheckResult {
    // The child's own wall time when synod-exec reports it, else the run's elapsed time.
    let duration = match &outcome {
        Ok(out) => out.duration,
        Err(err) => err.output().map_or(elapsed, |o| o.duration),
    };
    let (status, output) = match outcome {
        Ok(_) => (CheckStatus::Passed, String::new()),
        Err(synod_exec::Error::NonZeroExit { code, output, .. }) => {
            (CheckStatus::Failed { code: Some(code) }, combined(&output))
        }
        Err(synod_exec::Error::Signaled { output, .. }) => {
            (CheckStatus::Failed { code: None }, combined(&output))
        }
        Err(synod_exec::Error::Timeout { after, partial, .. }) => (
            CheckStatus::TimedOut {
                after_ms: after.as_millis() as u64,
            },
            combined(&partial),
        ),
        Err(synod_exec::Error::Cancelled) => (
            CheckStatus::TimedOut {
                after_ms: budget.min(timeout).as_millis() as u64,
            },
            String::from("stopped: the overall pre-commit budget ran out\n"),
        ),
        Err(other) => (
            CheckStatus::Error {
                message: other.to_string(),
            },
            String::new(),
        ),
    };
    CheckResult {
        name,
        status,
        duration,
        output,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_globs() {
        let files = vec!["src/lib.rs".to_owned(), "README.md".to_owned()];
        assert!(file_glob_matches("*.rs", &files));
        assert!(file_glob_matches("src/*.rs", &files));
        assert!(!file_glob_matches("docs/**", &files));
        assert!(file_glob_matches("README.md", &files));
    }

    /// A check that ends once `flag` exists.
    #[cfg(unix)]
    fn waiter(flag: &str) -> CheckSpec {
        let script = format!("while [ ! -f '{flag}' ]; do sleep 0.02; done");
        CheckSpec::new("waiter", "sh", &["-c", &script])
    }

    /// A check that ends once `flag` exists (a `cmd` loop: Windows has no `sleep` or `sh`).
    #[cfg(windows)]
    fn waiter(flag: &str) -> CheckSpec {
        let tokens = [
            "/C",
            "for",
            "/L",
            "%i",
            "in",
            "(1,1,2147483647)",
            "do",
            "if",
        ];
        let args: Vec<&str> = tokens
            .into_iter()
            .chain(["exist", flag, "exit", "0"])
            .collect();
        CheckSpec::new("waiter", "cmd", &args)
    }

    /// A check that creates `flag`.
    fn maker(flag: &str) -> CheckSpec {
        if cfg!(windows) {
            CheckSpec::new("maker", "cmd", &["/C", "type", "nul", ">", flag])
        } else {
            CheckSpec::new("maker", "touch", &[flag])
        }
    }

    /// A check that takes 30 s (`ping` paces itself at one second per echo on Windows).
    fn slow(name: &str) -> CheckSpec {
        if cfg!(windows) {
            CheckSpec::new(name, "ping", &["-n", "31", "127.0.0.1"])
        } else {
            CheckSpec::new(name, "sleep", &["30"])
        }
    }

    /// Check `waiter` can only finish if `maker` runs while it waits: proof of parallelism
    /// that does not depend on timing.
    fn rendezvous(dir: &Path, parallel: usize, waiter_timeout: u64) -> ChecksConfig {
        let flag = dir.join("flag");
        let flag = flag.to_string_lossy();
        ChecksConfig {
            checks: vec![
                CheckSpec {
                    timeout_secs: Some(waiter_timeout),
                    ..waiter(&flag)
                },
                maker(&flag),
            ],
            budget_secs: 60,
            max_parallel: Some(parallel),
        }
    }

    #[tokio::test]
    async fn checks_run_in_parallel() {
        let dir = tempfile::tempdir().expect("tempdir");
        let report = run_checks(dir.path(), &rendezvous(dir.path(), 2, 60), &[]).await;
        assert!(report.passed(), "{}", report.to_human());

        let dir = tempfile::tempdir().expect("tempdir");
        let report = run_checks(dir.path(), &rendezvous(dir.path(), 1, 1), &[]).await;
        assert!(
            matches!(report.results[0].status, CheckStatus::TimedOut { .. }),
            "{}",
            report.to_human()
        );
        assert_eq!(report.results[1].status, CheckStatus::Passed);
    }

    #[tokio::test]
    async fn budget_stops_slow_checks_and_times_each() {
        let config = ChecksConfig {
            checks: vec![
                slow("slow"),
                CheckSpec {
                    timeout_secs: Some(1),
                    ..slow("own-timeout")
                },
                CheckSpec::new("missing", "synod-no-such-program-xyz", &[]),
            ],
            budget_secs: 2,
            max_parallel: Some(4),
        };
        let report = run_checks(Path::new("."), &config, &[]).await;
        assert!(!report.passed());
        assert!(
            matches!(report.results[0].status, CheckStatus::TimedOut { .. }),
            "{:?}",
            report.results[0]
        );
        assert_eq!(
            report.results[1].status,
            CheckStatus::TimedOut { after_ms: 1000 }
        );
        assert!(matches!(
            report.results[2].status,
            CheckStatus::Error { .. }
        ));
        assert!(report.total < Duration::from_secs(20), "{:?}", report.total);
        let text = report.to_human();
        assert!(text.contains("TIMEOUT") && text.contains("ERROR"), "{text}");
    }
}
