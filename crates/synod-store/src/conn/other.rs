//! What `conn` needs on Windows and other non-Unix targets (never compiled on Unix).

use std::fs;
use std::path::Path;

/// Why `path` cannot be written, if it cannot (`None` also when it does not exist).
///
/// Windows (and other non-Unix targets): a file with the read-only attribute, or one this
/// user may not open for writing (its ACL, a read-only volume) is read-only; opening for
/// writing changes nothing in the file. A directory's read-only attribute does not stop
/// Windows from creating files in it, and there is no side-effect-free probe of a
/// directory's ACL, so directories are never judged here: SQLite's own error (mapped to
/// [`crate::Error::ReadOnly`] or [`crate::Error::Io`]) reports one it cannot write.
pub(crate) fn unwritable(path: &Path, what: &str) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    if meta.is_dir() {
        return None;
    }
    if meta.permissions().readonly() {
        return Some(format!(
            "{what} {} has the read-only attribute",
            path.display()
        ));
    }
    match fs::OpenOptions::new().write(true).open(path) {
        Ok(_) => None,
        Err(e) => Some(format!("{what} {} is not writable: {e}", path.display())),
    }
}
