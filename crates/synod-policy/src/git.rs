//! Running `git` through synod-exec (the only place processes are spawned).

use std::path::Path;
use std::time::Duration;

use synod_exec::{AgentCommand, Output};
use tracing::Instrument as _;

use crate::{Error, Result};

/// Generous: git plumbing on a local repository finishes in milliseconds.
const GIT_TIMEOUT: Duration = Duration::from_secs(120);

fn command(dir: &Path, args: &[&str]) -> AgentCommand {
    AgentCommand::new("git")
        .args(args)
        .cwd(dir)
        .timeout(GIT_TIMEOUT)
        .output_cap(512 * 1024 * 1024)
}

fn span(dir: &Path, args: &[&str]) -> tracing::Span {
    tracing::debug_span!("git", ?args, dir = %dir.display())
}

fn failure(dir: &Path, args: &[&str], err: synod_exec::Error) -> Error {
    let message = match &err {
        synod_exec::Error::NonZeroExit { stderr_tail, .. } => stderr_tail.clone(),
        other => other.to_string(),
    };
    Error::Git {
        args: args.join(" "),
        dir: dir.to_path_buf(),
        message,
        source: Some(Box::new(err)),
    }
}

/// Runs `git ARGS` in `dir`; a non-zero exit is an error.
pub(crate) async fn git(dir: &Path, args: &[&str]) -> Result<Output> {
    synod_exec::run(&command(dir, args))
        .instrument(span(dir, args))
        .await
        .map_err(|e| failure(dir, args, e))
}

/// Runs `git ARGS` in `dir` with `stdin`; a non-zero exit is an error.
pub(crate) async fn git_stdin(dir: &Path, args: &[&str], stdin: Vec<u8>) -> Result<Output> {
    synod_exec::run(&command(dir, args).stdin(stdin))
        .instrument(span(dir, args))
        .await
        .map_err(|e| failure(dir, args, e))
}

/// Runs `git ARGS`; `Ok(None)` when git exits non-zero (a "no" answer, e.g. from
/// `rev-parse --verify --quiet`).
pub(crate) async fn git_maybe(dir: &Path, args: &[&str]) -> Result<Option<Output>> {
    match synod_exec::run(&command(dir, args))
        .instrument(span(dir, args))
        .await
    {
        Ok(out) => Ok(Some(out)),
        Err(synod_exec::Error::NonZeroExit { .. }) => Ok(None),
        Err(e) => Err(failure(dir, args, e)),
    }
}

/// stdout as trimmed text.
pub(crate) fn text(out: &Output) -> String {
    out.stdout_lossy().trim().to_owned()
}
