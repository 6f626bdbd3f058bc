//! Reading `.synod/policy.json` from real files: what is read, what is refused, and what the
//! error says.

use std::fs;

use synod_policy::config::{DEFAULT_PATH, MAX_CONFIG_BYTES};
use synod_policy::{Error, PolicyConfig};

#[test]
fn a_repository_without_a_policy_file_gets_the_defaults() {
    let root = tempfile::tempdir().unwrap();
    let config = PolicyConfig::load(root.path()).unwrap();
    assert_eq!(config, PolicyConfig::default());
    assert_eq!(config.max_input_bytes, 1024 * 1024);
    assert_eq!(config.push.protected, ["refs/heads/**", "refs/tags/**"]);
    assert!(!config.push.allow_deletion);
    assert_eq!(config.checks.budget_secs, 300);
}

#[test]
fn the_policy_file_in_the_repository_is_read() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join(DEFAULT_PATH);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        &path,
        r#"{"max-input-bytes": 4096, "push": {"protected": ["refs/heads/main"], "allow-deletion": true}}"#,
    )
    .unwrap();
    let config = PolicyConfig::load(root.path()).unwrap();
    assert_eq!(config.max_input_bytes, 4096);
    assert_eq!(config.push.protected, ["refs/heads/main"]);
    assert!(config.push.allow_deletion);
    assert_eq!(PolicyConfig::from_file(&path).unwrap(), config);
}

#[test]
fn a_broken_policy_file_in_the_repository_is_an_error_naming_it() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join(DEFAULT_PATH);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, r#"{"push": {"protectd": []}}"#).unwrap();
    let err = PolicyConfig::load(root.path()).unwrap_err();
    assert!(
        matches!(&err, Error::Config { source_name, message }
            if *source_name == path.display().to_string() && message.contains("protectd")),
        "{err}"
    );
}

#[test]
fn max_input_bytes_must_be_at_least_one() {
    let err = PolicyConfig::from_json(r#"{"max-input-bytes": 0}"#, "inline").unwrap_err();
    assert!(
        err.to_string()
            .contains("in inline: max-input-bytes must be at least 1"),
        "{err}"
    );
    let one = PolicyConfig::from_json(r#"{"max-input-bytes": 1}"#, "inline").unwrap();
    assert_eq!(one.max_input_bytes, 1);
}

#[test]
fn a_large_but_legitimate_policy_file_is_read_and_one_over_a_mebibyte_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    // 200 checks: about 20 KB, far below the bound and far above a kilobyte.
    let checks: Vec<String> = (0..200)
        .map(|i| {
            format!(r#"{{"name": "check-{i:03}", "command": "true", "args": ["--flag-{i}"]}}"#)
        })
        .collect();
    let text = format!(r#"{{"checks": {{"checks": [{}]}}}}"#, checks.join(", "));
    assert!(text.len() > 10_000);
    fs::write(&path, &text).unwrap();
    assert_eq!(
        PolicyConfig::from_file(&path).unwrap().checks.checks.len(),
        200
    );

    // Exactly the bound is read (padded with whitespace); one byte more is refused.
    assert_eq!(MAX_CONFIG_BYTES, 1024 * 1024);
    let mut padded = String::from("{}");
    padded.push_str(&" ".repeat(MAX_CONFIG_BYTES as usize - padded.len()));
    fs::write(&path, &padded).unwrap();
    assert_eq!(
        PolicyConfig::from_file(&path).unwrap(),
        PolicyConfig::default()
    );
    padded.push(' ');
    fs::write(&path, &padded).unwrap();
    let err = PolicyConfig::from_file(&path).unwrap_err();
    assert!(
        matches!(&err, Error::TooLarge { limit, advice, .. }
            if *limit == MAX_CONFIG_BYTES && advice.contains("--config")),
        "{err}"
    );
}

#[test]
fn a_policy_file_that_is_not_utf8_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    fs::write(&path, b"{\"push\": \xff}").unwrap();
    let err = PolicyConfig::from_file(&path).unwrap_err();
    assert!(
        err.to_string().contains("invalid byte at offset 9"),
        "{err}"
    );
    let err = PolicyConfig::from_file(&dir.path().join("missing.json")).unwrap_err();
    assert!(matches!(err, Error::Io { action: "open", .. }), "{err}");
}
