//! [`run()`] and [`run_with_cancel`]: run a command to completion and collect its output.
//!
//! stdin is written while stdout and stderr are drained (no pipe deadlock). When the leader
//! exits, anything it left behind in its process group (Windows: its job) is stopped too. A
//! timeout, a cancellation, or dropping the future stops the whole tree: SIGTERM, the kill
//! grace, SIGKILL, and the leader is reaped (Windows: the job is terminated at once).
//!
//! ```ignore-windows
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synod_exec::Error> {
//! use std::time::Duration;
//! use synod_exec::{AgentCommand, Error, run, run_with_cancel};
//! use tokio_util::sync::CancellationToken;
//!
//! let out = run(&AgentCommand::new("cat").stdin("a prompt")).await?;
//! assert_eq!(out.stdout, b"a prompt");
//!
//! let slow = AgentCommand::new("sleep").arg("30").kill_grace(Duration::from_millis(100));
//! let err = run(&slow.clone().timeout(Duration::from_millis(50))).await.unwrap_err();
//! assert!(matches!(err, Error::Timeout { .. }));
//!
//! let token = CancellationToken::new();
//! token.cancel();
//! assert!(matches!(run_with_cancel(&slow, &token).await, Err(Error::Cancelled)));
//! # Ok(())
//! # }
//! ```

use std::future::{Future, pending};
use std::io;
use std::pin::pin;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::ChildStdin;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::command::AgentCommand;
use crate::error::{Error, Result, STDERR_TAIL_BYTES};
use crate::output::{CapBuf, Output};
use crate::platform::ChildGuard;

/// Bytes per read from a child's pipe once it has shown it writes a lot (a pipe holds 64 KiB).
pub(crate) const READ_CHUNK: usize = 64 * 1024;
/// Bytes per read until then: most children write little, and a small buffer is cheaper.
pub(crate) const FIRST_CHUNK: usize = 4 * 1024;

/// A read buffer that starts small and grows to [`READ_CHUNK`] after the first full read.
pub(crate) struct ReadBuf(Vec<u8>);

impl ReadBuf {
    pub(crate) fn new() -> Self {
        Self(vec![0; FIRST_CHUNK])
    }

    /// Reads once; `Ok(0)` at the end of the stream. The bytes are in `self.filled(n)`.
    pub(crate) async fn read_from<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
    ) -> io::Result<usize> {
        let n = reader.read(&mut self.0).await?;
        if n == self.0.len() && n < READ_CHUNK {
            self.0.resize(READ_CHUNK, 0);
        }
        Ok(n)
    }

    pub(crate) fn filled(&self, n: usize) -> &[u8] {
        &self.0[..n]
    }
}
/// First pause between two scans for a running child's descendants; it doubles up to
/// [`TRACK_POLL_MAX`].
const TRACK_POLL_MIN: Duration = Duration::from_millis(10);
/// Longest pause between two scans for a running child's descendants.
const TRACK_POLL_MAX: Duration = Duration::from_millis(250);

/// Least time given to finish reading the pipes once the group is gone.
const MIN_DRAIN: Duration = Duration::from_millis(200);

/// Runs `cmd` to completion. `Ok` only for exit status 0; a non-zero exit is
/// [`Error::NonZeroExit`] carrying the full output. Honours the command's timeout and
/// cancellation token (see [`AgentCommand::cancel_token`]).
pub async fn run(cmd: &AgentCommand) -> Result<Output> {
    run_inner(cmd, None).await
}

/// Like [`run()`], also stopping the process group and returning [`Error::Cancelled`] when
/// `cancel` fires (in addition to the command's own token, if any).
pub async fn run_with_cancel(cmd: &AgentCommand, cancel: &CancellationToken) -> Result<Output> {
    run_inner(cmd, Some(cancel)).await
}

async fn run_inner(cmd: &AgentCommand, extra_cancel: Option<&CancellationToken>) -> Result<Output> {
    cmd.validate()?;
    let program = cmd.program_lossy();
    if is_cancelled(cmd.cancel.as_ref()) || is_cancelled(extra_cancel) {
        return Err(Error::Cancelled);
    }
    let span = tracing::debug_span!("synod_exec::run", program = %program, args = cmd.args.len());
    async {
        let start = Instant::now();
        let mut guard = spawn_guarded(cmd, &program)?;
        let stdin = guard.child().stdin.take();
        let stdout = guard.child().stdout.take();
        let stderr = guard.child().stderr.take();
        let mut out = CapBuf::new(cmd.output_cap);
        let mut err = CapBuf::new(cmd.output_cap);
        let io = async {
            let (a, b, c) = tokio::join!(
                write_stdin(stdin, cmd.stdin.as_deref()),
                read_capped(stdout, &mut out),
                read_capped(stderr, &mut err),
            );
            a.and(b).and(c)
        };
        let sup = supervise(
            &mut guard,
            io,
            cmd.timeout.map(|t| start + t),
            [cmd.cancel.as_ref(), extra_cancel],
            Some(cmd.kill_grace.max(MIN_DRAIN)),
        )
        .await
        .map_err(|e| Error::io(&program, "waiting for", e))?;
        guard.disarm();
        sup.io
            .map_err(|e| Error::io(&program, "reading the output of", e))?;
        let output = Output::new(out, err, sup.status, start.elapsed());
        conclude(cmd, &program, sup.stop, output)
    }
    .instrument(span)
    .await
}

fn is_cancelled(token: Option<&CancellationToken>) -> bool {
    token.is_some_and(CancellationToken::is_cancelled)
}

/// Spawns `cmd` wrapped in a guard that stops its whole tree if dropped early: on Unix as the
/// leader of a new process group (with descendant tracking), on Windows in its own job object.
pub(crate) fn spawn_guarded(cmd: &AgentCommand, program: &str) -> Result<ChildGuard> {
    let guard = ChildGuard::spawn(cmd, program)?;
    tracing::debug!(pid = guard.pid(), "spawned");
    Ok(guard)
}

/// The error for a failed spawn of `cmd` (shown as `program`).
pub(crate) fn spawn_error(cmd: &AgentCommand, program: &str, e: io::Error) -> Error {
    // Windows: CreateProcess refuses a command line past 32 767 characters with
    // ERROR_FILENAME_EXCED_RANGE.
    let too_long = e.kind() == io::ErrorKind::ArgumentListTooLong
        || (cfg!(windows) && e.raw_os_error() == Some(206));
    match e.kind() {
        io::ErrorKind::NotFound => Error::NotFound {
            program: program.to_owned(),
        },
        io::ErrorKind::PermissionDenied => Error::PermissionDenied {
            program: program.to_owned(),
        },
        _ if too_long => Error::CommandLineTooLong {
            program: program.to_owned(),
            bytes: cmd.program.len() + cmd.args.iter().map(|a| a.len() + 1).sum::<usize>(),
        },
        _ => Error::io(program, "spawning", e),
    }
}

/// Writes `data` (if any) to the child's stdin, then closes it. A child that stops reading
/// early (broken pipe) is not an error.
pub(crate) async fn write_stdin(stdin: Option<ChildStdin>, data: Option<&[u8]>) -> io::Result<()> {
    let Some(mut stdin) = stdin else {
        return Ok(());
    };
    if let Some(data) = data {
        match stdin.write_all(data).await {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            other => other?,
        }
    }
    drop(stdin);
    Ok(())
}

async fn read_capped<R: AsyncRead + Unpin>(reader: Option<R>, buf: &mut CapBuf) -> io::Result<()> {
    let Some(mut reader) = reader else {
        return Ok(());
    };
    let mut chunk = ReadBuf::new();
    loop {
        let n = chunk.read_from(&mut reader).await?;
        if n == 0 {
            return Ok(());
        }
        buf.push(chunk.filled(n));
    }
}

/// Why supervision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The leader exited by itself.
    Exited,
    /// The deadline passed.
    TimedOut,
    /// A cancellation token fired.
    Cancelled,
}

#[derive(Debug)]
pub(crate) struct Supervised {
    pub(crate) status: ExitStatus,
    pub(crate) stop: Stop,
    pub(crate) io: io::Result<()>,
}

/// Drives `io` (feeding and draining the pipes) while waiting for the leader, the deadline or
/// a cancellation; then stops whatever is left of the group and finishes reading, waiting at
/// most `drain` (`None`: no limit) after the group is gone for pipes held open by a process
/// that left the group.
pub(crate) async fn supervise<F>(
    guard: &mut ChildGuard,
    io: F,
    deadline: Option<Instant>,
    cancels: [Option<&CancellationToken>; 2],
    drain: Option<Duration>,
) -> io::Result<Supervised>
where
    F: Future<Output = io::Result<()>>,
{
    let pid = guard.pid();
    let grace = guard.grace;
    let mut io = pin!(io);
    let mut io_result: Option<io::Result<()>> = None;
    let mut timer = pin!(async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => pending().await,
        }
    });
    let mut cancelled = pin!(async {
        match cancels {
            [Some(a), Some(b)] => tokio::select! {
                () = a.cancelled() => {},
                () = b.cancelled() => {},
            },
            [Some(t), None] | [None, Some(t)] => t.cancelled().await,
            [None, None] => pending().await,
        }
    });
    let mut track_pause = TRACK_POLL_MIN;
    let track_tick = tokio::time::sleep(track_pause);
    let mut track_tick = pin!(track_tick);
    let (stop, exited) = loop {
        let (child, tracker) = guard.parts();
        let tracking = tracker.enabled();
        tokio::select! {
            biased;
            waited = child.wait() => break (Stop::Exited, Some(waited?)),
            r = &mut io, if io_result.is_none() => io_result = Some(r),
            () = &mut cancelled => break (Stop::Cancelled, None),
            () = &mut timer => break (Stop::TimedOut, None),
            () = &mut track_tick, if tracking => {
                // Record descendants while their parents live: an orphan loses its link.
                tracker.scan_now();
                track_pause = (track_pause * 2).min(TRACK_POLL_MAX);
                track_tick.as_mut().reset(Instant::now() + track_pause);
            }
        }
    };
    let status = match exited {
        Some(status) => {
            if guard.leftovers() {
                tracing::debug!(pid, "leader exited; stopping what it left");
                let mut term = pin!(guard.stop_leftovers());
                loop {
                    tokio::select! {
                        r = &mut term => { r?; break; }
                        r = &mut io, if io_result.is_none() => io_result = Some(r),
                    }
                }
            }
            status
        }
        None => {
            tracing::debug!(pid, ?stop, "stopping the process tree");
            let mut term = pin!(guard.stop());
            loop {
                tokio::select! {
                    r = &mut term => break r?,
                    r = &mut io, if io_result.is_none() => io_result = Some(r),
                }
            }
        }
    };
    let drain = match stop {
        Stop::Exited => drain,
        Stop::TimedOut | Stop::Cancelled => Some(grace.max(MIN_DRAIN)),
    };
    let io_result = match io_result {
        Some(r) => r,
        None => {
            let limit = match drain {
                Some(limit) => limit,
                // Unbounded, unless a cancellation asks us to stop: then the usual bound.
                None => tokio::select! {
                    r = &mut io => return Ok(Supervised { status, stop, io: r }),
                    () = &mut cancelled => grace.max(MIN_DRAIN),
                },
            };
            tokio::time::timeout(limit, io).await.unwrap_or_else(|_| {
                tracing::warn!(
                    pid,
                    "a process outside the tree still holds the output pipes; stopped reading"
                );
                Ok(())
            })
        }
    };
    Ok(Supervised {
        status,
        stop,
        io: io_result,
    })
}

/// The signal that ended the process (Unix; never on Windows, where every end has a code).
fn signal_of(status: ExitStatus) -> Option<i32> {
    #[cfg(unix)]
    {
        std::os::unix::process::ExitStatusExt::signal(&status)
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        None
    }
}

/// Turns a finished run into the caller's result.
pub(crate) fn conclude(
    cmd: &AgentCommand,
    program: &str,
    stop: Stop,
    output: Output,
) -> Result<Output> {
    match stop {
        Stop::TimedOut => Err(Error::Timeout {
            program: program.to_owned(),
            after: cmd.timeout.unwrap_or_default(),
            partial: Box::new(output),
        }),
        Stop::Cancelled => Err(Error::Cancelled),
        Stop::Exited => match (output.status.code(), signal_of(output.status)) {
            (Some(0), _) => Ok(output),
            (Some(code), _) => Err(Error::NonZeroExit {
                program: program.to_owned(),
                code,
                stderr_tail: output.error_tail(STDERR_TAIL_BYTES),
                class: cmd.classifier_ref().classify_output(&output),
                output: Box::new(output),
            }),
            (None, Some(signal)) => Err(Error::Signaled {
                program: program.to_owned(),
                signal,
                output: Box::new(output),
            }),
            (None, None) => Err(Error::io(
                program,
                "reading the exit status of",
                io::Error::other(format!("unrecognized exit status {:?}", output.status)),
            )),
        },
    }
}
