//! `synod store check | vacuum | backup PATH | prune --older-than 30d`.

use std::path::PathBuf;
use std::process::ExitCode;

use synod::orchestrator::HumanDuration;

use crate::common::{ConfigArgs, Failure, finish, outln};

/// `synod store ...`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum StoreCommand {
    /// Run SQLite's integrity check; exit 1 if it finds a problem.
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
            let (loaded, store) = config.open_store()?;
            match store.integrity_check() {
                Ok(()) => {
                    outln!(
                        "ok: {} passed the integrity check",
                        loaded.store_path().display()
                    );
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
                Err(err @ synod::store::Error::Corrupt { .. }) => {
                    outln!("{} is damaged: {err}", loaded.store_path().display());
                    Ok(ExitCode::from(1))
                }
                Err(err) => Err(Failure::new("integrity check failed to run", err)),
            }
        }
        StoreCommand::Vacuum { pages, config } => {
            let (loaded, store) = config.open_store()?;
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
            let (loaded, store) = config.open_store()?;
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
            let (loaded, store) = config.open_store()?;
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
