//! The library against real git repositories: where hooks go, and push checks (including
//! SHA-256 repositories and tags of trees).
//!
//! Unix only: they need `git` and `sh`, which the Windows test run under Wine does not have.
//! On Windows the hook scripts are covered by the unit tests of `hooks` (path and line endings).

#![cfg(unix)]

use std::path::{Path, PathBuf};

mod common;

use common::git_in;
use synod_policy::CommitRules;
use synod_policy::hooks::{HookAction, HookName, InstallOptions, hooks_dir, install, uninstall};
use synod_policy::receive::{PushConfig, PushReport, RefUpdate, Side, check_push};

struct Repo {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    git_in(dir, &dir.parent().unwrap_or(dir).join("home"), args)
}

fn repo(extra: &[&str]) -> Repo {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["init", "-q", "-b", "main"];
    args.extend_from_slice(extra);
    args.push("r");
    git(tmp.path(), &args);
    let path = tmp.path().join("r");
    git(&path, &["config", "user.name", "Synod Test"]);
    git(&path, &["config", "user.email", "test@synod.invalid"]);
    Repo { _tmp: tmp, path }
}

fn commit(dir: &Path, message: &str) -> String {
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A commit whose message is `message` byte for byte (`--cleanup=verbatim`: no final newline
/// added, nothing stripped), given through a file as a long message must be.
fn commit_verbatim(dir: &Path, message: &str) -> String {
    let file = dir.parent().expect("parent").join("message");
    std::fs::write(&file, message).expect("write");
    let file = file.to_str().expect("utf-8");
    git(
        dir,
        &[
            "commit",
            "-q",
            "--allow-empty",
            "--cleanup=verbatim",
            "-F",
            file,
        ],
    );
    git(dir, &["rev-parse", "HEAD"])
}

/// `check_push` as pre-receive runs it, with the default commit rules.
async fn check_on_server(
    repo: &Path,
    updates: &[RefUpdate],
    push: &PushConfig,
    max_bytes: u64,
) -> synod_policy::Result<PushReport> {
    check_push(
        repo,
        updates,
        push,
        &CommitRules::default(),
        Side::Server,
        max_bytes,
    )
    .await
}

#[tokio::test]
async fn hooks_dir_follows_core_hooks_path_and_worktrees() {
    let r = repo(&[]);
    let dir = hooks_dir(&r.path).await.expect("hooks dir");
    assert_eq!(
        dir.canonicalize().expect("exists"),
        r.path.join(".git/hooks").canonicalize().expect("exists")
    );

    commit(&r.path, "chore: init");
    let wt = r.path.parent().expect("parent").join("wt");
    git(
        &r.path,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "side",
            wt.to_str().expect("utf-8"),
        ],
    );
    let dir = hooks_dir(&wt).await.expect("hooks dir");
    assert_eq!(
        dir.canonicalize().expect("exists"),
        r.path.join(".git/hooks").canonicalize().expect("exists")
    );

    let shared = r.path.parent().expect("parent").join("shared-hooks");
    git(
        &r.path,
        &["config", "core.hooksPath", shared.to_str().expect("utf-8")],
    );
    let changes = install(
        &r.path,
        &[HookName::CommitMsg],
        &InstallOptions {
            synod: "/bin/synod".into(),
        },
    )
    .await
    .expect("install");
    assert_eq!(changes[0].path, shared.join("commit-msg"));
    assert!(shared.join("commit-msg").exists());
    // Uninstalling from the repository finds the same folder.
    let removed = uninstall(&r.path, &[HookName::CommitMsg])
        .await
        .expect("uninstall");
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].action, HookAction::Removed);
    assert_eq!(removed[0].path, shared.join("commit-msg"));
    assert!(!shared.join("commit-msg").exists());

    let err = hooks_dir(r.path.parent().expect("parent"))
        .await
        .expect_err("not a repository");
    assert!(err.to_string().contains("rev-parse"), "{err}");
}

#[tokio::test]
async fn sha256_push_checks_and_deduplicates() {
    let r = repo(&["--object-format=sha256"]);
    let base = commit(&r.path, "feat: base");
    assert_eq!(base.len(), 64);
    git(&r.path, &["checkout", "-q", "--detach"]);
    let good = commit(&r.path, "fix: good");
    let bad = commit(&r.path, "Bad.");
    // Leave the new commits unreferenced, as they are in a pre-receive quarantine
    // (`--all` includes a detached HEAD).
    git(&r.path, &["checkout", "-q", "main"]);
    let zero = "0".repeat(64);
    let updates = vec![
        RefUpdate {
            old: base.clone(),
            new: bad.clone(),
            name: "refs/heads/main".into(),
        },
        RefUpdate {
            old: zero.clone(),
            new: bad.clone(),
            name: "refs/heads/copy".into(),
        },
        RefUpdate {
            old: zero.clone(),
            new: good.clone(),
            name: "refs/heads/unprotected/x".into(),
        },
        RefUpdate {
            old: base.clone(),
            new: zero.clone(),
            name: "refs/heads/main".into(),
        },
    ];
    let push = PushConfig {
        protected: vec!["refs/heads/main".into(), "refs/heads/copy".into()],
        allow_deletion: false,
    };
    let report = check_on_server(
        &r.path,
        &updates,
        &push,
        synod_policy::input::DEFAULT_MAX_INPUT_BYTES,
    )
    .await
    .expect("check");
    assert!(!report.accepted());
    let ids: Vec<&str> = report.commits.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&good.as_str()) && ids.contains(&bad.as_str()));
    let bad_outcome = report
        .commits
        .iter()
        .find(|c| c.id == bad)
        .expect("bad commit");
    assert_eq!(bad_outcome.refs, ["refs/heads/main", "refs/heads/copy"]);
    // Each message is read whole from git's batch output, to its last character.
    let headers: Vec<(&str, &str)> = report
        .commits
        .iter()
        .map(|c| (c.id.as_str(), c.header.as_str()))
        .collect();
    assert!(headers.contains(&(bad.as_str(), "Bad.")), "{headers:?}");
    assert!(
        headers.contains(&(good.as_str(), "fix: good")),
        "{headers:?}"
    );
    assert_eq!(report.offending().count(), 1);
    assert!(!report.refs[2].protected);
    assert!(report.refs[3].refused.is_some());
    assert_eq!(report.refs[0].commits, 2);
}

#[tokio::test]
async fn a_commit_of_exactly_the_limit_is_checked_and_one_byte_over_refuses_the_push() {
    let r = repo(&[]);
    let base = commit(&r.path, "feat: base");
    git(&r.path, &["checkout", "-q", "--detach"]);
    // A message without a final newline (as `--cleanup=verbatim` keeps it): read to its
    // last character all the same.
    let new = commit_verbatim(&r.path, "fix: the commit whose size is the limit");
    git(&r.path, &["checkout", "-q", "main"]);
    let size: u64 = git(&r.path, &["cat-file", "-s", &new])
        .parse()
        .expect("size");
    let updates = [RefUpdate {
        old: base,
        new: new.clone(),
        name: "refs/heads/main".into(),
    }];
    let push = PushConfig::default();
    let check = |max_bytes| check_on_server(&r.path, &updates, &push, max_bytes);
    let report = check(size).await.expect("exactly the limit is read");
    assert_eq!(report.commits.len(), 1);
    assert_eq!(
        report.commits[0].header,
        "fix: the commit whose size is the limit"
    );
    assert!(report.accepted(), "{}", report.to_human());
    match check(size - 1).await {
        Err(synod_policy::Error::TooLarge {
            source_name, limit, ..
        }) => assert_eq!((source_name, limit), (format!("commit {new}"), size - 1)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn only_commits_on_protected_refs_are_checked() {
    let r = repo(&[]);
    commit(&r.path, "feat: base");
    git(&r.path, &["checkout", "-q", "--detach"]);
    let bad = commit(&r.path, "WIP whatever");
    git(&r.path, &["checkout", "-q", "main"]);
    let updates = [RefUpdate {
        old: "0".repeat(40),
        new: bad,
        name: "refs/heads/scratch/mine".into(),
    }];
    let push = PushConfig {
        protected: vec!["refs/heads/main".into()],
        allow_deletion: false,
    };
    let report = check_on_server(
        &r.path,
        &updates,
        &push,
        synod_policy::input::DEFAULT_MAX_INPUT_BYTES,
    )
    .await
    .expect("check");
    assert!(report.commits.is_empty(), "{report:?}");
    assert_eq!(report.refs[0].commits, 0);
    assert!(report.accepted());
}

/// A push may carry megabytes of messages (the limit is per commit, and configurable): git's
/// output is read whole, far past any pipe buffer.
#[tokio::test]
async fn a_two_megabyte_message_is_read_whole_when_the_limit_allows_it() {
    let r = repo(&[]);
    let base = commit(&r.path, "feat: base");
    git(&r.path, &["checkout", "-q", "--detach"]);
    let body = format!("{}\n", "x".repeat(99));
    let new = commit_verbatim(
        &r.path,
        &format!("docs: a long body\n\n{}", body.repeat(20_000)),
    );
    git(&r.path, &["checkout", "-q", "main"]);
    let updates = [RefUpdate {
        old: base,
        new,
        name: "refs/heads/main".into(),
    }];
    let report = check_on_server(&r.path, &updates, &PushConfig::default(), 4 * 1024 * 1024)
        .await
        .expect("read whole");
    assert_eq!(report.commits.len(), 1);
    assert_eq!(report.commits[0].header, "docs: a long body");
}

#[tokio::test]
async fn tags_of_trees_have_no_commits_and_stored_comment_lines_are_content() {
    let r = repo(&[]);
    commit(&r.path, "feat: base");
    let tree = git(&r.path, &["rev-parse", "HEAD^{tree}"]);
    git(&r.path, &["tag", "-a", "tree-tag", "-m", "a tree", &tree]);
    let tag = git(&r.path, &["rev-parse", "tree-tag"]);
    git(&r.path, &["checkout", "-q", "--detach"]);
    // A stored message whose second paragraph starts with `#` (cleanup=verbatim) is checked
    // as content: the `#` line is a body, not a comment.
    git(
        &r.path,
        &[
            "commit",
            "-q",
            "--allow-empty",
            "--cleanup=verbatim",
            "-m",
            "fix: x\n#body line",
        ],
    );
    let head = git(&r.path, &["rev-parse", "HEAD"]);
    git(&r.path, &["checkout", "-q", "main"]);
    let zero = "0".repeat(40);
    let updates = vec![
        RefUpdate {
            old: zero.clone(),
            new: tag,
            name: "refs/tags/tree-tag".into(),
        },
        RefUpdate {
            old: zero.clone(),
            new: head,
            name: "refs/heads/new".into(),
        },
    ];
    let report = check_on_server(
        &r.path,
        &updates,
        &PushConfig::default(),
        synod_policy::input::DEFAULT_MAX_INPUT_BYTES,
    )
    .await
    .expect("check");
    assert_eq!(report.refs[0].commits, 0);
    assert_eq!(report.commits.len(), 1);
    assert!(report.accepted(), "{}", report.to_human());
    assert_eq!(
        report.commits[0]
            .report
            .rules(synod_policy::Severity::Warning),
        ["body-leading-blank"]
    );
}
