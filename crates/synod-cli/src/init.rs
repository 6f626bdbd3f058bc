//! `synod init`: write a starter `synod.toml` with presets for the agent CLIs on `PATH`.
//!
//! claude, gemini and codex are looked up on `PATH` (on Windows also as `.cmd`, `.exe`,
//! `.bat`, npm's shims); the file gets an `[[agents]]` preset for each one found and a stage
//! using them. When none is found it gets all three as examples, and says so.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use synod::agents::Preset;

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
    if args.path.is_dir() {
        return Err(Failure::msg(format!(
            "{} is a directory; give the file to write, e.g. --path {}",
            args.path.display(),
            args.path.join("synod.toml").display()
        )));
    }
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
    let found = detect(std::env::var_os("PATH").as_deref());
    let (text, said) = starter_for(&found);
    std::fs::write(&args.path, text)
        .map_err(|e| Failure::new(format!("cannot write {}", args.path.display()), e))?;
    outln!("{said}");
    outln!(
        "wrote {}; check it with `synod config check --config {}`, then `synod doctor --config {}`",
        args.path.display(),
        args.path.display(),
        args.path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The CLIs synod has presets for, in the starter's order.
const CLIS: [Preset; 3] = [Preset::Claude, Preset::Gemini, Preset::Codex];

/// The preset CLIs found on `path` (a `PATH` value), with where.
pub(crate) fn detect(path: Option<&OsStr>) -> Vec<(Preset, PathBuf)> {
    CLIS.into_iter()
        .filter_map(|preset| {
            let program = preset.program()?;
            find_on_path(program, path).map(|at| (preset, at))
        })
        .collect()
}

/// Where `program` is on `path` (a `PATH` value): the first directory holding an executable
/// file of that name (on Windows also with `.cmd`, `.exe`, `.bat`, `.ps1`).
pub(crate) fn find_on_path(program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    let exts: &[&str] = if cfg!(windows) {
        &["", ".cmd", ".exe", ".bat", ".ps1"]
    } else {
        &[""]
    };
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .flat_map(|dir| {
            exts.iter()
                .map(move |ext| dir.join(format!("{program}{ext}")))
        })
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a file this user may run.
pub(crate) fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// The starter for the CLIs `found`, and the line that says what was found.
fn starter_for(found: &[(Preset, PathBuf)]) -> (String, String) {
    if found.is_empty() {
        let note = "# None of claude, gemini or codex was on PATH when `synod init` wrote this file:\n\
                    # the three presets below are examples. Install a CLI (npm install -g\n\
                    # @anthropic-ai/claude-code, @google/gemini-cli or @openai/codex) or set `command`\n\
                    # to its path, then run `synod doctor`.\n";
        return (
            format!("{note}{STARTER}"),
            "none of claude, gemini or codex is on PATH: wrote presets for all three as \
             examples (install one, or set `command` to its path)"
                .to_owned(),
        );
    }
    let mut text = String::with_capacity(STARTER.len());
    let found_list = found
        .iter()
        .map(|(preset, at)| format!("{preset} ({})", at.display()))
        .collect::<Vec<_>>()
        .join(", ");
    text.push_str(&format!(
        "# Agent CLIs found on PATH by `synod init`: {found_list}.\n"
    ));
    let names: Vec<&str> = found.iter().map(|(p, _)| p.name()).collect();
    // Each agent is one paragraph `[[agents]]\nname = "X"...`, maybe after comment lines
    // that belong to the file (kept).
    const AGENT: &str = "[[agents]]\nname = \"";
    for block in STARTER.split_inclusive("\n\n") {
        let Some(at) = block.find(AGENT) else {
            text.push_str(block);
            continue;
        };
        let name = block[at + AGENT.len()..].split('"').next().unwrap_or("");
        if names.contains(&name) {
            text.push_str(block);
        } else if at > 0 {
            text.push_str(&block[..at]);
        }
    }
    let quoted = names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = text.replacen(
        "agents = [\"claude\", \"gemini\", \"codex\"]",
        &format!("agents = [{quoted}]"),
        1,
    );
    (
        text,
        format!("found {found_list}: wrote presets for {}", names.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(text: &str) -> synod::orchestrator::Plan {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("synod.toml");
        std::fs::write(&path, text).unwrap();
        synod::orchestrator::LoadedConfig::load(Some(&path), &[])
            .unwrap()
            .plan()
            .unwrap()
    }

    #[test]
    fn the_starter_has_presets_for_what_was_found_only() {
        let (text, said) = starter_for(&[(Preset::Codex, PathBuf::from("/opt/bin/codex"))]);
        assert!(said.contains("codex (/opt/bin/codex)"), "{said}");
        let plan = plan_of(&text);
        assert_eq!(plan.config().agents.len(), 1);
        assert_eq!(plan.stage_agents("plan"), Some(vec!["codex"]));
        assert_eq!(plan.agent_preset("codex"), Some(Preset::Codex));

        let (text, _) = starter_for(&[
            (Preset::Claude, PathBuf::from("/a/claude")),
            (Preset::Gemini, PathBuf::from("/b/gemini")),
        ]);
        assert_eq!(
            plan_of(&text).stage_agents("plan"),
            Some(vec!["claude", "gemini"])
        );

        let (text, said) = starter_for(&[]);
        assert!(said.starts_with("none of"), "{said}");
        assert!(text.starts_with("# None of claude"), "{text}");
        assert_eq!(plan_of(&text).config().agents.len(), 3);
    }

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
