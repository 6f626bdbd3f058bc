//! `synod auth ...`: owned by the synod-auth work (issue 7).

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum AuthCommand {
    /// Show stored logins.
    Status,
}

pub(crate) async fn run(_cmd: AuthCommand, _verbose: bool) -> ExitCode {
    eprintln!("error: `synod auth` is not built yet");
    ExitCode::from(2)
}
