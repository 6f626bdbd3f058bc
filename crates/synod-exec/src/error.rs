//! [`Error`]: every way running a command can fail, and its [`Classify`] class.
//!
//! Failures that carry output (`Timeout`, `NonZeroExit`, `Signaled`) keep the full (capped)
//! [`Output`] so callers can still read stdout and stderr.
//!
//! ```ignore-windows
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use synod_exec::{AgentCommand, Error, run};
//! use synod_core::{Classify, ErrorClass};
//!
//! let err = run(&AgentCommand::new("sh").args(["-c", "echo partial; echo 'HTTP 503' >&2; exit 3"]))
//!     .await
//!     .unwrap_err();
//! match &err {
//!     Error::NonZeroExit { code, stderr_tail, output, .. } => {
//!         assert_eq!(*code, 3);
//!         assert_eq!(stderr_tail, "HTTP 503");
//!         assert_eq!(output.stdout_lossy(), "partial\n");
//!     }
//!     other => panic!("unexpected {other}"),
//! }
//! assert_eq!(err.class(), ErrorClass::Transient);
//! # }
//! ```

use std::io;
use std::time::Duration;

use synod_core::{Classify, ErrorClass};

use crate::output::Output;

/// How many bytes of the output's end `NonZeroExit::stderr_tail` keeps.
pub const STDERR_TAIL_BYTES: usize = 2048;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The program does not exist (or is not on `PATH`).
    #[error("program `{program}` was not found: install it or put its directory on PATH")]
    NotFound {
        /// The program as given.
        program: String,
    },
    /// The program exists but may not be executed.
    #[error(
        "program `{program}` could not be executed (permission denied): make it executable \
         (on Unix: chmod +x) and its directories searchable, and check it is not a directory"
    )]
    PermissionDenied {
        /// The program as given.
        program: String,
    },
    /// The command ran past its timeout; its process tree was stopped.
    #[error(
        "`{program}` timed out after {after:?}; it and its process tree were stopped (raise the \
         timeout if it needs longer)"
    )]
    Timeout {
        /// The program as given.
        program: String,
        /// The timeout that elapsed.
        after: Duration,
        /// What the child wrote before it was stopped.
        partial: Box<Output>,
    },
    /// The command exited with a non-zero code.
    #[error("`{program}` exited with code {code}: {stderr_tail}")]
    NonZeroExit {
        /// The program as given.
        program: String,
        /// The exit code.
        code: i32,
        /// The last 2 KiB of stderr as trimmed text (of stdout when stderr is blank).
        stderr_tail: String,
        /// The class the command's [`crate::Classifier`] gave the output tail.
        class: ErrorClass,
        /// Everything the child wrote.
        output: Box<Output>,
    },
    /// The child was killed by a signal it did not get from us (Unix only: on Windows a
    /// process ends with an exit code, reported as `NonZeroExit`).
    #[error("`{program}` was killed by signal {signal} ({})", signal_name(*signal))]
    Signaled {
        /// The program as given.
        program: String,
        /// The signal number.
        signal: i32,
        /// Everything the child wrote.
        output: Box<Output>,
    },
    /// The run was cancelled (its token fired) and the process group stopped.
    #[error("the run was cancelled; its process tree was stopped")]
    Cancelled,
    /// The command was rejected before anything was spawned.
    #[error("invalid command `{program}`: {reason}")]
    InvalidCommand {
        /// The program as given.
        program: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An argument cannot reach a Windows batch file (`.cmd`, `.bat`) safely: `cmd.exe` would
    /// interpret a character in it, and the batch file is not an npm shim whose program could
    /// be run directly (see [`crate::AgentCommand`]'s platform notes). Never returned on Unix.
    #[error("argument {index} of `{program}` cannot be passed safely: {reason}")]
    UnsafeArgument {
        /// The program as given.
        program: String,
        /// The argument's index (0 is the first argument after the program).
        index: usize,
        /// Which character, which batch file, and what to do instead.
        reason: String,
    },
    /// This process could not be made a child subreaper ([`crate::become_subreaper`]).
    #[error(
        "cannot make this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER): {source}; \
         run on Linux 3.4 or later without a seccomp filter that blocks prctl, or go on \
         without it (orphaned descendants are then only stopped if seen before their parent \
         exited)"
    )]
    Subreaper {
        /// The error prctl returned.
        #[source]
        source: io::Error,
    },
    /// The arguments are more than the operating system lets one command line carry (E2BIG
    /// on Unix, where the environment counts too; 32 767 characters on Windows).
    #[error(
        "the command line of `{program}` is too long for the operating system ({bytes} bytes of \
         arguments): pass large input, such as a prompt, on standard input instead"
    )]
    CommandLineTooLong {
        /// The program as given.
        program: String,
        /// The bytes of the program and its arguments.
        bytes: usize,
    },
    /// An I/O error while spawning, feeding, reading or reaping the child.
    #[error("I/O error while {action} `{program}`: {source}")]
    Io {
        /// The program as given.
        program: String,
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The output the child produced, for `Timeout` (partial), `NonZeroExit` and `Signaled`.
    pub fn output(&self) -> Option<&Output> {
        match self {
            Error::Timeout { partial, .. } => Some(partial),
            Error::NonZeroExit { output, .. } | Error::Signaled { output, .. } => Some(output),
            _ => None,
        }
    }

    pub(crate) fn io(program: &str, action: &'static str, source: io::Error) -> Self {
        Error::Io {
            program: program.to_owned(),
            action,
            source,
        }
    }
}

#[cfg(unix)]
fn signal_name(signal: i32) -> &'static str {
    nix::sys::signal::Signal::try_from(signal).map_or("unknown signal", |s| s.as_str())
}

/// Windows has no signals: `Signaled` is never returned there.
#[cfg(not(unix))]
fn signal_name(_signal: i32) -> &'static str {
    "unknown signal"
}

impl Classify for Error {
    /// `NotFound`, `PermissionDenied`, `InvalidCommand`, `UnsafeArgument`, `Cancelled` and
    /// `Subreaper` are permanent;
    /// `Timeout` and `Signaled` transient; `NonZeroExit` is what the command's classifier
    /// said; `Io` follows the I/O error kind.
    fn class(&self) -> ErrorClass {
        match self {
            Error::NotFound { .. }
            | Error::PermissionDenied { .. }
            | Error::InvalidCommand { .. }
            | Error::UnsafeArgument { .. }
            | Error::CommandLineTooLong { .. }
            | Error::Cancelled
            | Error::Subreaper { .. } => ErrorClass::Permanent,
            Error::Timeout { .. } | Error::Signaled { .. } => ErrorClass::Transient,
            Error::NonZeroExit { class, .. } => *class,
            Error::Io { source, .. } => source.class(),
        }
    }

    /// A [`Timeout`](Error::Timeout) (or a timed-out I/O call) is the most expensive failure
    /// to retry, so a retry budget charges it more.
    fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Io { source, .. } => source.is_timeout(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_classes() {
        let nf = Error::NotFound {
            program: "x".into(),
        };
        assert_eq!(nf.class(), ErrorClass::Permanent);
        assert!(nf.to_string().contains("`x`"));
        let pd = Error::PermissionDenied {
            program: "x".into(),
        };
        assert_eq!(pd.class(), ErrorClass::Permanent);
        assert_eq!(Error::Cancelled.class(), ErrorClass::Permanent);
        let io = Error::io(
            "x",
            "reading stdout of",
            io::ErrorKind::ConnectionReset.into(),
        );
        assert_eq!(io.class(), ErrorClass::Transient);
        assert!(io.output().is_none());
        assert!(!io.is_timeout() && !nf.is_timeout());
        let timed_out = Error::io("x", "reading stdout of", io::ErrorKind::TimedOut.into());
        assert!(timed_out.is_timeout());
    }

    #[cfg(unix)]
    #[test]
    fn signal_names() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(12345), "unknown signal");
    }
}
