//! [`spawn()`]: start a command and stream its output line by line as [`Event`]s.
//!
//! A background task owns the child: it writes stdin, reads stdout and stderr, enforces the
//! timeout and cancellation, and stops the process group when the [`Running`] handle is
//! dropped or [`Running::kill`] is called. It hands over whole pipe reads; the lines are split
//! where they are consumed (so their memory is allocated and freed on one thread), and
//! [`Running::wait`] takes the remaining bytes as they are, without splitting them.
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
//!         Event::Stderr(line) => assert_eq!(line, b"two"),
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

use std::io::{self, BufRead};
use std::pin::Pin;
use std::process::ExitStatus;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::command::AgentCommand;
use crate::error::{Error, Result};
use crate::output::{CapBuf, Output};
use crate::platform::ChildGuard;
use crate::run::{FIRST_CHUNK, READ_CHUNK, Stop, conclude, spawn_guarded, supervise, write_stdin};

/// Pipe reads buffered between the child's task and the consumer (at most 64 KiB each).
const CHANNEL_CHUNKS: usize = 16;

/// One thing a running child did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A line of stdout, without its `\n` (or `\r\n`); a final line without a newline is
    /// delivered too. Lines longer than the command's max line length arrive in pieces.
    Stdout(Vec<u8>),
    /// A line of stderr, as for `Stdout`.
    Stderr(Vec<u8>),
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
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exited(ExitStatus),
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
    /// Events split from received chunks, not yet yielded.
    ready: std::vec::IntoIter<Event>,
    stdout_lines: LineSplitter,
    stderr_lines: LineSplitter,
    /// The channel is finished (Exited received or closed) and the splitters flushed.
    done: bool,
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
        ready: Vec::new().into_iter(),
        stdout_lines: LineSplitter::new(cmd.max_line),
        stderr_lines: LineSplitter::new(cmd.max_line),
        done: false,
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
    make: fn(Vec<u8>) -> Msg,
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
            if tx.send(make(chunk)).await.is_err() {
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
    /// already taken as events (capped; lines already split but not yet taken are rejoined
    /// with `\n`, the rest is kept byte for byte), or the error (`NonZeroExit`, `Timeout`,
    /// `Cancelled`, ...).
    pub async fn wait(mut self) -> Result<Output> {
        let mut out = CapBuf::new(self.cmd.output_cap);
        let mut err = CapBuf::new(self.cmd.output_cap);
        for event in self.ready.by_ref() {
            match event {
                Event::Stdout(line) => {
                    out.push(&line);
                    out.push(b"\n");
                }
                Event::Stderr(line) => {
                    err.push(&line);
                    err.push(b"\n");
                }
                Event::Exited(_) => {}
            }
        }
        out.push(&self.stdout_lines.take_partial());
        err.push(&self.stderr_lines.take_partial());
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

    /// Splits a received message into ready events.
    fn take(&mut self, msg: Option<Msg>) {
        let mut events = Vec::new();
        match msg {
            Some(Msg::Stdout(chunk)) => self.stdout_lines.feed(&chunk, &mut events, Event::Stdout),
            Some(Msg::Stderr(chunk)) => self.stderr_lines.feed(&chunk, &mut events, Event::Stderr),
            Some(Msg::Exited(status)) => {
                self.finish_lines(&mut events);
                events.push(Event::Exited(status));
            }
            None => self.finish_lines(&mut events),
        }
        self.ready = events.into_iter();
    }

    fn finish_lines(&mut self, events: &mut Vec<Event>) {
        self.stdout_lines.finish(events, Event::Stdout);
        self.stderr_lines.finish(events, Event::Stderr);
        self.done = true;
    }
}

impl Stream for Running {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        loop {
            if let Some(event) = self.ready.next() {
                return Poll::Ready(Some(event));
            }
            if self.done {
                return Poll::Ready(None);
            }
            let msg = ready!(self.rx.poll_recv(cx));
            self.take(msg);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Stops the group unless the run already ended; the task reaps the leader.
        self.stop.cancel();
    }
}

/// Splits a byte stream, fed in arbitrary chunks, into lines without their `\n` or `\r\n`;
/// lines longer than `max_line` come out in `max_line`-byte pieces.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    partial: Vec<u8>,
    max_line: usize,
}

impl LineSplitter {
    pub(crate) fn new(max_line: usize) -> Self {
        Self {
            partial: Vec::new(),
            max_line: max_line.max(1),
        }
    }

    /// Appends the complete lines in `chunk` to `lines` (through `make`), keeping an
    /// unfinished one.
    pub(crate) fn feed<T>(&mut self, mut chunk: &[u8], lines: &mut Vec<T>, make: fn(Vec<u8>) -> T) {
        while !chunk.is_empty() {
            // `read_until` on a slice finds the newline with the platform's memchr and copies
            // the line in one go. Reading from a slice cannot fail.
            let before = chunk.len();
            if chunk.read_until(b'\n', &mut self.partial).is_err() || chunk.len() == before {
                break;
            }
            if self.partial.last() == Some(&b'\n') {
                self.partial.pop();
                if self.partial.last() == Some(&b'\r') {
                    self.partial.pop();
                }
                self.emit_pieces(lines, make);
                lines.push(make(std::mem::take(&mut self.partial)));
            } else {
                self.emit_pieces(lines, make);
            }
        }
    }

    /// Emits `max_line`-byte pieces while more than `max_line` bytes are pending.
    fn emit_pieces<T>(&mut self, lines: &mut Vec<T>, make: fn(Vec<u8>) -> T) {
        while self.partial.len() > self.max_line {
            let rest = self.partial.split_off(self.max_line);
            lines.push(make(std::mem::replace(&mut self.partial, rest)));
        }
    }

    /// At the end of the stream: the last line if it had no newline.
    pub(crate) fn finish<T>(&mut self, lines: &mut Vec<T>, make: fn(Vec<u8>) -> T) {
        if !self.partial.is_empty() {
            lines.push(make(std::mem::take(&mut self.partial)));
        }
    }

    /// The unfinished line so far (its continuation is in the next chunk).
    pub(crate) fn take_partial(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.partial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split_all(chunks: &[Vec<u8>], max_line: usize) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::new(max_line);
        let mut lines = Vec::new();
        for c in chunks {
            s.feed(c, &mut lines, std::convert::identity);
        }
        s.finish(&mut lines, std::convert::identity);
        lines
    }

    #[test]
    fn crlf_empty_lines_and_a_last_line_without_newline() {
        let lines = split_all(&[b"a\r\n\nb".to_vec(), b"c\nd".to_vec()], 100);
        assert_eq!(lines, [&b"a"[..], b"", b"bc", b"d"]);
    }

    proptest! {
        #[test]
        fn matches_a_plain_split(
            text in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'x'), Just(b'y')], 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..10),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|c| *c <= text.len()).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([text.len()]) {
                chunks.push(text[at..c].to_vec());
                at = c;
            }
            let got = split_all(&chunks, usize::MAX);
            let mut want: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
            if want.last().is_some_and(Vec::is_empty) {
                want.pop();
            }
            prop_assert_eq!(got, want);
        }

        #[test]
        fn long_lines_come_in_pieces(len in 0usize..50, max in 1usize..8) {
            let mut text = vec![b'x'; len];
            text.push(b'\n');
            let got = split_all(&[text], max);
            let total: usize = got.iter().map(Vec::len).sum();
            prop_assert_eq!(total, len);
            prop_assert!(got.iter().all(|l| l.len() <= max));
            // Fed byte by byte, the pieces are the same.
            let bytes: Vec<Vec<u8>> = std::iter::repeat_n(vec![b'x'], len).chain([vec![b'\n']]).collect();
            prop_assert_eq!(split_all(&bytes, max), got);
        }
    }
}
