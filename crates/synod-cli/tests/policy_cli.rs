//! `synod policy check-msg` and `synod policy check-docs`: exit codes, human and JSON output.

mod policy_common;

use std::io::Write as _;
use std::process::Stdio;

use policy_common::{Sandbox, stderr, stdout};

#[test]
fn check_msg_exit_codes_and_outputs() {
    let sb = Sandbox::new();
    let dir = sb.path();
    std::fs::write(dir.join("good.txt"), "feat(cli): add check-msg\n").expect("write");
    std::fs::write(
        dir.join("warn.txt"),
        "feat: x\nbody right after the header\n",
    )
    .expect("write");
    std::fs::write(dir.join("bad.txt"), "# comment\nFeat: Add it.\n").expect("write");

    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "good.txt"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("0 error(s), 0 warning(s)"));

    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "warn.txt"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("warn.txt:2:1: warning[body-leading-blank]"),
        "{}",
        stdout(&out)
    );

    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "bad.txt"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("bad.txt:2:1: error[type-enum]"), "{text}");
    assert!(text.contains("hint: did you mean `feat`?"), "{text}");
    assert!(text.contains("bad.txt:2:7: error[subject-case]"), "{text}");

    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "--json", "bad.txt"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let rules: Vec<&str> = json["violations"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v["rule"].as_str())
        .collect();
    assert_eq!(
        rules,
        [
            "type-enum",
            "type-case",
            "subject-case",
            "subject-full-stop"
        ]
    );
    assert_eq!(json["violations"][0]["line"], 2);

    // stdin
    let mut child = sb
        .synod(dir)
        .args(["policy", "check-msg", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"nope\n")
        .expect("write stdin");
    assert_eq!(
        child.wait_with_output().expect("wait").status.code(),
        Some(1)
    );

    // usage errors: missing file, unknown flag, bad config
    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "missing.txt"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.txt"), "{}", stderr(&out));
    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "--nope", "good.txt"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(
        dir.join("bad-config.json"),
        r#"{"commit": {"severity": {"no-such-rule": "error"}}}"#,
    )
    .expect("write");
    let out = sb
        .synod(dir)
        .args([
            "policy",
            "check-msg",
            "--config",
            "bad-config.json",
            "good.txt",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no-such-rule"), "{}", stderr(&out));
}

#[test]
fn forbidden_words_from_config() {
    let sb = Sandbox::new();
    let dir = sb.path();
    std::fs::create_dir_all(dir.join(".synod")).expect("mkdir");
    std::fs::write(
        dir.join(".synod/policy.json"),
        r#"{"commit": {"forbidden-words": ["AI"]}}"#,
    )
    .expect("write");
    std::fs::write(dir.join("m1.txt"), "feat: add AI-generated tests\n").expect("write");
    std::fs::write(dir.join("m2.txt"), "fix: email said maintain\n").expect("write");
    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "m1.txt"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("m1.txt:1:11: error[forbidden-words]"),
        "{}",
        stdout(&out)
    );
    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "m2.txt"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn check_docs_reports_missing_structure() {
    let sb = Sandbox::new();
    let root = sb.path().join("proj");
    std::fs::create_dir_all(root.join("docs/SPEC-0001")).expect("mkdir");
    std::fs::create_dir_all(root.join("docs/SPEC-0002")).expect("mkdir");
    std::fs::create_dir_all(root.join(".synod")).expect("mkdir");
    std::fs::write(
        root.join(".synod/policy.json"),
        r###"{"docs": [{"folders": "docs/SPEC-*", "files": [{"name": "spec.md", "first-heading": "# Spec", "headings": ["## Context", "## Objectives"]}]}]}"###,
    )
    .expect("write");
    std::fs::write(
        root.join("docs/SPEC-0001/spec.md"),
        "# Spec\n\n## Context\n\n## Objectives\n",
    )
    .expect("write");
    let out = sb
        .synod(sb.path())
        .args(["policy", "check-docs", "proj"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("docs/SPEC-0002/spec.md:1:1: error[doc-required-file]"),
        "{text}"
    );
    assert!(!text.contains("SPEC-0001"), "{text}");

    std::fs::write(
        root.join("docs/SPEC-0002/spec.md"),
        "# Notes\n\n## Context\n",
    )
    .expect("write");
    let out = sb
        .synod(&root)
        .args(["policy", "check-docs", "--json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rules: Vec<&str> = json["violations"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v["rule"].as_str())
        .collect();
    assert_eq!(rules, ["doc-first-heading", "doc-heading"]);

    std::fs::write(
        root.join("docs/SPEC-0002/spec.md"),
        "# Spec\n## Context\n## Objectives\n",
    )
    .expect("write");
    let out = sb
        .synod(&root)
        .args(["policy", "check-docs"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}
