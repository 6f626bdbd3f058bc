//! Server-side `pre-receive` (and client-side `pre-push`) checks of every new commit.
//!
//! Input lines are `<old> <new> <ref>` (pre-receive) or `<local ref> <local id> <remote ref>
//! <remote id>` (pre-push). Object ids are 40 (SHA-1) or 64 (SHA-256) hex digits; all zeros
//! means "none". For each update on a protected ref (globs, default `refs/heads/**` and
//! `refs/tags/**`):
//!
//! - deletion (new is zero): allowed or refused by [`PushConfig::allow_deletion`];
//! - creation (old is zero): the commits reachable from the new tip and from no existing ref
//!   (`git rev-list NEW --not --all`; for pre-push `--not --remotes`);
//! - update: `git rev-list NEW --not OLD`.
//!
//! Annotated tags are peeled to their commit; a tag of a tree or blob has no commits to
//! check. A commit pushed on several refs is checked once. The rejection lists every
//! offending commit with its violations. A commit object bigger than `max-input-bytes`
//! refuses the push with [`crate::Error::TooLarge`] before any message is read; messages are
//! read in groups of at most that many bytes, so memory stays bounded.
//!
//! ```
//! use synod_policy::receive::{parse_updates, is_zero_id};
//!
//! let zero = "0".repeat(40);
//! let new = "a".repeat(40);
//! let updates = parse_updates(&format!("{zero} {new} refs/heads/topic\n")).unwrap();
//! assert!(is_zero_id(&updates[0].old));
//! assert_eq!(updates[0].name, "refs/heads/topic");
//! assert!(parse_updates("not a line").is_err());
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::git::{git, git_maybe, git_stdin, text};
use crate::glob::Glob;
use crate::input::{RAISE_ADVICE, too_large};
use crate::message::{self, Cleanup};
use crate::report::Report;
use crate::rules::CommitRules;
use crate::{Error, Result};

// The configuration type is pure and lives in `config` (available without the `hooks`
// feature); it stays reachable here, where it always was.
pub use crate::config::PushConfig;

/// One ref update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefUpdate {
    /// The old object id (zero when the ref is created).
    pub old: String,
    /// The new object id (zero when the ref is deleted).
    pub new: String,
    /// The full ref name.
    pub name: String,
}

/// Which existing commits a new ref's commits are compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Server side (`pre-receive`): `--not --all`.
    Server,
    /// Client side (`pre-push`): `--not --remotes`.
    Client,
}

/// Whether `id` is a valid object id (40 or 64 hex digits).
#[must_use]
pub fn is_object_id(id: &str) -> bool {
    (id.len() == 40 || id.len() == 64) && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `id` is git's "no object" id (40 or 64 zeros).
#[must_use]
pub fn is_zero_id(id: &str) -> bool {
    (id.len() == 40 || id.len() == 64) && id.bytes().all(|b| b == b'0')
}

fn bad_line(line: usize, text: &str) -> Error {
    Error::PushLine {
        line,
        text: text.to_owned(),
    }
}

/// Parses pre-receive input (`<old> <new> <ref>` per line; blank lines skipped).
///
/// # Errors
/// [`Error::PushLine`] naming the first malformed line.
pub fn parse_updates(input: &str) -> Result<Vec<RefUpdate>> {
    let mut out = Vec::new();
    for (i, line) in input.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts[..] {
            [old, new, name] if is_object_id(old) && is_object_id(new) => out.push(RefUpdate {
                old: old.to_owned(),
                new: new.to_owned(),
                name: name.to_owned(),
            }),
            _ => return Err(bad_line(i + 1, line)),
        }
    }
    Ok(out)
}

/// Parses pre-push input (`<local ref> <local id> <remote ref> <remote id>`) into updates of
/// the remote refs.
///
/// # Errors
/// [`Error::PushLine`] naming the first malformed line.
pub fn parse_pre_push(input: &str) -> Result<Vec<RefUpdate>> {
    let mut out = Vec::new();
    for (i, line) in input.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts[..] {
            [_local_ref, local, remote_ref, remote]
                if is_object_id(local) && is_object_id(remote) =>
            {
                out.push(RefUpdate {
                    old: remote.to_owned(),
                    new: local.to_owned(),
                    name: remote_ref.to_owned(),
                });
            }
            _ => return Err(bad_line(i + 1, line)),
        }
    }
    Ok(out)
}

/// What happened to one ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefOutcome {
    /// The ref name.
    pub name: String,
    /// `create`, `update` or `delete`.
    pub action: String,
    /// Whether the ref matched a protected pattern (and was checked).
    pub protected: bool,
    /// Why the update is refused outright (e.g. deletion), if it is.
    pub refused: Option<String>,
    /// How many new commits the update brings.
    pub commits: usize,
}

/// One checked commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitOutcome {
    /// The commit id.
    pub id: String,
    /// Its first line.
    pub header: String,
    /// The refs that bring it.
    pub refs: Vec<String>,
    /// The rules' verdict.
    pub report: Report,
}

/// The verdict on a whole push.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReport {
    /// One entry per input line, in order.
    pub refs: Vec<RefOutcome>,
    /// Every distinct new commit on a protected ref, each checked once.
    pub commits: Vec<CommitOutcome>,
}

impl PushReport {
    /// True when no ref is refused and no commit has an error.
    #[must_use]
    pub fn accepted(&self) -> bool {
        self.refs.iter().all(|r| r.refused.is_none())
            && self.commits.iter().all(|c| c.report.passed())
    }

    /// The commits with at least one error.
    pub fn offending(&self) -> impl Iterator<Item = &CommitOutcome> {
        self.commits.iter().filter(|c| !c.report.passed())
    }

    /// A rejection (or acceptance) message for the pusher's terminal.
    #[must_use]
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        for r in &self.refs {
            if let Some(reason) = &r.refused {
                let _ = writeln!(out, "synod: {} refused: {reason}", r.name);
            }
        }
        for c in self.offending() {
            let short = c.id.get(..12).unwrap_or(&c.id);
            let _ = writeln!(
                out,
                "synod: commit {short} ({}) on {}:",
                c.header,
                c.refs.join(", ")
            );
            for v in &c.report.violations {
                let _ = writeln!(
                    out,
                    "    {}:{}: {}[{}]: {}",
                    v.line,
                    v.column,
                    v.severity.as_str(),
                    v.rule,
                    v.message
                );
                if !v.hint.is_empty() {
                    let _ = writeln!(out, "        hint: {}", v.hint);
                }
            }
        }
        let bad = self.offending().count();
        if self.accepted() {
            let _ = writeln!(
                out,
                "synod: push accepted ({} new commit(s) checked)",
                self.commits.len()
            );
        } else {
            let _ = writeln!(
                out,
                "synod: push rejected: {bad} offending commit(s); fix them (git rebase -i / git commit --amend) and push again"
            );
        }
        out
    }
}

/// Checks a push in the repository at `repo` (run from the hook's working directory: the bare
/// repository for pre-receive). Each new commit object (headers and message) may be at most
/// `max_bytes` (`max-input-bytes`, see [`crate::input`]).
///
/// # Errors
/// [`Error::Git`] when git cannot list or read the commits, [`Error::TooLarge`] naming the
/// first commit bigger than `max_bytes` (nothing is checked then: the push is refused).
pub async fn check_push(
    repo: &Path,
    updates: &[RefUpdate],
    push: &PushConfig,
    rules: &CommitRules,
    side: Side,
    max_bytes: u64,
) -> Result<PushReport> {
    let globs: Vec<Glob> = push.protected.iter().map(|p| Glob::new(p)).collect();
    let mut report = PushReport::default();
    let mut order: Vec<String> = Vec::new();
    let mut refs_of: HashMap<String, Vec<String>> = HashMap::new();
    for update in updates {
        let protected = globs.iter().any(|g| g.matches(&update.name));
        let action = if is_zero_id(&update.new) {
            "delete"
        } else if is_zero_id(&update.old) {
            "create"
        } else {
            "update"
        };
        let mut outcome = RefOutcome {
            name: update.name.clone(),
            action: action.into(),
            protected,
            refused: None,
            commits: 0,
        };
        if protected && action == "delete" && !push.allow_deletion {
            outcome.refused = Some(
                "deleting a protected ref is not allowed (push.allow-deletion is false)".into(),
            );
        }
        if protected && action != "delete" {
            let commits = new_commits(repo, update, side).await?;
            outcome.commits = commits.len();
            for id in commits {
                let refs = refs_of.entry(id.clone()).or_insert_with(|| {
                    order.push(id.clone());
                    Vec::new()
                });
                if !refs.contains(&update.name) {
                    refs.push(update.name.clone());
                }
            }
        }
        report.refs.push(outcome);
    }
    for_each_message(repo, &order, max_bytes, |id, raw| {
        let commit = message::parse(raw, &Cleanup::stored());
        let header = commit
            .header_line()
            .map(|l| l.text.clone())
            .unwrap_or_default();
        let verdict = rules.check(&commit);
        report.commits.push(CommitOutcome {
            id: id.to_owned(),
            header,
            refs: refs_of.remove(id).unwrap_or_default(),
            report: verdict,
        });
    })
    .await?;
    tracing::info!(
        refs = report.refs.len(),
        commits = report.commits.len(),
        accepted = report.accepted(),
        "push checked"
    );
    Ok(report)
}

async fn new_commits(repo: &Path, update: &RefUpdate, side: Side) -> Result<Vec<String>> {
    let peel = format!("{}^{{commit}}", update.new);
    let Some(out) = git_maybe(repo, &["rev-parse", "--verify", "--quiet", &peel]).await? else {
        // A tag of a tree or blob: no commits.
        return Ok(Vec::new());
    };
    let tip = text(&out);
    let mut args: Vec<&str> = vec!["rev-list", &tip, "--not"];
    let old_peeled;
    if is_zero_id(&update.old) {
        args.push(match side {
            Side::Server => "--all",
            Side::Client => "--remotes",
        });
    } else {
        old_peeled = format!("{}^{{commit}}", update.old);
        match git_maybe(repo, &["rev-parse", "--verify", "--quiet", &old_peeled]).await? {
            Some(_) => args.push(&old_peeled),
            // The old tip is unknown locally (pre-push after a force-fetch elsewhere): compare
            // with what the remotes have.
            None => args.push("--remotes"),
        }
    }
    let out = git(repo, &args).await?;
    Ok(out
        .stdout_lossy()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// How many bytes `git cat-file --batch` adds around each object: `<id> commit <size>\n`
/// before and `\n` after (64-hex ids, a 20-digit size, with room to spare).
const BATCH_OVERHEAD: u64 = 128;

fn malformed(repo: &Path, args: &str, what: String) -> Error {
    Error::Git {
        args: args.into(),
        dir: repo.to_path_buf(),
        message: what,
        source: None,
    }
}

/// The size in bytes of each commit object in `ids`, from one `git cat-file --batch-check`.
async fn object_sizes(repo: &Path, ids: &[String]) -> Result<Vec<u64>> {
    let mut input = ids.join("\n");
    input.push('\n');
    let out = git_stdin(repo, &["cat-file", "--batch-check"], input.into_bytes()).await?;
    let listing = out.stdout_lossy();
    let mut lines = listing.lines();
    ids.iter()
        .map(|id| {
            lines
                .next()
                .and_then(|line| line.rsplit(' ').next())
                .and_then(|size| size.parse().ok())
                .ok_or_else(|| {
                    malformed(repo, "cat-file --batch-check", format!("no size for {id}"))
                })
        })
        .collect()
}

/// Reads the messages of `ids` (commits), each commit object at most `max_bytes`.
///
/// The sizes come first (`git cat-file --batch-check`), so an oversized commit is refused
/// before it is read; the contents are then read with `git cat-file --batch` in groups of
/// at most `max_bytes` in total, each group's messages handed to `each` before the next is
/// read. Memory stays bounded by `max_bytes` whatever the push holds.
async fn for_each_message(
    repo: &Path,
    ids: &[String],
    max_bytes: u64,
    mut each: impl FnMut(&str, &str),
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sizes = object_sizes(repo, ids).await?;
    if let Some((id, _)) = ids.iter().zip(&sizes).find(|&(_, &size)| size > max_bytes) {
        return Err(too_large(&format!("commit {id}"), max_bytes, RAISE_ADVICE));
    }
    let mut start = 0;
    while start < ids.len() {
        let mut end = start + 1;
        let mut total = sizes[start];
        while end < ids.len() && total.saturating_add(sizes[end]) <= max_bytes {
            total = total.saturating_add(sizes[end]);
            end += 1;
        }
        let group = &ids[start..end];
        let messages = read_messages(
            repo,
            group,
            total.saturating_add(BATCH_OVERHEAD.saturating_mul(group.len() as u64)),
        )
        .await?;
        for (id, message) in group.iter().zip(&messages) {
            each(id, message);
        }
        start = end;
    }
    Ok(())
}

/// Reads commit messages with one `git cat-file --batch`; `expected` bounds the output.
async fn read_messages(repo: &Path, ids: &[String], expected: u64) -> Result<Vec<String>> {
    let mut input = ids.join("\n");
    input.push('\n');
    let out = git_stdin(repo, &["cat-file", "--batch"], input.into_bytes()).await?;
    if out.stdout_truncated || out.stdout.len() as u64 > expected {
        return Err(malformed(
            repo,
            "cat-file --batch",
            format!(
                "{} bytes of output, more than the {expected} expected",
                out.stdout.len()
            ),
        ));
    }
    let data = out.stdout;
    let mut messages = Vec::with_capacity(ids.len());
    let mut pos = 0usize;
    for id in ids {
        let bad = || {
            malformed(
                repo,
                "cat-file --batch",
                format!("unexpected output for {id}"),
            )
        };
        let rest = data.get(pos..).ok_or_else(bad)?;
        let nl = rest.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
        let head = String::from_utf8_lossy(&rest[..nl]);
        let size: usize = head
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        let body = rest
            .get(nl + 1..(nl + 1).saturating_add(size))
            .ok_or_else(bad)?;
        pos += nl + 1 + size + 1;
        let body = String::from_utf8_lossy(body);
        let message = body.split_once("\n\n").map_or("", |(_, m)| m);
        messages.push(message.to_owned());
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_zero_id(&"0".repeat(64)));
        assert!(!is_zero_id(&"0".repeat(41)));
        assert!(is_object_id(&"aB09".repeat(10)));
        assert!(!is_object_id(&"g".repeat(40)));
    }

    #[test]
    fn pre_push_lines() {
        let z = "0".repeat(40);
        let a = "a".repeat(40);
        let u = parse_pre_push(&format!("refs/heads/x {a} refs/heads/y {z}\n\n")).expect("parse");
        assert_eq!(
            u,
            vec![RefUpdate {
                old: z,
                new: a,
                name: "refs/heads/y".into()
            }]
        );
        let err = parse_pre_push("refs/heads/x abc refs/heads/y def").expect_err("bad ids");
        assert!(err.to_string().contains("line 1"));
        // Each id must be one: a good local id does not make up for a bad remote one.
        let a = "a".repeat(40);
        for line in [
            format!("refs/heads/x {a} refs/heads/y not-an-id"),
            format!("refs/heads/x not-an-id refs/heads/y {a}"),
        ] {
            assert!(parse_pre_push(&line).is_err(), "{line}");
        }
    }

    #[test]
    fn pre_receive_lines_and_the_line_number_of_a_bad_one() {
        let z = "0".repeat(40);
        let a = "a".repeat(40);
        let input = format!("{z} {a} refs/heads/main\n\n{a} {z} refs/tags/v1\n");
        assert_eq!(
            parse_updates(&input).expect("parse"),
            vec![
                RefUpdate {
                    old: z.clone(),
                    new: a.clone(),
                    name: "refs/heads/main".into()
                },
                RefUpdate {
                    old: a.clone(),
                    new: z.clone(),
                    name: "refs/tags/v1".into()
                },
            ]
        );
        for line in [
            format!("{a} not-an-id refs/heads/main"),
            format!("not-an-id {a} refs/heads/main"),
        ] {
            assert!(parse_updates(&line).is_err(), "{line}");
        }
        // Counted from 1, blank lines included: the third line is the bad one.
        let err = parse_updates(&format!("{z} {a} refs/heads/main\n\n{a} refs/tags/v1\n"))
            .expect_err("two fields");
        assert!(
            matches!(&err, crate::Error::PushLine { line: 3, text } if *text == format!("{a} refs/tags/v1")),
            "{err:?}"
        );
    }

    fn outcome(id: &str, violations: Vec<crate::report::Violation>) -> CommitOutcome {
        CommitOutcome {
            id: id.into(),
            header: format!("header of {id}"),
            refs: vec!["refs/heads/main".into()],
            report: Report {
                ignored: None,
                violations,
            },
        }
    }

    #[test]
    fn only_commits_with_an_error_are_offending_and_each_hint_is_printed_once() {
        use crate::report::{Severity, Violation};
        let mut report = PushReport::default();
        report.commits.push(outcome("1111111111112222", vec![]));
        report.commits.push(outcome(
            "3333333333334444",
            vec![
                Violation::new("type-empty", Severity::Error, 1, 1, "no type", "add one"),
                Violation::new(
                    "body-leading-blank",
                    Severity::Warning,
                    2,
                    1,
                    "no blank line",
                    "",
                ),
            ],
        ));
        let offending: Vec<&str> = report.offending().map(|c| c.id.as_str()).collect();
        assert_eq!(offending, ["3333333333334444"]);
        assert_eq!(
            report.to_human(),
            "synod: commit 333333333333 (header of 3333333333334444) on refs/heads/main:\n    \
             1:1: error[type-empty]: no type\n        \
             hint: add one\n    \
             2:1: warning[body-leading-blank]: no blank line\n\
             synod: push rejected: 1 offending commit(s); fix them (git rebase -i / git commit --amend) and push again\n"
        );
    }

    #[tokio::test]
    async fn only_a_protected_ref_may_be_refused_deletion() {
        let z = "0".repeat(40);
        let a = "a".repeat(40);
        let delete = |name: &str| RefUpdate {
            old: a.clone(),
            new: z.clone(),
            name: name.into(),
        };
        let push = PushConfig {
            protected: vec!["refs/heads/main".into()],
            allow_deletion: false,
        };
        // Deletions list no commits, so no repository is read.
        let report = check_push(
            Path::new("."),
            &[delete("refs/heads/main"), delete("refs/heads/topic")],
            &push,
            &CommitRules::default(),
            Side::Server,
            1024,
        )
        .await
        .expect("checked");
        let refused: Vec<(&str, bool)> = report
            .refs
            .iter()
            .map(|r| (r.name.as_str(), r.refused.is_some()))
            .collect();
        assert_eq!(
            refused,
            [("refs/heads/main", true), ("refs/heads/topic", false)]
        );
    }

    #[test]
    fn report_text() {
        let mut report = PushReport::default();
        report.refs.push(RefOutcome {
            name: "refs/heads/main".into(),
            action: "delete".into(),
            protected: true,
            refused: Some("no".into()),
            commits: 0,
        });
        assert!(!report.accepted());
        assert!(report.to_human().contains("refs/heads/main refused: no"));
    }
}
