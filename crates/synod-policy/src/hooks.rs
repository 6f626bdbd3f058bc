//! Installing and removing synod's git hooks.
//!
//! Hooks go into the folder git really uses: `git rev-parse --git-path hooks`, which honours
//! `core.hooksPath` and resolves linked worktrees to the common hooks folder. Each hook is a
//! small `/bin/sh` script that runs `synod hook <name> "$@"`:
//!
//! - **Finding the binary**: the script holds the absolute path of the executable that
//!   installed it ([`InstallOptions::synod`], the CLI passes `std::env::current_exe()`); if
//!   that file is no longer executable (moved, uninstalled) it falls back to `synod` on `PATH`.
//! - **Recognised by exact content**: a hook is synod's only when it is byte for byte a script
//!   some synod version writes ([`script`] today, [`script_v1`] before), for whatever binary
//!   path it names. Containing [`MARKER`] is not enough: an edited copy is the user's.
//! - **Idempotent**: installing again over synod's own script (this or a previous version)
//!   rewrites it in place and keeps no backup.
//! - **Never clobbers**: any other hook is kept, byte for byte (it is moved, never copied):
//!   - a foreign hook (no [`MARKER`]) goes to `<name>.local`, which the new script runs first
//!     (same arguments, same stdin), stopping with its exit code if it fails
//!     ([`HookAction::Chained`]);
//!   - an edited copy of synod's script, or any hook when `<name>.local` is taken already,
//!     goes to a new `<name>.synod-backup` (then `.synod-backup.1`, `.2`, ...: one past the
//!     highest existing, so no earlier backup is ever overwritten) and is not run; the report
//!     says so and how to keep it running ([`HookAction::BackedUp`]).
//! - **Uninstall** removes a script only when it is exactly synod's, then puts back what
//!   install displaced: the newest `<name>.synod-backup*` if there is one, else
//!   `<name>.local`. A hook edited since install is left alone ([`HookAction::NotOurs`]).
//! - **Windows**: Git for Windows runs a hook that starts with `#!` through its bundled MSYS
//!   `sh`, so the same script works there. It is written with LF line endings (bytes as they
//!   are; `core.autocrlf` never touches `.git/hooks`) and names the binary with `/`
//!   separators (`C:/Users/me/.cargo/bin/synod.exe`); no executable bit is needed or set.
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
//! assert_eq!(again[0].action, HookAction::Unchanged);
//! assert!(!dir.path().join("commit-msg.synod-backup").exists());
//! uninstall_from(dir.path(), &[HookName::CommitMsg]).unwrap();
//! assert_eq!(std::fs::read_to_string(dir.path().join("commit-msg")).unwrap(), "#!/bin/sh\nexit 0\n");
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::git::{git, text};
use crate::{Result, io_err};

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
    /// synod's own hook rewritten (another binary path, or a previous version's script).
    Updated,
    /// synod's hook was already there, byte for byte and runnable: nothing written.
    Unchanged,
    /// A foreign hook moved to `backup` and chained.
    Chained {
        /// Where the foreign hook now lives.
        backup: PathBuf,
    },
    /// A hook that was not exactly synod's moved to `backup`, not run (an edited copy of
    /// synod's script, or any hook when the `.local` chain slot was taken).
    BackedUp {
        /// Where the previous hook now lives.
        backup: PathBuf,
    },
    /// synod's hook removed.
    Removed,
    /// synod's hook removed and the hook it replaced moved back from `backup`.
    Restored {
        /// Where the foreign hook was kept.
        backup: PathBuf,
    },
    /// Left alone: the hook there is not exactly what synod wrote.
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
            HookAction::Unchanged => write!(f, "{path} is already synod's hook; left as it is"),
            HookAction::Chained { backup } => {
                write!(
                    f,
                    "installed {path} (existing hook kept as {} and run first)",
                    backup.display()
                )
            }
            HookAction::BackedUp { backup } => write!(
                f,
                "installed {path}; the hook there was not synod's (or was edited), so it was \
                 moved to {} and is NOT run: to run it first, move it to {path}.local",
                backup.display()
            ),
            HookAction::Removed => write!(f, "removed {path}"),
            HookAction::Restored { backup } => {
                write!(f, "removed {path}, restored it from {}", backup.display())
            }
            HookAction::NotOurs => write!(
                f,
                "left {path} alone (not what synod wrote, or edited since; remove it by hand)"
            ),
            HookAction::Absent => write!(f, "no synod hook at {path}"),
        }
    }
}

/// The hooks folder git uses for the repository (or worktree) at `repo`.
///
/// # Errors
/// [`Error::Git`](crate::Error::Git) when `repo` is not a git repository or git is missing.
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
/// [`Error::Git`](crate::Error::Git) when the hooks folder cannot be found, [`Error::Io`](crate::Error::Io) when a file cannot be
/// written or moved.
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

/// The largest hook file read to decide whether it is synod's: synod's scripts are well
/// under 1 KiB plus the binary's path.
const MAX_HOOK_READ: u64 = 64 * 1024;

/// The first bytes of a regular file (following symlinks), up to [`MAX_HOOK_READ`]; `None`
/// for anything else (a FIFO, a folder, unreadable). A file longer than that is never one of
/// synod's scripts, whatever its first bytes.
fn head(path: &Path) -> Option<Vec<u8>> {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_HOOK_READ), &mut buf).ok()?;
    Some(buf)
}

/// Undoes [`sh_quote`] on the value of the script's `SYNOD=` line.
fn sh_unquote(s: &str) -> Option<String> {
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("'\\''", "'"))
}

/// Whether `content` is byte for byte a script some synod version writes for `hook`.
#[must_use]
pub fn is_synod_script(hook: HookName, content: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(content) else {
        return false;
    };
    let Some(bin) = text
        .lines()
        .find_map(|l| l.strip_prefix("SYNOD="))
        .and_then(sh_unquote)
    else {
        return false;
    };
    let bin = Path::new(&bin);
    text == script(hook, bin) || text == script_v1(hook, bin)
}

fn is_ours(path: &Path, hook: HookName) -> bool {
    head(path).is_some_and(|bytes| is_synod_script(hook, &bytes))
}

/// Whether the hook at `path` is a regular file holding exactly `content`, and runnable (on
/// Unix: executable by its owner, as [`write_script`] leaves it).
fn is_current(path: &Path, content: &str) -> bool {
    let runnable = std::fs::symlink_metadata(path).is_ok_and(|m| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            m.is_file() && m.permissions().mode() & 0o100 != 0
        }
        #[cfg(not(unix))]
        {
            m.is_file()
        }
    });
    runnable && head(path).is_some_and(|bytes| bytes == content.as_bytes())
}

fn has_marker(path: &Path) -> bool {
    head(path).is_some_and(|bytes| String::from_utf8_lossy(&bytes).contains(MARKER))
}

fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

fn chain_path(dir: &Path, hook: HookName) -> PathBuf {
    dir.join(format!("{}.local", hook.as_str()))
}

/// `<name>.synod-backup` is index 0, `<name>.synod-backup.N` is index N.
fn backup_name(hook: HookName, index: u64) -> String {
    match index {
        0 => format!("{}.synod-backup", hook.as_str()),
        n => format!("{}.synod-backup.{n}", hook.as_str()),
    }
}

/// The highest-numbered existing backup of `hook` in `dir`.
fn newest_backup(dir: &Path, hook: HookName) -> Result<Option<(u64, PathBuf)>> {
    let prefix = backup_name(hook, 0);
    let mut newest: Option<(u64, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix.as_str())) else {
            continue;
        };
        let index = if rest.is_empty() {
            0
        } else {
            match rest.strip_prefix('.').map(str::parse::<u64>) {
                Some(Ok(n)) if n > 0 => n,
                _ => continue,
            }
        };
        if newest.as_ref().is_none_or(|(i, _)| index > *i) {
            newest = Some((index, entry.path()));
        }
    }
    Ok(newest)
}

/// Links `path` also as `to`, never replacing an existing `to`: `Ok(false)` when `to` exists.
/// The caller then replaces `path`, which leaves the original only at `to`, byte for byte.
fn link_aside(path: &Path, to: &Path) -> Result<bool> {
    link_aside_with(path, to, |from, to| std::fs::hard_link(from, to))
}

/// [`link_aside`] with the hard-link call given, so the copy fallback can be tested on file
/// systems that have hard links.
fn link_aside_with(
    path: &Path,
    to: &Path,
    hard_link: impl FnOnce(&Path, &Path) -> std::io::Result<()>,
) -> Result<bool> {
    if exists(to) {
        return Ok(false);
    }
    match hard_link(path, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        // No hard links on this file system: a copy keeps the bytes and the mode.
        Err(_) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            match options.open(to) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
                Err(e) => return Err(io_err("create", to)(e)),
            }
            std::fs::copy(path, to).map_err(io_err("copy", path))?;
            Ok(true)
        }
    }
}

/// Keeps the hook at `path` as a new `.synod-backup*`, one past the newest.
fn back_up(dir: &Path, hook: HookName, path: &Path) -> Result<PathBuf> {
    back_up_with(dir, hook, path, link_aside)
}

/// [`back_up`] with the way of setting the hook aside given, so a name taken by another
/// process between the listing and the link can be tested.
fn back_up_with(
    dir: &Path,
    hook: HookName,
    path: &Path,
    mut set_aside: impl FnMut(&Path, &Path) -> Result<bool>,
) -> Result<PathBuf> {
    let mut index = newest_backup(dir, hook)?.map_or(0, |(i, _)| i + 1);
    loop {
        let backup = dir.join(backup_name(hook, index));
        if set_aside(path, &backup)? {
            return Ok(backup);
        }
        // Taken meanwhile (another install): try the next number.
        index += 1;
    }
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
        let chain = chain_path(dir, hook);
        let content = script(hook, &options.synod);
        let (action, kept) = if !exists(&path) {
            (HookAction::Installed, None)
        } else if is_current(&path, &content) {
            tracing::debug!(hook = %hook, path = %path.display(), "hook already installed");
            changes.push(HookChange {
                hook,
                path,
                action: HookAction::Unchanged,
            });
            continue;
        } else if is_ours(&path, hook) {
            (HookAction::Updated, None)
        } else if !has_marker(&path) && link_aside(&path, &chain)? {
            (
                HookAction::Chained {
                    backup: chain.clone(),
                },
                Some(chain),
            )
        } else {
            let backup = back_up(dir, hook, &path)?;
            (
                HookAction::BackedUp {
                    backup: backup.clone(),
                },
                Some(backup),
            )
        };
        if let Err(e) = write_script(&path, &content) {
            // The old hook is still in place: drop the extra link made for it.
            if let Some(kept) = kept {
                let _ = std::fs::remove_file(kept);
            }
            return Err(e);
        }
        tracing::info!(hook = %hook, path = %path.display(), ?action, "hook installed");
        changes.push(HookChange { hook, path, action });
    }
    Ok(changes)
}

/// Removes synod's `hooks` from the hooks folder `dir`, putting back what install displaced
/// (the newest `.synod-backup*`, else `.local`).
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) when a file cannot be removed or renamed.
pub fn uninstall_from(dir: &Path, hooks: &[HookName]) -> Result<Vec<HookChange>> {
    let mut changes = Vec::new();
    for &hook in hooks {
        let path = dir.join(hook.as_str());
        let action = if !exists(&path) {
            HookAction::Absent
        } else if !is_ours(&path, hook) {
            HookAction::NotOurs
        } else {
            let chain = chain_path(dir, hook);
            let previous = match newest_backup(dir, hook)? {
                Some((_, backup)) => Some(backup),
                None => exists(&chain).then_some(chain),
            };
            if let Some(backup) = previous {
                std::fs::rename(&backup, &path).map_err(io_err("rename", &backup))?;
                HookAction::Restored { backup }
            } else {
                std::fs::remove_file(&path).map_err(io_err("remove", &path))?;
                HookAction::Removed
            }
        };
        tracing::info!(hook = %hook, path = %path.display(), ?action, "hook uninstalled");
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

/// The binary's path as the script names it. On Windows with `/` separators: Git for
/// Windows runs hooks with its MSYS `sh`, which takes `C:/Users/me/synod.exe` as it is.
fn sh_path(synod: &Path) -> String {
    let path = synod.to_string_lossy();
    if cfg!(windows) {
        path.replace('\\', "/")
    } else {
        path.into_owned()
    }
}

/// The script text for `hook`, calling the binary at `synod` (falling back to `synod` on
/// `PATH`).
///
/// A hook fed on stdin (`pre-push`, `pre-receive`) passes it straight to synod, which reads at
/// most `max-input-bytes`; only when a chained `.local` hook exists is stdin buffered, to give
/// both the same input.
#[must_use]
pub fn script(hook: HookName, synod: &Path) -> String {
    let name = hook.as_str();
    let bin = sh_quote(&sh_path(synod));
    let mut s = format!(
        "#!/bin/sh\n{MARKER}: {name}\n\
         # Written by `synod hooks install`; `synod hooks uninstall` removes it and restores the\n\
         # hook it replaced ({name}.synod-backup*, else {name}.local, which is run first).\n\
         SYNOD={bin}\n\
         [ -x \"$SYNOD\" ] || SYNOD=synod\n"
    );
    if hook.reads_stdin() {
        s.push_str(&format!(
            "if [ -x \"$0.local\" ]; then\n\
             \x20 input=$(cat; echo x)\n\
             \x20 input=${{input%x}}\n\
             \x20 printf '%s' \"$input\" | \"$0.local\" \"$@\" || exit $?\n\
             \x20 printf '%s' \"$input\" | \"$SYNOD\" hook {name} \"$@\"\n\
             \x20 exit $?\n\
             fi\n\
             exec \"$SYNOD\" hook {name} \"$@\"\n"
        ));
    } else {
        s.push_str(&format!(
            "if [ -x \"$0.local\" ]; then\n  \"$0.local\" \"$@\" || exit $?\nfi\n\
             exec \"$SYNOD\" hook {name} \"$@\"\n"
        ));
    }
    s
}

/// The script synod 0.1 wrote (before stdin was passed straight through), kept so that
/// installing over it, or uninstalling it, recognises it by exact content. Never written.
#[must_use]
pub fn script_v1(hook: HookName, synod: &Path) -> String {
    let name = hook.as_str();
    let bin = sh_quote(&sh_path(synod));
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

    #[cfg(windows)]
    #[test]
    fn windows_scripts_name_the_binary_with_forward_slashes_and_lf_endings() {
        let synod = Path::new(r"C:\Users\O'Neil\bin\synod.exe");
        let text = script(HookName::CommitMsg, synod);
        assert!(
            text.contains("SYNOD='C:/Users/O'\\''Neil/bin/synod.exe'\n"),
            "{text}"
        );
        assert!(
            text.starts_with("#!/bin/sh\n") && !text.contains('\r'),
            "{text}"
        );
        assert!(is_synod_script(HookName::CommitMsg, text.as_bytes()));
    }

    #[test]
    fn names_round_trip() {
        for h in HookName::ALL {
            assert_eq!(h.as_str().parse::<HookName>(), Ok(h));
        }
        assert!("post-commit".parse::<HookName>().is_err());
    }

    fn opts() -> InstallOptions {
        InstallOptions {
            synod: "/bin/synod".into(),
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn only_synods_own_backup_names_are_put_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        install_into(d, &[HookName::PrePush], &opts()).expect("install");
        // Not names install gives: `.0` (the first backup has no number), and other suffixes.
        for stray in [
            "pre-push.synod-backup.0",
            "pre-push.synod-backup.x",
            "pre-push.synod-backup-old",
        ] {
            write(&d.join(stray), "#!/bin/sh\necho stray\n");
        }
        let removed = uninstall_from(d, &[HookName::PrePush]).expect("uninstall");
        assert_eq!(removed[0].action, HookAction::Removed);
        assert!(!d.join("pre-push").exists());
        assert!(d.join("pre-push.synod-backup.0").exists());
    }

    #[test]
    fn without_hard_links_the_hook_is_copied_aside_byte_for_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let hook = d.join("commit-msg");
        write(&hook, "#!/bin/sh\nexit 0\n");
        let local = d.join("commit-msg.local");
        let unsupported =
            |_: &Path, _: &Path| Err(std::io::Error::from(std::io::ErrorKind::Unsupported));
        assert!(link_aside_with(&hook, &local, unsupported).expect("copied"));
        assert_eq!(
            std::fs::read_to_string(&local).expect("copy"),
            "#!/bin/sh\nexit 0\n"
        );
        // Another process made `to` between the check and the link: nothing is replaced.
        let raced = d.join("raced.local");
        let taken = |_: &Path, to: &Path| {
            std::fs::write(to, "theirs").expect("write");
            Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists))
        };
        assert!(!link_aside_with(&hook, &raced, taken).expect("left"));
        assert_eq!(std::fs::read_to_string(&raced).expect("theirs"), "theirs");
        // ... or between the failed link and the copy.
        let late = d.join("late.local");
        let taken_late = |_: &Path, to: &Path| {
            std::fs::write(to, "theirs").expect("write");
            Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
        };
        assert!(!link_aside_with(&hook, &late, taken_late).expect("left"));
        assert_eq!(std::fs::read_to_string(&late).expect("theirs"), "theirs");
        // A copy that cannot be made is an error naming where it was to go.
        let nowhere = d.join("missing").join("commit-msg.local");
        let err = link_aside_with(&hook, &nowhere, unsupported).unwrap_err();
        assert!(
            err.to_string().contains(&nowhere.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn a_backup_goes_one_past_the_newest_and_on_past_names_taken_meanwhile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let hook = d.join("pre-push");
        write(&hook, "#!/bin/sh\necho mine\n");
        write(&d.join("pre-push.synod-backup"), "0");
        write(&d.join("pre-push.synod-backup.1"), "1");
        let mut tried = Vec::new();
        let backup = back_up_with(d, HookName::PrePush, &hook, |from, to| {
            tried.push(to.file_name().expect("name").to_string_lossy().into_owned());
            // The first free name is taken by another install before this one links it.
            if tried.len() == 1 {
                write(to, "theirs");
                return Ok(false);
            }
            link_aside(from, to)
        })
        .expect("backed up");
        assert_eq!(
            tried,
            ["pre-push.synod-backup.2", "pre-push.synod-backup.3"]
        );
        assert_eq!(backup, d.join("pre-push.synod-backup.3"));
        assert_eq!(
            std::fs::read_to_string(&backup).expect("backup"),
            "#!/bin/sh\necho mine\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("pre-push.synod-backup.2")).expect("theirs"),
            "theirs"
        );
    }

    #[test]
    fn hook_names_print_and_parse_as_git_spells_them() {
        for (hook, name) in [
            (HookName::CommitMsg, "commit-msg"),
            (HookName::PreCommit, "pre-commit"),
            (HookName::PrePush, "pre-push"),
            (HookName::PreReceive, "pre-receive"),
        ] {
            assert_eq!(hook.to_string(), name);
            assert_eq!(name.parse::<HookName>(), Ok(hook));
        }
    }

    /// A hook git gives no input to never waits for stdin, even when its stdin stays open
    /// (a GUI or an IDE running git with a pipe), and its chained `.local` hook still runs.
    #[cfg(unix)]
    #[test]
    fn a_chained_hook_without_input_does_not_read_stdin() {
        use std::os::unix::fs::PermissionsExt as _;
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let executable = |path: &Path, body: &str| {
            write(path, &format!("#!/bin/sh\n{body}\n"));
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        };
        let synod = d.join("synod");
        executable(&synod, "exit 0");
        executable(
            &d.join("commit-msg.local"),
            &format!("touch {}/local-ran", d.display()),
        );
        let hook = d.join("commit-msg");
        executable(&hook, "");
        write(&hook, &script(HookName::CommitMsg, &synod));
        let mut child = Command::new("sh")
            .arg(&hook)
            .arg("MSG")
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Holding the pipe open: a hook that read stdin would wait for it forever.
        let stdin = child.stdin.take();
        let (done, exited) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(child.wait().expect("wait")));
        let status = exited.recv_timeout(std::time::Duration::from_secs(60));
        drop(stdin);
        let status = status.expect("the hook waited for stdin");
        assert!(status.success());
        assert!(d.join("local-ran").exists());
    }

    #[test]
    fn a_foreign_hook_is_chained_and_put_back_by_uninstall() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let husky = "#!/bin/sh\nnpx --no -- commitlint --edit \"$1\"\n";
        write(&d.join("commit-msg"), husky);
        let changes = install_into(d, &[HookName::CommitMsg], &opts()).expect("install");
        let local = d.join("commit-msg.local");
        assert_eq!(
            changes[0].action,
            HookAction::Chained {
                backup: local.clone()
            }
        );
        assert_eq!(std::fs::read_to_string(&local).expect("local"), husky);
        assert!(!d.join("commit-msg.synod-backup").exists());
        let removed = uninstall_from(d, &[HookName::CommitMsg]).expect("uninstall");
        assert_eq!(removed[0].action, HookAction::Restored { backup: local });
        assert_eq!(
            std::fs::read_to_string(d.join("commit-msg")).expect("hook"),
            husky
        );
    }

    #[test]
    fn taken_chain_slot_means_a_numbered_backup_never_an_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write(&d.join("pre-push"), "#!/bin/sh\necho mine\n");
        write(&d.join("pre-push.local"), "#!/bin/sh\necho chained\n");
        // Someone's earlier backup, with a gap in the numbering: the new one goes above it.
        write(&d.join("pre-push.synod-backup.3"), "old three\n");
        let changes = install_into(d, &[HookName::PrePush], &opts()).expect("install");
        let backup = d.join("pre-push.synod-backup.4");
        assert_eq!(
            changes[0].action,
            HookAction::BackedUp {
                backup: backup.clone()
            }
        );
        assert!(changes[0].to_string().contains("NOT run"), "{}", changes[0]);
        assert_eq!(
            std::fs::read_to_string(&backup).expect("backup"),
            "#!/bin/sh\necho mine\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("pre-push.synod-backup.3")).expect("kept"),
            "old three\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("pre-push.local")).expect("kept"),
            "#!/bin/sh\necho chained\n"
        );
        // Uninstall puts back the newest backup, leaving the older ones and the chain.
        let undone = uninstall_from(d, &[HookName::PrePush]).expect("uninstall");
        assert_eq!(undone[0].action, HookAction::Restored { backup });
        assert_eq!(
            std::fs::read_to_string(d.join("pre-push")).expect("restored"),
            "#!/bin/sh\necho mine\n"
        );
        assert!(d.join("pre-push.synod-backup.3").exists());
        assert!(d.join("pre-push.local").exists());
        // The restored hook is not synod's: a second uninstall leaves it alone.
        assert_eq!(
            uninstall_from(d, &[HookName::PrePush]).expect("ok")[0].action,
            HookAction::NotOurs
        );
        assert_eq!(
            uninstall_from(d, &[HookName::CommitMsg]).expect("ok")[0].action,
            HookAction::Absent
        );
    }

    #[test]
    fn recognised_only_by_exact_content() {
        for hook in HookName::ALL {
            for bin in ["/bin/synod", "/opt/it's here/synod", "synod"] {
                let bin = Path::new(bin);
                assert!(
                    is_synod_script(hook, script(hook, bin).as_bytes()),
                    "{hook}"
                );
                assert!(
                    is_synod_script(hook, script_v1(hook, bin).as_bytes()),
                    "{hook}"
                );
                let mut edited = script(hook, bin);
                edited.push_str("echo extra\n");
                assert!(!is_synod_script(hook, edited.as_bytes()));
                let other = if hook == HookName::CommitMsg {
                    HookName::PreCommit
                } else {
                    HookName::CommitMsg
                };
                assert!(!is_synod_script(other, script(hook, bin).as_bytes()));
            }
        }
        assert!(!is_synod_script(HookName::CommitMsg, b"\xff\xfe"));
        assert!(!is_synod_script(HookName::CommitMsg, MARKER.as_bytes()));
        assert!(!is_synod_script(HookName::CommitMsg, b"SYNOD=unquoted\n"));
    }

    #[test]
    fn marker_text_alone_is_backed_up_not_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let edited = format!(
            "{}echo my addition\n",
            script(HookName::CommitMsg, Path::new("/x"))
        );
        write(&d.join("commit-msg"), &edited);
        let changes = install_into(d, &[HookName::CommitMsg], &opts()).expect("install");
        let backup = d.join("commit-msg.synod-backup");
        assert_eq!(
            changes[0].action,
            HookAction::BackedUp {
                backup: backup.clone()
            }
        );
        assert_eq!(std::fs::read_to_string(&backup).expect("backup"), edited);
        // An edited copy is not chained (it would run synod twice).
        assert!(!d.join("commit-msg.local").exists());
        assert_eq!(
            std::fs::read_to_string(d.join("commit-msg")).expect("hook"),
            script(HookName::CommitMsg, Path::new("/bin/synod"))
        );
        // Installing again over synod's own script makes no second backup.
        let again = install_into(d, &[HookName::CommitMsg], &opts()).expect("install");
        assert_eq!(again[0].action, HookAction::Unchanged);
        assert!(!d.join("commit-msg.synod-backup.1").exists());
    }

    #[test]
    fn a_synod_at_a_path_as_long_as_a_path_can_be_still_owns_its_hooks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        // 16 components of 250 bytes: a 4 KiB path, the most Linux takes (PATH_MAX).
        let long: PathBuf = std::iter::once("/".to_owned())
            .chain((0..16).map(|i| format!("{i:x}{}", "d".repeat(249))))
            .collect();
        let options = InstallOptions {
            synod: long.join("synod"),
        };
        let first = install_into(d, &[HookName::PrePush], &options).expect("install");
        assert_eq!(first[0].action, HookAction::Installed);
        assert!(std::fs::metadata(d.join("pre-push")).expect("hook").len() > 4096);
        let again = install_into(d, &[HookName::PrePush], &options).expect("install");
        assert_eq!(again[0].action, HookAction::Unchanged);
        let removed = uninstall_from(d, &[HookName::PrePush]).expect("uninstall");
        assert_eq!(removed[0].action, HookAction::Removed);
        assert!(!d.join("pre-push").exists());
    }

    #[test]
    fn an_installed_hook_is_left_untouched_unless_it_differs_or_cannot_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let hook = d.join("commit-msg");
        let first = install_into(d, &[HookName::CommitMsg], &opts()).expect("install");
        assert_eq!(first[0].action, HookAction::Installed);
        let again = install_into(d, &[HookName::CommitMsg], &opts()).expect("install");
        assert_eq!(again[0].action, HookAction::Unchanged);
        assert_eq!(
            again[0].to_string(),
            format!("{} is already synod's hook; left as it is", hook.display())
        );
        // Another binary path is a different script: rewritten.
        let elsewhere = InstallOptions {
            synod: "/opt/synod/bin/synod".into(),
        };
        let moved = install_into(d, &[HookName::CommitMsg], &elsewhere).expect("install");
        assert_eq!(moved[0].action, HookAction::Updated);
        assert_eq!(
            std::fs::read_to_string(&hook).expect("hook"),
            script(HookName::CommitMsg, Path::new("/opt/synod/bin/synod"))
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
            let inode = std::fs::metadata(&hook).expect("hook").ino();
            let same = install_into(d, &[HookName::CommitMsg], &elsewhere).expect("install");
            assert_eq!(same[0].action, HookAction::Unchanged);
            assert_eq!(std::fs::metadata(&hook).expect("hook").ino(), inode);
            // The same text without its executable bit would never run: rewritten, runnable.
            std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let fixed = install_into(d, &[HookName::CommitMsg], &elsewhere).expect("install");
            assert_eq!(fixed[0].action, HookAction::Updated);
            let mode = std::fs::metadata(&hook).expect("hook").permissions().mode();
            assert_eq!(mode & 0o777, 0o755);
        }
    }

    #[test]
    fn a_previous_versions_script_is_replaced_without_backup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let old = script_v1(HookName::PreReceive, Path::new("/old/place/synod"));
        write(&d.join("pre-receive"), &old);
        let changes = install_into(d, &[HookName::PreReceive], &opts()).expect("install");
        assert_eq!(changes[0].action, HookAction::Updated);
        assert!(
            newest_backup(d, HookName::PreReceive)
                .expect("list")
                .is_none()
        );
        let undone = uninstall_from(d, &[HookName::PreReceive]).expect("uninstall");
        assert_eq!(undone[0].action, HookAction::Removed);
        assert!(!d.join("pre-receive").exists());
        // An old script still installed is uninstalled too.
        write(&d.join("pre-receive"), &old);
        let undone = uninstall_from(d, &[HookName::PreReceive]).expect("uninstall");
        assert_eq!(undone[0].action, HookAction::Removed);
    }

    #[test]
    fn backup_names_and_numbers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        assert!(
            newest_backup(d, HookName::CommitMsg)
                .expect("list")
                .is_none()
        );
        for name in [
            "commit-msg.synod-backup",
            "commit-msg.synod-backup.2",
            "commit-msg.synod-backup.x",
            "commit-msg.synod-backup.0",
            "commit-msg.synod-backupX",
            "pre-commit.synod-backup.9",
        ] {
            write(&d.join(name), "");
        }
        let (index, path) = newest_backup(d, HookName::CommitMsg)
            .expect("list")
            .expect("some");
        assert_eq!((index, path), (2, d.join("commit-msg.synod-backup.2")));
        assert_eq!(backup_name(HookName::PrePush, 0), "pre-push.synod-backup");
        assert_eq!(backup_name(HookName::PrePush, 7), "pre-push.synod-backup.7");
        assert_eq!(sh_unquote("'a'\\''b'").as_deref(), Some("a'b"));
        assert_eq!(sh_unquote("a"), None);
    }

    #[test]
    fn script_quotes_the_path() {
        let s = script(HookName::CommitMsg, Path::new("/opt/it's here/synod"));
        assert!(s.contains("SYNOD='/opt/it'\\''s here/synod'"), "{s}");
        assert!(s.contains("exec \"$SYNOD\" hook commit-msg \"$@\""));
        let receive = script(HookName::PreReceive, Path::new("/x"));
        assert!(receive.contains("  input=$(cat; echo x)\n"), "{receive}");
        assert!(
            receive.ends_with("exec \"$SYNOD\" hook pre-receive \"$@\"\n"),
            "{receive}"
        );
    }
}
