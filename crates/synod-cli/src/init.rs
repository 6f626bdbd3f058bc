//! `synod init`: write a starter `synod.toml`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::common::{Failure, finish, outln};

/// The starter config `synod init` writes (real agent CLIs: claude, gemini, codex).
pub(crate) const STARTER: &str = include_str!("starter.toml");

/// Arguments of `synod init`.
#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// Where to write the file.
    #[arg(long, default_value = "synod.toml")]
    path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: &InitArgs, verbose: bool) -> ExitCode {
    finish(run_inner(args), verbose)
}

fn run_inner(args: &InitArgs) -> Result<ExitCode, Failure> {
    if args.path.exists() && !args.force {
        return Err(Failure::msg(format!(
            "{} already exists; pass --force to overwrite it",
            args.path.display()
        )));
    }
    if let Some(dir) = args.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::new(format!("cannot create {}", dir.display()), e))?;
    }
    std::fs::write(&args.path, STARTER)
        .map_err(|e| Failure::new(format!("cannot write {}", args.path.display()), e))?;
    outln!(
        "wrote {}; check it with `synod config check --config {}`",
        args.path.display(),
        args.path.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_is_a_valid_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("synod.toml");
        std::fs::write(&path, STARTER).unwrap();
        let loaded = synod::orchestrator::LoadedConfig::load(Some(&path), &[]).unwrap();
        assert_eq!(loaded.config.agents.len(), 3);
        assert!(loaded.config.stage("plan").is_some());
        let plan = loaded.plan().unwrap();
        for (agent, program) in [
            ("claude", "claude"),
            ("gemini", "gemini"),
            ("codex", "codex"),
        ] {
            assert_eq!(plan.agent_command(agent).unwrap().0, program);
            assert_eq!(
                plan.agent_preset(agent).map(synod::agents::Preset::name),
                Some(program)
            );
        }
    }
}
