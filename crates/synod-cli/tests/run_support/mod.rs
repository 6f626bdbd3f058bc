//! Shared helpers for the `synod run` integration tests: a temporary project with a
//! `synod.toml`, agent scripts and its own store.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// A temporary directory holding `synod.toml`, agent scripts and `.synod/synod.db`.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// A project whose `synod.toml` is `config`.
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("synod.toml"), config).expect("write config");
        Self { dir }
    }

    /// A project running the repository's demo config (with its agents and prompts).
    pub fn demo() -> (Self, PathBuf) {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo/synod.toml");
        let project = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        (project, demo.canonicalize().expect("demo config exists"))
    }

    /// Writes an executable sh script `name` into the project.
    pub fn script(&self, name: &str, body: &str) -> &Self {
        let path = self.dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join(".synod/synod.db")
    }

    /// `synod ARGS` run in the project directory.
    pub fn synod(&self, args: &[&str]) -> Output {
        Command::cargo_bin("synod")
            .expect("synod binary")
            .current_dir(self.path())
            .env_remove("RUST_LOG")
            .args(args)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .expect("run synod")
    }

    /// `synod run --json` for a stage; returns the exit code and the parsed report.
    pub fn run_json(&self, extra: &[&str]) -> (i32, Value, String) {
        let mut args = vec!["run", "--json"];
        args.extend_from_slice(extra);
        let out = self.synod(&args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not a JSON report ({e}):\n{}\nstderr:\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (out.status.code().unwrap_or(-1), report, stderr)
    }

    /// `synod show RUN --json`: the stored run and its outputs.
    pub fn show(&self, run_id: i64) -> Value {
        let out = self.synod(&["show", &run_id.to_string(), "--json"]);
        assert!(
            out.status.success(),
            "show failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("show --json")
    }
}

/// The agent called `name` in a report.
pub fn agent<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("no agent {name} in {report:#}"))
}

/// The stored outputs of `agent` in a `show --json` document.
pub fn outputs_of<'a>(shown: &'a Value, agent: &str) -> Vec<&'a Value> {
    shown["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .filter(|o| o["agent"] == agent)
        .collect()
}

/// A config with agents `(name, sh body, extra toml)` in one stage `s`. Defaults (timeout
/// 20 s, kill grace 200 ms; prompt "Work on {spec_id}.") apply unless the extra text sets them.
pub fn config(agents: &[(&str, &str, &str)], stage_extra: &str) -> String {
    let mut out = String::from("[breaker]\nminimum_calls = 50\nwindow_size = 50\n\n");
    for (name, body, extra) in agents {
        out.push_str(&format!(
            "[[agents]]\nname = \"{name}\"\ncommand = \"sh\"\nargs = [\"-c\", '''{body}''']\n"
        ));
        if !extra.contains("timeout =") {
            out.push_str("timeout = \"20s\"\n");
        }
        if !extra.contains("kill_grace =") {
            out.push_str("kill_grace = \"200ms\"\n");
        }
        out.push_str(&format!("{extra}\n\n"));
    }
    let names: Vec<String> = agents.iter().map(|(n, _, _)| format!("\"{n}\"")).collect();
    out.push_str(&format!(
        "[[stages]]\nname = \"s\"\nagents = [{}]\n",
        names.join(", ")
    ));
    if !stage_extra.contains("prompt =") && !stage_extra.contains("prompt_file =") {
        out.push_str("prompt = \"Work on {spec_id}.\"\n");
    }
    out.push_str(stage_extra);
    out.push('\n');
    out
}

/// Agent body that answers `json` (after reading its prompt).
pub fn answers(json: &str) -> String {
    format!("cat >/dev/null; echo 'Here is my answer.'; printf '%s\\n' '```json' '{json}' '```'")
}

/// A long-lived `synod` child (a worker, a waiting `submit`) that is killed and reaped if
/// the test fails before it ends, so a failed test leaves nothing polling a deleted store.
pub struct KillOnDrop(Option<std::process::Child>);

impl From<std::process::Child> for KillOnDrop {
    fn from(child: std::process::Child) -> Self {
        Self(Some(child))
    }
}

impl From<KillOnDrop> for std::process::Child {
    /// The child, no longer killed on drop (`finished` waits for it).
    fn from(mut guard: KillOnDrop) -> Self {
        guard.0.take().expect("the child is still held")
    }
}

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("the child is still held")
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0.as_mut().expect("the child is still held")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for `child` (a `synod` process with piped output), failing after `limit`; a child
/// still running then is killed.
pub fn finished(child: impl Into<std::process::Child>, limit: std::time::Duration) -> Output {
    let child = child.into();
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| {
            // Not reaped yet (its waiter has not returned), so the id is still this child's.
            #[cfg(unix)]
            if let Ok(pid) = i32::try_from(id) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            panic!("synod process {id} did not exit within {limit:?}")
        })
        .unwrap()
}

/// Process output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Polls `check` until it holds, failing after `limit`.
pub fn wait_until(limit: std::time::Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
