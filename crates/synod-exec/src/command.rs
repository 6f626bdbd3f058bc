//! [`AgentCommand`]: what to run, with which environment, input and limits.
//!
//! The builder is consuming (every method takes and returns `Self`), cheap to clone (the stdin
//! bytes are shared), and checked before anything is spawned: an empty program, a NUL byte in
//! the program, an argument or the environment, or a working directory that does not exist is
//! reported as [`Error::InvalidCommand`] without starting a process.
//!
//! ```
//! use std::time::Duration;
//! use synod_exec::AgentCommand;
//!
//! let cmd = AgentCommand::new("git")
//!     .arg("rev-parse")
//!     .args(["--git-path", "hooks"])
//!     .env_allow(["PATH", "HOME"])
//!     .env("GIT_TERMINAL_PROMPT", "0")
//!     .cwd(".")
//!     .timeout(Duration::from_secs(30))
//!     .kill_grace(Duration::from_secs(2))
//!     .output_cap(1 << 20);
//! assert_eq!(cmd.get_program(), "git");
//! assert_eq!(cmd.get_args().len(), 3);
//! assert!(cmd.validate().is_ok());
//! // Env values never reach Debug output (they may be API keys).
//! let dbg = format!("{:?}", AgentCommand::new("x").env("API_KEY", "sk-secret"));
//! assert!(dbg.contains("API_KEY") && !dbg.contains("sk-secret"));
//! ```

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::classify::Classifier;
use crate::error::{Error, Result};
use crate::shim::Launch;

/// Default time between SIGTERM and SIGKILL when a process group is stopped.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);
/// Default cap per output stream (stdout and stderr each): 16 MiB.
pub const DEFAULT_OUTPUT_CAP: usize = 16 << 20;
/// Default longest line a [`crate::Running`] stream emits in one event: 1 MiB (longer lines are
/// split into several events).
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// Which variables of the parent's environment the child inherits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EnvMode {
    /// The child inherits the whole environment (the default).
    #[default]
    Inherit,
    /// The child starts with an empty environment.
    Clear,
    /// The child inherits only these variables (those that are set in the parent).
    Allow(Vec<OsString>),
}

/// A command to run: program, arguments, environment, working directory, stdin bytes and
/// limits (timeout, kill grace, output cap), plus an optional cancellation token and the
/// [`Classifier`] used for its non-zero exits.
#[derive(Clone)]
pub struct AgentCommand {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env_mode: EnvMode,
    /// Ordered sets (`Some`) and removals (`None`) applied after `env_mode`.
    pub(crate) envs: Vec<(OsString, Option<OsString>)>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) stdin: Option<Arc<[u8]>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) kill_grace: Duration,
    pub(crate) output_cap: usize,
    pub(crate) max_line: usize,
    pub(crate) cancel: Option<CancellationToken>,
    pub(crate) classifier: Option<Arc<Classifier>>,
    pub(crate) track_descendants: bool,
}

impl AgentCommand {
    /// A command running `program` (looked up on `PATH` when it has no slash; on Windows also
    /// with `PATHEXT`, so that npm's `NAME.cmd` shims are found: see the crate's
    /// [Platforms](crate#platforms) section), inheriting the environment, with no stdin, no
    /// timeout, a 5 s kill grace and a 16 MiB output cap.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env_mode: EnvMode::Inherit,
            envs: Vec::new(),
            cwd: None,
            stdin: None,
            timeout: None,
            kill_grace: DEFAULT_KILL_GRACE,
            output_cap: DEFAULT_OUTPUT_CAP,
            max_line: DEFAULT_MAX_LINE,
            cancel: None,
            classifier: None,
            track_descendants: true,
        }
    }

    /// Appends one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends several arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets one environment variable for the child (applied after inheritance rules).
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Sets several environment variables for the child.
    #[must_use]
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Removes one variable from the child's environment.
    #[must_use]
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.envs.push((key.as_ref().to_owned(), None));
        self
    }

    /// The child inherits nothing from the parent's environment; variables set with
    /// [`env`](Self::env) are still passed.
    #[must_use]
    pub fn env_clear(mut self) -> Self {
        self.env_mode = EnvMode::Clear;
        self
    }

    /// The child inherits only the named variables (those set in the parent at spawn time);
    /// calling it again adds names. Variables set with [`env`](Self::env) are still passed.
    #[must_use]
    pub fn env_allow<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut list = match std::mem::take(&mut self.env_mode) {
            EnvMode::Allow(list) => list,
            EnvMode::Inherit | EnvMode::Clear => Vec::new(),
        };
        list.extend(names.into_iter().map(|n| n.as_ref().to_owned()));
        self.env_mode = EnvMode::Allow(list);
        self
    }

    /// The child's working directory (must exist when the command runs).
    #[must_use]
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Bytes written to the child's stdin (then stdin is closed). Without it, stdin is
    /// `/dev/null` (`NUL` on Windows). The safe way to hand a prompt to a batch file on
    /// Windows. Written concurrently with reading stdout and stderr, so a child that
    /// echoes a large input cannot deadlock.
    #[must_use]
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(Arc::from(bytes.into()));
        self
    }

    /// Stops the process group after this long: [`Error::Timeout`] with the partial output.
    #[must_use]
    pub fn timeout(mut self, after: Duration) -> Self {
        self.timeout = Some(after);
        self
    }

    /// Time between SIGTERM and SIGKILL when the process group is stopped (default 5 s). Not
    /// used on Windows, where the job is terminated at once.
    #[must_use]
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// Cap in bytes per output stream (default 16 MiB). Past it, the first half and the last
    /// half are kept, joined by a marker naming the number of bytes dropped.
    #[must_use]
    pub fn output_cap(mut self, bytes: usize) -> Self {
        self.output_cap = bytes;
        self
    }

    /// Longest line a streamed [`crate::Event`] carries (default 1 MiB); longer lines arrive
    /// as several events.
    #[must_use]
    pub fn max_line_len(mut self, bytes: usize) -> Self {
        self.max_line = bytes.max(1);
        self
    }

    /// Cancelling this token stops the process tree (Unix: SIGTERM, grace, SIGKILL to the
    /// group; Windows: its job is terminated) and the run returns [`Error::Cancelled`].
    #[must_use]
    pub fn cancel_token(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Whether every descendant of the child is tracked and stopped with it (default `true`;
    /// Linux, from `/proc`). On, the whole tree is stopped when the run ends, times out, is
    /// cancelled or dropped: also descendants that left the process group or session
    /// (`setsid`) or cleared their environment, and (with [`crate::become_subreaper`]) orphans
    /// reparented to this process. The cost is polls of `/proc` while it runs (every 10 ms at
    /// first, backing off to every 250 ms) and one scan when the run ends, skipped when a few
    /// syscalls show it could find nothing (nothing recorded, the group empty, and for a
    /// subreaper no child that synod-exec did not spawn). Off, only the
    /// process group is stopped: for trusted commands that start nothing, or whose
    /// detached helpers must outlive them. Without effect on Windows, where the job object
    /// always holds (and stops) the whole tree.
    #[must_use]
    pub fn track_descendants(mut self, on: bool) -> Self {
        self.track_descendants = on;
        self
    }

    /// The classifier for this command's non-zero exits (default: [`Classifier::default`]).
    #[must_use]
    pub fn classifier(mut self, classifier: impl Into<Arc<Classifier>>) -> Self {
        self.classifier = Some(classifier.into());
        self
    }

    /// The program.
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments.
    pub fn get_args(&self) -> &[OsString] {
        &self.args
    }

    /// The working directory, if set.
    pub fn get_cwd(&self) -> Option<&Path> {
        self.cwd.as_deref()
    }

    /// The timeout, if set.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The kill grace.
    pub fn get_kill_grace(&self) -> Duration {
        self.kill_grace
    }

    /// The output cap per stream, in bytes.
    pub fn get_output_cap(&self) -> usize {
        self.output_cap
    }

    /// Whether descendants are tracked (see [`track_descendants`](Self::track_descendants)).
    pub fn get_track_descendants(&self) -> bool {
        self.track_descendants
    }

    /// How the parent's environment is inherited.
    pub fn get_env_mode(&self) -> &EnvMode {
        &self.env_mode
    }

    /// The program name as text, for messages.
    pub fn program_lossy(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    pub(crate) fn classifier_ref(&self) -> &Classifier {
        match &self.classifier {
            Some(c) => c,
            None => Classifier::default_ref(),
        }
    }

    /// Checks the command without spawning it: non-empty program, no NUL bytes in the
    /// program, arguments or environment, valid variable names, an existing working directory.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Error::InvalidCommand {
            program: self.program_lossy(),
            reason,
        };
        if self.program.is_empty() {
            return Err(invalid(
                "the program is empty: name an executable or a path to one".into(),
            ));
        }
        if has_nul(&self.program) {
            return Err(invalid(
                "the program name contains a NUL byte: remove it".into(),
            ));
        }
        for (i, arg) in self.args.iter().enumerate() {
            if has_nul(arg) {
                return Err(invalid(format!(
                    "argument {i} ({:?}) contains a NUL byte: remove it",
                    arg.to_string_lossy()
                )));
            }
        }
        let check_name = |name: &OsStr| -> Result<()> {
            let shown = name.to_string_lossy();
            if name.is_empty() || name.as_encoded_bytes().contains(&b'=') || has_nul(name) {
                return Err(invalid(format!(
                    "environment variable name {shown:?} is invalid: it must be non-empty \
                     and contain neither '=' nor a NUL byte"
                )));
            }
            Ok(())
        };
        if let EnvMode::Allow(names) = &self.env_mode {
            for name in names {
                check_name(name)?;
            }
        }
        for (key, value) in &self.envs {
            check_name(key)?;
            if value.as_deref().is_some_and(has_nul) {
                return Err(invalid(format!(
                    "the value of environment variable {:?} contains a NUL byte: remove it",
                    key.to_string_lossy()
                )));
            }
        }
        if let Some(dir) = &self.cwd {
            if has_nul(dir.as_os_str()) {
                return Err(invalid(format!(
                    "working directory {} contains a NUL byte: remove it",
                    dir.display()
                )));
            }
            match std::fs::metadata(dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(invalid(format!(
                        "working directory {} is not a directory: point cwd at a directory",
                        dir.display()
                    )));
                }
                Err(e) => {
                    return Err(invalid(format!(
                        "working directory {} cannot be used ({e}): create it or fix the path",
                        dir.display()
                    )));
                }
            }
        }
        Ok(())
    }

    /// The tokio command with program, args, env and cwd applied, piped stdio, and (on Unix)
    /// its own process group; `launch` replaces the program and arguments (a Windows batch
    /// file resolved by [`crate::shim`]).
    pub(crate) fn to_tokio(&self, launch: Option<&Launch>) -> tokio::process::Command {
        let (program, args) = match launch {
            Some(l) => (l.program.as_os_str(), l.args.as_slice()),
            None => (self.program.as_os_str(), self.args.as_slice()),
        };
        let mut c = tokio::process::Command::new(program);
        c.args(args);
        match &self.env_mode {
            EnvMode::Inherit => {}
            EnvMode::Clear => {
                c.env_clear();
            }
            EnvMode::Allow(names) => {
                c.env_clear();
                for name in names {
                    if let Some(value) = std::env::var_os(name) {
                        c.env(name, value);
                    }
                }
            }
        }
        for (key, value) in &self.envs {
            match value {
                Some(v) => c.env(key, v),
                None => c.env_remove(key),
            };
        }
        if let Some(dir) = &self.cwd {
            c.current_dir(dir);
        }
        c.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        c.stdout(Stdio::piped());
        c.stderr(Stdio::piped());
        #[cfg(unix)]
        c.process_group(0);
        c
    }
}

impl From<&AgentCommand> for AgentCommand {
    fn from(cmd: &AgentCommand) -> Self {
        cmd.clone()
    }
}

fn has_nul(s: &OsStr) -> bool {
    s.as_encoded_bytes().contains(&0)
}

impl fmt::Debug for AgentCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Environment values and stdin may hold secrets (API keys, prompts): only names and
        // sizes are shown.
        let env_names: Vec<_> = self
            .envs
            .iter()
            .map(|(k, v)| {
                let k = k.to_string_lossy();
                if v.is_some() {
                    format!("{k}=<redacted>")
                } else {
                    format!("-{k}")
                }
            })
            .collect();
        f.debug_struct("AgentCommand")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env_mode", &self.env_mode)
            .field("env", &env_names)
            .field("cwd", &self.cwd)
            .field("stdin_bytes", &self.stdin.as_ref().map(|s| s.len()))
            .field("timeout", &self.timeout)
            .field("kill_grace", &self.kill_grace)
            .field("output_cap", &self.output_cap)
            .field("cancellable", &self.cancel.is_some())
            .field("track_descendants", &self.track_descendants)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_program_is_invalid() {
        let err = AgentCommand::new("").validate().unwrap_err();
        assert!(matches!(err, Error::InvalidCommand { .. }), "{err}");
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[test]
    fn nul_bytes_are_invalid_everywhere() {
        let cases = [
            AgentCommand::new("a\0b"),
            AgentCommand::new("sh").arg("x\0y"),
            AgentCommand::new("sh").env("K", "v\0"),
            AgentCommand::new("sh").env("K\0", "v"),
            AgentCommand::new("sh").env("A=B", "v"),
            AgentCommand::new("sh").env_allow(["P\0"]),
        ];
        for cmd in cases {
            let err = cmd.validate().unwrap_err();
            assert!(
                matches!(err, Error::InvalidCommand { .. }),
                "{cmd:?}: {err}"
            );
        }
    }

    #[test]
    fn missing_cwd_is_invalid_and_named() {
        let err = AgentCommand::new("sh")
            .cwd("/definitely/not/here")
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here"), "{err}");
    }

    #[test]
    fn a_cwd_that_is_a_file_is_invalid_and_named() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = AgentCommand::new("sh")
            .cwd(file.path())
            .validate()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidCommand { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&file.path().display().to_string()) && text.contains("not a directory"),
            "{text}"
        );
        let dir = tempfile::tempdir().unwrap();
        AgentCommand::new("sh").cwd(dir.path()).validate().unwrap();
    }

    #[test]
    fn the_getters_return_what_the_builder_set() {
        let cmd = AgentCommand::new("agent").args(["-p", "hi"]);
        assert_eq!(cmd.get_args(), [OsString::from("-p"), OsString::from("hi")]);
        assert_eq!(cmd.get_cwd(), None);
        assert_eq!(cmd.get_timeout(), None);
        assert_eq!(cmd.get_kill_grace(), DEFAULT_KILL_GRACE);
        assert_eq!(cmd.get_output_cap(), DEFAULT_OUTPUT_CAP);
        assert!(cmd.get_track_descendants());

        let set = cmd
            .cwd("/srv/work")
            .timeout(Duration::from_secs(90))
            .kill_grace(Duration::from_millis(1500))
            .output_cap(4096)
            .track_descendants(false);
        assert_eq!(set.get_cwd(), Some(Path::new("/srv/work")));
        assert_eq!(set.get_timeout(), Some(Duration::from_secs(90)));
        assert_eq!(set.get_kill_grace(), Duration::from_millis(1500));
        assert_eq!(set.get_output_cap(), 4096);
        assert!(!set.get_track_descendants());
    }

    #[test]
    fn env_allow_accumulates() {
        let cmd = AgentCommand::new("x").env_allow(["A"]).env_allow(["B"]);
        assert_eq!(
            cmd.get_env_mode(),
            &EnvMode::Allow(vec!["A".into(), "B".into()])
        );
    }

    #[test]
    fn debug_redacts_env_values_and_stdin() {
        let cmd = AgentCommand::new("x")
            .env("TOKEN", "hunter2")
            .stdin("secret prompt");
        let dbg = format!("{cmd:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains("secret prompt"),
            "{dbg}"
        );
        assert!(dbg.contains("TOKEN") && dbg.contains("13"), "{dbg}");
    }
}
