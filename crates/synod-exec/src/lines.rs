//! [`LineSplitter`]: turns a stream's pipe reads into lines that are slices of those reads.
//!
//! A line that lies within one read is a [`Bytes`] slice of it (a reference count, no copy,
//! no allocation). Only a line that straddles two reads is copied, once. Lines are split
//! lazily, one per call, so nothing is allocated per line and nothing is queued.
//!
//! What a stream of bytes becomes does not depend on how it was cut into reads: the lines
//! are the bytes between `\n`s, each without one trailing `\r`; a last line without a
//! newline counts too; a line longer than `max_line` bytes comes as `max_line`-byte pieces
//! followed by the rest (so an empty line never follows its own pieces).

use std::io::BufRead;

use tokio_util::bytes::Bytes;

/// Splits one stream, fed in arbitrary chunks, into lines (see the module docs).
#[derive(Debug)]
pub(crate) struct LineSplitter {
    /// The read being split; `chunk[pos..]` is not yet taken.
    chunk: Bytes,
    pos: usize,
    /// Index in `chunk` of the first `\n` at or after `pos`, or `chunk.len()` when there is
    /// none (`None`: not searched yet). Saves searching a long line once per piece.
    newline: Option<usize>,
    /// The start of a line that straddles two reads (at most `max_line + 1` bytes: longer
    /// ones are handed out in pieces as they come).
    partial: Vec<u8>,
    /// `partial` is a whole line (its newline was seen, and removed with its `\r`).
    complete: bool,
    /// Pieces of the current line were already handed out.
    in_pieces: bool,
    max_line: usize,
}

impl LineSplitter {
    pub(crate) fn new(max_line: usize) -> Self {
        Self {
            chunk: Bytes::new(),
            pos: 0,
            newline: None,
            partial: Vec::new(),
            complete: false,
            in_pieces: false,
            max_line: max_line.max(1),
        }
    }

    /// Starts splitting `chunk`. Call it once [`next_line`](Self::next_line) has returned
    /// `None` for the previous chunk (what was left of that is kept as the unfinished line).
    pub(crate) fn feed(&mut self, chunk: Bytes) {
        self.chunk = chunk;
        self.pos = 0;
        self.newline = None;
    }

    /// The next line (or piece of a long line) of the current chunk, `None` once it is used
    /// up (an unfinished line is kept for the next chunk).
    pub(crate) fn next_line(&mut self) -> Option<Bytes> {
        loop {
            if self.partial.len() > self.max_line {
                return Some(self.piece_of_partial());
            }
            if self.complete {
                self.complete = false;
                let in_pieces = std::mem::take(&mut self.in_pieces);
                if self.partial.is_empty() && in_pieces {
                    continue;
                }
                return Some(Bytes::from(std::mem::take(&mut self.partial)));
            }
            let len = self.chunk.len();
            if self.pos >= len {
                // Let go of the read as soon as it is split.
                self.chunk = Bytes::new();
                self.pos = 0;
                return None;
            }
            let newline = self.newline.unwrap_or_else(|| self.find_newline());
            if self.partial.is_empty() {
                let mut end = newline;
                if end < len && end > self.pos && self.chunk[end - 1] == b'\r' {
                    end -= 1;
                }
                if end - self.pos > self.max_line {
                    return Some(self.piece_of_chunk());
                }
                if newline == len {
                    // An unfinished line: keep it for the next chunk.
                    self.partial.extend_from_slice(&self.chunk[self.pos..]);
                    self.pos = len;
                    continue;
                }
                let line = self.chunk.slice(self.pos..end);
                self.pos = newline + 1;
                self.newline = None;
                if line.is_empty() && std::mem::take(&mut self.in_pieces) {
                    continue;
                }
                self.in_pieces = false;
                return Some(line);
            }
            // A line that began in an earlier chunk: move at most `room` bytes over, so a
            // long one is copied once, piece by piece.
            let room = (self.max_line - self.partial.len()).saturating_add(1);
            let available = newline - self.pos;
            if available <= room && newline < len {
                self.partial
                    .extend_from_slice(&self.chunk[self.pos..newline]);
                self.pos = newline + 1;
                self.newline = None;
                if self.partial.last() == Some(&b'\r') {
                    self.partial.pop();
                }
                self.complete = true;
            } else {
                let take = available.min(room);
                self.partial
                    .extend_from_slice(&self.chunk[self.pos..self.pos + take]);
                self.pos += take;
            }
        }
    }

    /// At the end of the stream: the unfinished line, whole if it fits `max_line`, else its
    /// next piece (call again for the rest); `None` when nothing is left. Call it once
    /// [`next_line`](Self::next_line) has returned `None`.
    pub(crate) fn finish(&mut self) -> Option<Bytes> {
        if self.partial.is_empty() {
            self.in_pieces = false;
            return None;
        }
        self.complete = true;
        self.next_line()
    }

    /// Everything fed and not taken as lines (the unfinished line, then the rest of the
    /// current chunk), for [`crate::Running::wait`]. A whole line not yet taken gets its
    /// `\n` back (not a `\r` it had).
    pub(crate) fn take_rest(&mut self) -> (Vec<u8>, Bytes) {
        let rest = self.chunk.slice(self.pos.min(self.chunk.len())..);
        let mut partial = std::mem::take(&mut self.partial);
        if std::mem::take(&mut self.complete) {
            partial.push(b'\n');
        }
        self.chunk = Bytes::new();
        self.pos = 0;
        self.newline = None;
        self.in_pieces = false;
        (partial, rest)
    }

    /// Finds (and remembers) the first newline at or after `pos`.
    fn find_newline(&mut self) -> usize {
        let mut rest = &self.chunk[self.pos..];
        // `skip_until` on a slice finds the byte with the platform's memchr and cannot fail.
        let skipped = rest.skip_until(b'\n').unwrap_or(0);
        let last = self.pos + skipped;
        let at = if skipped > 0 && self.chunk[last - 1] == b'\n' {
            last - 1
        } else {
            self.chunk.len()
        };
        self.newline = Some(at);
        at
    }

    /// The next `max_line` bytes of the chunk, as a piece of a long line.
    fn piece_of_chunk(&mut self) -> Bytes {
        let piece = self.chunk.slice(self.pos..self.pos + self.max_line);
        self.pos += self.max_line;
        self.in_pieces = true;
        piece
    }

    /// The first `max_line` bytes of the line begun in an earlier chunk, as a piece.
    fn piece_of_partial(&mut self) -> Bytes {
        let rest = self.partial.split_off(self.max_line);
        self.in_pieces = true;
        Bytes::from(std::mem::replace(&mut self.partial, rest))
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
            s.feed(Bytes::copy_from_slice(c));
            while let Some(line) = s.next_line() {
                lines.push(line.to_vec());
            }
        }
        while let Some(line) = s.finish() {
            lines.push(line.to_vec());
        }
        lines
    }

    /// What the module docs promise, written the plain way.
    fn reference(text: &[u8], max_line: usize) -> Vec<Vec<u8>> {
        let mut segments: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
        if segments.last().is_some_and(|s| s.is_empty()) {
            segments.pop();
        }
        let mut lines = Vec::new();
        for (i, mut line) in segments.iter().copied().enumerate() {
            let terminated = i + 1 < segments.len() || text.last() == Some(&b'\n');
            if terminated && line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            if line.is_empty() {
                lines.push(Vec::new());
            }
            lines.extend(line.chunks(max_line).map(<[u8]>::to_vec));
        }
        lines
    }

    fn cut(text: &[u8], cuts: Vec<usize>) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.into_iter().filter(|c| *c <= text.len()).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut at = 0;
        for c in cuts.into_iter().chain([text.len()]) {
            chunks.push(text[at..c].to_vec());
            at = c;
        }
        chunks
    }

    #[test]
    fn crlf_empty_lines_and_a_last_line_without_newline() {
        let lines = split_all(&[b"a\r\n\nb".to_vec(), b"c\nd".to_vec()], 100);
        assert_eq!(lines, [&b"a"[..], b"", b"bc", b"d"]);
    }

    #[test]
    fn a_line_within_one_read_is_a_slice_of_it() {
        let chunk = Bytes::from_static(b"first\nsecond\r\nthird");
        let mut s = LineSplitter::new(100);
        s.feed(chunk.clone());
        let first = s.next_line().unwrap();
        assert_eq!(first, b"first"[..]);
        assert_eq!(first.as_ptr(), chunk.as_ptr());
        let second = s.next_line().unwrap();
        assert_eq!(second, b"second"[..]);
        assert_eq!(second.as_ptr(), chunk[6..].as_ptr());
        assert_eq!(s.next_line(), None);
        assert_eq!(s.finish().unwrap(), b"third"[..]);
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn a_line_of_exactly_max_line_then_crlf_is_one_line_however_it_is_cut() {
        // "ab\r" is longer than max_line 2 before its newline arrives: it must not become
        // "ab" and an empty line.
        assert_eq!(
            split_all(&[b"ab\r".to_vec(), b"\nc".to_vec()], 2),
            [&b"ab"[..], b"c"]
        );
        assert_eq!(split_all(&[b"ab\r\nc".to_vec()], 2), [&b"ab"[..], b"c"]);
        assert_eq!(
            split_all(&[b"abcd\n\n".to_vec()], 2),
            [&b"ab"[..], b"cd", b""]
        );
    }

    #[test]
    fn long_lines_in_one_read_come_in_pieces_of_max_line() {
        let lines = split_all(&[b"abcdefg\nhi\n".to_vec()], 3);
        assert_eq!(lines, [&b"abc"[..], b"def", b"g", b"hi"]);
        let lines = split_all(&[b"abcdefg".to_vec()], 3);
        assert_eq!(lines, [&b"abc"[..], b"def", b"g"]);
    }

    #[test]
    fn take_rest_gives_back_the_bytes_not_yet_split() {
        let mut s = LineSplitter::new(100);
        s.feed(Bytes::from_static(b"one"));
        assert_eq!(s.next_line(), None);
        s.feed(Bytes::from_static(b"two\r\nthree\nfour"));
        assert_eq!(s.next_line().unwrap(), b"onetwo"[..]);
        let (partial, rest) = s.take_rest();
        assert!(partial.is_empty());
        assert_eq!(rest, b"three\nfour"[..]);
        assert_eq!(s.next_line(), None);
        assert_eq!(s.finish(), None);
    }

    proptest! {
        #[test]
        fn matches_the_plain_split_however_the_stream_is_cut(
            text in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'x'), Just(b'y')], 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..10),
            max_line in prop_oneof![1usize..8, Just(usize::MAX)],
        ) {
            let got = split_all(&cut(&text, cuts), max_line);
            prop_assert_eq!(got, reference(&text, max_line));
        }

        #[test]
        fn fed_byte_by_byte_the_lines_are_the_same(
            text in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'x')], 0..100),
            max_line in 1usize..6,
        ) {
            let bytes: Vec<Vec<u8>> = text.iter().map(|b| vec![*b]).collect();
            prop_assert_eq!(split_all(&bytes, max_line), split_all(std::slice::from_ref(&text), max_line));
        }
    }
}
