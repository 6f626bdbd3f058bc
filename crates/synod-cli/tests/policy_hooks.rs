//! `synod hooks install|uninstall` against real git repositories: real `git commit` runs the
//! installed hooks. Unix only (git, `sh`, mode 0755); the Windows script is covered by
//! synod-policy's `hooks` unit tests.

#![cfg(unix)]

mod policy_common;

use policy_common::{Sandbox, stderr, stdout};

#[test]
fn commit_msg_hook_accepts_rejects_and_no_verify_bypasses() {
    let sb = Sandbox::new();
    let repo = sb.repo("r");
    let out = sb
        .synod(&repo)
        .args(["hooks", "install"])
        .output()
        .expect("synod runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let listing = stdout(&out);
    for hook in ["commit-msg", "pre-commit", "pre-push"] {
        assert!(
            listing.contains(&format!("installed .git/hooks/{hook}"))
                || listing.contains(&format!("/.git/hooks/{hook}")),
            "{listing}"
        );
        assert!(repo.join(".git/hooks").join(hook).exists());
    }

    let ok = sb.commit(&repo, "a.txt", "feat: add a", &[]);
    assert!(ok.status.success(), "{}", stderr(&ok));

    let bad = sb.commit(&repo, "a.txt", "Added stuff.", &[]);
    assert!(!bad.status.success(), "bad message was accepted");
    let err = stderr(&bad);
    assert!(err.contains("error[type-empty]"), "{err}");
    assert!(err.contains("--no-verify"), "{err}");
    assert_eq!(sb.git(&repo, &["rev-list", "--count", "HEAD"]), "1");

    let bypass = sb.commit(&repo, "a.txt", "Added stuff.", &["--no-verify"]);
    assert!(bypass.status.success(), "{}", stderr(&bypass));
    assert_eq!(sb.git(&repo, &["log", "-1", "--format=%s"]), "Added stuff.");

    // Idempotent: a second install leaves synod's own hooks as they are, says so, and keeps no
    // backup.
    let again = sb
        .synod(&repo)
        .args(["hooks", "install"])
        .output()
        .expect("synod runs");
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("is already synod's hook; left as it is"),
        "{}",
        stdout(&again)
    );
    assert!(!stdout(&again).contains("updated"), "{}", stdout(&again));
    assert!(!repo.join(".git/hooks/commit-msg.local").exists());

    let removed = sb
        .synod(&repo)
        .args(["hooks", "uninstall"])
        .output()
        .expect("synod runs");
    assert!(removed.status.success(), "{}", stderr(&removed));
    assert!(!repo.join(".git/hooks/commit-msg").exists());
    let after = sb.commit(&repo, "a.txt", "Anything goes now", &[]);
    assert!(after.status.success(), "{}", stderr(&after));
}

#[test]
fn comment_lines_and_verbose_scissors_are_ignored() {
    let sb = Sandbox::new();
    let repo = sb.repo("r");
    sb.synod(&repo)
        .args(["hooks", "install", "--hook", "commit-msg"])
        .output()
        .expect("synod runs");
    std::fs::write(repo.join("b.txt"), "b\n").expect("write");
    sb.git(&repo, &["add", "b.txt"]);
    // A message file with comments, as an editor leaves it; `-F` keeps comments for the hook
    // with --cleanup=strip.
    let msg = repo.join("msg.txt");
    std::fs::write(
        &msg,
        "fix(b): handle b\n# Please enter the commit message\n\nBody.\n",
    )
    .expect("write");
    let out = sb.git_output(&repo, &["commit", "-q", "--cleanup=strip", "-F", "msg.txt"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        sb.git(&repo, &["log", "-1", "--format=%B"]),
        "fix(b): handle b\n\nBody."
    );

    // `git commit -v`: the diff below the scissors line (long lines, anything) is not checked.
    std::fs::write(
        repo.join("b.txt"),
        format!("Not Conventional At All.\n{}\n", "x".repeat(150)),
    )
    .expect("write");
    sb.git(&repo, &["add", "b.txt"]);
    let out = sb.git_output(
        &repo,
        &[
            "-c",
            "core.editor=true",
            "commit",
            "-q",
            "-v",
            "-e",
            "-m",
            "fix(b): long lines",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // core.commentChar is honoured.
    sb.git(&repo, &["config", "core.commentChar", ";"]);
    std::fs::write(repo.join("b.txt"), "b2\n").expect("write");
    sb.git(&repo, &["add", "b.txt"]);
    std::fs::write(&msg, "fix(b): handle more\n; Not Conventional At All.\n").expect("write");
    let out = sb.git_output(&repo, &["commit", "-q", "--cleanup=strip", "-F", "msg.txt"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn core_hooks_path_is_honoured() {
    let sb = Sandbox::new();
    let repo = sb.repo("r");
    sb.git(&repo, &["config", "core.hooksPath", "custom-hooks"]);
    let out = sb
        .synod(&repo)
        .args(["hooks", "install", "--hook", "commit-msg"])
        .output()
        .expect("synod runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(repo.join("custom-hooks/commit-msg").exists());
    assert!(!repo.join(".git/hooks/commit-msg").exists());
    let bad = sb.commit(&repo, "a.txt", "nope", &[]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("type-empty"), "{}", stderr(&bad));
}

#[test]
fn linked_worktree_uses_the_common_hooks_folder() {
    let sb = Sandbox::new();
    let repo = sb.repo("r");
    assert!(
        sb.commit(&repo, "a.txt", "chore: init", &[])
            .status
            .success()
    );
    let wt = sb.path().join("wt");
    sb.git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "side",
            wt.to_str().expect("utf-8 path"),
        ],
    );
    let out = sb
        .synod(&wt)
        .args(["hooks", "install", "--hook", "commit-msg"])
        .output()
        .expect("synod runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        repo.join(".git/hooks/commit-msg").exists(),
        "{}",
        stdout(&out)
    );
    let bad = sb.commit(&wt, "w.txt", "Bad Worktree Commit.", &[]);
    assert!(!bad.status.success());
    let good = sb.commit(&wt, "w.txt", "docs: worktree commit", &[]);
    assert!(good.status.success(), "{}", stderr(&good));
    // The main worktree shares the hook.
    assert!(!sb.commit(&repo, "a.txt", "bad main", &[]).status.success());
}

#[test]
fn foreign_hook_is_chained_with_its_exit_code_and_restored() {
    let sb = Sandbox::new();
    let repo = sb.repo("r");
    let hook = repo.join(".git/hooks/commit-msg");
    let foreign = "#!/bin/sh\necho \"foreign saw $1\" >> \"$(git rev-parse --git-dir)/foreign.log\"\nif grep -q BLOCK \"$1\"; then exit 3; fi\nexit 0\n";
    std::fs::write(&hook, foreign).expect("write hook");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let out = sb
        .synod(&repo)
        .args(["hooks", "install", "--hook", "commit-msg"])
        .output()
        .expect("synod runs");
    assert!(
        stdout(&out).contains("commit-msg.local"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        std::fs::read_to_string(repo.join(".git/hooks/commit-msg.local")).expect("backup"),
        foreign
    );

    // Both run: the foreign hook logs, synod checks.
    assert!(
        sb.commit(&repo, "a.txt", "feat: fine", &[])
            .status
            .success()
    );
    let log = std::fs::read_to_string(repo.join(".git/foreign.log")).expect("foreign hook ran");
    assert_eq!(log.lines().count(), 1);
    // The foreign hook's refusal wins, with its own exit code.
    assert!(
        !sb.commit(&repo, "a.txt", "feat: BLOCK this", &[])
            .status
            .success()
    );
    let msg = repo.join("m.txt");
    std::fs::write(&msg, "feat: BLOCK this\n").expect("write");
    let direct = std::process::Command::new(&hook)
        .arg(&msg)
        .current_dir(&repo)
        .env("HOME", sb.home())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("hook runs");
    assert_eq!(direct.status.code(), Some(3));
    // synod still rejects what the foreign hook lets through.
    assert!(
        !sb.commit(&repo, "a.txt", "not conventional", &[])
            .status
            .success()
    );

    let out = sb
        .synod(&repo)
        .args(["hooks", "uninstall"])
        .output()
        .expect("synod runs");
    assert!(stdout(&out).contains("restored"), "{}", stdout(&out));
    assert_eq!(std::fs::read_to_string(&hook).expect("restored"), foreign);
    assert!(!repo.join(".git/hooks/commit-msg.local").exists());
}

#[test]
fn pre_commit_runs_configured_checks() {
    let sb = Sandbox::new();
    let repo = sb.repo("r");
    std::fs::create_dir_all(repo.join(".synod")).expect("mkdir");
    std::fs::write(
        repo.join(".synod/policy.json"),
        r#"{"checks": {"budget-secs": 30, "checks": [
            {"name": "no-forbidden", "command": "sh", "args": ["-c", "if grep -rq FORBIDDEN --include=*.txt .; then echo found FORBIDDEN; exit 1; fi"], "files": "*.txt"},
            {"name": "md-only", "command": "false", "files": "*.md"}
        ]}}"#,
    )
    .expect("write config");
    sb.synod(&repo)
        .args(["hooks", "install", "--hook", "pre-commit"])
        .output()
        .expect("synod runs");
    let ok = sb.commit(&repo, "a.txt", "feat: fine", &[]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stderr(&ok).contains("skipped"), "{}", stderr(&ok));
    let bad = sb.commit(&repo, "a.txt", "feat: FORBIDDEN", &[]);
    assert!(!bad.status.success());
    let err = stderr(&bad);
    assert!(
        err.contains("FAILED") && err.contains("no-forbidden") && err.contains("found FORBIDDEN"),
        "{err}"
    );
}

#[test]
fn pre_push_checks_the_commits_being_pushed() {
    let sb = Sandbox::new();
    sb.git(
        sb.path(),
        &["init", "-q", "--bare", "-b", "main", "remote.git"],
    );
    let repo = sb.repo("r");
    sb.git(&repo, &["remote", "add", "origin", "../remote.git"]);
    sb.synod(&repo)
        .args(["hooks", "install", "--hook", "pre-push"])
        .output()
        .expect("synod runs");
    assert!(
        sb.commit(&repo, "a.txt", "feat: first", &[])
            .status
            .success()
    );
    let out = sb.git_output(&repo, &["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let bad = sb.commit(&repo, "a.txt", "oops", &["--no-verify"]);
    assert!(bad.status.success());
    let out = sb.git_output(&repo, &["push", "-q", "origin", "main"]);
    assert!(!out.status.success(), "pre-push let a bad commit through");
    assert!(stderr(&out).contains("type-empty"), "{}", stderr(&out));
    let out = sb.git_output(&repo, &["push", "-q", "--no-verify", "origin", "main"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn install(sb: &Sandbox, repo: &std::path::Path, hook: &str) -> String {
    let out = sb
        .synod(repo)
        .args(["hooks", "install", "--hook", hook])
        .output()
        .expect("synod runs");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

fn uninstall(sb: &Sandbox, repo: &std::path::Path, hook: &str) -> String {
    let out = sb
        .synod(repo)
        .args(["hooks", "uninstall", "--hook", hook])
        .output()
        .expect("synod runs");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

fn write_executable(path: &std::path::Path, content: &[u8]) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, content).expect("write hook");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn backups(hooks: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(hooks)
        .expect("list hooks")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".synod-backup"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_user_edited_hook_is_backed_up_byte_for_byte_and_restored() {
    let sb = Sandbox::new();
    let repo = sb.repo("r");
    let hooks = repo.join(".git/hooks");
    let hook = hooks.join("commit-msg");
    install(&sb, &repo, "commit-msg");
    let ours = read(&hook);

    // Reinstalling over synod's own script: left in place, no backup of any kind.
    let again = install(&sb, &repo, "commit-msg");
    assert!(again.contains("is already synod's hook"), "{again}");
    assert_eq!(read(&hook), ours);
    assert!(backups(&hooks).is_empty());
    assert!(!hooks.join("commit-msg.local").exists());

    // The user edits synod's hook (it still carries synod's marker line).
    let mut edited = ours.clone();
    edited.extend_from_slice(b"# my note, with a non-UTF-8 byte: \xff\n");
    write_executable(&hook, &edited);
    let out = install(&sb, &repo, "commit-msg");
    assert!(
        out.contains("commit-msg.synod-backup") && out.contains("NOT run"),
        "{out}"
    );
    assert_eq!(backups(&hooks), ["commit-msg.synod-backup"]);
    assert_eq!(read(&hooks.join("commit-msg.synod-backup")), edited);
    assert_eq!(read(&hook), ours);
    // synod's hook is live.
    assert!(
        !sb.commit(&repo, "a.txt", "Not Conventional", &[])
            .status
            .success()
    );

    // A second edit is kept as .1; the first backup is untouched.
    let mut edited2 = ours;
    edited2.extend_from_slice(b"echo second edit\n");
    write_executable(&hook, &edited2);
    install(&sb, &repo, "commit-msg");
    assert_eq!(
        backups(&hooks),
        ["commit-msg.synod-backup", "commit-msg.synod-backup.1"]
    );
    assert_eq!(read(&hooks.join("commit-msg.synod-backup")), edited);
    assert_eq!(read(&hooks.join("commit-msg.synod-backup.1")), edited2);

    // Uninstall puts back the newest backup, byte for byte; then that hook is the user's and
    // is left alone.
    let out = uninstall(&sb, &repo, "commit-msg");
    assert!(
        out.contains("restored") && out.contains("synod-backup.1"),
        "{out}"
    );
    assert_eq!(read(&hook), edited2);
    assert_eq!(backups(&hooks), ["commit-msg.synod-backup"]);
    let out = uninstall(&sb, &repo, "commit-msg");
    assert!(out.contains("left") && out.contains("alone"), "{out}");
    assert_eq!(read(&hook), edited2);
}

#[test]
fn marker_text_alone_does_not_make_a_hook_synods() {
    let sb = Sandbox::new();
    let repo = sb.repo("r");
    let hooks = repo.join(".git/hooks");
    let hook = hooks.join("commit-msg");
    // A hook that merely mentions synod's marker: before, install overwrote it silently.
    let impostor = b"#!/bin/sh\n# synod-managed hook: commit-msg\necho \"custom $1\" >> \"$(git rev-parse --git-dir)/custom.log\"\n";
    write_executable(&hook, impostor);
    let out = install(&sb, &repo, "commit-msg");
    assert!(out.contains("commit-msg.synod-backup"), "{out}");
    assert_eq!(read(&hooks.join("commit-msg.synod-backup")), impostor);
    assert_ne!(read(&hook), impostor);
    // Uninstall removes synod's script only when it is exactly synod's; editing it makes it
    // the user's.
    let out = uninstall(&sb, &repo, "commit-msg");
    assert!(out.contains("restored"), "{out}");
    assert_eq!(read(&hook), impostor);
    assert!(backups(&hooks).is_empty());
    let out = uninstall(&sb, &repo, "commit-msg");
    assert!(out.contains("alone"), "{out}");
    assert_eq!(read(&hook), impostor);
}

/// What synod 0.1 wrote for `commit-msg` with the binary at `/old/place/synod`.
const V1_COMMIT_MSG: &str = "#!/bin/sh\n# synod-managed hook: commit-msg\n# Written by `synod hooks install`; `synod hooks uninstall` removes it and restores any\n# hook it replaced (kept as commit-msg.local, run first with the same arguments).\nSYNOD='/old/place/synod'\n[ -x \"$SYNOD\" ] || SYNOD=synod\nif [ -x \"$0.local\" ]; then\n  \"$0.local\" \"$@\" || exit $?\nfi\nexec \"$SYNOD\" hook commit-msg \"$@\"\n";

#[test]
fn a_previous_versions_hook_is_replaced_without_backup() {
    let sb = Sandbox::new();
    let repo = sb.repo("r");
    let hooks = repo.join(".git/hooks");
    let hook = hooks.join("commit-msg");
    write_executable(&hook, V1_COMMIT_MSG.as_bytes());
    let out = install(&sb, &repo, "commit-msg");
    assert!(out.starts_with("updated "), "{out}");
    assert!(backups(&hooks).is_empty());
    assert!(!hooks.join("commit-msg.local").exists());
    assert_ne!(read(&hook), V1_COMMIT_MSG.as_bytes());
    // And an old script left installed is uninstalled as synod's.
    write_executable(&hook, V1_COMMIT_MSG.as_bytes());
    let out = uninstall(&sb, &repo, "commit-msg");
    assert!(out.starts_with("removed "), "{out}");
    assert!(!hook.exists());
}

#[test]
fn a_chained_pre_push_hook_gets_the_same_stdin() {
    let sb = Sandbox::new();
    sb.git(
        sb.path(),
        &["init", "-q", "--bare", "-b", "main", "remote.git"],
    );
    let repo = sb.repo("r");
    sb.git(&repo, &["remote", "add", "origin", "../remote.git"]);
    let hooks = repo.join(".git/hooks");
    write_executable(
        &hooks.join("pre-push"),
        b"#!/bin/sh\ncat >> \"$(git rev-parse --git-dir)/foreign-stdin.log\"\n",
    );
    let out = install(&sb, &repo, "pre-push");
    assert!(out.contains("pre-push.local"), "{out}");
    let bad = sb.commit(&repo, "a.txt", "oops", &["--no-verify"]);
    assert!(bad.status.success());
    let out = sb.git_output(&repo, &["push", "-q", "origin", "main"]);
    assert!(!out.status.success(), "pre-push let a bad commit through");
    assert!(stderr(&out).contains("type-empty"), "{}", stderr(&out));
    let log = std::fs::read_to_string(repo.join(".git/foreign-stdin.log")).expect("log");
    let head = sb.git(&repo, &["rev-parse", "HEAD"]);
    assert_eq!(
        log,
        format!(
            "refs/heads/main {head} refs/heads/main {}\n",
            "0".repeat(40)
        )
    );
}

#[test]
fn an_oversized_commit_message_is_refused_by_the_commit_msg_hook() {
    let sb = Sandbox::new();
    let repo = sb.repo("r");
    install(&sb, &repo, "commit-msg");
    std::fs::write(repo.join("a.txt"), "a\n").expect("write");
    sb.git(&repo, &["add", "a.txt"]);
    let mut message = String::from("feat: huge\n\n");
    while message.len() <= 1024 * 1024 {
        message.push_str(&"y".repeat(79));
        message.push('\n');
    }
    std::fs::write(repo.join("big-msg.txt"), &message).expect("write");
    let out = sb.git_output(&repo, &["commit", "-q", "-F", "big-msg.txt"]);
    assert!(!out.status.success(), "an oversized message was accepted");
    let err = stderr(&out);
    assert!(
        err.contains("COMMIT_EDITMSG is larger than the 1048576-byte input limit")
            && err.contains("max-input-bytes"),
        "{err}"
    );
    // Raised in the configuration, the same commit goes through.
    std::fs::create_dir_all(repo.join(".synod")).expect("mkdir");
    std::fs::write(
        repo.join(".synod/policy.json"),
        r#"{"max-input-bytes": 4194304}"#,
    )
    .expect("write");
    let out = sb.git_output(&repo, &["commit", "-q", "-F", "big-msg.txt"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
