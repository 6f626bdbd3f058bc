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

    // A root that is mistyped, or a file, is an error: nothing was checked.
    for (arg, what) in [
        ("projj", "projj does not exist"),
        (
            "proj/docs/SPEC-0001/spec.md",
            "proj/docs/SPEC-0001/spec.md is not a folder",
        ),
    ] {
        let out = sb
            .synod(sb.path())
            .args(["policy", "check-docs", arg])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "error: {what}; give the project's root folder, where .synod/policy.json is (the doc rules' folders are relative to it)\n"
            )
        );
        assert!(out.stdout.is_empty());
    }
}

/// A valid Conventional Commits message of exactly `len` bytes (`len` >= 20): a header, a
/// blank line and body lines of at most 100 bytes.
fn message_of(len: usize) -> String {
    let mut text = String::from("feat: big message\n\n");
    while text.len() < len {
        let line = (len - text.len()).min(100);
        text.push_str(&"x".repeat(line - 1));
        text.push('\n');
    }
    assert_eq!(text.len(), len);
    text
}

const MIB: usize = 1024 * 1024;

fn size_error(out: &std::process::Output, name: &str, limit: u64) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with(&format!(
            "error: {name} is larger than the {limit}-byte input limit; raise it with `--max-bytes N`"
        )),
        "{err}"
    );
}

#[test]
fn check_msg_reads_at_most_the_limit() {
    let sb = Sandbox::new();
    let dir = sb.path();

    // /dev/zero never ends: the size error comes at once, and under a 1 GiB address-space
    // limit (an unbounded read would hit it within seconds and abort instead).
    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "/dev/zero"])
        .output()
        .expect("runs");
    size_error(&out, "/dev/zero", 1_048_576);
    let bin = assert_cmd::cargo::cargo_bin("synod");
    let mut limited = std::process::Command::new("sh");
    limited
        .args([
            "-c",
            "ulimit -v 1048576 && exec \"$0\" policy check-msg /dev/zero",
        ])
        .arg(&bin)
        .current_dir(dir)
        .env("HOME", sb.home())
        .env("GIT_CONFIG_NOSYSTEM", "1");
    size_error(&limited.output().expect("runs"), "/dev/zero", 1_048_576);

    // Exactly the default limit passes; one byte more fails.
    std::fs::write(dir.join("mib.txt"), message_of(MIB)).expect("write");
    std::fs::write(dir.join("mib1.txt"), message_of(MIB + 1)).expect("write");
    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "mib.txt"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "mib1.txt"])
        .output()
        .expect("runs");
    size_error(&out, "mib1.txt", 1_048_576);
    // --max-bytes raises it (and lowers it).
    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "--max-bytes", "1048577", "mib1.txt"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(dir.join("small.txt"), message_of(40)).expect("write");
    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "--max-bytes", "39", "small.txt"])
        .output()
        .expect("runs");
    size_error(&out, "small.txt", 39);

    // stdin too.
    let mut child = sb
        .synod(dir)
        .args(["policy", "check-msg", "--max-bytes", "39", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    // The child stops reading at 40 bytes and exits: a broken pipe here is expected.
    let _ = stdin.write_all(message_of(4096).as_bytes());
    drop(stdin);
    size_error(&child.wait_with_output().expect("wait"), "stdin", 39);

    // 0 is not a limit.
    let out = sb
        .synod(dir)
        .args(["policy", "check-msg", "--max-bytes", "0", "small.txt"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--max-bytes"), "{}", stderr(&out));
}

#[test]
fn configured_limit_is_honoured_and_the_flag_overrides_it() {
    let sb = Sandbox::new();
    let dir = sb.path();
    std::fs::create_dir_all(dir.join(".synod")).expect("mkdir");
    std::fs::write(dir.join(".synod/policy.json"), r#"{"max-input-bytes": 64}"#).expect("write");
    std::fs::write(dir.join("64.txt"), message_of(64)).expect("write");
    std::fs::write(dir.join("65.txt"), message_of(65)).expect("write");
    let run = |args: &[&str]| sb.synod(dir).args(args).output().expect("runs");
    let out = run(&["policy", "check-msg", "64.txt"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    size_error(&run(&["policy", "check-msg", "65.txt"]), "65.txt", 64);
    // The hook entry point git calls reads the same key.
    size_error(&run(&["hook", "commit-msg", "65.txt"]), "65.txt", 64);
    let out = run(&["policy", "check-msg", "--max-bytes", "65", "65.txt"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Documents are bounded by the same key.
    std::fs::write(
        dir.join(".synod/policy.json"),
        r#"{"max-input-bytes": 64, "docs": [{"folders": "", "files": [{"name": "README.md"}]}]}"#,
    )
    .expect("write");
    std::fs::write(
        dir.join("README.md"),
        format!("# Title\n{}\n", "x".repeat(100)),
    )
    .expect("write");
    size_error(&run(&["policy", "check-docs"]), "./README.md", 64);
    let out = run(&["policy", "check-docs", "--max-bytes", "200"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A zero limit in the configuration is refused by name.
    std::fs::write(dir.join(".synod/policy.json"), r#"{"max-input-bytes": 0}"#).expect("write");
    let out = run(&["policy", "check-msg", "64.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("max-input-bytes must be at least 1"),
        "{}",
        stderr(&out)
    );

    // The configuration file itself is read with a fixed bound.
    let out = run(&["policy", "check-msg", "--config", "/dev/zero", "64.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/dev/zero is larger than the 1048576-byte input limit"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_msg_strips_the_comment_lines_gits_comment_char_marks() {
    let sb = Sandbox::new();
    let repo = sb.repo("r");
    let check = |message: &str| {
        std::fs::write(repo.join("msg.txt"), message).expect("write");
        sb.synod(&repo)
            .args(["policy", "check-msg", "msg.txt"])
            .output()
            .expect("runs")
    };
    sb.git(&repo, &["config", "core.commentChar", ";"]);
    let out = check("; Please enter the commit message.\nfeat: add x\n");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // `#` is an ordinary character then.
    let out = check("# not a comment\nfeat: add x\n");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    // `auto` (git picks one that the message does not use) is read as `#`.
    sb.git(&repo, &["config", "core.commentChar", "auto"]);
    let out = check("# Please enter the commit message.\nfeat: add x\n");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn synod_policy_config_names_the_policy_file_unless_it_is_empty() {
    let sb = Sandbox::new();
    let dir = sb.path();
    std::fs::write(
        dir.join("strict.json"),
        r#"{"commit": {"forbidden-words": ["AI"]}}"#,
    )
    .expect("write");
    std::fs::write(dir.join("m.txt"), "feat: add AI-generated tests\n").expect("write");
    let check = |config: &str| {
        sb.synod(dir)
            .args(["policy", "check-msg", "m.txt"])
            .env("SYNOD_POLICY_CONFIG", config)
            .output()
            .expect("runs")
    };
    let out = check(dir.join("strict.json").to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("m.txt:1:11: error[forbidden-words]"),
        "{}",
        stdout(&out)
    );
    // Empty is unset: the defaults (no .synod/policy.json here).
    let out = check("");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn check_docs_without_doc_rules_says_so_or_gives_an_empty_json_report() {
    let sb = Sandbox::new();
    let dir = sb.path();
    let out = sb
        .synod(dir)
        .args(["policy", "check-docs"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "no doc rules configured (add a \"docs\" section to .synod/policy.json)\n"
    );
    let out = sb
        .synod(dir)
        .args(["policy", "check-docs", "--json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(json["violations"], serde_json::json!([]), "{json}");
}
