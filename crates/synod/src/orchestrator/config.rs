//! The `synod.toml` configuration: agents, stages, store, retry budget and circuit breakers.
//!
//! Every type derives `serde` and `schemars::JsonSchema`, so the file is loaded through
//! synod-config (defaults < file < `SYNOD_*` env < overrides, with provenance and schema
//! validation) and `synod config schema` prints the JSON Schema.
//!
//! ```
//! use synod::orchestrator::{SynodConfig, Mode, PromptVia};
//!
//! let config: SynodConfig = toml::from_str(r#"
//!     [[agents]]
//!     name = "alpha"
//!     command = "sh"
//!     args = ["agents/alpha.sh", "{spec_id}", "{stage}"]
//!     timeout = "30s"
//!
//!     [[agents]]
//!     name = "beta"
//!     command = "beta-cli"
//!     args = ["-p", "{prompt}"]
//!     prompt_via = "arg"
//!
//!     [[stages]]
//!     name = "plan"
//!     agents = ["alpha", "beta"]
//!     mode = "sequential"
//!     prompt = "Plan {spec_id}."
//! "#).unwrap();
//! config.validate().unwrap();
//! assert_eq!(config.agents[1].prompt_via, Some(PromptVia::Arg));
//! assert_eq!(config.stage("plan").unwrap().mode, Mode::Sequential);
//! assert_eq!(config.store.path.to_str(), Some(".synod/synod.db"));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::switch::Switch;
use synod_agents::Preset;
use synod_core::HumanDuration;
use synod_resilience::{BreakerConfig, BudgetConfig, RetryPolicy};

/// The current config format version.
pub const CONFIG_VERSION: u32 = 1;

/// The whole `synod.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SynodConfig {
    /// Config format version (currently 1).
    pub version: u32,
    /// Where the evidence store lives.
    pub store: StoreConfig,
    /// `[jobs]`: the job queue's tries, lease and worker timing (`synod submit`, `synod worker`).
    pub jobs: JobsConfig,
    /// `[budget]`: the retry budget shared by every agent's retries (synod-resilience's
    /// `BudgetConfig`, plus `enabled`).
    pub budget: Switch<BudgetConfig>,
    /// `[breaker]`: one circuit breaker per agent name (synod-resilience's `BreakerConfig`,
    /// plus `enabled`).
    pub breaker: Switch<BreakerConfig>,
    /// Which credentials are replaced by `[REDACTED]` in stored and shown agent output.
    pub redact: RedactSettings,
    /// The agents: command-line programs that answer a prompt.
    pub agents: Vec<AgentConfig>,
    /// The stages: which agents answer which prompt, and how their answers are reconciled.
    pub stages: Vec<StageConfig>,
}

impl Default for SynodConfig {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            store: StoreConfig::default(),
            jobs: JobsConfig::default(),
            budget: Switch::default(),
            breaker: Switch::default(),
            redact: RedactSettings::default(),
            agents: Vec::new(),
            stages: Vec::new(),
        }
    }
}

impl SynodConfig {
    /// The agent called `name`.
    #[must_use]
    pub fn agent(&self, name: &str) -> Option<&AgentConfig> {
        self.agents.iter().find(|a| a.name == name)
    }

    /// The stage called `name`.
    #[must_use]
    pub fn stage(&self, name: &str) -> Option<&StageConfig> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The stage called `name`, or an error listing the stages that exist.
    pub fn require_stage(&self, name: &str) -> Result<&StageConfig> {
        self.stage(name).ok_or_else(|| Error::UnknownStage {
            stage: name.to_owned(),
            known: self
                .stages
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// The agents a stage runs, in the stage's order, skipping disabled ones.
    ///
    /// A stage with an empty `agents` list runs every enabled agent in config order.
    pub fn stage_agents(&self, stage: &StageConfig) -> Result<Vec<&AgentConfig>> {
        if stage.agents.is_empty() {
            return Ok(self.agents.iter().filter(|a| a.enabled).collect());
        }
        let mut out = Vec::with_capacity(stage.agents.len());
        for name in &stage.agents {
            let agent = self.agent(name).ok_or_else(|| Error::InvalidConfig {
                key: format!("stages.{}.agents", stage.name),
                message: format!("agent {name:?} is not defined in [[agents]]"),
            })?;
            if agent.enabled {
                out.push(agent);
            }
        }
        Ok(out)
    }

    /// Checks what the schema cannot: unique names, known agent references, sane numbers.
    /// Fails with the first of [`problems`](Self::problems).
    pub fn validate(&self) -> Result<()> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// Every inconsistency [`validate`](Self::validate) checks for, in the order of the file
    /// (version, store, jobs, redact, agents, stages, breaker, budget), so a config with
    /// several mistakes is fixed in one pass. Empty when the config is valid.
    #[must_use]
    pub fn problems(&self) -> Vec<Error> {
        let invalid = |key: String, message: String| Error::InvalidConfig { key, message };
        let mut problems = Vec::new();
        if self.version != CONFIG_VERSION {
            problems.push(invalid(
                "version".into(),
                format!(
                    "version {} is not supported; this synod reads version {CONFIG_VERSION}",
                    self.version
                ),
            ));
        }
        if self.store.path.as_os_str().is_empty() {
            problems.push(invalid("store.path".into(), "must not be empty".into()));
        }
        problems.extend(self.jobs.validate().err());
        for (i, pattern) in self.redact.patterns.iter().enumerate() {
            problems.extend(
                super::redact::check_pattern(&format!("redact.patterns.{i}"), pattern).err(),
            );
        }
        let mut names = BTreeSet::new();
        for (i, agent) in self.agents.iter().enumerate() {
            let key = |field: &str| format!("agents.{i}.{field}");
            if agent.name.trim().is_empty() {
                problems.push(invalid(key("name"), "every agent needs a name".into()));
            } else if !names.insert(agent.name.as_str()) {
                problems.push(invalid(
                    key("name"),
                    format!("agent name {:?} is used twice", agent.name),
                ));
            }
            if agent.command.trim().is_empty() && agent.preset.is_none() {
                problems.push(invalid(
                    key("command"),
                    format!(
                        "agent {:?} has no command; set `command`, or `preset = \"claude\"` (or gemini, codex)",
                        agent.name
                    ),
                ));
            }
            if agent.timeout.get().is_zero() {
                problems.push(invalid(key("timeout"), "must be greater than zero".into()));
            }
        }
        // A stage's agent checks would only repeat a duplicate agent name reported above.
        let agents_unique = names.len() == self.agents.len();
        let mut stage_names = BTreeSet::new();
        for (i, stage) in self.stages.iter().enumerate() {
            self.stage_problems(i, stage, agents_unique, &mut stage_names, &mut problems);
        }
        // The layers' own checks, so `[breaker]` and `[budget]` mean what they mean in
        // synod-resilience (agents' `retry` is checked by its serde form as it is read).
        problems.extend(
            self.breaker
                .settings
                .validate()
                .err()
                .map(|e| resilience_error("breaker", &e)),
        );
        problems.extend(
            self.budget
                .settings
                .validate()
                .err()
                .map(|e| resilience_error("budget", &e)),
        );
        problems
    }

    /// The problems of `stages[i]` (see [`problems`](Self::problems)).
    fn stage_problems<'a>(
        &self,
        i: usize,
        stage: &'a StageConfig,
        agents_unique: bool,
        stage_names: &mut BTreeSet<&'a str>,
        problems: &mut Vec<Error>,
    ) {
        let mut invalid = |field: &str, message: String| {
            problems.push(Error::InvalidConfig {
                key: format!("stages.{i}.{field}"),
                message,
            });
        };
        if stage.name.trim().is_empty() {
            invalid("name", "every stage needs a name".into());
        } else if !stage_names.insert(stage.name.as_str()) {
            invalid("name", format!("stage name {:?} is used twice", stage.name));
        }
        let mut agents_known = true;
        for name in &stage.agents {
            if self.agent(name).is_none() {
                agents_known = false;
                invalid(
                    "agents",
                    format!(
                        "agent {name:?} is not defined in [[agents]] (defined: {})",
                        self.agent_names()
                    ),
                );
            }
        }
        if stage.prompt.is_some() && stage.prompt_file.is_some() {
            invalid(
                "prompt_file",
                "set either prompt or prompt_file, not both".into(),
            );
        }
        if stage.max_concurrency == Some(0) {
            invalid("max_concurrency", "must be at least 1".into());
        }
        if stage.schema.is_some() && !stage.required.is_empty() {
            invalid(
                "required",
                "set either schema or required, not both (put the required fields in the schema)"
                    .into(),
            );
        }
        if let Some(field) = stage.required.iter().find(|f| f.trim().is_empty()) {
            invalid(
                "required",
                format!("field name {field:?} is empty; list the answer's top-level field names"),
            );
        }
        if stage.repair && stage.schema.is_none() && stage.required.is_empty() {
            invalid(
                "repair",
                format!(
                    "stage {:?} has nothing to repair against; set `schema` or `required`",
                    stage.name
                ),
            );
        }
        // The agent checks below need every listed agent to exist, once.
        if !agents_known || !agents_unique {
            return;
        }
        let Ok(agents) = self.stage_agents(stage) else {
            return;
        };
        let names: Vec<&str> = agents.iter().map(|a| a.name.as_str()).collect();
        if names.is_empty() {
            invalid(
                "agents",
                format!(
                    "stage {:?} has no enabled agents; enable one in [[agents]] or list some in the stage",
                    stage.name
                ),
            );
        } else if let Err(e) = stage.consensus.validate(&names) {
            invalid("consensus", e.to_string());
        }
    }

    fn agent_names(&self) -> String {
        self.agents
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An invalid-config error at `section.PARAMETER` from synod-resilience's check.
fn resilience_error(section: &str, error: &synod_resilience::Error) -> Error {
    match error {
        synod_resilience::Error::InvalidParameter { name, .. } => Error::InvalidConfig {
            key: format!("{section}.{name}"),
            message: error.to_string(),
        },
        other => Error::InvalidConfig {
            key: section.to_owned(),
            message: other.to_string(),
        },
    }
}

/// `[store]`: the SQLite evidence store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Path of the database file, relative to the current directory (default `.synod/synod.db`).
    pub path: PathBuf,
    /// How long a write waits for a database locked by other synod processes (default `60s`):
    /// saving a run retries with backoff for this long, so agent work is not lost to a busy
    /// store. Also the per-statement busy timeout. CLI: `--busy-timeout`.
    pub busy_timeout: HumanDuration,
    /// A PostgreSQL server to keep the evidence in instead of the file at `path`
    /// (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`; needs the `postgres` feature; no TLS
    /// yet), so runs from many machines share one history. CLI: `--store URL`; environment:
    /// `SYNOD_STORE__URL`. Empty means unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl StoreConfig {
    /// The PostgreSQL URL, when one is set (not empty).
    #[must_use]
    pub fn server_url(&self) -> Option<&str> {
        self.url.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from(".synod/synod.db"),
            busy_timeout: HumanDuration::from_secs(60),
            url: None,
        }
    }
}

/// `[jobs]`: how queued stage jobs are tried and held (docs/adr/0019-job-queue.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Claims a job gets before it is `dead` with its last error (default 3; `synod submit`).
    pub max_tries: u32,
    /// How long a worker holds a job without renewing it (default `30s`): a worker that dies
    /// loses its jobs to other workers this long after its last heartbeat (every third of it).
    pub lease: HumanDuration,
    /// After SIGTERM, how long a worker lets its running jobs finish before it stops their
    /// agents and hands the jobs back (default `30s`).
    pub grace: HumanDuration,
    /// How often an idle worker looks at the queue (default `1s`).
    pub poll: HumanDuration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            max_tries: 3,
            lease: HumanDuration::from_secs(30),
            grace: HumanDuration::from_secs(30),
            poll: HumanDuration::from_secs(1),
        }
    }
}

impl JobsConfig {
    /// Checks the numbers: at least one try, a lease of at least 3 ms (a heartbeat is a
    /// third of it), a poll above zero.
    pub fn validate(&self) -> Result<()> {
        let invalid = |key: &str, message: &str| {
            Err(Error::InvalidConfig {
                key: key.to_owned(),
                message: message.to_owned(),
            })
        };
        if self.max_tries == 0 {
            return invalid("jobs.max_tries", "a job needs at least 1 try");
        }
        if self.lease.get() < std::time::Duration::from_millis(3) {
            return invalid(
                "jobs.lease",
                "must be at least 3ms (heartbeats renew it every third), e.g. 30s",
            );
        }
        if self.poll.get().is_zero() {
            return invalid("jobs.poll", "must be longer than 0s, e.g. 1s");
        }
        Ok(())
    }
}

/// `[redact]`: credentials replaced by `[REDACTED]` before agent output is stored or shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RedactSettings {
    /// Turn redaction off entirely (the output is then stored verbatim).
    pub enabled: bool,
    /// Use the built-in credential patterns (bearer tokens, `sk-…`, `AIza…`, `ghp_…`,
    /// `xox…`, `AKIA…`, PEM private keys, `password=`/`api_key=` pairs).
    pub builtin: bool,
    /// Extra regular expressions (Rust `regex` syntax); a group named `v` limits the
    /// redaction to that group.
    pub patterns: Vec<String>,
}

impl Default for RedactSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            builtin: true,
            patterns: Vec::new(),
        }
    }
}

/// How an agent receives its prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromptVia {
    /// Written to the agent's standard input.
    #[default]
    Stdin,
    /// Substituted into the `{prompt}` placeholder of `args` (appended as the last argument
    /// when no argument contains `{prompt}`).
    Arg,
}

/// One `[[agents]]` entry: a program that reads a prompt and answers with prose and JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Unique name (used in reports, the store and breaker keys).
    pub name: String,
    /// Which CLI this is: `claude`, `gemini`, `codex` or `generic` (synod-agents). It decides
    /// how the output is read (the answer out of the CLI's JSON envelope, failures from its
    /// structured errors) and gives `command`, `args`, `prompt_via` and the environment that
    /// turns the CLI's own retries off their headless defaults. Absent: inferred from the
    /// program's file name (`claude`, `/usr/bin/gemini`, `codex.cmd`, anything else generic).
    #[schemars(schema_with = "preset_schema")]
    pub preset: Option<Preset>,
    /// Program to run (looked up on `PATH` unless it contains a `/`); default: the preset's
    /// program (`claude`, `gemini`, `codex`).
    pub command: String,
    /// Arguments; `{prompt}`, `{spec_id}`, `{stage}`, `{previous_outputs}` and `{attempt}`
    /// are replaced. Default: the preset's headless arguments (none for generic).
    pub args: Vec<String>,
    /// Extra environment variables (values templated like `args`). Values of variables whose
    /// name contains `KEY`, `TOKEN`, `SECRET`, `PASSWORD`, `PASSWD`, `CREDENTIAL` or `AUTH`
    /// are secrets: redacted in agent output and in `synod config explain`.
    pub env: BTreeMap<String, String>,
    /// More environment variable names (in `env` or inherited) whose values are secrets.
    pub secret_env: Vec<String>,
    /// Working directory, relative to the config file's directory (default: that directory).
    pub cwd: Option<PathBuf>,
    /// How the prompt reaches the agent (default: the preset's way, standard input).
    pub prompt_via: Option<PromptVia>,
    /// How long a rate-limited attempt waits at least when the CLI states no retry time
    /// (never the transient backoff, which would go straight back into the limit).
    pub rate_limit_floor: HumanDuration,
    /// Agents that share one API key share its rate limit: name the group (default: the
    /// agent's own name). A rate limit one agent of the group meets, in this process or in
    /// any other sharing the store (`synod worker`s), makes every agent of the group wait.
    pub rate_limit_group: Option<String>,
    /// Time limit for one attempt.
    pub timeout: HumanDuration,
    /// Time between SIGTERM and SIGKILL when the agent is stopped.
    pub kill_grace: HumanDuration,
    /// `[agents.retry]`: how often and how patiently this agent is retried
    /// (synod-resilience's `RetryPolicy` serde form, checked when the file is read).
    #[schemars(with = "RetryPolicy")]
    pub retry: RetryPolicy,
    /// Disabled agents are left out of every stage.
    pub enabled: bool,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            command: String::new(),
            args: Vec::new(),
            env: BTreeMap::new(),
            secret_env: Vec::new(),
            cwd: None,
            preset: None,
            prompt_via: None,
            rate_limit_floor: HumanDuration::from_secs(10),
            rate_limit_group: None,
            timeout: HumanDuration::from_secs(600),
            kill_grace: HumanDuration::from_secs(5),
            retry: RetryPolicy::default(),
            enabled: true,
        }
    }
}

/// How a stage runs its agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// All at once (bounded by `max_concurrency`).
    #[default]
    Parallel,
    /// One after another; each later agent sees the earlier agents' JSON in
    /// `{previous_outputs}`.
    Sequential,
}

impl Mode {
    /// The name `synod.toml` uses: `"parallel"` or `"sequential"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Parallel => "parallel",
            Mode::Sequential => "sequential",
        }
    }
}

/// One `[[stages]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StageConfig {
    /// Unique name (`plan`, `tasks`, `implement`, ...).
    pub name: String,
    /// Agents that answer, in order (empty: every enabled agent).
    pub agents: Vec<String>,
    /// Parallel or sequential.
    pub mode: Mode,
    /// Prompt text (templated with `{spec_id}`, `{stage}`, `{previous_outputs}`).
    pub prompt: Option<String>,
    /// File holding the prompt, relative to the config file's directory.
    pub prompt_file: Option<PathBuf>,
    /// At most this many agents run at once in parallel mode (default: all).
    pub max_concurrency: Option<usize>,
    /// How the agents' JSON is reconciled (synod-consensus `StageSpec`).
    #[schemars(schema_with = "stage_spec_schema")]
    pub consensus: synod_consensus::StageSpec,
    /// The JSON Schema every answer must match: a file (relative to the config file's
    /// directory, read when the plan is built) or an inline table. claude and codex presets
    /// are given it (`--json-schema`, `--output-schema FILE`); every answer is validated.
    #[schemars(schema_with = "answer_schema_schema")]
    pub schema: Option<SchemaSource>,
    /// Top-level fields every answer must have: shorthand for a schema of an object with
    /// these properties required (set this or `schema`, not both).
    pub required: Vec<String>,
    /// Ask an agent whose answer does not match the schema once more, with the original
    /// prompt and the validation errors (stored as its own attempt).
    pub repair: bool,
}

/// Where a stage's answer schema comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SchemaSource {
    /// A JSON file, relative to the config file's directory.
    File(PathBuf),
    /// The schema itself, as an inline table.
    Inline(serde_json::Map<String, serde_json::Value>),
}

impl Default for StageConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            agents: Vec::new(),
            mode: Mode::Parallel,
            prompt: None,
            prompt_file: None,
            max_concurrency: None,
            consensus: synod_consensus::StageSpec::default(),
            schema: None,
            required: Vec::new(),
            repair: false,
        }
    }
}

/// JSON Schema of synod-agents's `Preset` (that crate has no schemars).
fn preset_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Which agent CLI this is (absent: inferred from the program's name).",
        "enum": ["claude", "gemini", "codex", "generic", null]
    })
}

/// JSON Schema of a stage's `schema` key: a file path or an inline JSON Schema table.
fn answer_schema_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "The answers' JSON Schema: a file (relative to the config file) or an inline table.",
        "anyOf": [{ "type": "string" }, { "type": "object" }, { "type": "null" }]
    })
}

/// JSON Schema of synod-consensus's `StageSpec` serde form (that crate has no schemars).
fn stage_spec_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "How the agents' JSON is reconciled (synod-consensus StageSpec).",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "required_fields": {
                "description": "JSON pointers every answer must contain.",
                "type": "array", "items": { "type": "string" }
            },
            "decision_fields": {
                "description": "JSON pointers whose values must agree across a quorum.",
                "type": "array", "items": { "type": "string" }
            },
            "list_fields": {
                "description": "Arrays whose items are matched across agents by a key pointer.",
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["pointer", "key"],
                    "properties": {
                        "pointer": { "type": "string" },
                        "key": { "type": "string" },
                        "compare": { "type": "array", "items": { "type": "string" } }
                    }
                }
            },
            "quorum": {
                "description": "\"all\", \"majority\" (default) or { at_least = n }.",
                "anyOf": [
                    { "enum": ["all", "majority"] },
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["at_least"],
                        "properties": { "at_least": { "type": "integer", "minimum": 1 } }
                    }
                ]
            },
            "aggregator": {
                "description": "An agent whose own consensus.{agreements,conflicts} are merged in.",
                "type": ["string", "null"]
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> SynodConfig {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn defaults_validate() {
        SynodConfig::default().validate().unwrap();
        assert!(SynodConfig::default().problems().is_empty());
    }

    #[test]
    fn every_problem_is_reported_in_file_order_and_validate_fails_with_the_first() {
        let c = parse(
            r#"
            [[agents]]
            name = "a"
            command = "true"
            [[agents]]
            name = "a"
            command = ""
            [[stages]]
            name = "plan"
            agents = ["ghost"]
            max_concurrency = 0
            [[stages]]
            name = "plan"
            agents = []
        "#,
        );
        let keys: Vec<String> = c
            .problems()
            .into_iter()
            .map(|p| match p {
                Error::InvalidConfig { key, .. } => key,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            keys,
            [
                "agents.1.name",
                "agents.1.command",
                "stages.0.agents",
                "stages.0.max_concurrency",
                "stages.1.name",
            ],
            "the duplicate agent is not reported again by the stage that runs every agent"
        );
        let first = c.validate().unwrap_err().to_string();
        assert!(first.contains("used twice"), "{first}");
    }

    #[test]
    fn rejects_unknown_agent_in_stage() {
        let c = parse(
            r#"
            [[agents]]
            name = "a"
            command = "true"
            [[stages]]
            name = "plan"
            agents = ["a", "ghost"]
        "#,
        );
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("ghost") && err.contains("stages.0.agents"),
            "{err}"
        );
    }

    #[test]
    fn rejects_duplicates_and_zero_attempts() {
        let c = parse(
            r#"
            [[agents]]
            name = "a"
            command = "true"
            [[agents]]
            name = "a"
            command = "true"
        "#,
        );
        assert!(c.validate().unwrap_err().to_string().contains("used twice"));
        // `retry` is synod-resilience's RetryPolicy serde form: checked as it is read.
        let err = toml::from_str::<SynodConfig>(
            "[[agents]]\nname = \"a\"\ncommand = \"true\"\nretry = { max_attempts = 0 }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("max_attempts") && err.contains("retry"),
            "{err}"
        );
    }

    #[test]
    fn rejects_unknown_keys() {
        let err = toml::from_str::<SynodConfig>("[[agents]]\nname = \"a\"\ncomand = \"x\"\n")
            .unwrap_err();
        assert!(err.to_string().contains("comand"), "{err}");
    }

    #[test]
    fn stage_agents_skips_disabled_and_empty_means_all() {
        let c = parse(
            r#"
            [[agents]]
            name = "a"
            command = "true"
            [[agents]]
            name = "b"
            command = "true"
            enabled = false
            [[stages]]
            name = "s"
            agents = ["b", "a"]
            [[stages]]
            name = "all"
        "#,
        );
        c.validate().unwrap();
        let names = |s: &str| {
            c.stage_agents(c.stage(s).unwrap())
                .unwrap()
                .iter()
                .map(|a| a.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("s"), ["a"]);
        assert_eq!(names("all"), ["a"]);
        assert!(
            c.require_stage("nope")
                .unwrap_err()
                .to_string()
                .contains("s, all")
        );
    }

    #[test]
    fn store_busy_timeout_parses_and_defaults_to_a_minute() {
        assert_eq!(
            SynodConfig::default().store.busy_timeout.get(),
            std::time::Duration::from_secs(60)
        );
        let c = parse("[store]\npath = \"x.db\"\nbusy_timeout = \"2m\"\n");
        assert_eq!(
            c.store.busy_timeout.get(),
            std::time::Duration::from_secs(120)
        );
        assert!(toml::from_str::<SynodConfig>("[store]\nbusy_timeout = \"soon\"\n").is_err());
    }

    /// The keys of every problem `synod.toml` text has.
    fn problem_keys(text: &str) -> Vec<String> {
        parse(text)
            .problems()
            .into_iter()
            .map(|p| match p {
                Error::InvalidConfig { key, .. } => key,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn each_check_names_its_key_and_passes_the_value_just_inside_it() {
        let agent = "[[agents]]\nname = \"a\"\ncommand = \"true\"\n";
        let stage = |extra: &str| format!("{agent}[[stages]]\nname = \"s\"\n{extra}\n");
        let cases: Vec<(String, &[&str])> = vec![
            ("version = 2".into(), &["version"]),
            ("version = 1".into(), &[]),
            ("[store]\npath = \"\"".into(), &["store.path"]),
            ("[jobs]\nmax_tries = 0".into(), &["jobs.max_tries"]),
            ("[jobs]\nmax_tries = 1\nlease = \"3ms\"".into(), &[]),
            ("[jobs]\nlease = \"2ms\"".into(), &["jobs.lease"]),
            ("[jobs]\npoll = \"0s\"".into(), &["jobs.poll"]),
            (
                "[redact]\npatterns = [\"(\"]".into(),
                &["redact.patterns.0"],
            ),
            (
                "[[agents]]\nname = \" \"\ncommand = \"true\"".into(),
                &["agents.0.name"],
            ),
            (
                "[[agents]]\nname = \"a\"\ncommand = \" \"".into(),
                &["agents.0.command"],
            ),
            ("[[agents]]\nname = \"a\"\npreset = \"claude\"".into(), &[]),
            (format!("{agent}timeout = \"0s\""), &["agents.0.timeout"]),
            (format!("{agent}timeout = \"1ms\""), &[]),
            (
                format!("{agent}[[stages]]\nname = \" \""),
                &["stages.0.name"],
            ),
            (
                stage("prompt = \"p\"\nprompt_file = \"p.md\""),
                &["stages.0.prompt_file"],
            ),
            (stage("prompt_file = \"p.md\""), &[]),
            (stage("max_concurrency = 1"), &[]),
            (
                stage("required = [\"x\"]\nschema = { type = \"object\" }"),
                &["stages.0.required"],
            ),
            (stage("required = [\" \"]"), &["stages.0.required"]),
            (stage("repair = true"), &["stages.0.repair"]),
            (stage("repair = true\nrequired = [\"x\"]"), &[]),
            (stage("repair = true\nschema = { type = \"object\" }"), &[]),
            (
                stage("consensus = { quorum = { at_least = 2 } }"),
                &["stages.0.consensus"],
            ),
            (stage("consensus = { quorum = { at_least = 1 } }"), &[]),
            (
                format!("{agent}enabled = false\n[[stages]]\nname = \"s\""),
                &["stages.0.agents"],
            ),
            (
                "[breaker]\nwindow_size = 0".into(),
                &["breaker.window_size"],
            ),
            ("[budget]\ncapacity = 0".into(), &["budget.capacity"]),
        ];
        for (text, keys) in cases {
            assert_eq!(problem_keys(&text), keys, "{text}");
        }
    }

    #[test]
    fn jobs_settings_check_their_bounds_on_their_own() {
        let jobs = |text: &str| parse(&format!("[jobs]\n{text}")).jobs.validate();
        let key = |result: Result<()>| match result {
            Err(Error::InvalidConfig { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        jobs("").unwrap();
        jobs("lease = \"3ms\"\nmax_tries = 1\npoll = \"1ms\"").unwrap();
        assert_eq!(key(jobs("max_tries = 0")), "jobs.max_tries");
        assert_eq!(key(jobs("lease = \"2ms\"")), "jobs.lease");
        assert_eq!(key(jobs("poll = \"0s\"")), "jobs.poll");
    }

    #[test]
    fn a_store_url_counts_only_when_it_says_something() {
        let url = |text: &str| parse(text).store.server_url().map(str::to_owned);
        assert_eq!(url(""), None);
        assert_eq!(url("[store]\nurl = \"  \""), None);
        assert_eq!(
            url("[store]\nurl = \" postgres://db/synod \""),
            Some("postgres://db/synod".to_owned())
        );
    }

    #[test]
    fn agents_and_stages_are_found_by_their_exact_name() {
        let c = parse(
            "[[agents]]\nname = \"a\"\ncommand = \"x\"\n[[agents]]\nname = \"b\"\ncommand = \"y\"\n[[stages]]\nname = \"s\"\n[[stages]]\nname = \"t\"\nprompt = \"go\"\n",
        );
        assert_eq!(c.agent("b").map(|a| a.command.as_str()), Some("y"));
        assert!(c.agent("c").is_none());
        assert_eq!(c.stage("t").and_then(|s| s.prompt.as_deref()), Some("go"));
        assert!(c.stage("u").is_none());
        assert_eq!(c.require_stage("t").unwrap().name, "t");
        assert_eq!(c.agent_names(), "a, b");
        assert_eq!(
            (Mode::Parallel.as_str(), Mode::Sequential.as_str()),
            ("parallel", "sequential")
        );
    }

    #[test]
    fn schema_generates() {
        let schema = schemars::schema_for!(SynodConfig);
        let text = serde_json::to_string(&schema).unwrap();
        assert!(text.contains("prompt_via") && text.contains("max_attempts"));
        // The keys whose types come from crates without schemars have hand-written schemas.
        let schema = schema.as_value();
        let agent = &schema["$defs"]["AgentConfig"]["properties"];
        assert_eq!(
            agent["preset"]["enum"],
            serde_json::json!(["claude", "gemini", "codex", "generic", null])
        );
        let stage = &schema["$defs"]["StageConfig"]["properties"];
        assert_eq!(stage["schema"]["anyOf"][0]["type"], "string");
        assert_eq!(stage["consensus"]["additionalProperties"], false);
        assert!(
            stage["consensus"]["properties"]["quorum"].is_object(),
            "{stage}"
        );
        // `[breaker]` and `[budget]` are inlined where they are used, `enabled` beside the
        // layer's own keys, so an editor shows them in place.
        for table in ["breaker", "budget"] {
            let properties = &schema["properties"][table]["properties"];
            assert!(properties["enabled"].is_object(), "{table}: {schema}");
        }
        assert!(schema["properties"]["breaker"]["properties"]["window_size"].is_object());
    }
}
