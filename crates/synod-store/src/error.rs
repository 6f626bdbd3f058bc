//! The store's error type and how each failure is classified for retries.
//!
//! ```
//! use std::time::Duration;
//! use synod_core::{Classify, ErrorClass};
//! use synod_store::Error;
//!
//! let busy = Error::Busy { operation: "record_stage", timeout: Some(Duration::from_secs(90)) };
//! assert_eq!(busy.class(), ErrorClass::Transient);
//! assert!(busy.to_string().contains("past the busy timeout of 1m30s"));
//! let newer = Error::SchemaTooNew { path: "synod.db".into(), found: 9, supported: 1 };
//! assert_eq!(newer.class(), ErrorClass::Permanent);
//! assert!(newer.to_string().contains("synod.db"));
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::ErrorCode;
use synod_core::{Classify, ErrorClass};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another connection or process held the database lock for longer than the busy timeout
    /// (for [`Store::record_stage`](crate::Store::record_stage): retried with backoff for the
    /// whole timeout). Transient: retrying later normally succeeds.
    #[error(
        "database is busy during {operation}: another connection or process held a lock past the busy timeout{of}; retry later, or raise the busy timeout (store.busy_timeout in synod.toml, --busy-timeout, Options::busy_timeout)",
        of = timeout_of(*.timeout)
    )]
    Busy {
        /// The store operation that gave up waiting.
        operation: &'static str,
        /// The busy timeout that ran out, when the operation waited one out (a write or a
        /// backup: [`Options::busy_timeout`](crate::Options::busy_timeout)).
        timeout: Option<Duration>,
    },
    /// The file is a SQLite database whose contents are damaged. Permanent.
    #[error(
        "database {path} is corrupt ({detail}); restore it from a backup (Store::backup_to) or move it aside"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What was found to be wrong.
        detail: String,
    },
    /// The store was found damaged earlier (by an integrity or quick check, or a page read
    /// that failed with `SQLITE_CORRUPT`), and a damage mark (`<db>.damaged`) was left beside
    /// it; nothing writes to or backs up a marked store. Permanent; the file was not modified.
    #[error(
        "store {path} is damaged ({detail}), so nothing was written or copied; restore a backup over it (or rebuild it: `sqlite3 {path} .recover | sqlite3 NEW.db`), then run `synod store check` (Store::integrity_check), which clears the mark {marker} once the file passes"
    )]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// The damage mark beside it.
        marker: PathBuf,
        /// What the check that found the damage reported.
        detail: String,
    },
    /// The store cannot be written: the file, its `-wal`/`-shm`, or its directory is read-only.
    /// Detected when a writer opens the store, before anything runs. Permanent.
    #[error(
        "store {path} is read-only ({detail}); writing commands need it writable: fix the permissions (e.g. chmod u+w), or point store.path / --store at a writable location (reading commands such as history, show and store check still work)"
    )]
    ReadOnly {
        /// The database file.
        path: PathBuf,
        /// What is read-only, and why.
        detail: String,
    },
    /// A store opened read-only has an older schema, which only a writer can migrate.
    #[error(
        "store {path} has schema version {found}, older than the {supported} this synod reads; open it once with a writing command (e.g. `synod store vacuum`) to migrate it"
    )]
    NeedsMigration {
        /// The database file.
        path: PathBuf,
        /// The `user_version` found in the file.
        found: i64,
        /// The schema version this build reads.
        supported: i64,
    },
    /// The file exists but is not a SQLite database. Permanent; the file was not modified.
    #[error(
        "{path} is not a SQLite database ({detail}); point the store at another path or move the file aside"
    )]
    NotADatabase {
        /// The file that was opened.
        path: PathBuf,
        /// Why it was rejected.
        detail: String,
    },
    /// The database was written by a newer synod whose schema this build does not know.
    /// Nothing was written to it.
    #[error(
        "database {path} has schema version {found}, newer than the {supported} this synod supports; upgrade synod to open it"
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The `user_version` found in the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// A constraint (unique key, foreign key, not-null, check) rejected a write.
    #[error("constraint {name} rejected the write: {detail}")]
    Constraint {
        /// The constraint, as SQLite names it (e.g. `consensus_runs.spec_id, consensus_runs.stage, consensus_runs.started_at`
        /// for the unique key of a run, or `FOREIGN KEY`).
        name: String,
        /// SQLite's message.
        detail: String,
    },
    /// The journal mode could not be switched to WAL (e.g. the file system lacks shared memory
    /// support, or another process holds the file open in rollback mode).
    #[error(
        "could not switch {path} to WAL journal mode (it stayed `{found}`); close other programs using it, or move it to a local file system"
    )]
    JournalMode {
        /// The database file.
        path: PathBuf,
        /// The journal mode SQLite reported after the attempt.
        found: String,
    },
    /// A file system operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A backup was asked to overwrite the store it copies (or its `-wal`/`-shm` file).
    #[error(
        "{} is the store {} itself or one of its files; choose another destination for the backup",
        dest.display(),
        store.display()
    )]
    BackupOntoItself {
        /// The store being backed up.
        store: PathBuf,
        /// The destination given.
        dest: PathBuf,
    },
    /// A backup would replace something that is not an older backup: a file that is not a
    /// SQLite database (a config file named by mistake), or a directory.
    #[error(
        "refusing to back up over {}: it is {what}, not an older backup; remove it or choose another destination",
        dest.display()
    )]
    BackupWouldReplace {
        /// The destination given.
        dest: PathBuf,
        /// What is there, e.g. `a directory`, `a 2113-byte file that is not a SQLite database`.
        what: String,
    },
    /// No pooled connection became free within the pool's connection timeout.
    #[error(
        "no database connection became free in time ({detail}); raise Options::pool_size or Options::connection_timeout"
    )]
    Pool {
        /// What the pool said.
        detail: String,
    },
    /// A stored JSON column could not be parsed, or a value could not be serialized.
    #[error("JSON error in {what}: {source}")]
    Json {
        /// Which value (e.g. `verdict_json of run 42`).
        what: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A value does not fit the store's integer columns.
    #[error("{what} is out of range: {detail}")]
    OutOfRange {
        /// Which value.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// The blocking task behind an [`AsyncStore`](crate::AsyncStore) call panicked or was cancelled.
    #[error("store task for {operation} did not complete: {detail}")]
    Task {
        /// The store operation.
        operation: &'static str,
        /// What happened to the task.
        detail: String,
    },
    /// A worker's call on a job it no longer holds: its lease expired and another worker
    /// claimed the job (a newer fencing token), or the job was handed back. Nothing was
    /// written; the job's current holder records it. Permanent for this claim.
    #[error(
        "job {job} is no longer held by worker {worker} (fencing token {token}): {reason}; nothing was written for this claim, the job's current holder records it (raise [jobs] lease if heartbeats cannot keep up)"
    )]
    LeaseLost {
        /// The job.
        job: i64,
        /// The worker whose claim is stale.
        worker: String,
        /// The stale claim's fencing token.
        token: i64,
        /// What happened to the lease.
        reason: String,
    },
    /// `store.url` / `--store` is not a usable PostgreSQL URL. Nothing was contacted.
    #[error(
        "{url} is not a usable PostgreSQL URL ({detail}); write postgres://USER:PASSWORD@HOST:PORT/DATABASE (store.url in synod.toml, --store, SYNOD_STORE__URL)"
    )]
    PgUrl {
        /// The URL, password hidden.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// No PostgreSQL server answered at the URL's host and port. Nothing was written.
    #[error(
        "cannot reach PostgreSQL at {url} ({detail}); check the host and port, that the server runs and accepts TCP connections from this machine"
    )]
    PgUnreachable {
        /// The URL, password hidden.
        url: String,
        /// What the connection attempt ran into.
        detail: String,
    },
    /// The server refused the login (wrong password or user). Nothing was written.
    #[error(
        "PostgreSQL at {url} refused the login ({detail}); check the user and password in the URL"
    )]
    PgAuth {
        /// The URL, password hidden.
        url: String,
        /// The server's message.
        detail: String,
    },
    /// The URL names a database the server does not have. Nothing was written.
    #[error(
        "PostgreSQL at {url} has no such database ({detail}); create it (`createdb NAME`) or fix the URL's database"
    )]
    PgNoDatabase {
        /// The URL, password hidden.
        url: String,
        /// The server's message.
        detail: String,
    },
    /// The database was migrated by a newer synod. Nothing was written to it.
    #[error(
        "PostgreSQL database {url} has schema version {found}, newer than the {supported} this synod supports; upgrade synod to use it"
    )]
    PgSchemaTooNew {
        /// The URL, password hidden.
        url: String,
        /// The version in `synod_schema`.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A reader found an older schema, which only a writer migrates.
    #[error(
        "PostgreSQL database {url} has schema version {found}, older than the {supported} this synod reads; run a writing command once (e.g. `synod run`) to migrate it"
    )]
    PgNeedsMigration {
        /// The URL, password hidden.
        url: String,
        /// The version in `synod_schema` (0: never migrated).
        found: i64,
        /// The version this build reads.
        supported: i64,
    },
    /// Any other PostgreSQL failure.
    #[error("PostgreSQL error on {url} during {operation}: {detail}")]
    Postgres {
        /// The URL, password hidden.
        url: String,
        /// The store operation.
        operation: &'static str,
        /// The server's (or client's) message.
        detail: String,
        /// The SQLSTATE, when the server sent one.
        sqlstate: Option<String>,
    },
    /// The operation exists for one backend only (e.g. a SQLite backup on PostgreSQL).
    #[error("{operation} is not available on {backend}: {hint}")]
    Unsupported {
        /// The operation.
        operation: &'static str,
        /// The backend (`PostgreSQL`, ...).
        backend: &'static str,
        /// What to use instead.
        hint: &'static str,
    },
    /// Any other SQLite failure.
    #[error("SQLite error on {path} during {operation}: {source}")]
    Sqlite {
        /// The database file (`:memory:` for in-memory stores).
        path: PathBuf,
        /// The store operation.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
}

/// ` of 1m` for a known busy timeout, else nothing.
fn timeout_of(timeout: Option<Duration>) -> String {
    timeout.map_or_else(String::new, |t| {
        format!(" of {}", synod_core::duration::format_duration_rounded(t))
    })
}

/// `Result` with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Maps a rusqlite error to the store's error, naming the database and the operation.
    pub(crate) fn sqlite(path: &Path, operation: &'static str, source: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(ref failure, ref message) = source {
            match failure.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                    return Error::Busy {
                        operation,
                        timeout: None,
                    };
                }
                ErrorCode::DatabaseCorrupt => {
                    return Error::Corrupt {
                        path: path.to_path_buf(),
                        detail: message.clone().unwrap_or_else(|| failure.to_string()),
                    };
                }
                ErrorCode::ReadOnly => {
                    return Error::ReadOnly {
                        path: path.to_path_buf(),
                        detail: message.clone().unwrap_or_else(|| failure.to_string()),
                    };
                }
                ErrorCode::NotADatabase => {
                    return Error::NotADatabase {
                        path: path.to_path_buf(),
                        detail: message.clone().unwrap_or_else(|| failure.to_string()),
                    };
                }
                ErrorCode::ConstraintViolation => {
                    let detail = message.clone().unwrap_or_else(|| failure.to_string());
                    return Error::Constraint {
                        name: constraint_name(&detail),
                        detail,
                    };
                }
                _ => {}
            }
        }
        Error::Sqlite {
            path: path.to_path_buf(),
            operation,
            source,
        }
    }
}

/// Extracts the constraint from messages like `UNIQUE constraint failed: t.a, t.b`.
fn constraint_name(message: &str) -> String {
    match message.split_once("constraint failed:") {
        Some((_, name)) => name.trim().to_owned(),
        None if message.contains("FOREIGN KEY") => "FOREIGN KEY".to_owned(),
        None => message.to_owned(),
    }
}

impl Classify for Error {
    fn class(&self) -> ErrorClass {
        match self {
            Error::Busy { .. } | Error::Pool { .. } | Error::PgUnreachable { .. } => {
                ErrorClass::Transient
            }
            // Connection loss (08), serialization failure and deadlock (40), resources (53),
            // shutdown (57P): retrying later normally succeeds.
            Error::Postgres { sqlstate, .. } => match sqlstate.as_deref() {
                None => ErrorClass::Transient,
                Some(code)
                    if code.starts_with("08")
                        || code.starts_with("40")
                        || code.starts_with("53")
                        || code.starts_with("57P") =>
                {
                    ErrorClass::Transient
                }
                Some(_) => ErrorClass::Permanent,
            },
            Error::PgUrl { .. }
            | Error::PgAuth { .. }
            | Error::PgNoDatabase { .. }
            | Error::PgSchemaTooNew { .. }
            | Error::PgNeedsMigration { .. }
            | Error::Unsupported { .. }
            | Error::BackupOntoItself { .. }
            | Error::BackupWouldReplace { .. } => ErrorClass::Permanent,
            Error::Io { source, .. } => source.class(),
            Error::Sqlite { source, .. } => match source.sqlite_error_code() {
                Some(ErrorCode::SystemIoFailure | ErrorCode::OutOfMemory) => ErrorClass::Transient,
                _ => ErrorClass::Permanent,
            },
            Error::Corrupt { .. }
            | Error::Damaged { .. }
            | Error::ReadOnly { .. }
            | Error::NeedsMigration { .. }
            | Error::NotADatabase { .. }
            | Error::SchemaTooNew { .. }
            | Error::Constraint { .. }
            | Error::JournalMode { .. }
            | Error::Json { .. }
            | Error::OutOfRange { .. }
            | Error::Task { .. }
            | Error::LeaseLost { .. } => ErrorClass::Permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32, message: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message.to_owned()))
    }

    /// A PostgreSQL error is worth retrying when its SQLSTATE class says the server or the
    /// connection was the trouble, not the statement.
    #[test]
    fn postgres_errors_are_retried_by_sqlstate_class() {
        let class = |sqlstate: Option<&str>| {
            Error::Postgres {
                url: "postgres://db/synod".into(),
                operation: "record_stage",
                detail: "x".into(),
                sqlstate: sqlstate.map(str::to_owned),
            }
            .class()
        };
        // No SQLSTATE: the connection broke before the server answered.
        assert_eq!(class(None), ErrorClass::Transient);
        for transient in ["08006", "40001", "40P01", "53300", "57P01"] {
            assert_eq!(class(Some(transient)), ErrorClass::Transient, "{transient}");
        }
        for permanent in ["23505", "42P01", "22P02", "57014"] {
            assert_eq!(class(Some(permanent)), ErrorClass::Permanent, "{permanent}");
        }
    }

    #[test]
    fn maps_sqlite_codes() {
        let path = Path::new("x.db");
        let busy = Error::sqlite(path, "op", failure(rusqlite::ffi::SQLITE_BUSY, "busy"));
        assert!(matches!(
            busy,
            Error::Busy {
                operation: "op",
                timeout: None
            }
        ));
        assert!(
            busy.to_string()
                .contains("past the busy timeout; retry later"),
            "{busy}"
        );
        assert_eq!(busy.class(), ErrorClass::Transient);

        let corrupt = Error::sqlite(path, "op", failure(rusqlite::ffi::SQLITE_CORRUPT, "bad"));
        assert!(matches!(&corrupt, Error::Corrupt { path, .. } if path == Path::new("x.db")));
        assert_eq!(corrupt.class(), ErrorClass::Permanent);

        let notadb = Error::sqlite(path, "op", failure(rusqlite::ffi::SQLITE_NOTADB, "nope"));
        assert!(matches!(notadb, Error::NotADatabase { .. }));

        // A failed disk read or write, or memory running out, may pass; a misuse does not.
        for (code, class) in [
            (rusqlite::ffi::SQLITE_IOERR_WRITE, ErrorClass::Transient),
            (rusqlite::ffi::SQLITE_NOMEM, ErrorClass::Transient),
            (rusqlite::ffi::SQLITE_MISUSE, ErrorClass::Permanent),
        ] {
            let err = Error::sqlite(path, "op", failure(code, "x"));
            assert!(matches!(err, Error::Sqlite { .. }), "{err:?}");
            assert_eq!(err.class(), class, "{code}");
        }

        let ro = Error::sqlite(
            path,
            "op",
            failure(rusqlite::ffi::SQLITE_READONLY_DIRECTORY, "readonly"),
        );
        assert!(matches!(&ro, Error::ReadOnly { path, .. } if path == Path::new("x.db")));
        assert_eq!(ro.class(), ErrorClass::Permanent);

        let unique = Error::sqlite(
            path,
            "op",
            failure(
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE,
                "UNIQUE constraint failed: consensus_runs.spec_id, consensus_runs.stage",
            ),
        );
        match unique {
            Error::Constraint { name, .. } => {
                assert_eq!(name, "consensus_runs.spec_id, consensus_runs.stage");
            }
            other => panic!("expected Constraint, got {other:?}"),
        }
    }

    #[test]
    fn messages_name_the_path() {
        let err = Error::NotADatabase {
            path: PathBuf::from("/tmp/notes.txt"),
            detail: "no SQLite header".into(),
        };
        assert!(err.to_string().contains("/tmp/notes.txt"));
    }
}
