//! Storing a finished stage, and keeping it beside the store when the store refuses it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use synod_store::{EvidenceStore, RunId, StageRecord};

use super::error::{Error, Result};

/// Stores `record` in `store`; when the store refuses it (disk full, read-only, busy past
/// its timeout), writes it to `unsaved/` beside the store file and returns
/// [`Error::NotRecorded`] naming that file, so the agents' work is not lost with the write.
pub(crate) async fn record_stage(store: &dyn EvidenceStore, record: StageRecord) -> Result<RunId> {
    let unsaved = store.location().and_then(unsaved_dir);
    let record = Arc::new(record);
    let kept = Arc::clone(&record);
    match store.record_stage(record).await {
        Ok(id) => Ok(id),
        Err(err) => {
            let written =
                tokio::task::spawn_blocking(move || keep_unsaved(unsaved.as_deref(), &kept))
                    .await
                    .map_err(|e| Error::Internal(format!("the unsaved-stage task failed: {e}")))?;
            Err(match written {
                Ok(path) => Error::NotRecorded {
                    path,
                    source: Box::new(err),
                },
                Err(keep) => {
                    tracing::warn!(error = %keep, "cannot keep the unsaved stage either");
                    Error::from(err)
                }
            })
        }
    }
}

/// Where a stage that could not be stored is kept: `unsaved/` beside the store file.
fn unsaved_dir(store_path: &Path) -> Option<PathBuf> {
    let dir = store_path.parent()?;
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    dir.is_dir().then(|| dir.join("unsaved"))
}

/// Writes a stage the store refused to `DIR/SPEC-STAGE-STARTED.json` (directory 0700, file
/// 0600: the outputs are agent evidence), returning its path.
fn keep_unsaved(dir: Option<&Path>, record: &StageRecord) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    let dir = dir.ok_or_else(|| std::io::Error::other("the store has no directory (in memory)"))?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let run = &record.run;
    let path = dir.join(format!(
        "{}-{}-{}.json",
        safe(&run.spec_id),
        safe(&run.stage),
        run.started_at
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    let document = json!({ "run": run, "outputs": record.outputs, "verdict": record.verdict });
    let written = serde_json::to_writer(&mut file, &document)
        .map_err(std::io::Error::other)
        .and_then(|()| file.flush())
        .and_then(|()| file.sync_all());
    if let Err(err) = written {
        let _ = std::fs::remove_file(&path);
        return Err(err);
    }
    Ok(path)
}
