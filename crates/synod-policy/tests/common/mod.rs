//! What the policy tests share: running git in a test repository, isolated from the user's
//! and the system's git configuration.

use std::path::Path;
use std::process::Command;

/// Runs `git ARGS` in `dir` with `home` as its HOME (no system or user config); panics with
/// git's stderr when it fails. Returns its trimmed standard output.
pub(crate) fn git_in(dir: &Path, home: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
