//! `synod store check | vacuum | backup PATH | prune --older-than 30d [--dry-run]`.
//!
//! `check`, `backup` and `prune --dry-run` open the store read-only (they work on a read-only
//! file or directory); `vacuum` and `prune` open it for writing. A store `check` (or any failed page read) found
//! damaged carries a damage mark, and `backup`, `vacuum`, `prune` and `run` refuse it (exit 2,
//! the file untouched) until a restored or rebuilt file passes `check` again. `backup`,
//! `vacuum` and `prune` also run SQLite's `quick_check` first.
//!
//! On a PostgreSQL store (`store.url`, `--store URL`) `check` verifies that the server answers
//! with this build's schema, `prune` deletes old runs, and `vacuum` and `backup` point at the
//! server's own tools (autovacuum, `pg_dump`).

use std::path::PathBuf;
use std::process::ExitCode;

use synod::orchestrator::{HumanDuration, LoadedConfig};
use synod::store::AnyStore;

use crate::common::{
    ConfigArgs, Failure, Location, finish, open_any, outln, read_only_store, writable_store,
};

/// `synod store ...`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum StoreCommand {
    /// Run SQLite's integrity check; exit 1 if it finds a problem (which marks the store
    /// damaged, so nothing writes to or backs it up until a check passes again).
    Check {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Give free pages back to the file system (incremental vacuum).
    Vacuum {
        /// Most pages to free (at least 1; default: all).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        pages: Option<u32>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Copy the database, consistently, while it may be in use.
    Backup {
        /// Destination file.
        path: PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Delete runs (with their outputs) older than a duration.
    Prune {
        /// Age, e.g. `30d`, `12h`.
        #[arg(long, value_name = "AGE")]
        older_than: HumanDuration,
        /// Count what would be deleted, and delete nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

pub(crate) async fn run(cmd: StoreCommand, verbose: bool) -> ExitCode {
    finish(run_any(cmd).await, verbose)
}

async fn run_any(cmd: StoreCommand) -> Result<ExitCode, Failure> {
    let (StoreCommand::Check { config }
    | StoreCommand::Vacuum { config, .. }
    | StoreCommand::Backup { config, .. }
    | StoreCommand::Prune { config, .. }) = &cmd;
    let loaded = config.load()?;
    match Location::of(&loaded) {
        Location::Server(url) => on_server(cmd, &loaded, &url).await,
        Location::File(_) => tokio::task::block_in_place(|| run_inner(cmd, loaded)),
    }
}

/// The commands on a PostgreSQL store: `check` verifies the server answers with this build's
/// schema; `prune` deletes old runs; `vacuum` and `backup` belong to the server's own tools.
async fn on_server(
    cmd: StoreCommand,
    loaded: &LoadedConfig,
    url: &str,
) -> Result<ExitCode, Failure> {
    let shown = synod::store::redact_url(url);
    match cmd {
        StoreCommand::Check { .. } => {
            let options = synod::store::Options::default();
            let store = AnyStore::open_read_only(url, options)
                .await
                .map_err(|e| Failure::new(format!("cannot open the store {shown}"), e))?;
            store
                .integrity_check()
                .await
                .map_err(|e| Failure::new(format!("check of {shown} failed"), e))?;
            outln!(
                "ok: {shown} answers with schema version {}",
                synod::store::SCHEMA_VERSION
            );
            let unfinished = store
                .unfinished_executions()
                .await
                .map_err(|e| Failure::new("cannot list unfinished executions", e))?;
            note_unfinished(&unfinished);
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Prune {
            older_than,
            dry_run: true,
            ..
        } => {
            let store = AnyStore::open_read_only(url, synod::store::Options::default())
                .await
                .map_err(|e| Failure::new(format!("cannot open the store {shown}"), e))?;
            let report = store.prunable(older_than.get()).await.map_err(|e| {
                Failure::new(format!("cannot count runs older than {older_than}"), e)
            })?;
            would_prune(&shown, older_than, report);
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Prune { older_than, .. } => {
            let store = open_any(loaded).await?;
            let report = store.prune(older_than.get()).await.map_err(|e| {
                Failure::new(format!("cannot prune runs older than {older_than}"), e)
            })?;
            outln!(
                "pruned {shown}: {} run(s), {} output(s), {} execution(s) older than {older_than}",
                report.runs,
                report.outputs,
                report.executions
            );
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Vacuum { .. } => Err(Failure::msg(format!(
            "{shown} is a PostgreSQL store: its autovacuum reclaims space (or run VACUUM in psql); `synod store vacuum` is for SQLite files"
        ))),
        StoreCommand::Backup { .. } => Err(Failure::msg(format!(
            "{shown} is a PostgreSQL store: back it up with pg_dump; `synod store backup` copies SQLite files"
        ))),
    }
}

fn note_unfinished(unfinished: &[synod::store::Execution]) {
    if !unfinished.is_empty() {
        outln!(
            "note: {} agent execution(s) never completed (a synod process died mid-run): {}",
            unfinished.len(),
            unfinished
                .iter()
                .map(|e| e.agent.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

fn run_inner(cmd: StoreCommand, loaded: LoadedConfig) -> Result<ExitCode, Failure> {
    match cmd {
        StoreCommand::Check { .. } => {
            let (loaded, store) = read_only_store(loaded)?;
            let earlier = store.damage_mark();
            match store.integrity_check() {
                Ok(()) => {
                    outln!(
                        "ok: {} passed the integrity check",
                        loaded.store_path().display()
                    );
                    if let Some(earlier) = earlier {
                        outln!("note: removed the damage mark left earlier ({earlier})");
                    }
                    let unfinished = store
                        .unfinished_executions()
                        .map_err(|e| Failure::new("cannot list unfinished executions", e))?;
                    note_unfinished(&unfinished);
                    Ok(ExitCode::SUCCESS)
                }
                Err(synod::store::Error::Corrupt { detail, .. }) => {
                    outln!(
                        "{} is damaged ({detail}); synod will not write to it or back it up. Restore a backup over it (or rebuild it: `sqlite3 {} .recover | sqlite3 NEW.db`), then run `synod store check` again",
                        loaded.store_path().display(),
                        loaded.store_path().display()
                    );
                    Ok(ExitCode::from(1))
                }
                Err(err) => Err(Failure::new("integrity check failed to run", err)),
            }
        }
        StoreCommand::Vacuum { pages, .. } => {
            let (loaded, store) = writable_store(loaded)?;
            verify(&store, "vacuum")?;
            let freed = store
                .incremental_vacuum(pages.unwrap_or(0))
                .map_err(|e| Failure::new("vacuum failed", e))?;
            outln!(
                "vacuumed {}: {freed} page(s) freed",
                loaded.store_path().display()
            );
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Backup { path, .. } => {
            let (loaded, store) = read_only_store(loaded)?;
            store
                .backup_to(&path)
                .map_err(|e| Failure::new(format!("cannot back up to {}", path.display()), e))?;
            outln!(
                "backed up {} to {}",
                loaded.store_path().display(),
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Prune {
            older_than,
            dry_run: true,
            ..
        } => {
            let (loaded, store) = read_only_store(loaded)?;
            let report = store.prunable(older_than.get()).map_err(|e| {
                Failure::new(format!("cannot count runs older than {older_than}"), e)
            })?;
            would_prune(
                &loaded.store_path().display().to_string(),
                older_than,
                report,
            );
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Prune { older_than, .. } => {
            let (loaded, store) = writable_store(loaded)?;
            verify(&store, "prune")?;
            let report = store.prune(older_than.get()).map_err(|e| {
                Failure::new(format!("cannot prune runs older than {older_than}"), e)
            })?;
            outln!(
                "pruned {}: {} run(s), {} output(s), {} execution(s) older than {older_than}",
                loaded.store_path().display(),
                report.runs,
                report.outputs,
                report.executions
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The report of `prune --dry-run`.
fn would_prune(store: &str, older_than: HumanDuration, report: synod::store::PruneReport) {
    outln!(
        "would prune {store}: {} run(s), {} output(s), {} execution(s) older than {older_than}; nothing was deleted (run it again without --dry-run to delete them)",
        report.runs,
        report.outputs,
        report.executions
    );
}

/// Refuses maintenance on a damaged store (damage mark, or `quick_check` finding damage now).
fn verify(store: &synod::store::Store, what: &str) -> Result<(), Failure> {
    store
        .verify()
        .map_err(|e| Failure::new(format!("will not {what} {}", store.path().display()), e))
}
