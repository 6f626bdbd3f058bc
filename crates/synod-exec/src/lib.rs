//! synod-exec: run agent CLIs (claude, gemini, codex, git, any program) from tokio so that
//! hangs, flooded pipes, runaway grandchildren and rate limits never reach the caller as a
//! leak, a deadlock or a vague error.
//!
//! Through the facade this crate is `synod::exec` (`synod = { version = "0.1", features = ["exec"] }`);
//! the examples here use its own name, `synod_exec::…`, which `synod::exec::…` replaces one for one.
//!
//! - [`AgentCommand`]: a consuming builder (program, args, env inherit / clear / allow-list,
//!   cwd, stdin bytes, timeout, kill grace, output cap, cancellation token, classifier).
//! - [`run()`] / [`run_with_cancel`]: run to completion, returning [`Output`] (bytes, lossy
//!   text, status, duration, truncation) or a precise [`Error`].
//! - [`spawn()`]: a [`Running`] child whose stdout and stderr arrive as a `Stream` of
//!   [`Event`]s (lines, then `Exited`), with [`Running::wait`] and [`Running::kill`]. Lines
//!   are [`Bytes`] slices of the pipe reads (no allocation per line).
//! - [`run_all()`]: many commands, at most N alive at once, one result per input index,
//!   cancellable as a whole or on the first failure.
//! - Every child's whole process tree is stopped when the run ends, times out, is cancelled
//!   or dropped: no zombie, no orphaned grandchild. How depends on the system (see
//!   [Platforms](#platforms)): a process group plus descendant tracking on Unix, a job object
//!   on Windows.
//! - [`Error`] implements [`synod_core::Classify`]; non-zero exits are classified by
//!   an ordered, configurable [`Classifier`] over the output tail.
//!
//! ```ignore-windows
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synod_exec::Error> {
//! use std::time::Duration;
//! use synod_exec::{AgentCommand, run};
//!
//! let cmd = AgentCommand::new("sh")
//!     .args(["-c", "read prompt; echo \"you said: $prompt\""])
//!     .env_clear()
//!     .env("PATH", "/usr/bin:/bin")
//!     .stdin("hello\n")
//!     .timeout(Duration::from_secs(10));
//! let out = run(&cmd).await?;
//! assert_eq!(out.stdout_lossy(), "you said: hello\n");
//! assert!(out.status.success());
//! # Ok(())
//! # }
//! ```
//!
//! # Platforms
//!
//! The API is the same on Linux, macOS and Windows; what differs is how a child's tree is
//! contained and stopped:
//!
//! - **Unix.** Every child leads its own process group. A timeout, a cancellation, or
//!   dropping the future sends SIGTERM to the group, waits the kill grace, sends SIGKILL, and
//!   reaps. Every descendant is stopped with the child too, also those that left its group or
//!   session (`setsid`: daemons, language servers, MCP servers) or cleared their environment:
//!   on Linux each run records its descendants from `/proc` ([`process_tree`]; pid plus start
//!   time, so a reused pid is never signalled) while it runs and before it is stopped, and
//!   signals them with the group, when the child exits, times out, is cancelled or dropped
//!   ([`AgentCommand::track_descendants`], on by default; a child that exits leaving nothing
//!   behind costs no final `/proc` scan, a few syscalls show it). Call [`become_subreaper`] once
//!   (opt-in, process-wide; the `synod` CLI does) so that orphans of a child (a
//!   double-forking daemon) are reparented to this process instead of init: they are then
//!   found even when their parent chain was never seen, stopped, and reaped by exact pid
//!   (never `waitpid(-1)`, which would steal tokio's children).
//! - **What remains impossible on Unix**: without `/proc` (macOS, the BSDs) only the process
//!   group is stopped; macOS has no subreaper at all, and FreeBSD's
//!   `procctl(PROC_REAP_ACQUIRE)` is not used yet. On Linux without [`become_subreaper`], a
//!   descendant whose parent exits before a poll saw it (polls every 10 ms at first, then
//!   every 250 ms) goes to init unseen. A cgroup v2 per run would contain everything, but
//!   needs a delegated, writable cgroup (rarely available to an unprivileged CLI); it is not
//!   used.
//! - **Windows.** Every child runs in its own job object, created suspended and put in the
//!   job before its first instruction, so every process it ever starts is in the job too and
//!   cannot leave it. Stopping the run terminates the job: every process in it ends at once
//!   with exit code 1. Windows has no SIGTERM for console programs, so the kill grace is not
//!   used; [`AgentCommand::track_descendants`] has nothing to do (the job holds the tree),
//!   [`become_subreaper`] returns `Ok(false)`, [`process_tree`] snapshots are `None`, and
//!   [`Error::Signaled`] never occurs (a process ends with an exit code). The job kills what
//!   is left when its handle closes, so even if this process crashes, its agents do not
//!   outlive it. Processes started *for* an agent by a service (Task Scheduler, WMI, an
//!   out-of-process COM server) are not its descendants and are not stopped.
//! - **Windows batch files.** npm installs a CLI as `NAME.cmd`, which only `cmd.exe` can
//!   run, and `cmd.exe` would interpret `&`, `|`, `%VAR%`, `^` or a line break in a prompt
//!   (CVE-2024-24576). A program name is therefore also looked up on `PATH` with `PATHEXT`;
//!   an npm shim found there is run as the command it wraps (`node.exe ...\cli.js ARGS`), so
//!   `cmd.exe` never sees an argument; any other batch file gets only arguments free of such
//!   characters, else [`Error::UnsafeArgument`] (send the text on stdin instead).
//! - The examples in these docs run Unix programs (`sh`, `cat`, `sleep`) and are not run on
//!   Windows; `tests/windows.rs` covers the same behaviour there (under Wine in CI).
// `unsafe` is denied workspace-wide; only the Windows job-object module allows it (Win32 FFI).

pub mod classify;
pub mod command;
#[cfg(unix)]
mod descendants;
pub mod error;
#[cfg(unix)]
mod group;
#[cfg(windows)]
mod job;
mod lines;
pub mod output;
pub mod process_tree;
pub mod run;
pub mod run_all;
mod shim;
pub mod spawn;
pub mod subreaper;

/// How a child's tree is contained and stopped: process groups and descendant tracking on
/// Unix, a job object on Windows. Both expose the same `ChildGuard`.
#[cfg(unix)]
use group as platform;
#[cfg(windows)]
use job as platform;

#[cfg(not(any(unix, windows)))]
compile_error!("synod-exec runs child processes on Unix and Windows only");

pub use classify::{CLASSIFY_TAIL_BYTES, Classifier, ClassifyPatterns, Rule};
pub use command::{
    AgentCommand, DEFAULT_KILL_GRACE, DEFAULT_MAX_LINE, DEFAULT_OUTPUT_CAP, EnvMode,
};
pub use error::{Error, Result};
pub use output::Output;
pub use run::{run, run_with_cancel};
pub use run_all::{RunAllOptions, run_all, run_all_with};
pub use spawn::{Event, Running, spawn};
pub use subreaper::{become_subreaper, is_subreaper};
/// The type of a streamed line ([`Event::Stdout`], [`Event::Stderr`]), re-exported so callers
/// need no direct `bytes` dependency.
pub use tokio_util::bytes::Bytes;
/// Re-exported so callers need no direct `tokio-util` dependency to cancel runs.
pub use tokio_util::sync::CancellationToken;
