//! [`run_all()`]: run many commands with at most N alive at once, one result per input index.
//!
//! A `JoinSet` holds one task per command; a semaphore admits at most `max_concurrency` of
//! them to spawn a process, and a permit is released only after the process group has been
//! stopped and the leader reaped. Cancelling the token stops every running group and marks
//! every command not yet started as [`Error::Cancelled`]; with
//! [`RunAllOptions::cancel_on_first_failure`], the first failure does the same for the rest.
//! Dropping the future stops every running group too.
//!
//! ```ignore-windows
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use synod_exec::{AgentCommand, Error, RunAllOptions, run_all, run_all_with};
//! use tokio_util::sync::CancellationToken;
//!
//! let cmds: Vec<_> = (0..5).map(|i| AgentCommand::new("echo").arg(i.to_string())).collect();
//! let results = run_all(&cmds, 2, &CancellationToken::new()).await;
//! let outs: Vec<String> =
//!     results.iter().map(|r| r.as_ref().unwrap().stdout_lossy().into_owned()).collect();
//! assert_eq!(outs, ["0\n", "1\n", "2\n", "3\n", "4\n"]);
//!
//! let cmds = [AgentCommand::new("false"), AgentCommand::new("sleep").arg("30")];
//! let opts = RunAllOptions::default().cancel_on_first_failure(true);
//! let results = run_all_with(cmds, 1, &CancellationToken::new(), opts).await;
//! assert!(matches!(results[0], Err(Error::NonZeroExit { .. })));
//! assert!(matches!(results[1], Err(Error::Cancelled)));
//! # }
//! ```

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::command::AgentCommand;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::run::run_with_cancel;

/// Options for [`run_all_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunAllOptions {
    /// Cancel every other command (running or not yet started) when one fails.
    pub cancel_on_first_failure: bool,
}

impl RunAllOptions {
    /// Sets [`RunAllOptions::cancel_on_first_failure`].
    #[must_use]
    pub fn cancel_on_first_failure(mut self, yes: bool) -> Self {
        self.cancel_on_first_failure = yes;
        self
    }
}

/// Runs every command with at most `max_concurrency` (at least 1) alive at once; result `i`
/// belongs to command `i`. Accepts owned commands or references (`&[AgentCommand]`,
/// `&Vec<_>`).
pub async fn run_all<I>(
    cmds: I,
    max_concurrency: usize,
    cancel: &CancellationToken,
) -> Vec<Result<Output>>
where
    I: IntoIterator,
    I::Item: Into<AgentCommand>,
{
    run_all_with(cmds, max_concurrency, cancel, RunAllOptions::default()).await
}

/// [`run_all()`] with options.
pub async fn run_all_with<I>(
    cmds: I,
    max_concurrency: usize,
    cancel: &CancellationToken,
    options: RunAllOptions,
) -> Vec<Result<Output>>
where
    I: IntoIterator,
    I::Item: Into<AgentCommand>,
{
    let token = cancel.child_token();
    let permits = Arc::new(Semaphore::new(max_concurrency.max(1)));
    let mut set = JoinSet::new();
    let mut index_of = HashMap::new();
    let mut programs = Vec::new();
    for (i, cmd) in cmds.into_iter().enumerate() {
        let cmd: AgentCommand = cmd.into();
        programs.push(cmd.program_lossy());
        let permits = Arc::clone(&permits);
        let token = token.clone();
        let handle = set.spawn(async move {
            let permit = tokio::select! {
                biased;
                () = token.cancelled() => return (i, Err(Error::Cancelled)),
                permit = permits.acquire_owned() => permit,
            };
            let result = match permit {
                Ok(_permit) => run_with_cancel(&cmd, &token).await,
                // The semaphore is never closed; treat it as a cancellation if it were.
                Err(_) => Err(Error::Cancelled),
            };
            (i, result)
        });
        index_of.insert(handle.id(), i);
    }
    let mut results: Vec<Option<Result<Output>>> = programs.iter().map(|_| None).collect();
    while let Some(joined) = set.join_next_with_id().await {
        let (i, result) = match joined {
            Ok((_, (i, result))) => (i, result),
            Err(join_error) => {
                let Some(&i) = index_of.get(&join_error.id()) else {
                    continue;
                };
                let err = Error::io(
                    &programs[i],
                    "running",
                    io::Error::other(format!("the task running it failed: {join_error}")),
                );
                (i, Err(err))
            }
        };
        if options.cancel_on_first_failure && result.is_err() {
            token.cancel();
        }
        if let Some(slot) = results.get_mut(i) {
            *slot = Some(result);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or(Err(Error::Cancelled)))
        .collect()
}
