//! `synod store check | vacuum | backup PATH | prune --older-than 30d`.
//!
//! `check` and `backup` open the store read-only (they work on a read-only file or directory);
//! `vacuum` and `prune` open it for writing. A store `check` (or any failed page read) found
//! damaged carries a damage mark, and `backup`, `vacuum`, `prune` and `run` refuse it (exit 2,
//! the file untouched) until a restored or rebuilt file passes `check` again. `backup`,
//! `vacuum` and `prune` also run SQLite's `quick_check` first.

use std::path::PathBuf;
use std::process::ExitCode;

use synod::orchestrator::HumanDuration;

use crate::common::{ConfigArgs, Failure, finish, outln};

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
        /// Most pages to free (default: all).
        #[arg(long)]
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
        #[command(flatten)]
        config: ConfigArgs,
    },
}

pub(crate) async fn run(cmd: StoreCommand, verbose: bool) -> ExitCode {
    finish(tokio::task::block_in_place(|| run_inner(cmd)), verbose)
}

fn run_inner(cmd: StoreCommand) -> Result<ExitCode, Failure> {
    match cmd {
        StoreCommand::Check { config } => {
            let (loaded, store) = config.open_store_read_only()?;
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
        StoreCommand::Vacuum { pages, config } => {
            let (loaded, store) = config.open_store_for_writing()?;
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
        StoreCommand::Backup { path, config } => {
            let (loaded, store) = config.open_store_read_only()?;
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
        StoreCommand::Prune { older_than, config } => {
            let (loaded, store) = config.open_store_for_writing()?;
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

/// Refuses maintenance on a damaged store (damage mark, or `quick_check` finding damage now).
fn verify(store: &synod::store::Store, what: &str) -> Result<(), Failure> {
    store
        .verify()
        .map_err(|e| Failure::new(format!("will not {what} {}", store.path().display()), e))
}
