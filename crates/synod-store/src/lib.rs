//! synod-store: the evidence store behind synod (SQLite, and PostgreSQL with the `postgres` feature).
//!
//! Through the facade this crate is `synod::store` (`synod = { version = "0.1", features = ["store"] }`);
//! the examples here use its own name, `synod_store::…`, which `synod::store::…` replaces one for one.
//!
//! Every consensus run is kept with all of its agents' outputs (every attempt), its verdict
//! (as JSON) and the spec's current stage, committed together in one transaction, so a crash
//! never leaves half a run. The database runs in WAL mode with tuned pragmas; writes go
//! through a small pool of read-write connections (closed before the last store handle's `drop`
//! returns: nothing runs in the background), point reads through a cache of read-only connections; the schema is
//! migrated forward by `PRAGMA user_version`; maintenance (prune, incremental vacuum,
//! integrity check, online backup, checkpoint) is built in. [`AsyncStore`] offers the same API
//! to async code.
//!
//! The store is also a job queue ([`JobQueue`], module [`jobs`]; ADR 0019): stage runs
//! submitted by one process are claimed by workers in others under a lease with a fencing
//! token, and a job's stage is recorded together with its `done` in one transaction, so each
//! job is recorded exactly once even when a worker dies mid-stage.
//!
//! Guards (docs/adr/0012-store-guards.md): store files are created 0600 in 0700 directories and
//! built whole before they appear at their path; [`Store::open`] refuses an empty, foreign,
//! truncated, read-only ([`Error::ReadOnly`]) or damage-marked ([`Error::Damaged`]) store
//! before anything is written, while [`Store::open_read_only`] reads read-only and damaged
//! stores; damage found by a check or a failed page read is remembered in a `<db>.damaged`
//! mark that stops every later write and backup; a write that finds the database locked is
//! retried with backoff for [`Options::busy_timeout`].
//!
//! Timestamps are `i64` Unix milliseconds ([`UnixMillis`]).
//!
//! Each attempt keeps what its agent's CLI reported, where it did: session id, model, token
//! [`Usage`] and cost in USD ([`NewOutput`], [`StoredOutput`]). [`Store::agent_stats`] sums
//! them per agent (with p50/p95 duration) and [`Store::history_usage`] per run of a history
//! page, both from covering indexes.
//!
//! # PostgreSQL
//!
//! With the feature `postgres`, [`PgStore`] keeps the same records on a PostgreSQL server
//! (tokio-postgres behind a deadpool pool; no TLS yet; docs/adr/0016-postgres-client.md), for
//! runs from many machines: migrations recorded in a `synod_schema` table (one transaction
//! under an advisory lock, a newer schema refused before anything is written), a stage written
//! by ONE statement, JSONB documents, an index for every read path. [`AnyStore`] is the one
//! async API over both backends: `AnyStore::open(location)` takes a `postgres://` or
//! `postgresql://` URL for PostgreSQL and anything else as a SQLite file. Backups of a
//! PostgreSQL store are `pg_dump`'s job.
//!
//! # Windows and macOS
//!
//! macOS behaves as Linux (modes, `access(2)`). Windows has no permission modes: a new store file,
//! its `-wal`/`-shm`, backups, damage marks and created directories get the ACL their parent
//! directory passes on; the store sets no ACL and does not check who else may read. Under the
//! user's profile (`%USERPROFILE%`, `%APPDATA%`, `%LOCALAPPDATA%`) that ACL grants the user, SYSTEM
//! and Administrators only, the counterpart of 0600/0700 with root; a store placed in a shared
//! directory is as readable as that directory says. The read-only guard reads the file's read-only
//! attribute and tries to open the file, `-wal` and `-shm` for writing (which changes nothing); a
//! read-only *directory* is not judged up front (Windows ignores a directory's read-only attribute)
//! and is reported by SQLite when it fails to create the `-wal`. A new store is still built under a
//! temporary name and hard-linked into place (NTFS). The crate cross-builds for
//! `x86_64-pc-windows-gnu` with mingw (bundled SQLite); its tests run under Wine in CI. For macOS a
//! plain `cargo check` stops at bundled SQLite's C; with the stand-in compiler in `.ci/macos/` the
//! crate checks (building it needs an Apple SDK).
//!
//! ```
//! use serde_json::json;
//! use synod_store::{NewOutput, NewRun, Options, Store};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path().join("synod.db"), Options::default())?;
//! let run = NewRun {
//!     spec_id: "SPEC-1".into(),
//!     stage: "plan".into(),
//!     started_at: 1_700_000_000_000,
//!     finished_at: 1_700_000_004_000,
//!     status: "ok".into(),
//! };
//! let outputs = vec![NewOutput {
//!     agent: "claude".into(),
//!     attempt: 1,
//!     exit_code: Some(0),
//!     duration_ms: 3_900,
//!     status: "ok".into(),
//!     raw_output: "```json\n{\"steps\": 3}\n```".into(),
//!     parsed_json: Some(json!({"steps": 3})),
//!     error: None,
//!     ..NewOutput::default()
//! }];
//! let id = store.record_stage(&run, &outputs, &json!({"status": "ok", "agreements": []}))?;
//! assert_eq!(store.latest_verdict("SPEC-1", "plan")?.map(|r| r.id), Some(id));
//! store.integrity_check()?;
//! # Ok::<(), synod_store::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod any;
pub mod async_store;
mod batch;
mod conn;
pub mod error;
pub mod evidence;
pub mod holds;
pub mod jobs;
pub mod model;
pub mod options;
#[cfg(feature = "postgres")]
pub mod pg;
mod pool;
pub mod schema;
pub mod store;
mod url;

pub use any::AnyStore;
pub use async_store::AsyncStore;
pub use error::{Error, Result};
pub use evidence::{EvidenceStore, StageRecord, StoreFuture};
pub use holds::{Hold, HoldKind, SharedHolds};
pub use jobs::{ClaimedJob, Job, JobId, JobQueue, JobState, NewJob};
pub use model::{
    AgentStats, Execution, ExecutionId, NewOutput, NewRun, Page, PruneReport, Run, RunId, RunUsage,
    Spec, StoredOutput, UnixMillis, now_millis,
};
pub use options::{Durability, Options};
#[cfg(feature = "postgres")]
pub use pg::{PgOptions, PgStore};
pub use schema::SCHEMA_VERSION;
pub use store::Store;
/// Token counts of an attempt (synod-core's `Usage`).
pub use synod_core::Usage;
pub use url::{is_postgres_url, redact_url};
