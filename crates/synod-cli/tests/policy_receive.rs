//! The pre-receive hook in a real bare repository, exercised by real `git push`.

mod policy_common;

use std::path::PathBuf;

use policy_common::{Sandbox, stderr};

struct Server {
    sb: Sandbox,
    bare: PathBuf,
    work: PathBuf,
}

fn server(config: Option<&str>) -> Server {
    let sb = Sandbox::new();
    let bare = sb.path().join("server.git");
    sb.git(
        sb.path(),
        &["init", "-q", "--bare", "-b", "main", "server.git"],
    );
    let out = sb
        .synod(&bare)
        .args(["hooks", "install", "--hook", "pre-receive"])
        .output()
        .expect("synod runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(bare.join("hooks/pre-receive").exists());
    if let Some(config) = config {
        std::fs::create_dir_all(bare.join(".synod")).expect("mkdir");
        std::fs::write(bare.join(".synod/policy.json"), config).expect("write config");
    }
    sb.git(sb.path(), &["clone", "-q", "server.git", "work"]);
    let work = sb.path().join("work");
    sb.identity(&work);
    sb.git(&work, &["checkout", "-q", "-b", "main"]);
    Server { sb, bare, work }
}

impl Server {
    fn commit(&self, message: &str) -> String {
        let out = self.sb.commit(&self.work, "f.txt", message, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        self.sb.git(&self.work, &["rev-parse", "HEAD"])
    }

    fn push(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["push", "-q", "origin"];
        all.extend_from_slice(args);
        self.sb.git_output(&self.work, &all)
    }

    fn remote_ref(&self, name: &str) -> Option<String> {
        let out = self
            .sb
            .git_output(&self.bare, &["rev-parse", "--verify", "--quiet", name]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    fn git(&self, args: &[&str]) -> String {
        self.sb.git(&self.work, args)
    }
}

#[test]
fn accepts_good_pushes_and_rejects_bad_commits_with_details() {
    let s = server(None);
    let good = s.commit("feat: first");
    let out = s.push(&["main"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        s.remote_ref("refs/heads/main").as_deref(),
        Some(good.as_str())
    );

    // An update with one good and two bad commits: both bad ones are listed.
    s.commit("fix: fine");
    let bad1 = s.commit("Bad one.");
    let bad2 = s.commit("feat: Also Bad");
    let out = s.push(&["main"]);
    assert!(!out.status.success(), "bad push accepted");
    let err = stderr(&out);
    assert!(
        err.contains(&bad1[..12]) && err.contains(&bad2[..12]),
        "{err}"
    );
    assert!(
        err.contains("type-empty") && err.contains("subject-case"),
        "{err}"
    );
    assert!(
        err.contains("push rejected: 2 offending commit(s)"),
        "{err}"
    );
    assert_eq!(
        s.remote_ref("refs/heads/main").as_deref(),
        Some(good.as_str())
    );
}

#[test]
fn new_branches_check_only_commits_no_ref_has() {
    let s = server(None);
    s.commit("feat: base");
    assert!(s.push(&["main"]).status.success());

    // A new branch at an existing commit brings no new commits: accepted.
    s.git(&["branch", "same", "main"]);
    let out = s.push(&["same"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // A new branch with a bad commit is rejected; the base commit is not re-checked.
    s.git(&["checkout", "-q", "-b", "topic"]);
    let bad = s.commit("wip");
    let out = s.push(&["topic"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&bad[..12]) && err.contains("1 offending commit(s)"),
        "{err}"
    );
    assert!(s.remote_ref("refs/heads/topic").is_none());

    // The same bad commit pushed on two refs at once is checked and listed once.
    s.git(&["branch", "topic2", "topic"]);
    let out = s.push(&["topic", "topic2"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.matches(&bad[..12]).count(), 1, "{err}");
    assert!(err.contains("refs/heads/topic, refs/heads/topic2"), "{err}");
}

#[test]
fn deletion_is_refused_by_default_and_allowed_by_config() {
    let s = server(None);
    s.commit("feat: base");
    assert!(s.push(&["main", "main:refs/heads/gone"]).status.success());
    let out = s.push(&[":refs/heads/gone"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("refs/heads/gone refused"),
        "{}",
        stderr(&out)
    );
    assert!(s.remote_ref("refs/heads/gone").is_some());

    let s = server(Some(r#"{"push": {"allow-deletion": true}}"#));
    s.commit("feat: base");
    assert!(s.push(&["main", "main:refs/heads/gone"]).status.success());
    let out = s.push(&[":refs/heads/gone"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(s.remote_ref("refs/heads/gone").is_none());
}

#[test]
fn annotated_tags_are_peeled_and_unprotected_refs_pass() {
    let s = server(Some(
        r#"{"push": {"protected": ["refs/heads/main", "refs/tags/v*"]}}"#,
    ));
    s.commit("feat: base");
    assert!(s.push(&["main"]).status.success());

    // A tag on a commit the server has: nothing new, accepted.
    s.git(&["tag", "-a", "v1.0.0", "-m", "Release 1.0.0"]);
    let out = s.push(&["v1.0.0"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // An annotated tag on a new, badly worded commit that no branch carries: rejected.
    s.git(&["checkout", "-q", "--detach"]);
    let bad = s.commit("Hotfix Without Type");
    s.git(&["tag", "-a", "v1.0.1", "-m", "Release 1.0.1"]);
    let out = s.push(&["v1.0.1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&bad[..12]), "{}", stderr(&out));
    assert!(s.remote_ref("refs/tags/v1.0.1").is_none());

    // Unprotected refs are not checked.
    let out = s.push(&["HEAD:refs/heads/scratch"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn the_input_limit_bounds_pushed_commits_and_ref_lines() {
    let s = server(Some(r#"{"max-input-bytes": 1024}"#));
    // Many small commits whose total is far above the limit: each is under it, so all are
    // read (in groups of at most 1024 bytes) and checked, the bad one among them found.
    for i in 0..12 {
        s.commit(&format!(
            "feat: small change number {i}\n\n{}",
            "b".repeat(60)
        ));
    }
    let bad = s.commit("Not conventional");
    for i in 12..20 {
        s.commit(&format!("fix: another change {i}"));
    }
    let out = s.push(&["main"]);
    assert!(!out.status.success(), "bad push accepted");
    let err = stderr(&out);
    assert!(
        err.contains(&bad[..12]) && err.contains("1 offending commit(s)"),
        "{err}"
    );
    s.git(&["reset", "-q", "--hard", &format!("{bad}~1")]);
    let out = s.push(&["main"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // A commit object bigger than the limit refuses the push, naming the commit and limit.
    let mut body = String::new();
    while body.len() < 2048 {
        body.push_str(&"z".repeat(70));
        body.push('\n');
    }
    let big = s.commit(&format!("feat: big\n\n{body}"));
    let out = s.push(&["main"]);
    assert!(!out.status.success(), "oversized commit accepted");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "commit {big} is larger than the 1024-byte input limit"
        )) && err.contains("max-input-bytes"),
        "{err}"
    );
    s.git(&["reset", "-q", "--hard", "HEAD~1"]);

    // More ref lines on stdin than the limit allows (about 100 bytes each).
    let mut refspecs = Vec::new();
    for i in 0..15 {
        s.git(&["tag", &format!("t{i}")]);
        refspecs.push(format!("refs/tags/t{i}"));
    }
    let refs: Vec<&str> = refspecs.iter().map(String::as_str).collect();
    let out = s.push(&refs);
    assert!(!out.status.success(), "oversized ref list accepted");
    let err = stderr(&out);
    assert!(
        err.contains("stdin is larger than the 1024-byte input limit"),
        "{err}"
    );
    assert!(s.remote_ref("refs/tags/t0").is_none());
}
