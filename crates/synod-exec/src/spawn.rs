//! [`spawn()`]: start a command and stream its output line by line as [`Event`]s.
//!
//! A background task owns the child: it writes stdin, reads stdout and stderr, enforces the
//! timeout and cancellation, and stops the process group when the [`Running`] handle is
//! dropped or [`Running::kill`] is called. It hands over whole pipe reads; the lines are split
//! where they are consumed, one per event, as [`Bytes`] slices of the read they came in (no
//! copy and no allocation per line; only a line straddling two reads is copied once), and
//! [`Running::wait`] takes the remaining bytes as they are, without splitting them.
//!
//! Memory stays bounded: at most 16 reads of at most 64 KiB wait between the child's task and
//! the consumer, and a line is at most the command's max line length. A line keeps the read
//! it is a slice of alive (at most 64 KiB) for as long as it is kept: copy the lines you keep
//! for long (`line.to_vec()`) rather than holding a few bytes of many reads.
//!
//! Consume the events (or call [`Running::wait`], which collects whatever is left): a child
//! whose output nobody reads blocks on its pipes once the internal buffer is full.
//!
//! ```ignore-windows
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synod_exec::Error> {
//! use futures::StreamExt;
//! use synod_exec::{AgentCommand, Event, spawn};
//!
//! let mut running = spawn(&AgentCommand::new("sh").args(["-c", "echo one; echo two >&2; echo three"]))?;
//! let mut stdout = Vec::new();
//! while let Some(event) = running.next().await {
//!     match event {
//!         Event::Stdout(line) => stdout.push(String::from_utf8_lossy(&line).into_owned()),
//!         Event::Stderr(line) => assert_eq!(line, &b"two"[..]),
//!         Event::Exited(status) => assert!(status.success()),
//!     }
//! }
//! assert_eq!(stdout, ["one", "three"]);
//!
//! // Or collect everything not yet consumed, like `run`:
//! let out = spawn(&AgentCommand::new("echo").arg("hi"))?.wait().await?;
//! assert_eq!(out.stdout, b"hi\n");
//! # Ok(())
//! # }
//! ```

use std::io;
use std::pin::Pin;
use std::process::ExitStatus;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::bytes::Bytes;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::command::AgentCommand;
use crate::error::{Error, Result};
use crate::lines::LineSplitter;
use crate::output::{CapBuf, Output};
use crate::platform::ChildGuard;
use crate::run::{FIRST_CHUNK, READ_CHUNK, Stop, conclude, spawn_guarded, supervise, write_stdin};

/// Pipe reads buffered between the child's task and the consumer (at most 64 KiB each).
const CHANNEL_CHUNKS: usize = 16;

/// One thing a running child did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A line of stdout, without its `\n` (or `\r\n`); a final line without a newline is
    /// delivered too. Lines longer than the command's max line length arrive in pieces of
    /// that length (then the rest). The line is a slice of the pipe read it came in (cheap to
    /// clone; it keeps that read, at most 64 KiB, alive); [`Bytes`] derefs to `[u8]`.
    Stdout(Bytes),
    /// A line of stderr, as for `Stdout`.
    Stderr(Bytes),
    /// The leader exited and was reaped (always the last event, after all output).
    Exited(ExitStatus),
}

impl Event {
    /// The line as text (invalid UTF-8 replaced), for `Stdout` and `Stderr`.
    pub fn line_lossy(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Event::Stdout(line) | Event::Stderr(line) => Some(String::from_utf8_lossy(line)),
            Event::Exited(_) => None,
        }
    }
}

/// What the child's task hands over.
#[derive(Debug)]
enum Msg {
    Stdout(Bytes),
    Stderr(Bytes),
    Exited(ExitStatus),
}

/// Which stream a chunk being split belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Stdout,
    Stderr,
}

/// What the child's task reports when it is done.
type Finished = Result<(ExitStatus, Stop, Duration)>;

/// A running child: a [`Stream`] of [`Event`]s, plus [`wait`](Running::wait) and
/// [`kill`](Running::kill). Dropping it stops the process tree (Unix: SIGTERM, grace, SIGKILL
/// to the group and the tracked descendants; Windows: its job is terminated).
#[derive(Debug)]
pub struct Running {
    cmd: AgentCommand,
    program: String,
    pid: u32,
    rx: mpsc::Receiver<Msg>,
    /// The stream whose chunk is being split into events (one line per poll).
    splitting: Option<Which>,
    stdout_lines: LineSplitter,
    stderr_lines: LineSplitter,
    /// The channel is finished (Exited received or closed): the unfinished lines, then
    /// `exited` (if any), are yielded, then the stream ends.
    done: bool,
    exited: Option<ExitStatus>,
    stop: CancellationToken,
    task: Option<JoinHandle<Finished>>,
}

/// Starts `cmd` and returns at once. Must be called within a tokio runtime. Errors are those
/// of spawning ([`Error::InvalidCommand`], [`Error::NotFound`], ...); how the run ends is
/// reported by [`Running::wait`] (and the last [`Event::Exited`]).
pub fn spawn(cmd: &AgentCommand) -> Result<Running> {
    cmd.validate()?;
    let program = cmd.program_lossy();
    if cmd
        .cancel
        .as_ref()
        .is_some_and(CancellationToken::is_cancelled)
    {
        return Err(Error::Cancelled);
    }
    let span = tracing::debug_span!("synod_exec::spawn", program = %program, args = cmd.args.len());
    let start = Instant::now();
    let guard = {
        let _entered = span.enter();
        spawn_guarded(cmd, &program)?
    };
    let pid = guard.pid();
    let stop = CancellationToken::new();
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let task = tokio::spawn(
        drive(guard, cmd.clone(), program.clone(), tx, stop.clone(), start).instrument(span),
    );
    Ok(Running {
        cmd: cmd.clone(),
        program,
        pid,
        rx,
        splitting: None,
        stdout_lines: LineSplitter::new(cmd.max_line),
        stderr_lines: LineSplitter::new(cmd.max_line),
        done: false,
        exited: None,
        stop,
        task: Some(task),
    })
}

async fn drive(
    mut guard: ChildGuard,
    cmd: AgentCommand,
    program: String,
    tx: mpsc::Sender<Msg>,
    stop: CancellationToken,
    start: Instant,
) -> Finished {
    let stdin = guard.child().stdin.take();
    let stdout = guard.child().stdout.take();
    let stderr = guard.child().stderr.take();
    let io = async {
        let (a, b, c) = tokio::join!(
            write_stdin(stdin, cmd.stdin.as_deref()),
            forward(stdout, Msg::Stdout, &tx),
            forward(stderr, Msg::Stderr, &tx),
        );
        a.and(b).and(c)
    };
    let sup = supervise(
        &mut guard,
        io,
        cmd.timeout.map(|t| start + t),
        [cmd.cancel.as_ref(), Some(&stop)],
        None,
    )
    .await
    .map_err(|e| Error::io(&program, "waiting for", e))?;
    guard.disarm();
    sup.io
        .map_err(|e| Error::io(&program, "reading the output of", e))?;
    // The consumer may be gone; that is fine.
    let _ = tx.send(Msg::Exited(sup.status)).await;
    Ok((sup.status, sup.stop, start.elapsed()))
}

/// Reads `reader` to its end, handing over each read as one chunk.
async fn forward<R: AsyncRead + Unpin>(
    reader: Option<R>,
    make: fn(Bytes) -> Msg,
    tx: &mpsc::Sender<Msg>,
) -> io::Result<()> {
    let Some(mut reader) = reader else {
        return Ok(());
    };
    let mut size = FIRST_CHUNK;
    let mut open = true;
    let mut buf = Vec::with_capacity(size);
    loop {
        let n = reader.read_buf(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        if n == size && size < READ_CHUNK {
            // A chatty child: read in pipe-sized chunks from now on.
            size = READ_CHUNK;
        }
        if open {
            let chunk = std::mem::replace(&mut buf, Vec::with_capacity(size));
            if tx.send(make(Bytes::from(chunk))).await.is_err() {
                // Nobody listens any more: keep draining so the child never blocks on its pipe.
                open = false;
            }
        } else {
            buf.clear();
            buf.reserve(size);
        }
    }
}

impl Running {
    /// The leader's process id (on Unix also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The command being run.
    pub fn command(&self) -> &AgentCommand {
        &self.cmd
    }

    /// Waits for the run to end and returns what [`crate::run()`] would have: the output not
    /// already taken as events (capped; byte for byte, except that a line whose newline was
    /// already seen gets back a plain `\n`), or the error (`NonZeroExit`, `Timeout`,
    /// `Cancelled`, ...).
    pub async fn wait(mut self) -> Result<Output> {
        let mut out = CapBuf::new(self.cmd.output_cap);
        let mut err = CapBuf::new(self.cmd.output_cap);
        for (lines, buf) in [
            (&mut self.stdout_lines, &mut out),
            (&mut self.stderr_lines, &mut err),
        ] {
            let (partial, rest) = lines.take_rest();
            buf.push(&partial);
            buf.push(&rest);
        }
        if !self.done {
            while let Some(msg) = self.rx.recv().await {
                match msg {
                    Msg::Stdout(chunk) => out.push(&chunk),
                    Msg::Stderr(chunk) => err.push(&chunk),
                    Msg::Exited(_) => {}
                }
            }
        }
        let (status, stop, duration) = self.finished().await?;
        let output = Output::new(out, err, status, duration);
        conclude(&self.cmd, &self.program, stop, output)
    }

    /// Stops the process tree (Unix: SIGTERM, the kill grace, SIGKILL; Windows: terminates its
    /// job, the leader exits with code 1), reaps the leader and returns its exit status.
    /// Remaining output is discarded.
    pub async fn kill(mut self) -> Result<ExitStatus> {
        self.stop.cancel();
        while self.rx.recv().await.is_some() {}
        let (status, _, _) = self.finished().await?;
        Ok(status)
    }

    /// A token that stops this run when cancelled (usable from another task while this one
    /// reads the events).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    async fn finished(&mut self) -> Finished {
        let Some(task) = self.task.take() else {
            return Err(Error::io(
                &self.program,
                "waiting for",
                io::Error::other("the run was already awaited"),
            ));
        };
        task.await.map_err(|e| {
            Error::io(
                &self.program,
                "waiting for",
                io::Error::other(format!("the supervising task failed: {e}")),
            )
        })?
    }

    /// The next line of the chunk being split, if any.
    fn next_line(&mut self) -> Option<Event> {
        let which = self.splitting?;
        let line = match which {
            Which::Stdout => self.stdout_lines.next_line().map(Event::Stdout),
            Which::Stderr => self.stderr_lines.next_line().map(Event::Stderr),
        };
        if line.is_none() {
            self.splitting = None;
        }
        line
    }

    /// After the last chunk: the unfinished lines (stdout's, then stderr's), then `Exited`.
    fn next_final(&mut self) -> Option<Event> {
        self.stdout_lines
            .finish()
            .map(Event::Stdout)
            .or_else(|| self.stderr_lines.finish().map(Event::Stderr))
            .or_else(|| self.exited.take().map(Event::Exited))
    }
}

impl Stream for Running {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let this = &mut *self;
        loop {
            if let Some(event) = this.next_line() {
                return Poll::Ready(Some(event));
            }
            if this.done {
                return Poll::Ready(this.next_final());
            }
            match ready!(this.rx.poll_recv(cx)) {
                Some(Msg::Stdout(chunk)) => {
                    this.stdout_lines.feed(chunk);
                    this.splitting = Some(Which::Stdout);
                }
                Some(Msg::Stderr(chunk)) => {
                    this.stderr_lines.feed(chunk);
                    this.splitting = Some(Which::Stderr);
                }
                Some(Msg::Exited(status)) => {
                    this.exited = Some(status);
                    this.done = true;
                }
                None => this.done = true,
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Stops the group unless the run already ended; the task reaps the leader.
        self.stop.cancel();
    }
}
