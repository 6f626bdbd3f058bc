//! [`Store`]: the blocking API (open, record, read, maintain).
//!
//! ```
//! use serde_json::json;
//! use synod_store::{NewOutput, NewRun, Page, Store};
//!
//! let store = Store::open_in_memory()?;
//! let run = NewRun {
//!     spec_id: "SPEC-7".into(),
//!     stage: "review".into(),
//!     started_at: 1_000,
//!     finished_at: 2_000,
//!     status: "ok".into(),
//! };
//! let outputs = [NewOutput {
//!     agent: "gemini".into(),
//!     attempt: 1,
//!     exit_code: Some(0),
//!     duration_ms: 900,
//!     status: "ok".into(),
//!     raw_output: "{}".into(),
//!     parsed_json: Some(json!({})),
//!     error: None,
//!     ..NewOutput::default()
//! }];
//! let id = store.record_stage(&run, &outputs, &json!({"status": "ok"}))?;
//!
//! let latest = store.latest_verdict("SPEC-7", "review")?.expect("just recorded");
//! assert_eq!(latest.id, id);
//! assert_eq!(latest.verdict["status"], "ok");
//! assert_eq!(store.outputs_for_run(id)?.len(), 1);
//! assert_eq!(store.history("SPEC-7", Page::first(10))?.len(), 1);
//! assert_eq!(store.spec("SPEC-7")?.map(|s| s.stage), Some("review".to_owned()));
//! # Ok::<(), synod_store::Error>(())
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{
    Connection, ErrorCode, MAIN_DB, OpenFlags, OptionalExtension, Row, Transaction,
    TransactionBehavior, params,
};
use serde_json::Value;
use synod_core::Usage;

use crate::conn::{self, FileMode, Readers, Target};
use crate::error::{Error, Result};
use crate::evidence::StageRecord;
use crate::model::{
    AgentStats, Execution, ExecutionId, NewOutput, NewRun, Page, PruneReport, Run, RunId, RunUsage,
    Spec, StoredOutput, UnixMillis, now_millis,
};
use crate::options::Options;
use crate::pool::{PooledConn, WritePool};
use crate::schema;

pub(crate) const SQL_LATEST_VERDICT: &str = "SELECT id, spec_id, stage, started_at, finished_at, status, verdict_json \
     FROM consensus_runs WHERE spec_id = ?1 AND stage = ?2 ORDER BY started_at DESC, id DESC LIMIT 1";
pub(crate) const SQL_RUN: &str = "SELECT id, spec_id, stage, started_at, finished_at, status, verdict_json \
     FROM consensus_runs WHERE id = ?1";
pub(crate) const SQL_HISTORY: &str = "SELECT id, spec_id, stage, started_at, finished_at, status, verdict_json \
     FROM consensus_runs WHERE spec_id = ?1 ORDER BY started_at DESC, id DESC LIMIT ?2 OFFSET ?3";
pub(crate) const SQL_OUTPUTS_FOR_RUN: &str = "SELECT id, run_id, agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error, \
     session_id, model, input_tokens, output_tokens, cached_tokens, cost_usd \
     FROM agent_outputs WHERE run_id = ?1 ORDER BY id";
pub(crate) const SQL_OUTPUTS_FOR_AGENT: &str = "SELECT id, run_id, agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error, \
     session_id, model, input_tokens, output_tokens, cached_tokens, cost_usd \
     FROM agent_outputs WHERE agent = ?1 ORDER BY run_id DESC, id DESC LIMIT ?2 OFFSET ?3";
/// `succeeded` spelled out (`exit_code IS 0 AND error IS NULL`), as the index holds it.
pub(crate) const SQL_AGENT_STATS: &str = "SELECT agent, duration_ms, exit_code IS 0 AND (error IS NULL), run_id, \
     input_tokens, output_tokens, cached_tokens, cost_usd \
     FROM agent_outputs INDEXED BY agent_outputs_by_agent ORDER BY agent, run_id";
/// Tokens and cost of each run of a `history` page (same page: the same runs).
pub(crate) const SQL_HISTORY_USAGE: &str = "SELECT run_id, count(*), count(input_tokens), \
     sum(input_tokens), sum(output_tokens), sum(cached_tokens), sum(cost_usd) \
     FROM agent_outputs INDEXED BY agent_outputs_by_run WHERE run_id IN \
     (SELECT id FROM consensus_runs WHERE spec_id = ?1 ORDER BY started_at DESC, id DESC LIMIT ?2 OFFSET ?3) \
     GROUP BY run_id";
pub(crate) const SQL_SPEC: &str = "SELECT spec_id, stage, updated_at FROM specs WHERE spec_id = ?1";
pub(crate) const SQL_UNFINISHED: &str = "SELECT id, agent, run_id, spawned_at, completed_at, outcome \
     FROM agent_executions WHERE completed_at IS NULL ORDER BY spawned_at";
pub(crate) const SQL_EXECUTIONS_FOR_RUN: &str = "SELECT id, agent, run_id, spawned_at, completed_at, outcome \
     FROM agent_executions WHERE run_id = ?1 ORDER BY id";

pub(crate) const SQL_INSERT_RUN: &str = "INSERT INTO consensus_runs (spec_id, stage, started_at, finished_at, status, verdict_json) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const SQL_INSERT_OUTPUT: &str = "INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error, \
     session_id, model, input_tokens, output_tokens, cached_tokens, cost_usd) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
pub(crate) const SQL_FINISH_EXECUTION: &str = "UPDATE agent_executions SET completed_at = ?2, outcome = ?3, \
     run_id = coalesce(?4, run_id) WHERE id = ?1";
pub(crate) const SQL_UPSERT_SPEC: &str = "INSERT INTO specs (spec_id, stage, updated_at) VALUES (?1, ?2, ?3) \
     ON CONFLICT (spec_id) DO UPDATE SET stage = excluded.stage, updated_at = excluded.updated_at \
     WHERE excluded.updated_at >= specs.updated_at";

/// Every query the public read API runs, for the query-plan test.
#[doc(hidden)]
pub const PUBLIC_QUERIES: &[(&str, &str)] = &[
    ("latest_verdict", SQL_LATEST_VERDICT),
    ("run", SQL_RUN),
    ("history", SQL_HISTORY),
    ("outputs_for_run", SQL_OUTPUTS_FOR_RUN),
    ("outputs_for_agent", SQL_OUTPUTS_FOR_AGENT),
    ("agent_stats", SQL_AGENT_STATS),
    ("history_usage", SQL_HISTORY_USAGE),
    ("spec", SQL_SPEC),
    ("unfinished_executions", SQL_UNFINISHED),
    ("executions_for_run", SQL_EXECUTIONS_FOR_RUN),
    ("prune: outputs", SQL_PRUNE_OUTPUTS),
    ("prune: executions of runs", SQL_PRUNE_RUN_EXECUTIONS),
    ("prune: loose executions", SQL_PRUNE_LOOSE_EXECUTIONS),
    ("prune: runs", SQL_PRUNE_RUNS),
    ("prunable", SQL_PRUNABLE),
];

const SQL_PRUNE_OUTPUTS: &str = "DELETE FROM agent_outputs INDEXED BY agent_outputs_by_run WHERE run_id IN (SELECT id FROM consensus_runs WHERE started_at < ?1)";
const SQL_PRUNE_RUN_EXECUTIONS: &str = "DELETE FROM agent_executions INDEXED BY agent_executions_by_run WHERE run_id IN (SELECT id FROM consensus_runs WHERE started_at < ?1)";
const SQL_PRUNE_LOOSE_EXECUTIONS: &str = "DELETE FROM agent_executions INDEXED BY agent_executions_by_spawn \
     WHERE spawned_at < ?1 AND run_id IS NULL AND completed_at IS NOT NULL";
const SQL_PRUNE_RUNS: &str = "DELETE FROM consensus_runs WHERE started_at < ?1";
/// What the four deletes above would remove, counted in one statement (one snapshot).
const SQL_PRUNABLE: &str = "SELECT (SELECT count(*) FROM consensus_runs WHERE started_at < ?1), \
     (SELECT count(*) FROM agent_outputs INDEXED BY agent_outputs_by_run \
      WHERE run_id IN (SELECT id FROM consensus_runs WHERE started_at < ?1)), \
     (SELECT count(*) FROM agent_executions INDEXED BY agent_executions_by_run \
      WHERE run_id IN (SELECT id FROM consensus_runs WHERE started_at < ?1)) \
     + (SELECT count(*) FROM agent_executions INDEXED BY agent_executions_by_spawn \
      WHERE spawned_at < ?1 AND run_id IS NULL AND completed_at IS NOT NULL)";

/// The SQLite evidence store. Cheap to clone (clones share one pool); thread-safe.
///
/// Writes go through a pool of read-write connections ([`Options::pool_size`]) and are
/// serialised in-process by a mutex, so concurrent
/// writers in one process queue in arrival order instead of sleeping in SQLite's busy handler.
/// Other processes are arbitrated by the busy timeout: a write transaction that finds the
/// database locked is retried with jittered backoff until [`Options::busy_timeout`] has
/// passed, then fails with [`Error::Busy`]. Reads use a cache of read-only connections (see
/// [`Options::max_idle_readers`]). `PRAGMA optimize` runs when the last clone is dropped, and
/// every connection is closed before that `drop` returns (nothing is left to a background
/// thread), so the file is complete and its `-wal` and `-shm` gone once the store is.
///
/// # Guards
///
/// - Files are private: a new store file is created with mode 0600 (its `-wal` and `-shm`
///   inherit that), and missing directories with mode 0700. On Windows there are no modes:
///   files and directories get the ACL their parent directory passes on (see the crate docs).
/// - A new store is built under a temporary name and linked into place whole, so no process
///   ever sees a half-created store; an existing empty (0-byte) or non-SQLite file is refused.
/// - [`Store::open`] refuses a read-only file, `-wal`, `-shm` or directory up front with
///   [`Error::ReadOnly`]; [`Store::open_read_only`] reads such a store.
/// - A store found damaged (by [`Store::integrity_check`], [`Store::quick_check`], or any read
///   failing with `SQLITE_CORRUPT`) gets a damage mark `<db>.damaged`; from then on no write,
///   checkpoint, vacuum or backup touches it ([`Error::Damaged`]) until an integrity check
///   passes again.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    pool: WritePool,
    readers: Readers,
    write_lock: Mutex<()>,
    /// False for [`Store::open_read_only`].
    writable: bool,
    /// The damage mark (`<db>.damaged`); `None` in memory.
    marker: Option<PathBuf>,
    /// Set when this process found the store damaged.
    damaged: AtomicBool,
    busy_timeout: Duration,
    busy_retries: AtomicU64,
    /// Keeps a named in-memory database alive while the store exists.
    _keepalive: Option<Mutex<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // One snapshot, so the three counts agree with each other.
        let connections = self.inner.pool.counts();
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field("open_connections", &connections.open)
            .field("idle_connections", &connections.idle)
            .field("waiting_for_connection", &connections.waiting)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The read connections close with the fields, after this (before the drop returns).
        let marked = self.marker.as_deref().is_some_and(Path::exists);
        if !self.writable || marked || self.damaged.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(conn) = self.pool.get()
            && let Err(error) = conn.execute_batch("PRAGMA optimize")
        {
            tracing::debug!(path = %self.path.display(), %error, "PRAGMA optimize on close failed");
        }
    }
}

fn read_run(row: &Row<'_>) -> rusqlite::Result<(Run, String)> {
    Ok((
        Run {
            id: RunId(row.get(0)?),
            spec_id: row.get(1)?,
            stage: row.get(2)?,
            started_at: row.get(3)?,
            finished_at: row.get(4)?,
            status: row.get(5)?,
            verdict: Value::Null,
        },
        row.get(6)?,
    ))
}

fn finish_run((mut run, json): (Run, String)) -> Result<Run> {
    run.verdict = serde_json::from_str(&json).map_err(|source| Error::Json {
        what: format!("verdict_json of run {}", run.id),
        source,
    })?;
    Ok(run)
}

fn read_output(row: &Row<'_>) -> rusqlite::Result<(StoredOutput, Option<String>)> {
    let duration: i64 = row.get(5)?;
    Ok((
        StoredOutput {
            id: row.get(0)?,
            run_id: RunId(row.get(1)?),
            agent: row.get(2)?,
            attempt: row.get(3)?,
            exit_code: row.get(4)?,
            duration_ms: u64::try_from(duration).unwrap_or(0),
            status: row.get(6)?,
            raw_output: row.get(7)?,
            parsed_json: None,
            error: row.get(9)?,
            session_id: row.get(10)?,
            model: row.get(11)?,
            usage: read_usage(row, 12)?,
            cost_usd: row.get(15)?,
        },
        row.get(8)?,
    ))
}

/// The usage in columns `first..first + 3` (input, output, cached tokens): `None` when all
/// three are NULL (the CLI reported none, or the row predates schema version 3).
pub(crate) fn read_usage(row: &Row<'_>, first: usize) -> rusqlite::Result<Option<Usage>> {
    let counts: [Option<i64>; 3] = [row.get(first)?, row.get(first + 1)?, row.get(first + 2)?];
    if counts.iter().all(Option::is_none) {
        return Ok(None);
    }
    let [input, output, cached] = counts.map(|c| u64::try_from(c.unwrap_or(0)).unwrap_or(0));
    Ok(Some(Usage::new(input, output, cached)))
}

/// A row of [`SQL_HISTORY_USAGE`].
fn read_run_usage(row: &Row<'_>) -> rusqlite::Result<RunUsage> {
    let count = |i: usize| -> rusqlite::Result<u64> {
        let n: Option<i64> = row.get(i)?;
        Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
    };
    let usage = if count(2)? > 0 {
        Some(Usage::new(count(3)?, count(4)?, count(5)?))
    } else {
        None
    };
    Ok(RunUsage {
        run_id: RunId(row.get(0)?),
        attempts: count(1)?,
        usage,
        cost_usd: row.get(6)?,
    })
}

/// A token count as SQLite's signed integer (saturating; no CLI reports 2^63 tokens).
fn tokens(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn finish_output((mut output, json): (StoredOutput, Option<String>)) -> Result<StoredOutput> {
    if let Some(json) = json {
        output.parsed_json = Some(serde_json::from_str(&json).map_err(|source| Error::Json {
            what: format!("parsed_json of output {}", output.id),
            source,
        })?);
    }
    Ok(output)
}

fn read_execution(row: &Row<'_>) -> rusqlite::Result<Execution> {
    Ok(Execution {
        id: ExecutionId(row.get(0)?),
        agent: row.get(1)?,
        run_id: row.get::<_, Option<i64>>(2)?.map(RunId),
        spawned_at: row.get(3)?,
        completed_at: row.get(4)?,
        outcome: row.get(5)?,
    })
}

/// An output with its JSON already serialised, ready to bind.
pub(crate) struct EncodedOutput<'a> {
    output: &'a NewOutput,
    parsed_json: Option<String>,
    duration_ms: i64,
}

pub(crate) fn encode_outputs(outputs: &[NewOutput]) -> Result<Vec<EncodedOutput<'_>>> {
    outputs
        .iter()
        .map(|output| {
            let parsed_json = output
                .parsed_json
                .as_ref()
                .map(|v| {
                    serde_json::to_string(v).map_err(|source| Error::Json {
                        what: format!("parsed_json of agent {}", output.agent),
                        source,
                    })
                })
                .transpose()?;
            let duration_ms = i64::try_from(output.duration_ms).map_err(|_| Error::OutOfRange {
                what: "duration_ms",
                detail: format!(
                    "{} ms does not fit a signed 64-bit integer",
                    output.duration_ms
                ),
            })?;
            Ok(EncodedOutput {
                output,
                parsed_json,
                duration_ms,
            })
        })
        .collect()
}

/// The verdict as stored (JSON text).
pub(crate) fn verdict_text(run: &NewRun, verdict: &Value) -> Result<String> {
    serde_json::to_string(verdict).map_err(|source| Error::Json {
        what: format!("verdict of {} / {}", run.spec_id, run.stage),
        source,
    })
}

/// Inserts a run with its outputs, moves its spec to the run's stage, and completes
/// `executions` with the run, inside `tx`. The new run's id.
pub(crate) fn insert_stage(
    tx: &Transaction<'_>,
    run: &NewRun,
    verdict_json: &str,
    outputs: &[EncodedOutput<'_>],
    executions: &[(ExecutionId, String)],
) -> rusqlite::Result<i64> {
    let run_id = tx.prepare_cached(SQL_INSERT_RUN)?.insert(params![
        run.spec_id,
        run.stage,
        run.started_at,
        run.finished_at,
        run.status,
        verdict_json,
    ])?;
    insert_outputs(tx, run_id, outputs)?;
    tx.prepare_cached(SQL_UPSERT_SPEC)?.execute(params![
        run.spec_id,
        run.stage,
        run.finished_at
    ])?;
    let mut finish = tx.prepare_cached(SQL_FINISH_EXECUTION)?;
    for (id, outcome) in executions {
        finish.execute(params![id.0, run.finished_at, outcome, run_id])?;
    }
    Ok(run_id)
}

pub(crate) fn insert_outputs(
    tx: &Transaction<'_>,
    run_id: i64,
    outputs: &[EncodedOutput<'_>],
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(SQL_INSERT_OUTPUT)?;
    for encoded in outputs {
        let o = encoded.output;
        stmt.execute(params![
            run_id,
            o.agent,
            o.attempt,
            o.exit_code,
            encoded.duration_ms,
            o.status,
            o.raw_output,
            encoded.parsed_json,
            o.error,
            o.session_id,
            o.model,
            o.usage.map(|u| tokens(u.input_tokens)),
            o.usage.map(|u| tokens(u.output_tokens)),
            o.usage.map(|u| tokens(u.cached_tokens)),
            o.cost_usd,
        ])?;
    }
    Ok(())
}

fn limit_offset(page: Page) -> (i64, i64) {
    (i64::from(page.limit), i64::from(page.offset))
}

impl Store {
    /// Opens (creating if needed) the database at `path` for reading and writing, migrating
    /// it to the current schema.
    ///
    /// An existing file is checked before SQLite opens it: a file that is empty, is not a
    /// SQLite database, or is visibly truncated is rejected with [`Error::NotADatabase`] or
    /// [`Error::Corrupt`] and left untouched; a store with a damage mark gives
    /// [`Error::Damaged`]; a read-only file, `-wal`, `-shm` or directory gives
    /// [`Error::ReadOnly`] (judged by `access(2)` and by the permission bits, so a `chmod a-w`
    /// file counts as read-only even for root; on Windows by the read-only attribute and a
    /// write-open probe of the files, not of the directory). A file with a newer schema gives
    /// [`Error::SchemaTooNew`] before anything is written. A file in rollback-journal mode is
    /// converted to WAL.
    ///
    /// A missing file is created with mode 0600 (missing parent directories with 0700): built
    /// under a temporary name in the same directory and hard-linked into place, so concurrent
    /// openers see either no file or a complete store.
    ///
    /// These guards cost a handful of `stat`/`access` calls and do not grow with the file (see
    /// docs/PERFORMANCE.md, "store guards").
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Store> {
        let path = path.as_ref();
        let _span = tracing::info_span!("store.open", path = %path.display()).entered();
        if !writer_guards(path)? {
            let dir = conn::parent_dir(path);
            conn::create_private_dir(dir)?;
            if let Some(detail) = conn::unwritable(dir, "its directory") {
                return Err(Error::ReadOnly {
                    path: path.to_path_buf(),
                    detail,
                });
            }
            create_store_file(path)?;
        }
        Store::open_target(
            Target::File(path.to_path_buf(), FileMode::ReadWrite),
            options,
        )
    }

    /// Opens the existing database at `path` for reading only: nothing is created, migrated,
    /// checkpointed or written, and every write fails with [`Error::ReadOnly`].
    ///
    /// Works on a read-only file and in a read-only directory: when the file has no write bit
    /// at all, or the directory cannot take the `-shm` file SQLite needs, and no WAL content
    /// is pending, the file is opened `immutable` (no locks, no side files). A damaged store can still be read. An empty or
    /// non-SQLite file is refused as by [`Store::open`]; a missing file gives [`Error::Io`]
    /// (`NotFound`); an older schema gives [`Error::NeedsMigration`].
    pub fn open_read_only(path: impl AsRef<Path>, options: Options) -> Result<Store> {
        let path = path.as_ref();
        let _span = tracing::info_span!("store.open_read_only", path = %path.display()).entered();
        if !conn::precheck_file(path)? {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no store file here (a writer such as `synod run` creates it)",
                ),
            });
        }
        let wal = conn::sibling(path, "-wal");
        let shm = conn::sibling(path, "-shm");
        let wal_pending = fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
        // Immutable (no locks, no side files) when nobody can be writing and nothing is
        // pending in the WAL: a file without any write bit (a plain read-only open would
        // leave a `-shm` with those bits behind, which would then block writers once the file
        // is made writable again), or a directory where the `-shm` cannot be created.
        let no_write_bits = fs::metadata(path).is_ok_and(|m| conn::no_write_bits(&m));
        let dir_unwritable = conn::unwritable(conn::parent_dir(path), "directory").is_some();
        let side_files = wal.exists() && shm.exists();
        let mode = if !wal_pending && (no_write_bits || (dir_unwritable && !side_files)) {
            FileMode::Immutable
        } else {
            FileMode::ReadOnly
        };
        tracing::debug!(?mode, "opening store read-only");
        Store::open_target(Target::File(path.to_path_buf(), mode), options)
    }

    /// Opens a private in-memory store, shared by every connection of its pool (a uniquely
    /// named database on SQLite's `memdb` VFS) and dropped with the last clone of the store.
    pub fn open_in_memory() -> Result<Store> {
        Store::open_in_memory_with(Options::default())
    }

    /// [`Store::open_in_memory`] with explicit options.
    pub fn open_in_memory_with(options: Options) -> Result<Store> {
        Store::open_target(Target::unique_memory(), options)
    }

    fn open_target(target: Target, options: Options) -> Result<Store> {
        let path = target.display_path();
        let map = |op| {
            let path = path.clone();
            move |e| Error::sqlite(&path, op, e)
        };
        let pragmas = conn::connection_pragmas(&options);
        let mut boot = conn::open_connection(&target, &pragmas).map_err(map("open"))?;
        let writable = target.writable();
        // SQLite silently falls back to read-only when the kernel refuses write access.
        if writable && boot.is_readonly(MAIN_DB).map_err(map("open"))? {
            return Err(Error::ReadOnly {
                path,
                detail: "SQLite could only open it read-only".into(),
            });
        }

        // Nothing below writes until the schema version has been checked.
        let version = schema::user_version(&boot, &path)?;
        schema::check_not_too_new(version, &path)?;
        if writable {
            setup_file(&boot, &target, &path)?;
            if version < schema::SCHEMA_VERSION {
                schema::migrate(&mut boot, &path)?;
            }
        } else if version < schema::SCHEMA_VERSION {
            return Err(Error::NeedsMigration {
                path,
                found: version,
                supported: schema::SCHEMA_VERSION,
            });
        }

        let pool = WritePool::new(
            target.clone(),
            pragmas.clone(),
            options.pool_size,
            options.connection_timeout,
        );
        let (keepalive, marker) = match &target {
            Target::Memory(_) => (Some(Mutex::new(boot)), None),
            Target::File(file, _) => {
                // The connection that checked the file stays open as the pool's first.
                pool.adopt(boot);
                (None, Some(conn::sibling(file, ".damaged")))
            }
        };
        tracing::debug!(path = %path.display(), writable, "store opened");
        Ok(Store {
            inner: Arc::new(Inner {
                readers: Readers::new(target, pragmas, options.max_idle_readers),
                path,
                pool,
                write_lock: Mutex::new(()),
                writable,
                marker,
                damaged: AtomicBool::new(false),
                busy_timeout: options.busy_timeout,
                busy_retries: AtomicU64::new(0),
                _keepalive: keepalive,
            }),
        })
    }

    /// The database path (`:memory:` for in-memory stores).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Wraps this store for async callers (same pool, same caches).
    #[must_use]
    pub fn into_async(self) -> crate::AsyncStore {
        crate::AsyncStore::new(self)
    }

    /// Whether this store was opened for writing ([`Store::open`]) rather than with
    /// [`Store::open_read_only`].
    #[must_use]
    pub fn is_writable(&self) -> bool {
        self.inner.writable
    }

    /// How many times a write transaction found the database locked by another connection
    /// or process and was retried, since the store was opened.
    #[must_use]
    pub fn busy_retries(&self) -> u64 {
        self.inner.busy_retries.load(Ordering::Relaxed)
    }

    /// What the damage mark beside the file says, if the store carries one (see
    /// [`Error::Damaged`]). Always `None` for in-memory stores.
    #[must_use]
    pub fn damage_mark(&self) -> Option<String> {
        let marker = self.inner.marker.as_deref()?;
        read_marker(marker)
    }

    /// Maps a SQLite error; a `SQLITE_CORRUPT` also leaves the damage mark.
    pub(crate) fn map(&self, operation: &'static str) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |e| {
            let err = Error::sqlite(&self.inner.path, operation, e);
            if let Error::Corrupt { detail, .. } = &err {
                self.mark_damaged(&format!("{operation} failed: {detail}"));
            }
            err
        }
    }

    /// Leaves the damage mark (`<db>.damaged`, mode 0600) with `detail` in it.
    fn mark_damaged(&self, detail: &str) {
        self.inner.damaged.store(true, Ordering::Relaxed);
        let Some(marker) = self.inner.marker.as_deref() else {
            return;
        };
        tracing::error!(path = %self.inner.path.display(), detail, "store is damaged; marking it");
        let line = format!("{}\n", detail.replace(['\n', '\r'], " "));
        if let Err(error) = write_private(marker, line.as_bytes()) {
            tracing::warn!(marker = %marker.display(), %error, "cannot write the damage mark");
        }
    }

    /// Fails unless this store may be written: opened for writing, and not damaged.
    fn check_writable(&self) -> Result<()> {
        if !self.inner.writable {
            return Err(Error::ReadOnly {
                path: self.inner.path.clone(),
                detail: "it was opened read-only".into(),
            });
        }
        self.check_not_damaged()
    }

    fn check_not_damaged(&self) -> Result<()> {
        if let Some(marker) = self.inner.marker.as_deref() {
            check_not_marked_at(&self.inner.path, marker)?;
        }
        if self.inner.damaged.load(Ordering::Relaxed) {
            return Err(Error::Damaged {
                path: self.inner.path.clone(),
                marker: self.inner.marker.clone().unwrap_or_default(),
                detail: "this process found it damaged".into(),
            });
        }
        Ok(())
    }

    fn conn(&self) -> Result<PooledConn<'_>> {
        self.inner.pool.get()
    }

    /// Runs `f` in one IMMEDIATE transaction, serialised with this process's other writers.
    ///
    /// A transaction that finds the database locked (`SQLITE_BUSY`) is rolled back and run
    /// again: SQLite's busy handler waits up to [`BUSY_SLICE`] per attempt, then this loop
    /// backs off (jittered, doubling up to [`MAX_BACKOFF`]) and retries, until
    /// [`Options::busy_timeout`] has passed in all.
    pub(crate) fn write<T>(
        &self,
        operation: &'static str,
        mut f: impl FnMut(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        self.check_writable()?;
        let _guard = self
            .inner
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut conn = self.conn()?;
        let budget = self.inner.busy_timeout;
        let started = Instant::now();
        let mut backoff = Duration::from_millis(2);
        let mut attempt: u32 = 1;
        let result = loop {
            let remaining = budget.saturating_sub(started.elapsed());
            if let Err(e) = conn.busy_timeout(remaining.min(BUSY_SLICE)) {
                break Err(e);
            }
            let outcome = (|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = f(&tx)?;
                tx.commit()?;
                Ok(value)
            })();
            match outcome {
                Err(e) if is_busy(&e) && started.elapsed() < budget => {
                    self.inner.busy_retries.fetch_add(1, Ordering::Relaxed);
                    let left = budget.saturating_sub(started.elapsed());
                    tracing::debug!(operation, attempt, ?left, "database busy; retrying");
                    std::thread::sleep(jittered(backoff).min(left));
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    attempt += 1;
                }
                other => break other,
            }
        };
        // Other uses of the pooled connection get the configured timeout back.
        let _ = conn.busy_timeout(budget);
        result.map_err(self.map(operation)).map_err(|e| match e {
            Error::Busy { operation, .. } => Error::Busy {
                operation,
                timeout: Some(budget),
            },
            other => other,
        })
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.inner.readers.with(f)
    }

    // ---------------------------------------------------------------- writes

    /// Records a run, every one of its agent outputs (every attempt), its verdict and the
    /// spec's current stage, in ONE IMMEDIATE transaction: after a crash either all of it is
    /// there or none of it is.
    ///
    /// The spec's stage moves to `run.stage` unless the spec already has a run that finished
    /// later. Runs of one spec and stage may share a start time (two processes starting in the
    /// same millisecond): each is kept with its own id and its true start.
    pub fn record_stage(
        &self,
        run: &NewRun,
        outputs: &[NewOutput],
        verdict: &Value,
    ) -> Result<RunId> {
        let _span = tracing::debug_span!(
            "store.record_stage",
            spec_id = %run.spec_id,
            stage = %run.stage,
            outputs = outputs.len()
        )
        .entered();
        let verdict_json = verdict_text(run, verdict)?;
        let encoded = encode_outputs(outputs)?;
        self.write("record_stage", |tx| {
            insert_stage(tx, run, &verdict_json, &encoded, &[]).map(RunId)
        })
    }

    /// Records a whole [`StageRecord`] in ONE IMMEDIATE transaction: what
    /// [`record_stage`](Self::record_stage) writes, and the completion of each of the record's
    /// executions (its outcome, the run's `finished_at` and the new run's id). The run and the
    /// end of the processes that produced it are stored together or not at all, at the cost of
    /// one transaction instead of two.
    ///
    /// ```
    /// use synod_store::{NewRun, StageRecord, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// let ids = store.executions_started(&["claude", "gemini"], 1_000)?;
    /// let run = NewRun {
    ///     spec_id: "S-1".into(),
    ///     stage: "plan".into(),
    ///     started_at: 1_000,
    ///     finished_at: 2_000,
    ///     status: "ok".into(),
    /// };
    /// let record = StageRecord::new(run, vec![], serde_json::json!({"status": "ok"}))
    ///     .execution(ids[0], "ok")
    ///     .execution(ids[1], "failed");
    /// let run_id = store.record_evidence(&record)?;
    /// let done = store.executions_for_run(run_id)?;
    /// assert_eq!(done.len(), 2);
    /// assert!(store.unfinished_executions()?.is_empty());
    /// # Ok::<(), synod_store::Error>(())
    /// ```
    pub fn record_evidence(&self, record: &StageRecord) -> Result<RunId> {
        let run = &record.run;
        let _span = tracing::debug_span!(
            "store.record_evidence",
            spec_id = %run.spec_id,
            stage = %run.stage,
            outputs = record.outputs.len(),
            executions = record.executions.len()
        )
        .entered();
        let verdict_json = verdict_text(run, &record.verdict)?;
        let encoded = encode_outputs(&record.outputs)?;
        self.write("record_stage", |tx| {
            insert_stage(tx, run, &verdict_json, &encoded, &record.executions).map(RunId)
        })
    }

    /// Appends outputs to an existing run in one transaction (a batch insert through one
    /// cached statement). Returns how many rows were inserted. An unknown run fails with
    /// [`Error::Constraint`] (`FOREIGN KEY`) and inserts nothing.
    pub fn record_outputs(&self, run_id: RunId, outputs: &[NewOutput]) -> Result<usize> {
        let _span = tracing::debug_span!("store.record_outputs", %run_id, outputs = outputs.len())
            .entered();
        let encoded = encode_outputs(outputs)?;
        self.write("record_outputs", |tx| {
            insert_outputs(tx, run_id.0, &encoded)?;
            Ok(encoded.len())
        })
    }

    /// Records that a process was spawned for `agent` (before its run exists).
    pub fn execution_started(&self, agent: &str, spawned_at: UnixMillis) -> Result<ExecutionId> {
        let _span = tracing::debug_span!("store.execution_started", agent).entered();
        self.write("execution_started", |tx| {
            tx.prepare_cached("INSERT INTO agent_executions (agent, spawned_at) VALUES (?1, ?2)")?
                .insert(params![agent, spawned_at])
                .map(ExecutionId)
        })
    }

    /// Records how an execution ended, and optionally the run it belongs to. Returns whether
    /// the execution existed.
    pub fn execution_finished(
        &self,
        id: ExecutionId,
        completed_at: UnixMillis,
        outcome: &str,
        run_id: Option<RunId>,
    ) -> Result<bool> {
        let _span = tracing::debug_span!("store.execution_finished", %id).entered();
        self.write("execution_finished", |tx| {
            tx.prepare_cached(
                "UPDATE agent_executions SET completed_at = ?2, outcome = ?3, run_id = coalesce(?4, run_id) \
                 WHERE id = ?1",
            )?
            .execute(params![id.0, completed_at, outcome, run_id.map(|r| r.0)])
            .map(|n| n > 0)
        })
    }

    // ---------------------------------------------------------------- reads

    /// The most recent run (by `started_at`) of `stage` for `spec_id`, with its verdict.
    pub fn latest_verdict(&self, spec_id: &str, stage: &str) -> Result<Option<Run>> {
        let _span = tracing::trace_span!("store.latest_verdict", spec_id, stage).entered();
        let row = self.read(|c| {
            c.prepare_cached(SQL_LATEST_VERDICT)
                .and_then(|mut s| s.query_row(params![spec_id, stage], read_run).optional())
                .map_err(self.map("latest_verdict"))
        })?;
        row.map(finish_run).transpose()
    }

    /// One run by id.
    pub fn run(&self, run_id: RunId) -> Result<Option<Run>> {
        let _span = tracing::trace_span!("store.run", %run_id).entered();
        let row = self.read(|c| {
            c.prepare_cached(SQL_RUN)
                .and_then(|mut s| s.query_row([run_id.0], read_run).optional())
                .map_err(self.map("run"))
        })?;
        row.map(finish_run).transpose()
    }

    /// A spec's runs, newest first (by `started_at`, then recording order).
    pub fn history(&self, spec_id: &str, page: Page) -> Result<Vec<Run>> {
        let _span =
            tracing::trace_span!("store.history", spec_id, page.offset, page.limit).entered();
        let (limit, offset) = limit_offset(page);
        let rows = self.read(|c| {
            c.prepare_cached(SQL_HISTORY)
                .and_then(|mut s| {
                    s.query_map(params![spec_id, limit, offset], read_run)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(self.map("history"))
        })?;
        rows.into_iter().map(finish_run).collect()
    }

    /// A run's outputs in recording order.
    pub fn outputs_for_run(&self, run_id: RunId) -> Result<Vec<StoredOutput>> {
        let _span = tracing::trace_span!("store.outputs_for_run", %run_id).entered();
        let rows = self.read(|c| {
            c.prepare_cached(SQL_OUTPUTS_FOR_RUN)
                .and_then(|mut s| {
                    s.query_map([run_id.0], read_output)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(self.map("outputs_for_run"))
        })?;
        rows.into_iter().map(finish_output).collect()
    }

    /// An agent's outputs, newest first.
    pub fn outputs_for_agent(&self, agent: &str, page: Page) -> Result<Vec<StoredOutput>> {
        let _span = tracing::trace_span!("store.outputs_for_agent", agent, page.offset, page.limit)
            .entered();
        let (limit, offset) = limit_offset(page);
        let rows = self.read(|c| {
            c.prepare_cached(SQL_OUTPUTS_FOR_AGENT)
                .and_then(|mut s| {
                    s.query_map(params![agent, limit, offset], read_output)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(self.map("outputs_for_agent"))
        })?;
        rows.into_iter().map(finish_output).collect()
    }

    /// A spec's current stage.
    pub fn spec(&self, spec_id: &str) -> Result<Option<Spec>> {
        let _span = tracing::trace_span!("store.spec", spec_id).entered();
        self.read(|c| {
            c.prepare_cached(SQL_SPEC)
                .and_then(|mut s| {
                    s.query_row([spec_id], |r| {
                        Ok(Spec {
                            spec_id: r.get(0)?,
                            stage: r.get(1)?,
                            updated_at: r.get(2)?,
                        })
                    })
                    .optional()
                })
                .map_err(self.map("spec"))
        })
    }

    /// Per-agent figures over every recorded attempt, sorted by agent name: attempts,
    /// successes, mean, p50 and p95 duration, summed tokens and cost. Reads one covering
    /// index in (agent, run) order (never the raw outputs); each agent's durations are sorted
    /// in memory for the percentiles.
    pub fn agent_stats(&self) -> Result<Vec<AgentStats>> {
        let _span = tracing::debug_span!("store.agent_stats").entered();
        struct Acc {
            agent: String,
            durations: Vec<u64>,
            successes: u64,
            runs: u64,
            last_run: i64,
            usage: Usage,
            cost_usd: Option<f64>,
        }
        fn finish(mut acc: Acc) -> AgentStats {
            acc.durations.sort_unstable();
            let attempts = acc.durations.len() as u64;
            let sum: u128 = acc.durations.iter().map(|&d| u128::from(d)).sum();
            // Nearest rank: the smallest value with at least p % of values at or below it.
            let nearest = |p: u64| {
                let rank = (attempts * p).div_ceil(100).max(1) as usize;
                acc.durations.get(rank - 1).copied().unwrap_or(0)
            };
            AgentStats {
                agent: acc.agent,
                runs: acc.runs,
                attempts,
                successes: acc.successes,
                success_rate: if attempts == 0 {
                    0.0
                } else {
                    acc.successes as f64 / attempts as f64
                },
                mean_duration_ms: if attempts == 0 {
                    0.0
                } else {
                    sum as f64 / attempts as f64
                },
                p50_duration_ms: nearest(50),
                p95_duration_ms: nearest(95),
                usage: acc.usage,
                cost_usd: acc.cost_usd,
            }
        }
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(SQL_AGENT_STATS)
                .map_err(self.map("agent_stats"))?;
            let mut rows = stmt.query([]).map_err(self.map("agent_stats"))?;
            let mut out = Vec::new();
            let mut acc: Option<Acc> = None;
            while let Some(row) = rows.next().map_err(self.map("agent_stats"))? {
                let (agent, duration, succeeded, run_id): (String, i64, bool, i64) =
                    (|| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))()
                        .map_err(self.map("agent_stats"))?;
                let (usage, cost): (Option<Usage>, Option<f64>) =
                    (|| Ok((read_usage(row, 4)?, row.get(7)?)))()
                        .map_err(self.map("agent_stats"))?;
                if acc.as_ref().is_none_or(|a| a.agent != agent) {
                    if let Some(done) = acc.take() {
                        out.push(finish(done));
                    }
                    acc = Some(Acc {
                        agent,
                        durations: Vec::new(),
                        successes: 0,
                        runs: 0,
                        last_run: i64::MIN,
                        usage: Usage::default(),
                        cost_usd: None,
                    });
                }
                if let Some(a) = acc.as_mut() {
                    a.durations.push(u64::try_from(duration).unwrap_or(0));
                    a.successes += u64::from(succeeded);
                    if let Some(usage) = usage {
                        a.usage.add(usage);
                    }
                    if let Some(cost) = cost {
                        a.cost_usd = Some(a.cost_usd.unwrap_or(0.0) + cost);
                    }
                    // Rows come in run order within an agent, so distinct runs are counted
                    // by change.
                    if a.last_run != run_id {
                        a.runs += 1;
                        a.last_run = run_id;
                    }
                }
            }
            if let Some(done) = acc {
                out.push(finish(done));
            }
            Ok(out)
        })
    }

    /// Tokens and cost of each run on a [`Store::history`] page (same `spec_id` and `page`),
    /// in no particular order; a run without outputs is absent. Reads the per-run covering
    /// index, never the outputs themselves.
    pub fn history_usage(&self, spec_id: &str, page: Page) -> Result<Vec<RunUsage>> {
        let _span = tracing::debug_span!("store.history_usage", spec_id).entered();
        let (limit, offset) = limit_offset(page);
        self.read(|c| {
            c.prepare_cached(SQL_HISTORY_USAGE)
                .and_then(|mut s| {
                    s.query_map(params![spec_id, limit, offset], read_run_usage)?
                        .collect()
                })
                .map_err(self.map("history_usage"))
        })
    }

    /// Executions that were spawned but never recorded as finished, oldest first.
    pub fn unfinished_executions(&self) -> Result<Vec<Execution>> {
        let _span = tracing::trace_span!("store.unfinished_executions").entered();
        self.read(|c| {
            c.prepare_cached(SQL_UNFINISHED)
                .and_then(|mut s| s.query_map([], read_execution)?.collect())
                .map_err(self.map("unfinished_executions"))
        })
    }

    /// The executions attached to a run.
    pub fn executions_for_run(&self, run_id: RunId) -> Result<Vec<Execution>> {
        let _span = tracing::trace_span!("store.executions_for_run", %run_id).entered();
        self.read(|c| {
            c.prepare_cached(SQL_EXECUTIONS_FOR_RUN)
                .and_then(|mut s| s.query_map([run_id.0], read_execution)?.collect())
                .map_err(self.map("executions_for_run"))
        })
    }

    /// The schema version of the open database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64> {
        self.read(|c| schema::user_version(c, &self.inner.path))
    }

    // ---------------------------------------------------------------- maintenance

    /// Deletes every run that started more than `older_than` ago, with its outputs and
    /// executions (see [`Store::prune_before`]).
    pub fn prune(&self, older_than: Duration) -> Result<PruneReport> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        self.prune_before(now_millis().saturating_sub(age))
    }

    /// Deletes every run with `started_at < cutoff`, its outputs and executions, and completed
    /// executions without a run spawned before `cutoff`, in one transaction. Freed pages go to
    /// the free list; [`Store::incremental_vacuum`] returns them to the file system.
    pub fn prune_before(&self, cutoff: UnixMillis) -> Result<PruneReport> {
        let _span = tracing::info_span!("store.prune", cutoff).entered();
        let report = self.write("prune", |tx| {
            let outputs = tx.prepare_cached(SQL_PRUNE_OUTPUTS)?.execute([cutoff])?;
            let run_execs = tx
                .prepare_cached(SQL_PRUNE_RUN_EXECUTIONS)?
                .execute([cutoff])?;
            let loose_execs = tx
                .prepare_cached(SQL_PRUNE_LOOSE_EXECUTIONS)?
                .execute([cutoff])?;
            let runs = tx.prepare_cached(SQL_PRUNE_RUNS)?.execute([cutoff])?;
            Ok(PruneReport {
                runs: runs as u64,
                outputs: outputs as u64,
                executions: (run_execs + loose_execs) as u64,
            })
        })?;
        tracing::info!(runs = report.runs, outputs = report.outputs, "pruned store");
        Ok(report)
    }

    /// What [`Store::prune`] with this age would delete now, deleting nothing (see
    /// [`Store::prunable_before`]).
    pub fn prunable(&self, older_than: Duration) -> Result<PruneReport> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        self.prunable_before(now_millis().saturating_sub(age))
    }

    /// What [`Store::prune_before`] with this cutoff would delete now: the same runs, outputs
    /// and executions, counted in one read and left in place. Works on a read-only store, so a
    /// dry run needs no write access.
    pub fn prunable_before(&self, cutoff: UnixMillis) -> Result<PruneReport> {
        let _span = tracing::debug_span!("store.prunable", cutoff).entered();
        self.read(|c| {
            c.prepare_cached(SQL_PRUNABLE)
                .and_then(|mut s| {
                    s.query_row([cutoff], |r| {
                        let count = |i| r.get::<_, i64>(i).map(|n| n.unsigned_abs());
                        Ok(PruneReport {
                            runs: count(0)?,
                            outputs: count(1)?,
                            executions: count(2)?,
                        })
                    })
                })
                .map_err(self.map("prunable"))
        })
    }

    /// Returns up to `pages` free pages to the file system (`PRAGMA incremental_vacuum`);
    /// 0 frees them all. Returns how many pages were freed.
    pub fn incremental_vacuum(&self, pages: u32) -> Result<u64> {
        let _span = tracing::info_span!("store.incremental_vacuum", pages).entered();
        self.check_writable()?;
        let _guard = self
            .inner
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let conn = self.conn()?;
        let map = self.map("incremental_vacuum");
        let free =
            |c: &Connection| c.query_row("PRAGMA freelist_count", [], |r| r.get::<_, i64>(0));
        let before = free(&conn).map_err(&map)?;
        {
            let mut stmt = conn
                .prepare(&format!("PRAGMA incremental_vacuum({pages})"))
                .map_err(&map)?;
            let mut rows = stmt.query([]).map_err(&map)?;
            while rows.next().map_err(&map)?.is_some() {}
        }
        let after = free(&conn).map_err(&map)?;
        Ok(u64::try_from(before - after).unwrap_or(0))
    }

    /// Runs `PRAGMA integrity_check`; any problem is reported as [`Error::Corrupt`] listing
    /// (up to 20 of) SQLite's findings, and leaves the damage mark (see [`Error::Damaged`]).
    /// A check that passes removes a damage mark left earlier (e.g. after a backup was
    /// restored over the file). Works on a store opened read-only.
    pub fn integrity_check(&self) -> Result<()> {
        let _span = tracing::info_span!("store.integrity_check").entered();
        self.check_pragma("integrity_check")?;
        if let Some(marker) = self.inner.marker.as_deref()
            && let Err(error) = conn::remove_if_present(marker)
        {
            tracing::warn!(marker = %marker.display(), %error, "cannot remove the damage mark");
        }
        self.inner.damaged.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Runs `PRAGMA quick_check` (integrity check without the index-content cross-checks:
    /// it reads every page once, so it costs about one sequential read of the file). A problem
    /// is reported as [`Error::Corrupt`] and leaves the damage mark. Works on a store opened
    /// read-only. [`Store::backup_to`] runs it before copying.
    pub fn quick_check(&self) -> Result<()> {
        let _span = tracing::info_span!("store.quick_check").entered();
        self.check_pragma("quick_check")
    }

    /// The guard before maintenance that rewrites or copies the whole file (backup, prune,
    /// vacuum): fails with [`Error::Damaged`] if the store carries a damage mark, or if
    /// [`Store::quick_check`] finds damage now (which leaves the mark). Costs one
    /// `quick_check`, about a sequential read of the file (see docs/PERFORMANCE.md).
    pub fn verify(&self) -> Result<()> {
        self.check_not_damaged()?;
        match self.quick_check() {
            Err(Error::Corrupt { detail, .. }) => Err(Error::Damaged {
                path: self.inner.path.clone(),
                marker: self.inner.marker.clone().unwrap_or_default(),
                detail: format!("quick_check found: {detail}"),
            }),
            other => other,
        }
    }

    fn check_pragma(&self, pragma: &'static str) -> Result<()> {
        let conn = self.conn()?;
        let map = self.map(pragma);
        let mut stmt = conn
            .prepare(&format!("PRAGMA {pragma}(20)"))
            .map_err(&map)?;
        let findings = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(&map)?;
        if findings.len() == 1 && findings[0] == "ok" {
            Ok(())
        } else {
            let detail = findings.join("; ");
            self.mark_damaged(&format!("{pragma} found: {detail}"));
            Err(Error::Corrupt {
                path: self.inner.path.clone(),
                detail,
            })
        }
    }

    /// Copies the database to `dest` while it stays in use (SQLite's online backup, in one
    /// step so the copy is a single consistent snapshot; WAL lets writers continue meanwhile).
    /// The copy is written next to `dest` (created with mode 0600) and renamed over it, so
    /// `dest` is either the old file or a complete backup.
    ///
    /// A damaged store is never copied (a damaged copy renamed over `dest` would destroy a
    /// good older backup): a store with a damage mark gives [`Error::Damaged`], and
    /// [`Store::quick_check`] runs first, turning damage it finds into [`Error::Damaged`].
    /// A `dest` that is the store itself or one of its files (`-wal`, `-shm`, ...), under any
    /// spelling or link, gives [`Error::BackupOntoItself`] before anything is written; a `dest`
    /// that holds anything but a SQLite database (an older backup) gives
    /// [`Error::BackupWouldReplace`].
    /// Works on a store opened read-only. A lock held elsewhere is waited for up to
    /// [`Options::busy_timeout`], then the backup fails with [`Error::Busy`].
    pub fn backup_to(&self, dest: impl AsRef<Path>) -> Result<()> {
        let dest = dest.as_ref();
        let _span = tracing::info_span!("store.backup", dest = %dest.display()).entered();
        if is_file_of_store(&self.inner.path, dest) {
            return Err(Error::BackupOntoItself {
                store: self.inner.path.clone(),
                dest: dest.to_path_buf(),
            });
        }
        conn::check_backup_destination(dest)?;
        self.verify()?;
        let mut tmp_name = dest.as_os_str().to_owned();
        tmp_name.push(".synod-backup-tmp");
        let tmp = PathBuf::from(tmp_name);
        let dest_err = |e| Error::sqlite(dest, "backup", e);
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&tmp)(e)),
        }
        let result = (|| {
            let conn = self.conn()?;
            conn::create_private_file(&tmp)?;
            let mut target = Connection::open_with_flags(
                &tmp,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(dest_err)?;
            {
                use rusqlite::backup::{Backup, StepResult};
                let backup = Backup::new(&conn, &mut target).map_err(dest_err)?;
                // One step copies every page. A lock it cannot get has already been waited
                // for by SQLite's busy handler, for `busy_timeout` (set on every connection).
                loop {
                    match backup.step(-1).map_err(dest_err)? {
                        StepResult::Done => break,
                        StepResult::More => {}
                        _ => {
                            return Err(Error::Busy {
                                operation: "backup",
                                timeout: Some(self.inner.busy_timeout),
                            });
                        }
                    }
                }
            }
            target.close().map_err(|(_, e)| dest_err(e))?;
            fs::rename(&tmp, dest).map_err(io_err(dest))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Copies the WAL into the database file and truncates the WAL
    /// (`PRAGMA wal_checkpoint(TRUNCATE)`). Returns `false` if readers or writers kept it from
    /// completing (it is then safe to retry later).
    pub fn checkpoint(&self) -> Result<bool> {
        let _span = tracing::info_span!("store.checkpoint").entered();
        self.check_writable()?;
        let conn = self.conn()?;
        let (busy, _log, _done): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(self.map("checkpoint"))?;
        Ok(busy == 0)
    }
}

/// How long SQLite's busy handler waits within one write attempt before the retry loop in
/// `Store::write` takes over.
const BUSY_SLICE: Duration = Duration::from_millis(250);
/// The longest pause between two write attempts.
const MAX_BACKOFF: Duration = Duration::from_millis(100);

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// A pause between `backoff / 2` and `backoff`, so waiting processes spread out.
/// Whether `dest` names the store's own database file or one of the files SQLite and synod
/// keep beside it (`-wal`, `-shm`, `-journal`, `.damaged`), however the path is spelled: a
/// backup renamed over one of them would destroy the store it copies.
fn is_file_of_store(store: &Path, dest: &Path) -> bool {
    let Some(store) = resolved(store) else {
        return false;
    };
    let Some(dest) = resolved(dest) else {
        return false;
    };
    if ["", "-wal", "-shm", "-journal", ".damaged"]
        .iter()
        .any(|suffix| conn::sibling(&store, suffix) == dest)
    {
        return true;
    }
    same_file(&store, &dest)
}

/// `path` with its directory resolved (symbolic links, `..`), and the file itself resolved
/// when it exists. `None` when the directory does not exist.
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(full) = fs::canonicalize(path) {
        return Some(full);
    }
    // Relative to the current directory, so a bare name has a directory too.
    let path = std::path::absolute(path).ok()?;
    Some(
        fs::canonicalize(path.parent()?)
            .ok()?
            .join(path.file_name()?),
    )
}

/// Two names of one file (a hard link; compared on Unix only).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (fs::metadata(a), fs::metadata(b)) {
            return (a.dev(), a.ino()) == (b.dev(), b.ino());
        }
    }
    #[cfg(not(unix))]
    let _ = (a, b);
    false
}

fn jittered(backoff: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    let half = backoff / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_nanos(hasher.finish() % nanos)
}

/// The first line of a damage mark, if `marker` exists.
fn read_marker(marker: &Path) -> Option<String> {
    let text = fs::read_to_string(marker).ok()?;
    let line = text.lines().next().unwrap_or("").trim();
    Some(if line.is_empty() {
        "a damage mark was left beside it".to_owned()
    } else {
        line.to_owned()
    })
}

/// The checks [`Store::open`] runs on an existing file before SQLite opens it: not empty, a
/// SQLite header that fits the file length, no damage mark, and the file, `-wal`, `-shm` and
/// directory writable. Returns whether the file exists (a missing file passes). Public only
/// for the `guard_cost` example, which times it.
#[doc(hidden)]
pub fn writer_guards(path: &Path) -> Result<bool> {
    if !conn::precheck_file(path)? {
        return Ok(false);
    }
    check_not_marked_at(path, &conn::sibling(path, ".damaged"))?;
    if let Some(detail) = conn::store_unwritable(path) {
        return Err(Error::ReadOnly {
            path: path.to_path_buf(),
            detail,
        });
    }
    Ok(true)
}

fn check_not_marked_at(path: &Path, marker: &Path) -> Result<()> {
    match read_marker(marker) {
        Some(detail) => Err(Error::Damaged {
            path: path.to_path_buf(),
            marker: marker.to_path_buf(),
            detail,
        }),
        None => Ok(()),
    }
}

/// Writes `bytes` to `path` (created with mode 0600, or truncated).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = conn::private(
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
    )
    .open(path)?;
    file.write_all(bytes)
}

/// Creates a complete new store at `path`: a 0600 file under a temporary name in the same
/// directory gets the schema (WAL, incremental auto-vacuum, every migration), is closed (which
/// checkpoints and removes its WAL), and is hard-linked to `path`. If another process linked
/// its own store first, that one is kept. So `path` is never an empty or half-built file.
fn create_store_file(path: &Path) -> Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(|| "synod.db".into(), |n| n.to_string_lossy().into_owned());
    let tmp = conn::parent_dir(path).join(format!(
        ".{name}.new-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    conn::create_private_file(&tmp)?;
    let result = (|| {
        let map = |op| move |e| Error::sqlite(path, op, e);
        let mut conn = Connection::open_with_flags(
            &tmp,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(map("create"))?;
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")
            .map_err(map("set auto_vacuum"))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(map("set journal_mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::JournalMode {
                path: path.to_path_buf(),
                found: mode,
            });
        }
        schema::migrate(&mut conn, path)?;
        conn.close().map_err(|(_, e)| map("create")(e))?;
        match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                tracing::debug!(path = %path.display(), "another process created the store first");
                Ok(())
            }
            // A file system without hard links: rename, unless the store appeared meanwhile.
            Err(_) if !path.exists() => fs::rename(&tmp, path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            }),
            Err(source) => Err(Error::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    })();
    for leftover in [
        tmp.clone(),
        conn::sibling(&tmp, "-wal"),
        conn::sibling(&tmp, "-shm"),
    ] {
        let _ = conn::remove_if_present(&leftover);
    }
    result
}

/// One-time file setup: WAL journal and incremental auto-vacuum.
fn setup_file(conn: &Connection, target: &Target, path: &Path) -> Result<()> {
    let map = |op| move |e| Error::sqlite(path, op, e);
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(map("read page count"))?;
    let auto_vacuum: i64 = conn
        .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
        .map_err(map("read auto_vacuum"))?;
    if pages == 0 {
        // Must precede the first table; outside any transaction.
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")
            .map_err(map("set auto_vacuum"))?;
    }
    if let Target::File(..) = target {
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(map("read journal_mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            if pages > 0 {
                tracing::info!(path = %path.display(), from = %mode, "converting store to WAL journal mode");
            }
            let now: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(map("set journal_mode"))?;
            if !now.eq_ignore_ascii_case("wal") {
                return Err(Error::JournalMode {
                    path: path.to_path_buf(),
                    found: now,
                });
            }
        }
    }
    if pages > 0 && auto_vacuum != 2 {
        // An existing file without incremental auto-vacuum: VACUUM rebuilds it with it.
        tracing::info!(path = %path.display(), "converting store to incremental auto-vacuum");
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
            .map_err(map("convert auto_vacuum"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Durability;

    fn pragma(conn: &Connection, name: &str) -> i64 {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("PRAGMA {name}: {e}"))
    }

    fn check_connection(conn: &Connection, synchronous: i64) {
        assert_eq!(pragma(conn, "busy_timeout"), 7_000);
        assert_eq!(pragma(conn, "foreign_keys"), 1);
        assert_eq!(pragma(conn, "synchronous"), synchronous);
        assert_eq!(pragma(conn, "cache_size"), -16_000);
        assert_eq!(pragma(conn, "temp_store"), 2);
        assert_eq!(pragma(conn, "mmap_size"), 1 << 20);
    }

    #[test]
    fn every_connection_gets_the_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        for (durability, synchronous) in [(Durability::Normal, 1), (Durability::Full, 2)] {
            let options = Options {
                busy_timeout: Duration::from_secs(7),
                durability,
                cache_size_kib: 16_000,
                mmap_size: 1 << 20,
                ..Options::default()
            };
            let store =
                Store::open(dir.path().join(format!("{durability:?}.db")), options).unwrap();
            // Several pooled connections at once, so more than the first one is checked.
            let conns: Vec<_> = (0..3).map(|_| store.conn().unwrap()).collect();
            for conn in &conns {
                check_connection(conn, synchronous);
                assert_eq!(pragma(conn, "query_only"), 0);
            }
            store
                .read(|c| {
                    check_connection(c, synchronous);
                    assert_eq!(pragma(c, "query_only"), 1);
                    Ok(())
                })
                .unwrap();
        }
    }

    #[test]
    fn read_connections_are_reused_and_capped() {
        let store = Store::open_in_memory_with(Options {
            max_idle_readers: 2,
            ..Options::default()
        })
        .unwrap();
        let first = store.read(|c| Ok(c as *const Connection as usize)).unwrap();
        let again = store.read(|c| Ok(c as *const Connection as usize)).unwrap();
        assert_eq!(first, again, "an idle read connection should be reused");
        // Nested reads open more connections; only two are kept.
        store
            .read(|_| store.read(|_| store.read(|_| store.read(|_| Ok(())))))
            .unwrap();
        let idle = store.inner.readers.idle_count();
        assert_eq!(idle, 2);
    }
}
