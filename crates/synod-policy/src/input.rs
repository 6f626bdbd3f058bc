//! Bounded reading: every file, stdin and commit message the policy layer reads goes through
//! here, so memory stays bounded whatever the input (`/dev/zero`, a runaway pipe, a commit
//! with a gigabyte message).
//!
//! The limit is `max-input-bytes` in the policy configuration (default
//! [`DEFAULT_MAX_INPUT_BYTES`], 1 MiB; the CLI's `--max-bytes` overrides it). An input of
//! exactly the limit is accepted; one byte more is [`Error::TooLarge`], naming the input and
//! the limit and saying how to raise it. At most `limit + 1` bytes are ever read
//! ([`Read::take`]).
//!
//! ```
//! use synod_policy::input::read_limited;
//!
//! assert_eq!(read_limited(&b"feat: x\n"[..], 8, "msg".as_ref()).unwrap(), b"feat: x\n");
//! let err = read_limited(&b"feat: xy\n"[..], 8, "msg".as_ref()).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "msg is larger than the 8-byte input limit; raise it with `--max-bytes N` \
//!      or `\"max-input-bytes\": N` in .synod/policy.json"
//! );
//! ```

use std::io::Read;
use std::path::Path;

use crate::{Error, Result, io_err};

/// The default input limit: 1 MiB.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// How to raise the limit, as [`Error::TooLarge`] says it.
pub const RAISE_ADVICE: &str =
    "raise it with `--max-bytes N` or `\"max-input-bytes\": N` in .synod/policy.json";

/// The [`Error::TooLarge`] for `source_name` and `limit`, with `advice` saying what to do.
#[must_use]
pub fn too_large(source_name: &str, limit: u64, advice: &str) -> Error {
    Error::TooLarge {
        source_name: source_name.to_owned(),
        limit,
        advice: advice.to_owned(),
    }
}

/// Reads all of `reader`, at most `limit` bytes; `name` names the input in errors.
///
/// # Errors
/// [`Error::TooLarge`] when there is more than `limit` bytes, [`Error::Io`] when reading
/// fails.
pub fn read_limited(reader: impl Read, limit: u64, name: &Path) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(io_err("read", name))?;
    if buf.len() as u64 > limit {
        return Err(too_large(&name.display().to_string(), limit, RAISE_ADVICE));
    }
    Ok(buf)
}

/// Reads the file at `path` (a FIFO or device too), at most `limit` bytes.
///
/// # Errors
/// As [`read_limited`]; [`Error::Io`] also when the file cannot be opened.
pub fn read_file_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(io_err("open", path))?;
    read_limited(file, limit, path)
}

/// Reads standard input, at most `limit` bytes (named `stdin` in errors).
///
/// # Errors
/// As [`read_limited`].
pub fn read_stdin_limited(limit: u64) -> Result<Vec<u8>> {
    read_limited(std::io::stdin().lock(), limit, Path::new("stdin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_limit_passes_one_more_fails() {
        let name = Path::new("m");
        assert_eq!(read_limited(&[7u8; 5][..], 5, name).expect("fits"), [7; 5]);
        assert_eq!(read_limited(&[][..], 0, name).expect("empty fits"), b"");
        let err = read_limited(&[7u8; 6][..], 5, name).expect_err("too big");
        assert!(
            matches!(&err, Error::TooLarge { source_name, limit: 5, .. } if source_name == "m"),
            "{err}"
        );
        // u64::MAX does not overflow.
        assert_eq!(read_limited(&b"x"[..], u64::MAX, name).expect("fits"), b"x");
    }

    #[test]
    fn an_endless_device_stops_at_the_limit() {
        let err = read_file_limited(Path::new("/dev/zero"), 1024).expect_err("endless");
        assert!(
            err.to_string()
                .starts_with("/dev/zero is larger than the 1024-byte input limit")
        );
        let err = read_file_limited(Path::new("/nonexistent/msg"), 10).expect_err("missing");
        assert!(matches!(err, Error::Io { action: "open", .. }), "{err}");
    }
}
