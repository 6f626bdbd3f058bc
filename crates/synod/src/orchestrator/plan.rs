//! The runtime plan: everything a run needs, built once from a [`SynodConfig`].
//!
//! [`Plan::new`] checks the config ([`SynodConfig::validate`], then synod-resilience's checks
//! of `[breaker]`, `[budget]` and every agent's `retry`), reads the stages' prompt files,
//! reads and compiles the stages' answer schemas ([`AnswerSchema`]), resolves working
//! directories, and builds each agent's retry policy (drawing on the shared
//! budget), circuit breaker and the redactor. `synod config check` builds exactly this, and
//! a run uses nothing else, so a config that passes the check never fails a run with a
//! config error.
//!
//! ```
//! use synod::orchestrator::{Plan, SynodConfig};
//!
//! let config: SynodConfig = toml::from_str(r#"
//!     [[agents]]
//!     name = "a"
//!     command = "true"
//!     retry = { max_attempts = 2, initial_delay = "1m30s", max_delay = "2m" }
//!     [[stages]]
//!     name = "plan"
//!     prompt = "Plan {spec_id}."
//! "#)?;
//! let plan = Plan::new(config, ".")?;
//! assert_eq!(plan.stage_agents("plan"), Some(vec!["a"]));
//! assert_eq!(plan.agent_retry("a").map(|r| r.max_attempts()), Some(2));
//!
//! let bad: SynodConfig = toml::from_str("[breaker]\nwait_multiplier = 0.5")?;
//! let err = Plan::new(bad, ".").unwrap_err();
//! assert!(err.to_string().contains("breaker.wait_multiplier"), "{err}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use synod_resilience::{CircuitBreaker, RetryBudget, RetryPolicy};

use synod_agents::{Invocation, Preset, SettingsFile};

use synod_exec::AgentCommand;

use super::config::{AgentConfig, Mode, PromptVia, SchemaSource, StageConfig, SynodConfig};
use super::error::{Error, Result};
use super::hooks::{AgentHooks, PresetHooks};
use super::redact::Redactor;
use super::schema::AnswerSchema;
use super::template::Vars;

/// A checked [`SynodConfig`] with everything a run needs built: cheap to share, immutable.
/// Breakers and the retry budget inside persist across the runs of one plan.
#[derive(Debug, Clone)]
pub struct Plan {
    inner: Arc<PlanInner>,
}

#[derive(Debug)]
struct PlanInner {
    config: SynodConfig,
    base_dir: PathBuf,
    agents: Vec<AgentPlan>,
    stages: Vec<StagePlan>,
    budget: Option<RetryBudget>,
    redactor: Redactor,
}

/// One agent, ready to run: its preset's defaults filled in where the config left them out.
#[derive(Debug)]
pub(crate) struct AgentPlan {
    /// Index into the config's `agents`.
    pub(crate) index: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) breaker: Option<CircuitBreaker>,
    pub(crate) cwd: PathBuf,
    pub(crate) preset: Preset,
    pub(crate) command: String,
    pub(crate) args: Vec<String>,
    pub(crate) prompt_via: PromptVia,
    /// The preset's headless invocation (its environment turns the CLI's own retries off).
    pub(crate) invocation: Invocation,
    /// The preset's environment with its settings file written (once, at the first attempt).
    pub(crate) preset_env: OnceLock<Vec<(String, String)>>,
    pub(crate) hooks: Arc<dyn AgentHooks>,
}

/// One stage, ready to run.
#[derive(Debug)]
pub(crate) struct StagePlan {
    /// Index into the config's `stages`.
    pub(crate) index: usize,
    /// Indexes into the plan's agents, in the stage's order (enabled agents only).
    pub(crate) agents: Vec<usize>,
    /// The prompt template (`prompt`, or the contents of `prompt_file`).
    pub(crate) prompt: String,
    pub(crate) max_concurrency: usize,
    /// The answers' schema (`schema`, or one derived from `required`), compiled.
    pub(crate) schema: Option<AnswerSchema>,
}

impl Plan {
    /// Checks `config` and builds the plan; relative agent working directories and prompt
    /// files resolve from `base_dir` (the config file's directory, usually: see
    /// [`LoadedConfig::plan`](super::LoadedConfig::plan)).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the key (a stage's schema file that cannot be read or
    /// is no valid JSON Schema: `stages.N.schema`, naming the file), or [`Error::PromptFile`]
    /// for a prompt file that cannot be read.
    pub fn new(config: SynodConfig, base_dir: impl Into<PathBuf>) -> Result<Self> {
        let base_dir = base_dir.into();
        config.validate()?;
        let budget = match config.budget.get() {
            Some(costs) => Some(RetryBudget::new(*costs).map_err(|e| Error::InvalidConfig {
                key: "budget".into(),
                message: e.to_string(),
            })?),
            None => None,
        };
        let registry = match config.breaker.get() {
            Some(settings) => Some(
                synod_resilience::Registry::<String>::new(settings.clone()).map_err(|e| {
                    Error::InvalidConfig {
                        key: "breaker".into(),
                        message: e.to_string(),
                    }
                })?,
            ),
            None => None,
        };
        let agents = config
            .agents
            .iter()
            .enumerate()
            .map(|(index, agent)| {
                let preset = agent
                    .preset
                    .unwrap_or_else(|| Preset::infer(&agent.command));
                let invocation = preset.invocation();
                AgentPlan {
                    index,
                    retry: match &budget {
                        Some(budget) => agent.retry.clone().with_budget(budget),
                        None => agent.retry.clone(),
                    },
                    breaker: registry.as_ref().map(|r| r.get(agent.name.as_str())),
                    cwd: agent
                        .cwd
                        .as_deref()
                        .map_or_else(|| base_dir.clone(), |c| resolve(&base_dir, c)),
                    preset,
                    command: if agent.command.trim().is_empty() {
                        preset.name().to_owned()
                    } else {
                        agent.command.clone()
                    },
                    args: if agent.args.is_empty() {
                        invocation.args.clone()
                    } else {
                        agent.args.clone()
                    },
                    prompt_via: agent.prompt_via.unwrap_or(match invocation.prompt_via {
                        synod_agents::PromptVia::Arg => PromptVia::Arg,
                        _ => PromptVia::Stdin,
                    }),
                    invocation,
                    preset_env: OnceLock::new(),
                    hooks: Arc::new(PresetHooks::new(preset)),
                }
            })
            .collect();
        let stages = config
            .stages
            .iter()
            .enumerate()
            .map(|(index, stage)| plan_stage(&config, &base_dir, index, stage))
            .collect::<Result<Vec<_>>>()?;
        let redactor = Redactor::for_config(&config)?;
        Ok(Self {
            inner: Arc::new(PlanInner {
                config,
                base_dir,
                agents,
                stages,
                budget,
                redactor,
            }),
        })
    }

    /// The configuration the plan was built from.
    #[must_use]
    pub fn config(&self) -> &SynodConfig {
        &self.inner.config
    }

    /// The directory relative paths were resolved from.
    #[must_use]
    pub fn base_dir(&self) -> &Path {
        &self.inner.base_dir
    }

    /// The names of the agents `stage` runs, in order (None: no such stage).
    #[must_use]
    pub fn stage_agents(&self, stage: &str) -> Option<Vec<&str>> {
        let plan = self.stage(stage)?;
        Some(
            plan.agents
                .iter()
                .map(|&i| self.agent_config(i).name.as_str())
                .collect(),
        )
    }

    /// The retry policy `agent` runs with (budget attached when `[budget]` is on).
    #[must_use]
    pub fn agent_retry(&self, agent: &str) -> Option<&RetryPolicy> {
        self.agent(agent).map(|a| &a.retry)
    }

    /// The preset `agent` runs with (its own, or inferred from its program's name).
    #[must_use]
    pub fn agent_preset(&self, agent: &str) -> Option<Preset> {
        self.agent(agent).map(|a| a.preset)
    }

    /// The program and arguments `agent` runs (before placeholders are filled in).
    #[must_use]
    pub fn agent_command(&self, agent: &str) -> Option<(&str, &[String])> {
        self.agent(agent)
            .map(|a| (a.command.as_str(), a.args.as_slice()))
    }

    /// The working directory `agent` runs in: its `cwd`, resolved against the config's
    /// directory, or that directory.
    #[must_use]
    pub fn agent_cwd(&self, agent: &str) -> Option<&Path> {
        self.agent(agent).map(|a| a.cwd.as_path())
    }

    /// The answer schema of `stage` (None: no such stage, or it has none).
    #[must_use]
    pub fn stage_schema(&self, stage: &str) -> Option<&AnswerSchema> {
        self.stage(stage).and_then(|s| s.schema.as_ref())
    }

    /// The command line `agent` would run for `prompt` (outside any stage: `{spec_id}` and
    /// `{stage}` are `doctor`), with its preset's environment and its own, without time
    /// limit: for checks such as `synod doctor`'s authenticated call.
    #[must_use]
    pub fn probe_command(&self, agent: &str, prompt: &str) -> Option<AgentCommand> {
        let plan = self.agent(agent)?;
        let vars = Vars {
            spec_id: "doctor",
            stage: "doctor",
            prompt,
            previous_outputs: "[]",
            attempt: 1,
        };
        Some(plan.command_line(self.agent_config(plan.index), &vars, None))
    }

    /// The redactor applied to agent output.
    #[must_use]
    pub fn redactor(&self) -> &Redactor {
        &self.inner.redactor
    }

    /// The shared retry budget (None when `[budget] enabled = false`).
    #[must_use]
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.inner.budget.as_ref()
    }

    /// The circuit breaker of `agent` (None: no such agent, or breakers are off).
    #[must_use]
    pub fn breaker(&self, agent: &str) -> Option<&CircuitBreaker> {
        self.agent(agent).and_then(|a| a.breaker.as_ref())
    }

    pub(crate) fn agent(&self, name: &str) -> Option<&AgentPlan> {
        self.inner
            .agents
            .iter()
            .find(|a| self.agent_config(a.index).name == name)
    }

    pub(crate) fn agent_at(&self, index: usize) -> (&AgentPlan, &AgentConfig) {
        (&self.inner.agents[index], self.agent_config(index))
    }

    pub(crate) fn agent_config(&self, index: usize) -> &AgentConfig {
        &self.inner.config.agents[index]
    }

    pub(crate) fn stage(&self, name: &str) -> Option<&StagePlan> {
        self.inner
            .stages
            .iter()
            .find(|s| self.stage_config(s).name == name)
    }

    pub(crate) fn stage_config(&self, stage: &StagePlan) -> &StageConfig {
        &self.inner.config.stages[stage.index]
    }

    /// The stage called `name`, or [`Error::UnknownStage`] listing those that exist.
    pub(crate) fn require_stage(&self, name: &str) -> Result<&StagePlan> {
        self.stage(name).ok_or_else(|| Error::UnknownStage {
            stage: name.to_owned(),
            known: self
                .inner
                .config
                .stages
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    pub(crate) fn mode(&self, stage: &StagePlan) -> Mode {
        self.stage_config(stage).mode
    }
}

impl AgentPlan {
    /// The command line of one attempt, without time limit or cancellation: arguments
    /// rendered (the schema added for CLIs that take one, after rendering, so its braces
    /// are never placeholders), the prompt on stdin or as an argument, working directory,
    /// `SYNOD_*` variables, the preset's environment, then the agent's own.
    pub(crate) fn command_line(
        &self,
        agent: &AgentConfig,
        vars: &Vars<'_>,
        schema: Option<&AnswerSchema>,
    ) -> AgentCommand {
        let mut args: Vec<String> = self.args.iter().map(|a| vars.render(a)).collect();
        if let Some(schema) = schema.filter(|_| self.invocation.takes_schema()) {
            let file = match self.preset {
                // codex sends the schema as an OpenAI strict structured output: any other
                // schema fails every attempt, so codex gets only a strict one.
                Preset::Codex if schema.strict() => schema.file(&user_cache_dir()),
                Preset::Codex => None,
                _ => Some(Path::new("")),
            };
            if let Some(file) = file {
                let mut invocation = self.invocation.clone();
                invocation.args = args;
                args = invocation.with_schema(schema.text(), file).args;
            }
        }
        if self.prompt_via == PromptVia::Arg && !self.args.iter().any(|a| Vars::mentions_prompt(a))
        {
            args.push(vars.prompt.to_owned());
        }
        let mut cmd = AgentCommand::new(&self.command).args(args);
        if self.prompt_via == PromptVia::Stdin {
            cmd = cmd.stdin(vars.prompt.as_bytes().to_vec());
        }
        cmd = cmd
            .cwd(&self.cwd)
            .env("SYNOD_AGENT", &agent.name)
            .env("SYNOD_SPEC_ID", vars.spec_id)
            .env("SYNOD_STAGE", vars.stage)
            .env("SYNOD_ATTEMPT", vars.attempt.to_string());
        for (key, value) in self.preset_env() {
            cmd = cmd.env(key, value);
        }
        for (key, value) in &agent.env {
            cmd = cmd.env(key, vars.render(value));
        }
        cmd
    }

    /// The preset's environment, its settings file (gemini's `general.maxAttempts = 1`)
    /// written first (once) into `<cache>/synod/presets/<preset>/`, created 0700: gemini
    /// ignores a settings file under a directory others can write to, such as `/tmp`, so the
    /// cache is the user's (`$XDG_CACHE_HOME`, `~/.cache`, or `%LOCALAPPDATA%`). If it cannot
    /// be written, the CLI keeps its own retries (logged).
    pub(crate) fn preset_env(&self) -> &[(String, String)] {
        self.preset_env.get_or_init(|| {
            let mut env = self.invocation.env.clone();
            let Some(file) = &self.invocation.settings_file else {
                return env;
            };
            let dir = user_cache_dir()
                .join("synod")
                .join("presets")
                .join(self.preset.name());
            match write_settings(&dir, file) {
                Ok(path) => env.push((file.env.to_owned(), path.display().to_string())),
                Err(error) => tracing::warn!(
                    %error,
                    path = %dir.join(file.file_name).display(),
                    "cannot write the preset's settings file; the CLI keeps its own retries"
                ),
            }
            env
        })
    }
}

/// Writes a preset's settings `file` into `dir` (created 0700), returning its path. A file
/// that already holds exactly these contents is left alone: another synod may be starting the
/// CLI, which reads it.
fn write_settings(dir: &Path, file: &SettingsFile) -> std::io::Result<PathBuf> {
    let path = dir.join(file.file_name);
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing == file.contents => {}
        _ => std::fs::write(&path, file.contents)?,
    }
    Ok(path)
}

/// The user's cache directory: `$XDG_CACHE_HOME`, `~/.cache`, `%LOCALAPPDATA%`, else the
/// temporary directory.
pub(crate) fn user_cache_dir() -> PathBuf {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".cache"))
        })
        .or_else(|| std::env::var_os("LOCALAPPDATA").and_then(absolute))
        .unwrap_or_else(std::env::temp_dir)
}

fn plan_stage(
    config: &SynodConfig,
    base_dir: &Path,
    index: usize,
    stage: &StageConfig,
) -> Result<StagePlan> {
    let agents: Vec<usize> = config
        .stage_agents(stage)?
        .iter()
        .filter_map(|a| config.agents.iter().position(|b| b.name == a.name))
        .collect();
    let schema = plan_schema(base_dir, index, stage)?;
    let prompt = match (&stage.prompt, &stage.prompt_file) {
        (Some(text), _) => text.clone(),
        (None, Some(file)) => {
            let path = resolve(base_dir, file);
            let bytes = std::fs::read(&path).map_err(|source| Error::PromptFile {
                path: path.clone(),
                source,
            })?;
            String::from_utf8(bytes).map_err(|e| Error::InvalidConfig {
                key: format!("stages.{index}.prompt_file"),
                message: format!(
                    "{} is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
                    path.display(),
                    e.utf8_error().valid_up_to()
                ),
            })?
        }
        (None, None) => String::new(),
    };
    Ok(StagePlan {
        index,
        max_concurrency: stage.max_concurrency.unwrap_or(agents.len()).max(1),
        agents,
        prompt,
        schema,
    })
}

/// The stage's answer schema, read (a file) and compiled; an error names `stages.N.schema`
/// (or `.required`) and the file.
fn plan_schema(base_dir: &Path, index: usize, stage: &StageConfig) -> Result<Option<AnswerSchema>> {
    let invalid = |field: &str, message: String| Error::InvalidConfig {
        key: format!("stages.{index}.{field}"),
        message,
    };
    let (schema, origin) = match &stage.schema {
        Some(SchemaSource::File(file)) => {
            let path = resolve(base_dir, file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    "schema",
                    format!(
                        "cannot read the schema file {}: {e}; fix the path (relative to the config file's directory)",
                        path.display()
                    ),
                )
            })?;
            let value = serde_json::from_str(&text).map_err(|e| {
                invalid(
                    "schema",
                    format!("the schema file {} is not JSON: {e}", path.display()),
                )
            })?;
            (value, format!("the schema file {}", path.display()))
        }
        Some(SchemaSource::Inline(table)) => (
            serde_json::Value::Object(table.clone()),
            "the inline schema".to_owned(),
        ),
        None if !stage.required.is_empty() => (
            AnswerSchema::from_required(&stage.required),
            "the schema derived from `required`".to_owned(),
        ),
        None => return Ok(None),
    };
    let field = if stage.schema.is_some() {
        "schema"
    } else {
        "required"
    };
    AnswerSchema::compile(schema, stage.repair)
        .map(Some)
        .map_err(|e| {
            invalid(
                field,
                format!("{origin}: {e}; fix it or check it with a JSON Schema validator"),
            )
        })
}

fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    /// gemini's settings file, the one preset that has one.
    fn gemini() -> SettingsFile {
        Preset::Gemini.invocation().settings_file.unwrap()
    }

    #[test]
    fn a_settings_file_is_written_and_a_stale_one_replaced() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("presets/gemini");
        let path = write_settings(&dir, &gemini()).unwrap();
        assert_eq!(path, dir.join(gemini().file_name));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), gemini().contents);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }

        std::fs::write(&path, "{}").unwrap();
        write_settings(&dir, &gemini()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), gemini().contents);
    }

    #[test]
    fn an_unchanged_settings_file_is_not_rewritten() {
        let root = tempfile::tempdir().unwrap();
        let path = write_settings(root.path(), &gemini()).unwrap();
        let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        write_settings(root.path(), &gemini()).unwrap();
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(modified, long_ago, "a CLI starting now may be reading it");
    }

    #[test]
    fn a_settings_directory_that_cannot_be_made_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        let blocker = root.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        assert!(write_settings(&blocker.join("gemini"), &gemini()).is_err());
    }
}
