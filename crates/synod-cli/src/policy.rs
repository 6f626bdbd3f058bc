//! `synod policy|hooks|hook ...`: owned by the synod-policy work (issue 8).

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum PolicyCommand {
    /// Check a commit message file.
    CheckMsg,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum HooksCommand {
    /// Install the hooks.
    Install,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum HookCommand {
    /// The commit-msg hook.
    CommitMsg,
}

pub(crate) async fn run_policy(_cmd: PolicyCommand, _verbose: bool) -> ExitCode {
    ExitCode::from(2)
}

pub(crate) async fn run_hooks(_cmd: HooksCommand, _verbose: bool) -> ExitCode {
    ExitCode::from(2)
}

pub(crate) async fn run_hook(_cmd: HookCommand, _verbose: bool) -> ExitCode {
    ExitCode::from(2)
}
