//! Installing and removing synod's git hooks.
//!
//! Hooks go into the folder git really uses: `git rev-parse --git-path hooks`, which honours
//! `core.hooksPath` and resolves linked worktrees to the common hooks folder. Each hook is a
//! small `/bin/sh` script that runs `synod hook <name> "$@"`:
//!
//! - **Finding the binary**: the script holds the absolute path of the executable that
//!   installed it ([`InstallOptions::synod`], the CLI passes `std::env::current_exe()`); if
//!   that file is no longer executable (moved, uninstalled) it falls back to `synod` on `PATH`.
//! - **Idempotent**: installing again rewrites synod's own hooks in place.
//! - **Never clobbers**: a hook synod did not write is renamed to `<name>.local` and the new
//!   script runs it first (same arguments, same stdin), stopping with its exit code if it fails.
//!   If `<name>.local` is taken too, install refuses with [`Error::HookConflict`].
//! - **Uninstall** removes synod's scripts and renames `<name>.local` back.
//!
//! ```
//! use synod_policy::hooks::{install_into, uninstall_from, HookAction, HookName, InstallOptions};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("commit-msg"), "#!/bin/sh\nexit 0\n").unwrap();
//! let opts = InstallOptions { synod: "/usr/local/bin/synod".into() };
//! let changes = install_into(dir.path(), &[HookName::CommitMsg], &opts).unwrap();
//! assert!(matches!(changes[0].action, HookAction::Chained { .. }));
//! assert!(dir.path().join("commit-msg.local").exists());
//! let again = install_into(dir.path(), &[HookName::CommitMsg], &opts).unwrap();
//! assert_eq!(again[0].action, HookAction::Updated);
//! uninstall_from(dir.path(), &[HookName::CommitMsg]).unwrap();
//! assert_eq!(std::fs::read_to_string(dir.path().join("commit-msg")).unwrap(), "#!/bin/sh\nexit 0\n");
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::git::{git, text};
use crate::{Error, Result, io_err};

/// The marker that identifies a hook synod wrote.
pub const MARKER: &str = "# synod-managed hook";

/// A hook synod can install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookName {
    /// `commit-msg FILE`: checks the message.
    CommitMsg,
    /// `pre-commit`: runs the configured checks.
    PreCommit,
    /// `pre-push REMOTE URL` (stdin: refs): checks the pushed commits.
    PrePush,
    /// `pre-receive` (stdin: `old new ref`): the server-side check.
    PreReceive,
}

/// The hooks `synod hooks install` writes by default.
pub const DEFAULT_HOOKS: [HookName; 3] =
    [HookName::CommitMsg, HookName::PreCommit, HookName::PrePush];

impl HookName {
    /// Every hook name.
    pub const ALL: [HookName; 4] = [
        HookName::CommitMsg,
        HookName::PreCommit,
        HookName::PrePush,
        HookName::PreReceive,
    ];

    /// git's file name for the hook.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            HookName::CommitMsg => "commit-msg",
            HookName::PreCommit => "pre-commit",
            HookName::PrePush => "pre-push",
            HookName::PreReceive => "pre-receive",
        }
    }

    /// Whether git feeds the hook on stdin (so a chained hook needs a copy).
    #[must_use]
    pub fn reads_stdin(self) -> bool {
        matches!(self, HookName::PrePush | HookName::PreReceive)
    }
}

impl fmt::Display for HookName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HookName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| format!("unknown hook {s:?}; expected one of commit-msg, pre-commit, pre-push, pre-receive"))
    }
}

/// Where the installed scripts find `synod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    /// Absolute path of the `synod` binary written into the scripts.
    pub synod: PathBuf,
}

/// What install or uninstall did to one hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum HookAction {
    /// Written where there was no hook.
    Installed,
    /// synod's own hook rewritten.
    Updated,
    /// A foreign hook moved to `backup` and chained.
    Chained {
        /// Where the foreign hook now lives.
        backup: PathBuf,
    },
    /// synod's hook removed.
    Removed,
    /// synod's hook removed and the foreign hook moved back from `backup`.
    Restored {
        /// Where the foreign hook was kept.
        backup: PathBuf,
    },
    /// Left alone: the hook there is not synod's.
    NotOurs,
    /// Nothing to uninstall.
    Absent,
}

/// One hook's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookChange {
    /// Which hook.
    pub hook: HookName,
    /// Its path.
    pub path: PathBuf,
    /// What happened.
    pub action: HookAction,
}

impl fmt::Display for HookChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.action {
            HookAction::Installed => write!(f, "installed {path}"),
            HookAction::Updated => write!(f, "updated {path}"),
            HookAction::Chained { backup } => {
                write!(
                    f,
                    "installed {path} (existing hook kept as {} and run first)",
                    backup.display()
                )
            }
            HookAction::Removed => write!(f, "removed {path}"),
            HookAction::Restored { backup } => {
                write!(f, "removed {path}, restored it from {}", backup.display())
            }
            HookAction::NotOurs => write!(f, "left {path} alone (not written by synod)"),
            HookAction::Absent => write!(f, "no synod hook at {path}"),
        }
    }
}

/// The hooks folder git uses for the repository (or worktree) at `repo`.
///
/// # Errors
/// [`Error::Git`] when `repo` is not a git repository or git is missing.
pub async fn hooks_dir(repo: &Path) -> Result<PathBuf> {
    let out = git(repo, &["rev-parse", "--git-path", "hooks"]).await?;
    let rel = PathBuf::from(text(&out));
    Ok(if rel.is_absolute() {
        rel
    } else {
        repo.join(rel)
    })
}

/// Installs `hooks` for the repository at `repo`.
///
/// # Errors
/// [`Error::Git`] when the hooks folder cannot be found, [`Error::Io`] when a file cannot be
/// written, [`Error::HookConflict`] when a foreign hook and its backup both exist.
pub async fn install(
    repo: &Path,
    hooks: &[HookName],
    options: &InstallOptions,
) -> Result<Vec<HookChange>> {
    let dir = hooks_dir(repo).await?;
    install_into(&dir, hooks, options)
}

/// Uninstalls `hooks` from the repository at `repo`.
///
/// # Errors
/// As [`install`].
pub async fn uninstall(repo: &Path, hooks: &[HookName]) -> Result<Vec<HookChange>> {
    let dir = hooks_dir(repo).await?;
    uninstall_from(&dir, hooks)
}

fn is_ours(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(MARKER))
}

fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

fn backup_path(dir: &Path, hook: HookName) -> PathBuf {
    dir.join(format!("{}.local", hook.as_str()))
}

/// Installs `hooks` into the hooks folder `dir` (created if missing).
///
/// # Errors
/// As [`install`].
pub fn install_into(
    dir: &Path,
    hooks: &[HookName],
    options: &InstallOptions,
) -> Result<Vec<HookChange>> {
    std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let mut changes = Vec::new();
    for &hook in hooks {
        let path = dir.join(hook.as_str());
        let backup = backup_path(dir, hook);
        let action = if !exists(&path) {
            HookAction::Installed
        } else if is_ours(&path) {
            HookAction::Updated
        } else if exists(&backup) {
            return Err(Error::HookConflict { hook: path, backup });
        } else {
            std::fs::rename(&path, &backup).map_err(io_err("rename", &path))?;
            HookAction::Chained {
                backup: backup.clone(),
            }
        };
        write_script(&path, &script(hook, &options.synod))?;
        tracing::info!(hook = %hook, path = %path.display(), ?action, "hook installed");
        changes.push(HookChange { hook, path, action });
    }
    Ok(changes)
}

/// Removes synod's `hooks` from the hooks folder `dir`, restoring chained hooks.
///
/// # Errors
/// [`Error::Io`] when a file cannot be removed or renamed.
pub fn uninstall_from(dir: &Path, hooks: &[HookName]) -> Result<Vec<HookChange>> {
    let mut changes = Vec::new();
    for &hook in hooks {
        let path = dir.join(hook.as_str());
        let backup = backup_path(dir, hook);
        let action = if !exists(&path) {
            HookAction::Absent
        } else if !is_ours(&path) {
            HookAction::NotOurs
        } else {
            std::fs::remove_file(&path).map_err(io_err("remove", &path))?;
            if exists(&backup) {
                std::fs::rename(&backup, &path).map_err(io_err("rename", &backup))?;
                HookAction::Restored { backup }
            } else {
                HookAction::Removed
            }
        };
        changes.push(HookChange { hook, path, action });
    }
    Ok(changes)
}

fn write_script(path: &Path, content: &str) -> Result<()> {
    let tmp = path.with_extension("synod-tmp");
    std::fs::write(&tmp, content).map_err(io_err("write", &tmp))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
            .map_err(io_err("chmod", &tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_err("rename", &tmp))
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The script text for `hook`, calling the binary at `synod` (falling back to `synod` on
/// `PATH`).
#[must_use]
pub fn script(hook: HookName, synod: &Path) -> String {
    let name = hook.as_str();
    let bin = sh_quote(&synod.to_string_lossy());
    let mut s = format!(
        "#!/bin/sh\n{MARKER}: {name}\n\
         # Written by `synod hooks install`; `synod hooks uninstall` removes it and restores any\n\
         # hook it replaced (kept as {name}.local, run first with the same arguments).\n\
         SYNOD={bin}\n\
         [ -x \"$SYNOD\" ] || SYNOD=synod\n"
    );
    if hook.reads_stdin() {
        s.push_str(&format!(
            "input=$(cat; echo x)\ninput=${{input%x}}\n\
             if [ -x \"$0.local\" ]; then\n  printf '%s' \"$input\" | \"$0.local\" \"$@\" || exit $?\nfi\n\
             printf '%s' \"$input\" | \"$SYNOD\" hook {name} \"$@\"\n"
        ));
    } else {
        s.push_str(&format!(
            "if [ -x \"$0.local\" ]; then\n  \"$0.local\" \"$@\" || exit $?\nfi\n\
             exec \"$SYNOD\" hook {name} \"$@\"\n"
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for h in HookName::ALL {
            assert_eq!(h.as_str().parse::<HookName>(), Ok(h));
        }
        assert!("post-commit".parse::<HookName>().is_err());
    }

    #[test]
    fn conflict_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("pre-push"), "#!/bin/sh\n").expect("write");
        std::fs::write(dir.path().join("pre-push.local"), "#!/bin/sh\n").expect("write");
        let opts = InstallOptions {
            synod: "/bin/synod".into(),
        };
        let err = install_into(dir.path(), &[HookName::PrePush], &opts).expect_err("conflict");
        assert!(matches!(err, Error::HookConflict { .. }), "{err}");
        assert_eq!(
            uninstall_from(dir.path(), &[HookName::PrePush]).expect("ok")[0].action,
            HookAction::NotOurs
        );
        assert_eq!(
            uninstall_from(dir.path(), &[HookName::CommitMsg]).expect("ok")[0].action,
            HookAction::Absent
        );
    }

    #[test]
    fn script_quotes_the_path() {
        let s = script(HookName::CommitMsg, Path::new("/opt/it's here/synod"));
        assert!(s.contains("SYNOD='/opt/it'\\''s here/synod'"), "{s}");
        assert!(s.contains("exec \"$SYNOD\" hook commit-msg \"$@\""));
        assert!(script(HookName::PreReceive, Path::new("/x")).contains("input=$(cat; echo x)"));
    }
}
