//! `synod config check | show | explain KEY | schema`.

use std::process::ExitCode;

use synod::orchestrator::LoadedConfig;

use crate::common::{ConfigArgs, Failure, finish, outln, print_json};

/// `synod config ...`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ConfigCommand {
    /// Load and validate the config; print a summary.
    Check {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print the effective config as JSON: every default filled in, secrets redacted.
    Show {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Show a value and every layer that set it (defaults, file:line, env var, override).
    Explain {
        /// Dotted key, e.g. `agents.0.timeout` or `store.path`.
        key: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print the JSON Schema of `synod.toml`.
    Schema,
}

pub(crate) fn run(cmd: ConfigCommand, verbose: bool) -> ExitCode {
    finish(run_inner(cmd), verbose)
}

fn run_inner(cmd: ConfigCommand) -> Result<ExitCode, Failure> {
    match cmd {
        ConfigCommand::Check { config } => {
            let loaded = config.load()?;
            // Exactly what `synod run` builds: a config that passes here never fails a run
            // with a config error.
            let plan = loaded
                .plan()
                .map_err(|e| Failure::new("invalid config", e))?;
            let source = loaded.path.as_ref().map_or_else(
                || "built-in defaults".to_owned(),
                |p| p.display().to_string(),
            );
            outln!("ok: {source}");
            let agents = &loaded.config.agents;
            if agents.is_empty() {
                outln!(
                    "  no agents: add [[agents]] tables (`synod init` writes a starter synod.toml)"
                );
            } else {
                outln!(
                    "  {} agent(s): {}",
                    agents.len(),
                    agents
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            if loaded.config.stages.is_empty() {
                outln!("  no stages: add [[stages]] tables naming the agents that answer each");
            }
            for stage in &loaded.config.stages {
                let agents = plan.stage_agents(&stage.name).unwrap_or_default();
                outln!(
                    "  stage {} ({}): {}",
                    stage.name,
                    stage.mode.as_str(),
                    agents.join(", ")
                );
            }
            outln!("  store: {}", loaded.store_path().display());
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Show { config } => {
            let loaded = config.load()?;
            print_json(&loaded.to_redacted_json())?;
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Explain { key, config } => {
            if key.trim().is_empty() {
                return Err(Failure::msg(
                    "an empty key names no value; give a dotted key, e.g. `agents.0.timeout` \
                     (`synod config check` summarises the whole config)",
                ));
            }
            let loaded = config.load()?;
            let text = loaded
                .explain(&key)
                .map_err(|e| Failure::new(format!("cannot explain {key:?}"), e))?;
            outln!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Schema => {
            print_json(&LoadedConfig::schema())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
