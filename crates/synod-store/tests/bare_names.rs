//! A bare file name (`synod.db`) is a store in the current directory, guarded like any other
//! directory: this test binary runs itself as a child in the directory each test prepares.
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use synod_store::{Error, Options, Store};

const CHILD: &str = "SYNOD_STORE_BARE_NAME_CHILD";

/// In the child (the variable set): opens `synod.db` in its current directory and prints
/// the outcome.
#[test]
fn child_opens_a_bare_name() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    match Store::open("synod.db", Options::default()) {
        Ok(store) => println!("\noutcome: opened {}", store.path().display()),
        Err(Error::ReadOnly { detail, .. }) => println!("\noutcome: read-only: {detail}"),
        Err(err) => println!("\noutcome: error {err:?}"),
    }
}

/// Runs [`child_opens_a_bare_name`] in `dir` and returns its outcome line.
fn open_in(dir: &Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_opens_a_bare_name",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("outcome: "))
        .unwrap_or_else(|| panic!("no outcome in: {stdout}"))
        .to_owned()
}

#[test]
fn a_bare_name_is_created_in_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(open_in(dir.path()), "opened synod.db");
    assert!(dir.path().join("synod.db").is_file());
}

// Without a write bit the directory is read-only for everyone, root included, who could
// otherwise create the store there.
#[test]
fn a_bare_name_in_a_read_only_current_directory_is_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
    let outcome = open_in(dir.path());
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        outcome,
        "read-only: its directory . has no write permission (mode 0555)"
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}
