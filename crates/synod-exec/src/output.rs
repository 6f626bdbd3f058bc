//! [`Output`]: what a finished child produced, and the head-and-tail output cap.
//!
//! Each stream is kept as bytes (non-UTF-8 output survives) with lossy text accessors. Past
//! the command's output cap, the first half and the last half of the stream are kept around a
//! marker that names how many bytes were dropped.
//!
//! ```ignore-windows
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synod_exec::Error> {
//! use synod_exec::{AgentCommand, run};
//!
//! let out = run(&AgentCommand::new("sh").args(["-c", "head -c 100000 /dev/zero | tr '\\0' a"])
//!     .output_cap(1000))
//! .await?;
//! assert!(out.stdout_truncated);
//! assert_eq!(out.stdout_dropped, 99_000);
//! assert!(out.stdout_lossy().contains("99000 bytes dropped"));
//! # Ok(())
//! # }
//! ```

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::process::ExitStatus;
use std::time::Duration;

/// The result of a finished child process.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Output {
    /// Everything the child wrote to stdout (head and tail with a marker past the cap).
    pub stdout: Vec<u8>,
    /// Everything the child wrote to stderr (head and tail with a marker past the cap).
    pub stderr: Vec<u8>,
    /// The exit status of the group leader.
    pub status: ExitStatus,
    /// Wall time from spawn to reaping.
    pub duration: Duration,
    /// Whether stdout exceeded the cap (bytes were dropped from its middle).
    pub stdout_truncated: bool,
    /// Whether stderr exceeded the cap (bytes were dropped from its middle).
    pub stderr_truncated: bool,
    /// How many stdout bytes were dropped.
    pub stdout_dropped: u64,
    /// How many stderr bytes were dropped.
    pub stderr_dropped: u64,
}

impl Output {
    pub(crate) fn new(
        stdout: CapBuf,
        stderr: CapBuf,
        status: ExitStatus,
        duration: Duration,
    ) -> Self {
        let (stdout, stdout_dropped) = stdout.finish();
        let (stderr, stderr_dropped) = stderr.finish();
        Self {
            stdout,
            stderr,
            status,
            duration,
            stdout_truncated: stdout_dropped > 0,
            stderr_truncated: stderr_dropped > 0,
            stdout_dropped,
            stderr_dropped,
        }
    }

    /// stdout as text, invalid UTF-8 replaced with U+FFFD.
    pub fn stdout_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// stderr as text, invalid UTF-8 replaced with U+FFFD.
    pub fn stderr_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }

    /// Whether the exit status is 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code, or `None` when the child was killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The last `max` bytes of stderr as trimmed text, or of stdout when stderr is blank
    /// (some agents report errors on stdout).
    pub fn error_tail(&self, max: usize) -> String {
        let stderr = tail_text(&self.stderr, max);
        if stderr.is_empty() {
            tail_text(&self.stdout, max)
        } else {
            stderr
        }
    }
}

/// The last `max` bytes of `bytes` as trimmed lossy text.
pub(crate) fn tail_text(bytes: &[u8], max: usize) -> String {
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..]).trim().to_owned()
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Outputs can be many megabytes: show sizes and short tails only.
        f.debug_struct("Output")
            .field("status", &self.status)
            .field("duration", &self.duration)
            .field("stdout_len", &self.stdout.len())
            .field("stderr_len", &self.stderr.len())
            .field("stdout_dropped", &self.stdout_dropped)
            .field("stderr_dropped", &self.stderr_dropped)
            .field("stdout_tail", &tail_text(&self.stdout, 200))
            .field("stderr_tail", &tail_text(&self.stderr, 200))
            .finish()
    }
}

/// Collects one stream, keeping all of it up to `cap` bytes and, past that, the first
/// `cap / 2` and the last `cap - cap / 2` bytes.
#[derive(Debug)]
pub(crate) struct CapBuf {
    cap: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    capped: bool,
    dropped: u64,
}

impl CapBuf {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            head: Vec::new(),
            tail: VecDeque::new(),
            capped: false,
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, mut data: &[u8]) {
        if !self.capped {
            if self.head.len() + data.len() <= self.cap {
                self.head.extend_from_slice(data);
                return;
            }
            self.capped = true;
            // The head keeps the first `cap / 2` bytes; what it held past that starts the tail.
            let head_cap = self.cap / 2;
            let spill = head_cap.min(self.head.len());
            self.tail.extend(self.head.drain(spill..));
            let take = (head_cap - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        let tail_cap = self.cap - self.cap / 2;
        if data.len() >= tail_cap {
            self.dropped += (self.tail.len() + data.len() - tail_cap) as u64;
            self.tail.clear();
            self.tail.extend(&data[data.len() - tail_cap..]);
        } else {
            self.tail.extend(data);
            let excess = self.tail.len().saturating_sub(tail_cap);
            self.tail.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    /// The kept bytes (with the marker when anything was dropped) and the dropped count.
    pub(crate) fn finish(self) -> (Vec<u8>, u64) {
        // Past the cap, at least one byte was always dropped.
        if self.dropped == 0 {
            let mut all = self.head;
            all.extend(self.tail);
            return (all, 0);
        }
        let marker = format!(
            "\n[... synod-exec: {} bytes dropped (output cap {} bytes) ...]\n",
            self.dropped, self.cap
        );
        let mut all = self.head;
        all.reserve(marker.len() + self.tail.len());
        all.extend_from_slice(marker.as_bytes());
        all.extend(self.tail);
        (all, self.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn under_the_cap_keeps_everything() {
        let mut b = CapBuf::new(10);
        b.push(b"hello");
        b.push(b"world");
        assert_eq!(b.finish(), (b"helloworld".to_vec(), 0));
    }

    #[test]
    fn over_the_cap_keeps_head_and_tail() {
        let mut b = CapBuf::new(10);
        b.push(b"0123456789abcdef");
        let (bytes, dropped) = b.finish();
        assert_eq!(dropped, 6);
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.starts_with("01234\n[... synod-exec: 6 bytes dropped"),
            "{text}"
        );
        assert!(text.ends_with("...]\nbcdef"), "{text}");
    }

    proptest! {
        #[test]
        fn head_and_tail_match_the_stream(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..30),
            cap in 0usize..64,
        ) {
            let all: Vec<u8> = chunks.concat();
            let mut b = CapBuf::new(cap);
            for c in &chunks {
                b.push(c);
            }
            let (bytes, dropped) = b.finish();
            if all.len() <= cap {
                prop_assert_eq!(bytes, all);
                prop_assert_eq!(dropped, 0);
            } else {
                let head = cap / 2;
                let tail = cap - head;
                prop_assert_eq!(dropped as usize, all.len() - cap);
                prop_assert_eq!(&bytes[..head], &all[..head]);
                prop_assert_eq!(&bytes[bytes.len() - tail..], &all[all.len() - tail..]);
            }
        }
    }
}
