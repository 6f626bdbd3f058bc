//! # synod-policy: keep the repository honest
//!
//! Through the facade this crate is `synod::policy` (`synod = { version = "0.1", features = ["policy"] }`);
//! the examples here use its own name, `synod_policy::…`, which `synod::policy::…` replaces one for one.
//!
//! - [`message`]: a Conventional Commits 1.0.0 parser over the message git would store
//!   (comment lines and everything below the scissors line removed first).
//! - [`rules`]: commitlint `config-conventional` rules plus a forbidden-words rule, each
//!   violation with rule name, severity, `line:column` and a hint ([`report`]).
//! - [`docs`]: documentation structure rules (required files, headings, table headers).
//! - [`config`]: all of the above configured from one JSON file (`.synod/policy.json`).
//! - [`input`]: every file, stdin and commit message is read with a size limit
//!   (`max-input-bytes`, default 1 MiB), so `check-msg /dev/zero` fails fast with
//!   [`Error::TooLarge`] instead of eating memory.
//!
//! With the `hooks` feature (on by default), the parts that run git or commands through
//! `synod-exec`:
//!
//! - `hooks`: install and uninstall `commit-msg`, `pre-commit`, `pre-push` (and
//!   `pre-receive`) into the folder git really uses; a hook synod did not write byte for byte is
//!   chained or backed up, never overwritten.
//! - `checks`: configured pre-commit commands run in parallel through `synod-exec` within a
//!   time budget.
//! - `receive`: server-side `pre-receive` (and client `pre-push`) checks of every new commit.
//!
//! ## Features
//!
//! | feature | gives | pulls in |
//! |---|---|---|
//! | *(none)* | `message`, `rules`, `words`, `report`, `config`, `docs`, `glob`, `input`, [`Error`] | serde, serde_json, thiserror, tracing, synod-core |
//! | `hooks` (default) | also `hooks`, `checks`, `receive` | also synod-exec, tokio, tokio-util (and nix through synod-exec) |
//!
//! A tool that only checks commit messages depends on
//! `synod-policy = { version = "0.1", default-features = false }` and builds no async runtime.
//! The configuration types of the hook sections ([`config::ChecksConfig`],
//! [`config::PushConfig`]) live in [`config`] so a configuration file with `checks` and `push`
//! sections parses in every build; with `hooks` they are also `checks::ChecksConfig` and
//! `receive::PushConfig`. [`Error::Git`] exists in every build (only `hooks` produces it).
//!
//! ## Windows and macOS
//!
//! Everything builds for Windows and macOS; without `hooks` the crate is pure Rust and checks
//! for every target. Hook scripts are `#!/bin/sh` scripts on every platform: Git for Windows
//! runs them with its bundled `sh` (see `hooks` for the path and line endings). Checks run the
//! configured program directly (no shell), so a Windows configuration names Windows programs
//! (`cmd /C ...` for shell syntax). The tests of the commit rules, config, docs and checks run
//! under Wine in CI; those that drive real `git` repositories are Unix-only.
//!
//! ```
//! use synod_policy::rules::CommitRules;
//!
//! let rules = CommitRules::default();
//! let report = rules.check_text("fix(parser): Handle empty input.\n");
//! assert!(!report.passed());
//! print!("{}", report.to_human("COMMIT_EDITMSG"));
//! // COMMIT_EDITMSG:1:14: error[subject-case]: subject "Handle empty input." must not be ...
//! assert!(rules.check_text("fix(parser): handle empty input\n").passed());
//! ```
//!
//! ## Deliberate differences from commitlint 20.x (`@commitlint/config-conventional`)
//!
//! The corpus test (`tests/commitlint_corpus.rs`) replays commitlint's recorded verdicts on
//! more than 150 messages and allows only the differences listed here, each with its reason:
//!
//! 1. **Footers follow the Conventional Commits spec, not `conventional-commits-parser`.**
//!    Here any `Token: value` / `Token #value` line (git trailers such as `Signed-off-by:`,
//!    `Refs #1`) starts the footer when every later paragraph also starts with one.
//!    commitlint only starts a footer at `BREAKING CHANGE` or at a line holding an issue
//!    reference (`#123`), even in the middle of prose. So `footer-leading-blank`,
//!    `body-leading-blank`, `body-max-line-length` and `footer-max-line-length` can be
//!    reported on different lines or by the other rule of the pair. Reason: the issue and the
//!    spec define footers this way, and git trailers are footers for every other git tool.
//! 2. **The message is cleaned as git stores it** (trailing whitespace removed, blank runs
//!    collapsed, leading blank lines dropped). commitlint sees trailing spaces and reports
//!    `header-trim` for `feat: x␠`; git would never store them. Reason: we check what git
//!    stores.
//! 3. **Lengths count characters (Unicode scalar values)**; commitlint counts UTF-16 code
//!    units, so an emoji outside the Basic Multilingual Plane counts 2 there and 1 here.
//! 4. **Ignore patterns look at the header only**, and match the same shapes as commitlint's
//!    defaults (merges, `Revert `/`Reapply `, `fixup!`/`squash!`/`amend!`, bare semver
//!    release headers). commitlint's merge pattern is multi-line and also ignores a message
//!    whose *body* has a line like `Merge branch x`. Reason: a body line must not switch
//!    checking off.
//! 5. **An empty message** (nothing left after cleanup) reports `type-empty` and
//!    `subject-empty`; commitlint refuses empty input with a usage error. git aborts an empty
//!    commit anyway.
//! 6. **Blank-line rules look at the cleaned message.** commitlint's `body-leading-blank`
//!    reads the raw text including comment lines, so `feat: x` followed by a `# comment` line
//!    (or a message whose first line is a comment) gets a warning there; here comments are
//!    gone before any rule runs, as they are from the stored commit.
//!
//! Differences 1, 2, 3 and 6 appear in the corpus and are pinned by the test; 4 and 5 have
//! their own unit tests.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

use std::path::PathBuf;

use synod_core::{Classify, ErrorClass};

#[cfg(feature = "hooks")]
#[cfg_attr(docsrs, doc(cfg(feature = "hooks")))]
pub mod checks;
pub mod config;
pub mod docs;
pub mod glob;
#[cfg(feature = "hooks")]
#[cfg_attr(docsrs, doc(cfg(feature = "hooks")))]
pub mod hooks;
pub mod input;
pub mod message;
#[cfg(feature = "hooks")]
#[cfg_attr(docsrs, doc(cfg(feature = "hooks")))]
pub mod receive;
pub mod report;
pub mod rules;
pub mod words;

#[cfg(feature = "hooks")]
mod git;

pub use config::PolicyConfig;
pub use report::{Report, Severity, Violation};
pub use rules::CommitRules;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is invalid.
    #[error("invalid policy configuration in {source_name}: {message}")]
    Config {
        /// Where the configuration came from (a path or a description).
        source_name: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `rename`, ...).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A `git` command failed (only the `hooks` feature runs git; the variant exists in every
    /// build so matching on it never depends on features).
    #[error("`git {args}` failed in {}: {message}", dir.display())]
    Git {
        /// The arguments, joined with spaces.
        args: String,
        /// The directory it ran in.
        dir: PathBuf,
        /// git's stderr (tail) or the spawn error.
        message: String,
        /// The underlying error, if any: a `synod_exec::Error` when git was run (downcast it
        /// with `downcast_ref` to inspect it);
        /// [`Classify`] looks through it.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// An input (a message file, stdin, a commit message from git, a document) is larger than
    /// the configured limit ([`input`]); nothing past `limit + 1` bytes was read.
    #[error("{source_name} is larger than the {limit}-byte input limit; {advice}")]
    TooLarge {
        /// What was being read (a path, `stdin`, `commit <id>`).
        source_name: String,
        /// The limit in bytes.
        limit: u64,
        /// How to raise the limit (or why it cannot be).
        advice: String,
    },
    /// A pre-receive / pre-push input line is malformed.
    #[error("line {line} of the push input is not `<old> <new> <ref>`: {text:?}")]
    PushLine {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Classify for Error {
    fn class(&self) -> ErrorClass {
        match self {
            Error::Io { source, .. } => source.class(),
            Error::Git {
                source: Some(source),
                ..
            } => source_class(source.as_ref()),
            _ => ErrorClass::Permanent,
        }
    }
}

/// The class of a boxed cause: an exec or I/O error keeps its own class, anything else is
/// permanent.
fn source_class(source: &(dyn std::error::Error + Send + Sync + 'static)) -> ErrorClass {
    #[cfg(feature = "hooks")]
    if let Some(exec) = source.downcast_ref::<synod_exec::Error>() {
        return exec.class();
    }
    source
        .downcast_ref::<std::io::Error>()
        .map_or(ErrorClass::Permanent, Classify::class)
}

pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_error(source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Error {
        Error::Git {
            args: "rev-list HEAD".into(),
            dir: PathBuf::from("/repo"),
            message: "failed".into(),
            source,
        }
    }

    #[test]
    fn a_git_error_is_classified_through_its_io_cause() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(
            git_error(Some(Box::new(reset))).class(),
            ErrorClass::Transient
        );
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(
            git_error(Some(Box::new(denied))).class(),
            ErrorClass::Permanent
        );
        assert_eq!(git_error(None).class(), ErrorClass::Permanent);
        assert_eq!(
            git_error(Some("not an I/O error".into())).class(),
            ErrorClass::Permanent
        );
    }

    #[cfg(feature = "hooks")]
    #[test]
    fn a_git_error_keeps_the_class_of_its_exec_cause() {
        let timeout = synod_exec::Error::Io {
            program: "git".into(),
            action: "reading",
            source: std::io::Error::from(std::io::ErrorKind::TimedOut),
        };
        let err = git_error(Some(Box::new(timeout)));
        assert_eq!(err.class(), ErrorClass::Transient);
        let source = std::error::Error::source(&err).expect("the exec error is the source");
        assert!(source.downcast_ref::<synod_exec::Error>().is_some());
    }
}
