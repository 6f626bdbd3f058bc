//! Loading `synod.toml` through synod-config: defaults < file < `SYNOD_*` environment
//! (`__` between nested keys) < explicit overrides, schema-validated, with provenance.
//!
//! ```
//! use synod::orchestrator::LoadedConfig;
//!
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("synod.toml");
//! std::fs::write(&file, "[[agents]]\nname = \"a\"\ncommand = \"true\"\n")?;
//! let loaded = LoadedConfig::load(Some(&file), &[("store.path".into(), "/tmp/x.db".into())])?;
//! assert_eq!(loaded.config.agents[0].name, "a");
//! assert_eq!(loaded.store_path().to_str(), Some("/tmp/x.db"));
//! assert_eq!(loaded.base_dir(), dir.path());
//! assert_eq!(loaded.plan()?.base_dir(), dir.path());
//! assert!(loaded.explain("store.path")?.to_string().contains("/tmp/x.db"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use serde_json::Value;
use synod_config::{Explanation, Issue, Loaded, Loader, Warning};

use super::config::{CONFIG_VERSION, SynodConfig};
use super::error::{Error, Result};
use super::plan::Plan;
use super::redact::is_secret_env_name;

/// A loaded, validated [`SynodConfig`] and where it came from.
#[derive(Debug)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: SynodConfig,
    /// The file it was read from, or the name of the text given to
    /// [`load_text`](Self::load_text) (None: defaults, environment and overrides only).
    pub path: Option<PathBuf>,
    loaded: Loaded<SynodConfig>,
}

impl LoadedConfig {
    /// The synod-config loader for `path` and `overrides` (reusable, e.g. for a
    /// `synod_config::Watcher` to hot-reload the file).
    #[must_use]
    pub fn loader(path: Option<&Path>, overrides: &[(String, String)]) -> Loader<SynodConfig> {
        let mut loader = Loader::<SynodConfig>::new()
            .env_prefix("SYNOD_")
            .current_version(u64::from(CONFIG_VERSION))
            .validator_all(|config: &SynodConfig| {
                config
                    .problems()
                    .into_iter()
                    .map(|problem| match problem {
                        Error::InvalidConfig { key, message } => Issue::at(key, message),
                        other => Issue::new(other.to_string()),
                    })
                    .collect()
            });
        if let Some(path) = path {
            loader = loader.file(path);
        }
        for (key, value) in overrides {
            loader = loader.set_override(key.clone(), value.clone());
        }
        loader
    }

    /// Loads `path` (required when given) plus environment and `overrides`, and validates.
    ///
    /// # Errors
    /// [`Error::Config`]: a missing or unparsable file, a schema violation (with file:line),
    /// or an inconsistency [`SynodConfig::validate`] found.
    pub fn load(path: Option<&Path>, overrides: &[(String, String)]) -> Result<Self> {
        let loaded = Self::loader(path, overrides).load()?;
        for warning in loaded.warnings() {
            tracing::warn!(%warning, "config");
        }
        Ok(Self {
            config: loaded.value.clone(),
            path: path.map(Path::to_path_buf),
            loaded,
        })
    }

    /// Like [`load`](Self::load), with the config's text given instead of a file (read from
    /// standard input, generated): `name` stands for it in errors (`<stdin>:3:1: ...`), its
    /// extension picks the format (TOML without one), and relative paths resolve from its
    /// directory part (the current directory for `<stdin>`).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn load_text(name: &str, text: &str, overrides: &[(String, String)]) -> Result<Self> {
        let loaded = Self::loader(None, overrides).text(name, text).load()?;
        for warning in loaded.warnings() {
            tracing::warn!(%warning, "config");
        }
        Ok(Self {
            config: loaded.value.clone(),
            path: Some(PathBuf::from(name)),
            loaded,
        })
    }

    /// The directory relative agent working directories and prompt files are resolved from:
    /// the config file's directory, or `.` without a file.
    #[must_use]
    pub fn base_dir(&self) -> PathBuf {
        match self.path.as_deref().and_then(Path::parent) {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// The runtime plan of this config, relative paths resolved from [`base_dir`](Self::base_dir):
    /// what `synod config check` builds and `synod run` runs.
    ///
    /// # Errors
    /// What [`Plan::new`] reports.
    pub fn plan(&self) -> Result<Plan> {
        Plan::new(self.config.clone(), self.base_dir())
    }

    /// The evidence database path (relative to the current directory unless absolute).
    #[must_use]
    pub fn store_path(&self) -> PathBuf {
        self.config.store.path.clone()
    }

    /// Where `key` got its value (`agents.0.timeout`, `store.path`, ...).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the config has no such key.
    pub fn explain(&self, key: &str) -> Result<Explanation> {
        let mut explanation = self
            .loaded
            .explain(key)
            .ok_or_else(|| Error::InvalidConfig {
                key: key.to_owned(),
                message: "no such key in the loaded config; `synod config schema` lists the keys"
                    .into(),
            })?;
        // Secret agent environment values (`ANTHROPIC_API_KEY`, names in `secret_env`) and a
        // server URL's password are plain strings in the schema: redact them here, at any
        // depth of the key asked for.
        let mut path: Vec<String> = explanation.key.split('.').map(str::to_owned).collect();
        if redact_config_secrets(&self.config, &mut path, &mut explanation.value) {
            explanation.secret = true;
        }
        Ok(explanation)
    }

    /// The effective configuration as JSON (what `synod config show` prints): every default
    /// filled in, each agent's and stage's too, with secrets redacted (agent environment
    /// values such as `ANTHROPIC_API_KEY` or any named in `secret_env`, and the password in
    /// `store.url`).
    #[must_use]
    pub fn to_redacted_json(&self) -> Value {
        let mut value = self.loaded.to_redacted_json();
        redact_config_secrets(&self.config, &mut Vec::new(), &mut value);
        value
    }

    /// Non-fatal findings (unknown `SYNOD_*` variables, readable secrets).
    #[must_use]
    pub fn warnings(&self) -> &[Warning] {
        self.loaded.warnings()
    }

    /// The JSON Schema of `synod.toml`.
    #[must_use]
    pub fn schema() -> serde_json::Value {
        synod_config::schema::<SynodConfig>()
    }
}

/// Replaces, inside `value` (which sits at `path`), the secrets the schema cannot mark: the
/// values of secret agent environment variables (`agents.N.env.NAME`) and the password of a
/// PostgreSQL `store.url`. Returns whether anything was replaced.
fn redact_config_secrets(config: &SynodConfig, path: &mut Vec<String>, value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            let mut any = false;
            for (key, child) in map.iter_mut() {
                path.push(key.clone());
                any |= redact_config_secrets(config, path, child);
                path.pop();
            }
            any
        }
        Value::Array(items) => {
            let mut any = false;
            for (i, child) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                any |= redact_config_secrets(config, path, child);
                path.pop();
            }
            any
        }
        Value::Null => false,
        Value::String(url) if path.as_slice() == ["store", "url"] => {
            let shown = synod_store::redact_url(url);
            let hidden = shown != *url;
            *url = shown;
            hidden
        }
        leaf => {
            let [agents, index, env, name] = path.as_slice() else {
                return false;
            };
            let agent = index
                .parse::<usize>()
                .ok()
                .and_then(|i| config.agents.get(i));
            let secret = agents == "agents"
                && env == "env"
                && (is_secret_env_name(name)
                    || agent.is_some_and(|a| a.secret_env.iter().any(|n| n == name)));
            if secret {
                *leaf = Value::String(synod_config::REDACTED.to_owned());
            }
            secret
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    const SECRETS: &str = r#"
[[agents]]
name = "a"
command = "true"
secret_env = ["MY_PASS"]
env = { ANTHROPIC_API_KEY = "sk-ant-123456789", MY_PASS = "hunter2hunter2", MODE = "fast" }
"#;

    #[test]
    fn paths_resolve_from_the_config_files_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "conf/synod.toml", "[store]\npath = \"e.db\"\n");
        let loaded = LoadedConfig::load(Some(&path), &[]).unwrap();
        assert_eq!(loaded.base_dir(), dir.path().join("conf"));
        assert_eq!(loaded.path.as_deref(), Some(path.as_path()));
        assert_eq!(loaded.store_path(), PathBuf::from("e.db"));

        // A bare file name is in the current directory; no file at all too.
        let bare = LoadedConfig {
            path: Some(PathBuf::from("synod.toml")),
            ..LoadedConfig::load(None, &[]).unwrap()
        };
        assert_eq!(bare.base_dir(), PathBuf::from("."));
        assert_eq!(
            LoadedConfig::load(None, &[]).unwrap().base_dir(),
            PathBuf::from(".")
        );
    }

    #[test]
    fn the_plan_reads_a_prompt_file_next_to_the_config_not_the_current_directory() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "conf/ask.md", "Review {spec_id}.");
        let path = write(
            dir.path(),
            "conf/synod.toml",
            "[[agents]]\nname = \"a\"\ncommand = \"true\"\n[[stages]]\nname = \"s\"\nprompt_file = \"ask.md\"\n",
        );
        let loaded = LoadedConfig::load(Some(&path), &[]).unwrap();
        loaded.plan().unwrap();
        // From elsewhere the same relative file is not there.
        let err = Plan::new(loaded.config, dir.path()).unwrap_err();
        assert!(err.to_string().contains("ask.md"), "{err}");
    }

    #[test]
    fn overrides_win_and_problems_fail_the_load_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "synod.toml", "[jobs]\nmax_tries = 2\n");
        let overrides = [("jobs.max_tries".to_owned(), "5".to_owned())];
        let loaded = LoadedConfig::load(Some(&path), &overrides).unwrap();
        assert_eq!(loaded.config.jobs.max_tries, 5);

        let bad = [("jobs.max_tries".to_owned(), "0".to_owned())];
        let err = LoadedConfig::load(Some(&path), &bad).unwrap_err();
        let text = format!("{err} {:?}", std::error::Error::source(&err));
        assert!(text.contains("jobs.max_tries"), "{text}");
    }

    #[test]
    fn text_loads_like_a_file_named_by_its_name() {
        let overrides = [("jobs.max_tries".to_owned(), "4".to_owned())];
        let text = "[jobs]\nmax_tries = 2\nlease = \"1m30s\"\n";
        let loaded = LoadedConfig::load_text("<stdin>", text, &overrides).unwrap();
        assert_eq!(loaded.config.jobs.max_tries, 4);
        assert_eq!(loaded.config.jobs.lease.to_string(), "90s");
        assert_eq!(loaded.path.as_deref(), Some(Path::new("<stdin>")));
        assert_eq!(loaded.base_dir(), PathBuf::from("."));
        let why = loaded.explain("jobs.lease").unwrap();
        assert_eq!(why.winner.to_string(), "<stdin>:3:1");

        let err = LoadedConfig::load_text("<stdin>", "[jobs]\nmax_tries = 0\n", &[]).unwrap_err();
        let source = std::error::Error::source(&err).map(ToString::to_string);
        let text = format!("{err}: {}", source.unwrap_or_default());
        assert!(
            text.contains("<stdin>:2:1") && text.contains("jobs.max_tries"),
            "{text}"
        );
    }

    #[test]
    fn a_server_urls_password_is_hidden_from_explain_and_show() {
        let url = "postgres://synod:hunter2pw@db.internal:5432/evidence";
        let overrides = [("store.url".to_owned(), url.to_owned())];
        let loaded = LoadedConfig::load(None, &overrides).unwrap();
        assert_eq!(loaded.config.store.url.as_deref(), Some(url));
        let hidden = "postgres://synod:***@db.internal:5432/evidence";
        let one = loaded.explain("store.url").unwrap();
        assert!(one.secret);
        assert_eq!(one.value, hidden);
        let store = loaded.explain("store").unwrap();
        assert!(store.secret);
        assert_eq!(store.value["url"], hidden);
        assert_eq!(loaded.to_redacted_json()["store"]["url"], hidden);

        // Nothing to hide: not a secret, shown as set.
        let plain = [("store.url".to_owned(), "postgres://db/evidence".to_owned())];
        let loaded = LoadedConfig::load(None, &plain).unwrap();
        let one = loaded.explain("store.url").unwrap();
        assert!(!one.secret);
        assert_eq!(one.value, "postgres://db/evidence");
        // Only `store.url` is read as a URL.
        let named = [("store.path".to_owned(), "postgres://u:pw@h/d.db".to_owned())];
        let loaded = LoadedConfig::load(None, &named).unwrap();
        assert_eq!(
            loaded.explain("store.path").unwrap().value,
            "postgres://u:pw@h/d.db"
        );
    }

    #[test]
    fn explain_redacts_secret_agent_environment_at_any_depth() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "synod.toml", SECRETS);
        let loaded = LoadedConfig::load(Some(&path), &[]).unwrap();

        for key in ["agents.0.env.ANTHROPIC_API_KEY", "agents.0.env.MY_PASS"] {
            let one = loaded.explain(key).unwrap();
            assert!(one.secret, "{key}");
            assert_eq!(one.value, synod_config::REDACTED, "{key}");
        }
        let plain = loaded.explain("agents.0.env.MODE").unwrap();
        assert!(!plain.secret);
        assert_eq!(plain.value, "fast");

        for key in ["agents.0.env", "agents.0", "agents"] {
            let whole = loaded.explain(key).unwrap();
            assert!(whole.secret, "{key}");
            let text = whole.value.to_string();
            assert!(
                !text.contains("sk-ant-123456789") && !text.contains("hunter2hunter2"),
                "{key}: {text}"
            );
            assert!(text.contains("fast"), "{key}: {text}");
        }
        let name = loaded.explain("agents.0.name").unwrap();
        assert!(!name.secret);
        assert_eq!(name.value, "a");

        let all = loaded.to_redacted_json();
        let env = &all["agents"][0]["env"];
        assert_eq!(env["ANTHROPIC_API_KEY"], synod_config::REDACTED);
        assert_eq!(env["MY_PASS"], synod_config::REDACTED);
        assert_eq!(env["MODE"], "fast");
        // Every default shows, inside the agent too.
        assert_eq!(
            all["agents"][0]["timeout"],
            loaded.explain("agents.0.timeout").unwrap().value
        );
        assert!(!all["agents"][0]["timeout"].is_null(), "{all}");
        assert_eq!(all["store"]["path"], ".synod/synod.db");

        let err = loaded.explain("agents.0.nope").unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig { key, .. } if key == "agents.0.nope"),
            "{err:?}"
        );
    }

    #[test]
    fn the_schema_describes_the_config() {
        let schema = LoadedConfig::schema();
        let text = schema.to_string();
        assert!(
            text.contains("max_concurrency") && text.contains("busy_timeout"),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_synod_variable_is_a_warning() {
        let loaded = LoadedConfig::loader(None, &[])
            .env_source([("SYNOD_JOBS__MAX_TRIEZ", "4")])
            .load()
            .unwrap();
        let loaded = LoadedConfig {
            config: loaded.value.clone(),
            path: None,
            loaded,
        };
        let warnings: Vec<String> = loaded.warnings().iter().map(ToString::to_string).collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("SYNOD_JOBS__MAX_TRIEZ"),
            "{warnings:?}"
        );
    }
}
