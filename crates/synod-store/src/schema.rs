//! The schema and its forward-only migrations, tracked by `PRAGMA user_version`.
//!
//! Each migration runs in its own `BEGIN IMMEDIATE` transaction that re-reads
//! `user_version` first, so two processes opening the same new file at once migrate it once.
//!
//! ```
//! use synod_store::{SCHEMA_VERSION, Store};
//!
//! let store = Store::open_in_memory()?;
//! assert_eq!(store.schema_version()?, SCHEMA_VERSION);
//! # Ok::<(), synod_store::Error>(())
//! ```

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Error, Result};

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
    CREATE TABLE specs (
        spec_id    TEXT PRIMARY KEY NOT NULL,
        stage      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );

    CREATE TABLE consensus_runs (
        id           INTEGER PRIMARY KEY,
        spec_id      TEXT NOT NULL,
        stage        TEXT NOT NULL,
        started_at   INTEGER NOT NULL,
        finished_at  INTEGER NOT NULL,
        status       TEXT NOT NULL,
        verdict_json TEXT NOT NULL,
        UNIQUE (spec_id, stage, started_at)
    );
    -- history(spec): newest first
    CREATE INDEX consensus_runs_by_spec ON consensus_runs (spec_id, started_at);
    -- prune(older_than)
    CREATE INDEX consensus_runs_by_start ON consensus_runs (started_at);

    CREATE TABLE agent_outputs (
        id          INTEGER PRIMARY KEY,
        run_id      INTEGER NOT NULL REFERENCES consensus_runs (id) ON DELETE CASCADE,
        agent       TEXT NOT NULL,
        attempt     INTEGER NOT NULL,
        exit_code   INTEGER,
        duration_ms INTEGER NOT NULL,
        status      TEXT NOT NULL,
        raw_output  TEXT NOT NULL,
        parsed_json TEXT,
        error       TEXT,
        succeeded   INTEGER NOT NULL GENERATED ALWAYS AS (exit_code IS 0 AND error IS NULL) VIRTUAL
    );
    -- outputs_for_run, and the cascade from consensus_runs
    CREATE INDEX agent_outputs_by_run ON agent_outputs (run_id);
    -- outputs_for_agent (newest run first) and agent_stats (covering). Keyed by run_id after
    -- agent so inserts append at the end of each agent's range instead of landing at random
    -- leaf pages (a duration-ordered index would dirty one page per inserted row).
    CREATE INDEX agent_outputs_by_agent ON agent_outputs (agent, run_id, duration_ms, succeeded);

    CREATE TABLE agent_executions (
        id           INTEGER PRIMARY KEY,
        agent        TEXT NOT NULL,
        run_id       INTEGER REFERENCES consensus_runs (id) ON DELETE CASCADE,
        spawned_at   INTEGER NOT NULL,
        completed_at INTEGER,
        outcome      TEXT
    );
    CREATE INDEX agent_executions_by_run ON agent_executions (run_id);
    CREATE INDEX agent_executions_by_spawn ON agent_executions (spawned_at);
    CREATE INDEX agent_executions_unfinished ON agent_executions (spawned_at)
        WHERE completed_at IS NULL;
    ",
    // 2: runs of one spec and stage may start in the same millisecond (two processes);
    // version 1 refused the second one. SQLite cannot drop a constraint, so the table is
    // rebuilt (foreign keys are off while migrating; see `migrate`).
    "
    CREATE TABLE consensus_runs_v2 (
        id           INTEGER PRIMARY KEY,
        spec_id      TEXT NOT NULL,
        stage        TEXT NOT NULL,
        started_at   INTEGER NOT NULL,
        finished_at  INTEGER NOT NULL,
        status       TEXT NOT NULL,
        verdict_json TEXT NOT NULL
    );
    INSERT INTO consensus_runs_v2 (id, spec_id, stage, started_at, finished_at, status, verdict_json)
        SELECT id, spec_id, stage, started_at, finished_at, status, verdict_json FROM consensus_runs;
    DROP TABLE consensus_runs;
    ALTER TABLE consensus_runs_v2 RENAME TO consensus_runs;
    CREATE INDEX consensus_runs_by_spec ON consensus_runs (spec_id, started_at);
    CREATE INDEX consensus_runs_by_start ON consensus_runs (started_at);
    ",
    // 3: what the agent's CLI reported about each attempt (NULL where it reported nothing,
    // and in rows recorded before). The per-agent index grows the token and cost columns so
    // agent_stats reads only the index, never the (large) raw outputs. It holds exit_code and
    // `error IS NULL` rather than the virtual `succeeded` column: SQLite computes a virtual
    // column from the table row, so an index holding it is never covering. The per-run index
    // grows them too, for history_usage (the new columns sit after the raw output in each
    // row, so reading them from the table would read every output).
    "
    ALTER TABLE agent_outputs ADD COLUMN session_id TEXT;
    ALTER TABLE agent_outputs ADD COLUMN model TEXT;
    ALTER TABLE agent_outputs ADD COLUMN input_tokens INTEGER;
    ALTER TABLE agent_outputs ADD COLUMN output_tokens INTEGER;
    ALTER TABLE agent_outputs ADD COLUMN cached_tokens INTEGER;
    ALTER TABLE agent_outputs ADD COLUMN cost_usd REAL;
    DROP INDEX agent_outputs_by_agent;
    CREATE INDEX agent_outputs_by_agent ON agent_outputs
        (agent, run_id, duration_ms, exit_code, (error IS NULL),
         input_tokens, output_tokens, cached_tokens, cost_usd);
    DROP INDEX agent_outputs_by_run;
    CREATE INDEX agent_outputs_by_run ON agent_outputs
        (run_id, input_tokens, output_tokens, cached_tokens, cost_usd);
    ",
    // 4: the job queue (jobs.rs, docs/adr/0019-job-queue.md). `lease_token` is the fencing
    // token (one more at every claim); a pruned run leaves its job with no run_id.
    "
    CREATE TABLE jobs (
        id          INTEGER PRIMARY KEY,
        spec_id     TEXT NOT NULL,
        stage       TEXT NOT NULL,
        prompt      TEXT,
        state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
        tries       INTEGER NOT NULL DEFAULT 0,
        max_tries   INTEGER NOT NULL CHECK (max_tries >= 1),
        lease_owner TEXT,
        lease_token INTEGER NOT NULL DEFAULT 0,
        lease_until INTEGER,
        last_error  TEXT,
        run_id      INTEGER REFERENCES consensus_runs (id) ON DELETE SET NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    -- claim (the oldest queued job) and jobs(state) (newest first)
    CREATE INDEX jobs_by_state ON jobs (state, id);
    -- claim: the running job whose lease expired first
    CREATE INDEX jobs_leases ON jobs (lease_until) WHERE state = 'running';
    -- ON DELETE SET NULL when prune deletes a run
    CREATE INDEX jobs_by_run ON jobs (run_id);
    ",
    // 5: holds shared by every process of the store (holds.rs): an agent's rate limit, an
    // open breaker. Read by primary key before each call; few rows, so no other index.
    "
    CREATE TABLE holds (
        kind       TEXT NOT NULL CHECK (kind IN ('rate_limited', 'breaker_open')),
        key        TEXT NOT NULL,
        until_ms   INTEGER NOT NULL,
        reason     TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (kind, key)
    ) WITHOUT ROWID;
    ",
];

/// The newest schema version this build knows (`PRAGMA user_version` of a migrated file).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Reads `PRAGMA user_version`.
pub(crate) fn user_version(conn: &Connection, path: &Path) -> Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| Error::sqlite(path, "read schema version", e))
}

/// Fails with [`Error::SchemaTooNew`] when the file is newer than this build.
pub(crate) fn check_not_too_new(found: i64, path: &Path) -> Result<()> {
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Applies every migration the file lacks, each in its own IMMEDIATE transaction.
///
/// Foreign keys are off while migrating (a table rebuild must not cascade deletes; SQLite
/// ignores the pragma inside a transaction), and every migration checks them before it
/// commits.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let map = |e| Error::sqlite(path, "migrate schema", e);
    if user_version(conn, path)? >= SCHEMA_VERSION {
        return Ok(());
    }
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(map)?;
    let migrated = apply(conn, path);
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(map)?;
    migrated
}

fn apply(conn: &mut Connection, path: &Path) -> Result<()> {
    let map = |e| Error::sqlite(path, "migrate schema", e);
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map)?;
        let current = user_version(&tx, path)?;
        check_not_too_new(current, path)?;
        if current >= version {
            continue; // dropping `tx` rolls back the empty transaction
        }
        tracing::info!(path = %path.display(), from = current, to = version, "migrating store schema");
        tx.execute_batch(sql).map_err(map)?;
        let dangling: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
            .optional()
            .map_err(map)?;
        if let Some(table) = dangling {
            return Err(Error::sqlite(
                path,
                "migrate schema",
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some(format!(
                        "migration {version} left a dangling reference in {table}"
                    )),
                ),
            ));
        }
        tx.pragma_update(None, "user_version", version)
            .map_err(map)?;
        tx.commit().map_err(map)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;

    /// A version-1 file with a run, an output and an execution.
    fn version_one(path: &Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        conn.execute(
            "INSERT INTO consensus_runs (id, spec_id, stage, started_at, finished_at, status, verdict_json) \
             VALUES (7, 'S', 'plan', 10, 20, 'ok', '{}')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output) \
             VALUES (7, 'a', 1, 0, 5, 'ok', 'hi')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO agent_executions (agent, run_id, spawned_at) VALUES ('a', 7, 10)",
            [],
        )
        .unwrap();
        conn
    }

    #[test]
    fn version_one_migrates_keeping_every_row_and_allows_runs_sharing_a_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let mut conn = version_one(&path);
        migrate(&mut conn, &path).unwrap();
        assert_eq!(user_version(&conn, &path).unwrap(), SCHEMA_VERSION);
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1, "foreign keys are back on after migrating");
        let kept: (i64, i64, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM consensus_runs WHERE id = 7), \
                        (SELECT count(*) FROM agent_outputs WHERE run_id = 7), \
                        (SELECT count(*) FROM agent_executions WHERE run_id = 7)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(kept, (1, 1, 1));
        conn.execute(
            "INSERT INTO consensus_runs (spec_id, stage, started_at, finished_at, status, verdict_json) \
             VALUES ('S', 'plan', 10, 20, 'ok', '{}')",
            params![],
        )
        .unwrap();
        // The rebuilt table still cascades: deleting the run deletes its outputs.
        conn.execute("DELETE FROM consensus_runs WHERE id = 7", [])
            .unwrap();
        let outputs: i64 = conn
            .query_row("SELECT count(*) FROM agent_outputs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(outputs, 0);
    }

    /// A version-2 file (written by a build before usage columns) with one run and output.
    fn version_two(path: &Path) -> Connection {
        let conn = version_one(path);
        // As `migrate` does: the rebuild of consensus_runs must not cascade.
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output, error) \
             VALUES (7, 'b', 2, 1, 9, 'exit', 'boom', 'exit code 1')",
            [],
        )
        .unwrap();
        conn
    }

    #[test]
    fn version_two_gains_the_usage_columns_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        drop(version_two(&path));
        let store = crate::Store::open(&path, crate::Options::default()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let outputs = store.outputs_for_run(crate::RunId(7)).unwrap();
        let kept: Vec<_> = outputs
            .iter()
            .map(|o| (o.agent.as_str(), o.attempt, o.raw_output.as_str()))
            .collect();
        assert_eq!(kept, [("a", 1, "hi"), ("b", 2, "boom")]);
        for output in &outputs {
            assert_eq!(output.session_id, None);
            assert_eq!(output.model, None);
            assert_eq!(output.usage, None);
            assert_eq!(output.cost_usd, None);
        }
        // New attempts of the same run keep what the CLI reported.
        let attempt = crate::NewOutput {
            agent: "a".into(),
            attempt: 2,
            exit_code: Some(0),
            status: "ok".into(),
            session_id: Some("sess-1".into()),
            model: Some("claude-sonnet-4-5".into()),
            usage: Some(synod_core::Usage::new(1_200, 85, 1_000)),
            cost_usd: Some(0.0042),
            ..crate::NewOutput::default()
        };
        store
            .record_outputs(crate::RunId(7), std::slice::from_ref(&attempt))
            .unwrap();
        let stored = store.outputs_for_agent("a", crate::Page::first(5)).unwrap();
        let newest = &stored[0];
        assert_eq!(newest.session_id.as_deref(), Some("sess-1"));
        assert_eq!(newest.model.as_deref(), Some("claude-sonnet-4-5"));
        assert_eq!(newest.usage, Some(synod_core::Usage::new(1_200, 85, 1_000)));
        assert_eq!(newest.cost_usd, Some(0.0042));
        let stats = store.agent_stats().unwrap();
        assert_eq!(stats[0].agent, "a");
        assert_eq!(stats[0].attempts, 2);
    }

    #[test]
    fn a_current_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let mut conn = version_one(&path);
        migrate(&mut conn, &path).unwrap();
        conn.execute("CREATE TABLE marker (x)", []).unwrap();
        migrate(&mut conn, &path).unwrap();
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'marker'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 1);
    }
}
