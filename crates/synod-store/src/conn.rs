//! Opening connections: the file checks done before SQLite touches a file, the per-connection
//! pragmas, the one-time WAL / auto-vacuum setup, and the cache of read connections.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::options::Options;

/// How a file database is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileMode {
    /// Read and write (the store never creates the file through SQLite: see
    /// `Store::open`).
    ReadWrite,
    /// `SQLITE_OPEN_READ_ONLY`: reads only, sharing the `-wal`/`-shm` with writers.
    ReadOnly,
    /// Read-only with `immutable=1`: for a directory where `-shm` cannot be created and no
    /// WAL content is pending, so SQLite takes no locks and creates no files.
    Immutable,
}

/// Where the database lives.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A file on disk.
    File(PathBuf, FileMode),
    /// A named in-memory database (`file:/name?vfs=memdb`) shared by every connection of
    /// this process that opens the same name.
    Memory(String),
}

impl Target {
    /// A fresh, process-unique in-memory database.
    pub(crate) fn unique_memory() -> Target {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Target::Memory(format!(
            "file:/synod-store-{}-{n}?vfs=memdb",
            std::process::id()
        ))
    }

    /// The path shown in errors and logs.
    pub(crate) fn display_path(&self) -> PathBuf {
        match self {
            Target::File(path, _) => path.clone(),
            Target::Memory(_) => PathBuf::from(":memory:"),
        }
    }

    /// Whether connections to this target can write.
    pub(crate) fn writable(&self) -> bool {
        matches!(
            self,
            Target::File(_, FileMode::ReadWrite) | Target::Memory(_)
        )
    }

    /// What to hand SQLite (a path, or a `file:` URI) and with which flags.
    pub(crate) fn name_and_flags(&self) -> (PathBuf, OpenFlags) {
        let base = OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        match self {
            // No CREATE: a store file is only ever created whole (`Store::open`).
            Target::File(path, FileMode::ReadWrite) => {
                (path.clone(), base | OpenFlags::SQLITE_OPEN_READ_WRITE)
            }
            Target::File(path, FileMode::ReadOnly) => {
                (path.clone(), base | OpenFlags::SQLITE_OPEN_READ_ONLY)
            }
            Target::File(path, FileMode::Immutable) => (
                PathBuf::from(format!("{}?immutable=1", file_uri(path))),
                base | OpenFlags::SQLITE_OPEN_READ_ONLY,
            ),
            Target::Memory(uri) => (
                PathBuf::from(uri),
                base | OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            ),
        }
    }

    fn open_raw(&self) -> rusqlite::Result<Connection> {
        let (name, flags) = self.name_and_flags();
        Connection::open_with_flags(name, flags)
    }
}

/// `path` as a `file:` URI (absolute, with `%`, `?` and `#` escaped).
fn file_uri(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file:");
    for ch in absolute.to_string_lossy().chars() {
        match ch {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            _ => uri.push(ch),
        }
    }
    uri
}

/// The pragmas every connection gets, in the documented order. None of them writes to the
/// file, so they are safe to run before the schema version is checked.
pub(crate) fn connection_pragmas(options: &Options) -> String {
    format!(
        "PRAGMA busy_timeout = {busy};
         PRAGMA foreign_keys = ON;
         PRAGMA synchronous = {sync};
         PRAGMA cache_size = -{cache};
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = {mmap};",
        busy = options.busy_timeout.as_millis().min(i32::MAX as u128),
        sync = options.durability.pragma_value(),
        cache = options.cache_size_kib,
        mmap = options.mmap_size,
    )
}

/// Opens one connection with the per-connection pragmas applied.
pub(crate) fn open_connection(target: &Target, pragmas: &str) -> rusqlite::Result<Connection> {
    let conn = target.open_raw()?;
    conn.execute_batch(pragmas)?;
    Ok(conn)
}

/// Checks an existing file before SQLite opens it, so a file that is not a database (or is
/// visibly truncated, or empty) is rejected without being modified and without `-wal`/`-shm`
/// files appearing next to it. Returns whether the file exists.
pub(crate) fn precheck_file(path: &Path) -> Result<bool> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(e)),
    };
    if meta.is_dir() {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
            detail: "it is a directory".into(),
        });
    }
    let len = meta.len();
    if len == 0 {
        // SQLite would silently turn it into a new, empty store; synod creates its stores
        // whole (see `Store::open`), so an empty file is never one of them.
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
            detail: "it is empty (0 bytes), so it holds no store; delete it to start a new store"
                .into(),
        });
    }
    // The first 100 bytes, or fewer if the file is shorter (`read_to_end` retries EINTR).
    let mut header = Vec::with_capacity(100);
    fs::File::open(path)
        .and_then(|file| file.take(100).read_to_end(&mut header))
        .map_err(io_err)?;
    check_header(
        path,
        &header,
        len,
        &sibling(path, "-wal"),
        &sibling(path, "-journal"),
    )?;
    Ok(true)
}

pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn nonempty(path: &Path) -> bool {
    fs::metadata(path).map(|m| m.len() > 0).unwrap_or(false)
}

/// Why `path` cannot be written, if it cannot (`None` also when it does not exist).
///
/// Two tests, either of which makes it read-only: the kernel's answer to `access(W_OK)`
/// (which also sees read-only mounts), and the permission bits: a file or directory with no
/// write bit at all (`chmod a-w`) counts as read-only for every user. The second test is what
/// makes the guard hold for root, whom the kernel lets write regardless of the bits.
#[cfg(unix)]
pub(crate) fn unwritable(path: &Path, what: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).ok()?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o222 == 0 {
        return Some(format!(
            "{what} {} has no write permission (mode {mode:04o})",
            path.display()
        ));
    }
    match nix::unistd::access(path, nix::unistd::AccessFlags::W_OK) {
        Ok(()) => None,
        Err(errno) => Some(format!(
            "{what} {} is not writable: {}",
            path.display(),
            io::Error::from(errno)
        )),
    }
}

// Windows and other non-Unix targets: in its own file, which only those builds compile.
#[cfg(not(unix))]
mod other;
#[cfg(not(unix))]
pub(crate) use other::unwritable;

/// True when `meta` denies writing to everybody: no write bit at all on Unix, the read-only
/// attribute on Windows.
pub(crate) fn no_write_bits(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o222 == 0
    }
    #[cfg(not(unix))]
    {
        meta.permissions().readonly()
    }
}

/// The first reason the store at `path` (an existing file) cannot be written: the file, an
/// existing `-wal` or `-shm`, or the directory (where SQLite creates them).
pub(crate) fn store_unwritable(path: &Path) -> Option<String> {
    unwritable(path, "the file")
        .or_else(|| unwritable(&sibling(path, "-wal"), "its WAL file"))
        .or_else(|| unwritable(&sibling(path, "-shm"), "its shared-memory file"))
        .or_else(|| unwritable(parent_dir(path), "its directory"))
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Creates `dir` and any missing parents with mode 0700 (existing ones are left as they are).
/// On Windows they inherit the ACL of the directory they are made in (see the crate docs).
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// `options` with mode 0600 for a file they create (Unix; on Windows a new file inherits its
/// directory's ACL, see the crate docs).
pub(crate) fn private(options: &mut fs::OpenOptions) -> &mut fs::OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

/// Creates a new, empty file with mode 0600 (failing if it exists), so nothing SQLite later
/// writes into it is ever readable by other users. SQLite gives the `-wal`, `-shm` and
/// `-journal` files it creates the database file's permission bits.
pub(crate) fn create_private_file(path: &Path) -> Result<()> {
    private(fs::OpenOptions::new().write(true).create_new(true))
        .open(path)
        .map(drop)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Refuses a backup destination that holds anything but a SQLite database: a backup
/// replaces an older backup, never a config file or a directory named by mistake. No file,
/// or an empty one (from `mktemp`), is a fine destination.
pub(crate) fn check_backup_destination(dest: &Path) -> Result<()> {
    let refuse = |what: String| Error::BackupWouldReplace {
        dest: dest.to_path_buf(),
        what,
    };
    // Nothing there (or nothing this process can look at, which the copy then reports).
    // The link itself, not its target: the copy is renamed over whatever has this name.
    let Ok(meta) = fs::symlink_metadata(dest) else {
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(Error::Io {
                path: parent.to_path_buf(),
                source: io::Error::new(
                    io::ErrorKind::NotFound,
                    "the backup's directory does not exist; create it first",
                ),
            });
        }
        return Ok(());
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target =
            fs::read_link(dest).map_or_else(|_| "?".to_owned(), |t| t.display().to_string());
        return Err(refuse(format!(
            "a symbolic link to {target} (the backup would replace the link, not its target; give the target's path)"
        )));
    }
    if kind.is_dir() {
        return Err(refuse("a directory".to_owned()));
    }
    if !kind.is_file() {
        return Err(refuse(special_file(&kind).to_owned()));
    }
    if meta.len() == 0 {
        return Ok(());
    }
    let mut magic = [0u8; 16];
    // A file this process cannot read is refused as well: it may be anything.
    match fs::File::open(dest).and_then(|mut f| f.read_exact(&mut magic)) {
        Ok(()) if &magic == b"SQLite format 3\0" => Ok(()),
        _ => Err(refuse(format!(
            "a {}-byte file that is not a SQLite database",
            meta.len()
        ))),
    }
}

/// What a file that is neither a regular file, a directory nor a link is.
fn special_file(kind: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_fifo() {
            return "a named pipe";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    #[cfg(not(unix))]
    let _ = kind;
    "a special file"
}

/// Removes `path`, ignoring a file that is already gone.
pub(crate) fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Validates the 100-byte SQLite header against the file length.
fn check_header(path: &Path, header: &[u8], len: u64, wal: &Path, journal: &Path) -> Result<()> {
    const MAGIC: &[u8; 16] = b"SQLite format 3\0";
    let not_db = |detail: String| Error::NotADatabase {
        path: path.to_path_buf(),
        detail,
    };
    let corrupt = |detail: String| Error::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    if header.len() < 16 || &header[..16] != MAGIC {
        return Err(not_db(format!(
            "its first bytes are not the SQLite header `SQLite format 3` ({len} bytes long)"
        )));
    }
    if header.len() < 100 {
        return Err(corrupt(format!(
            "truncated: the file is {len} bytes, shorter than the 100-byte SQLite header"
        )));
    }
    let raw_page = u16::from_be_bytes([header[16], header[17]]);
    let page_size: u64 = if raw_page == 1 {
        65_536
    } else {
        u64::from(raw_page)
    };
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(corrupt(format!(
            "the header names an invalid page size {raw_page}"
        )));
    }
    if !len.is_multiple_of(page_size) {
        return Err(corrupt(format!(
            "truncated or damaged: {len} bytes is not a whole number of {page_size}-byte pages"
        )));
    }
    // The in-header page count is valid when the change counter equals version-valid-for.
    // A pending WAL or hot journal can legitimately disagree with the file (e.g. after a crash
    // mid-checkpoint); SQLite recovers from those, so the check is skipped then.
    let counter = &header[24..28];
    let valid_for = &header[92..96];
    if counter == valid_for && !nonempty(wal) && !nonempty(journal) {
        let pages = u64::from(u32::from_be_bytes([
            header[28], header[29], header[30], header[31],
        ]));
        if len < pages * page_size {
            return Err(corrupt(format!(
                "truncated: the header says {pages} pages of {page_size} bytes but the file holds {}",
                len / page_size
            )));
        }
    }
    Ok(())
}

/// Idle read connections, reused without going through the pool.
///
/// A point read pays one uncontended mutex lock to take a connection and one to give it back,
/// instead of a checkout from the bounded write pool (which also reads the clock for its
/// deadline). Connections are `query_only`.
pub(crate) struct Readers {
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    target: Target,
    pragmas: String,
    path: PathBuf,
}

impl Readers {
    pub(crate) fn new(target: Target, pragmas: String, max_idle: usize) -> Readers {
        Readers {
            idle: Mutex::new(Vec::with_capacity(max_idle)),
            max_idle,
            path: target.display_path(),
            target,
            pragmas,
        }
    }

    fn open(&self) -> Result<Connection> {
        let conn = open_connection(&self.target, &self.pragmas)
            .and_then(|c| c.execute_batch("PRAGMA query_only = ON").map(|()| c))
            .map_err(|e| Error::sqlite(&self.path, "open read connection", e))?;
        Ok(conn)
    }

    /// Runs `f` on an idle read connection (opening one if none is idle).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let cached = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match cached {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = f(&conn);
        if conn.is_autocommit() {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < self.max_idle {
                idle.push(conn);
            }
        }
        result
    }

    /// How many idle read connections are cached.
    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(page_size: u16, pages: u32) -> Vec<u8> {
        let mut h = vec![0u8; 100];
        h[..16].copy_from_slice(b"SQLite format 3\0");
        h[16..18].copy_from_slice(&page_size.to_be_bytes());
        h[24..28].copy_from_slice(&7u32.to_be_bytes());
        h[28..32].copy_from_slice(&pages.to_be_bytes());
        h[92..96].copy_from_slice(&7u32.to_be_bytes());
        h
    }

    fn check(h: &[u8], len: u64) -> Result<()> {
        let none = Path::new("/nonexistent/synod-store-test");
        check_header(Path::new("x.db"), h, len, none, none)
    }

    #[test]
    fn header_checks() {
        assert!(check(&header(4096, 3), 3 * 4096).is_ok());
        assert!(check(&header(4096, 3), 5 * 4096).is_ok());
        assert!(matches!(
            check(&header(4096, 3), 2 * 4096),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(
            check(&header(4096, 3), 4096 + 10),
            Err(Error::Corrupt { .. })
        ));
        // A file that starts as SQLite's but stops inside the header, even right after the
        // 16-byte magic, is a truncated store, not some other file.
        for cut in [16, 50, 99] {
            let err = check(&header(4096, 3)[..cut], cut as u64).unwrap_err();
            assert!(
                matches!(&err, Error::Corrupt { detail, .. }
                    if detail.contains("shorter than the 100-byte SQLite header")),
                "{cut}: {err:?}"
            );
        }
        // The in-header page count is stale unless the change counter equals
        // version-valid-for (a file written by an old SQLite): then it is not held against
        // the file.
        let mut stale = header(4096, 3);
        stale[92..96].copy_from_slice(&6u32.to_be_bytes());
        assert!(check(&stale, 2 * 4096).is_ok());
        assert!(matches!(
            check(b"hello world, not sqlite", 23),
            Err(Error::NotADatabase { .. })
        ));
        assert!(matches!(
            check(&header(1000, 3), 3000),
            Err(Error::Corrupt { .. })
        ));
        // page size 1 means 65536
        assert!(check(&header(1, 1), 65_536).is_ok());
    }

    /// A pending WAL or hot journal may hold the pages the file lacks (a crash mid-checkpoint):
    /// SQLite recovers from it, so the page count is not held against the file then. An empty
    /// side file is nothing pending.
    #[test]
    fn a_pending_wal_or_journal_lifts_the_page_count_check() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, journal) = (dir.path().join("x.db-wal"), dir.path().join("x.db-journal"));
        let short = |wal: &Path, journal: &Path| {
            check_header(Path::new("x.db"), &header(4096, 3), 2 * 4096, wal, journal)
        };
        fs::write(&wal, b"").unwrap();
        fs::write(&journal, b"").unwrap();
        let err = short(&wal, &journal).unwrap_err();
        assert!(
            err.to_string()
                .contains("the header says 3 pages of 4096 bytes but the file holds 2"),
            "{err}"
        );
        fs::write(&wal, b"frames").unwrap();
        assert!(short(&wal, &journal).is_ok(), "pending WAL");
        fs::write(&wal, b"").unwrap();
        fs::write(&journal, b"pages").unwrap();
        assert!(short(&wal, &journal).is_ok(), "hot journal");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200), extra in 0u64..100_000) {
            let len = bytes.len() as u64 + extra;
            let result = check(&bytes, len);
            if bytes.len() < 16 || &bytes[..16] != b"SQLite format 3\0" {
                let rejected = matches!(result, Err(Error::NotADatabase { .. }));
                proptest::prop_assert!(rejected, "accepted non-SQLite bytes: {:?}", result);
            }
        }

        #[test]
        fn whole_files_pass(pages in 1u32..10_000, shift in 9u32..=16) {
            let size = 1u32 << shift;
            let raw = if size == 65_536 { 1 } else { size as u16 };
            let h = header(raw, pages);
            proptest::prop_assert!(check(&h, u64::from(pages) * u64::from(size)).is_ok());
            proptest::prop_assert!(check(&h, u64::from(pages) * u64::from(size) - 1).is_err());
        }
    }

    #[test]
    fn memory_targets_are_unique() {
        let (a, b) = (Target::unique_memory(), Target::unique_memory());
        match (a, b) {
            (Target::Memory(a), Target::Memory(b)) => assert_ne!(a, b),
            _ => panic!("expected memory targets"),
        }
    }
}
