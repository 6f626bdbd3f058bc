//! Shared helpers for the policy CLI tests: isolated git environments and the `synod` binary.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temp dir with its own HOME so no machine-wide git config leaks in.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home())
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("SYNOD_POLICY_CONFIG")
            .env("GIT_TERMINAL_PROMPT", "0");
    }

    /// Runs git in `dir` and returns its output, whatever the exit status.
    pub fn git_output(&self, dir: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new("git");
        cmd.args(args).current_dir(dir);
        self.env(&mut cmd);
        cmd.output().expect("git runs")
    }

    /// Runs git in `dir`, asserting success; returns trimmed stdout.
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_output(dir, args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `git init -b main NAME` with an identity, returning its path.
    pub fn repo(&self, name: &str) -> PathBuf {
        let path = self.path().join(name);
        self.git(self.path(), &["init", "-q", "-b", "main", name]);
        self.identity(&path);
        path
    }

    pub fn identity(&self, repo: &Path) {
        self.git(repo, &["config", "user.name", "Synod Test"]);
        self.git(repo, &["config", "user.email", "test@synod.invalid"]);
        self.git(repo, &["config", "commit.gpgsign", "false"]);
    }

    /// Writes `file` and commits it with `message`; returns git's output.
    pub fn commit(&self, repo: &Path, file: &str, message: &str, extra: &[&str]) -> Output {
        let path = repo.join(file);
        let previous = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, format!("{previous}{message}\n")).expect("write file");
        self.git(repo, &["add", file]);
        let mut args = vec!["commit", "-q", "-m", message];
        args.extend_from_slice(extra);
        self.git_output(repo, &args)
    }

    /// The `synod` binary with this sandbox's environment, run in `dir`.
    pub fn synod(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("synod"));
        cmd.current_dir(dir);
        self.env(&mut cmd);
        cmd
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}
