//! [`Loader`]: merges defaults < files < environment < overrides, migrates, validates, and
//! returns a [`Loaded`] value that can [`explain`](Loaded::explain) every key.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use synod_config::{JsonSchema, Layer, Loader};
//!
//! #[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
//! #[serde(default)]
//! struct Config {
//!     log_level: String,
//!     workers: u32,
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("synod.toml");
//! std::fs::write(&path, "log_level = \"info\"\nworkers = 2\n")?;
//!
//! let loaded = Loader::<Config>::new()
//!     .file(&path)
//!     .env_source([("SYNOD_WORKERS".to_string(), "8".to_string())])
//!     .set_override("log_level", "debug")
//!     .load()?;
//! assert_eq!(loaded.value.workers, 8);
//! assert_eq!(loaded.value.log_level, "debug");
//!
//! let why = loaded.explain("workers").expect("a known key");
//! assert_eq!(why.winner, Layer::Env { var: "SYNOD_WORKERS".into() });
//! assert_eq!(why.layers.len(), 3); // default, synod.toml:2:1, env
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result, Violation};
use crate::format::{self, Format, Parsed, Pos, Spans};
use crate::provenance::{Explanation, Layer, Provenance, Warning};
use crate::schema::{self, Compiled};

type ValidatorFn<T> = dyn Fn(&T) -> std::result::Result<(), Vec<Issue>> + Send + Sync;
type MigrationFn = dyn Fn(Value) -> std::result::Result<Value, String> + Send + Sync;

/// A problem found by a semantic validator registered with [`Loader::validator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    key: Option<String>,
    message: String,
}

impl Issue {
    /// A problem with one key (dotted path); the error will name the layer that set it.
    pub fn at(key: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            key: Some(key.into()),
            message: message.into(),
        }
    }

    /// A problem with the configuration as a whole.
    pub fn new(message: impl Into<String>) -> Self {
        Issue {
            key: None,
            message: message.into(),
        }
    }
}

impl From<String> for Issue {
    fn from(message: String) -> Self {
        Issue::new(message)
    }
}

impl From<&str> for Issue {
    fn from(message: &str) -> Self {
        Issue::new(message)
    }
}

#[derive(Clone)]
struct FileSpec {
    path: PathBuf,
    required: bool,
    /// The text itself, for a source that is not a file ([`Loader::text`]).
    text: Option<Arc<str>>,
}

impl fmt::Debug for FileSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the text: it may hold secrets.
        f.debug_struct("FileSpec")
            .field("path", &self.path)
            .field("required", &self.required)
            .field("text_bytes", &self.text.as_ref().map(|t| t.len()))
            .finish()
    }
}

/// Builds a configuration of type `T` from layers, lowest precedence first:
/// `T::default()` < files (in the order added) < environment < overrides.
///
/// A loader is reusable: [`load`](Loader::load) may be called many times (the watcher does),
/// and the schema is generated and compiled only once per loader.
pub struct Loader<T> {
    files: Vec<FileSpec>,
    env_prefix: String,
    env: Option<Vec<(String, String)>>,
    ignored_env: Vec<String>,
    overrides: Vec<(String, String)>,
    bad_overrides: Vec<String>,
    validators: Vec<Arc<ValidatorFn<T>>>,
    migrations: BTreeMap<u64, Arc<MigrationFn>>,
    current_version: Option<u64>,
    custom_schema: Option<Value>,
    compiled: OnceLock<Arc<Compiled>>,
    _marker: PhantomData<fn() -> T>,
}

impl<T> Clone for Loader<T> {
    fn clone(&self) -> Self {
        Loader {
            files: self.files.clone(),
            env_prefix: self.env_prefix.clone(),
            env: self.env.clone(),
            ignored_env: self.ignored_env.clone(),
            overrides: self.overrides.clone(),
            bad_overrides: self.bad_overrides.clone(),
            validators: self.validators.clone(),
            migrations: self.migrations.clone(),
            current_version: self.current_version,
            custom_schema: self.custom_schema.clone(),
            compiled: self.compiled.clone(),
            _marker: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Loader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loader")
            .field("files", &self.files)
            .field("env_prefix", &self.env_prefix)
            .field("overrides", &self.overrides.len())
            .field("validators", &self.validators.len())
            .field("migrations", &self.migrations.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<T> Default for Loader<T>
where
    T: DeserializeOwned + Serialize + Default + JsonSchema,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Loader<T>
where
    T: DeserializeOwned + Serialize + Default + JsonSchema,
{
    /// A loader with no files, the `SYNOD_` environment prefix and no overrides.
    #[must_use]
    pub fn new() -> Self {
        Loader {
            files: Vec::new(),
            env_prefix: "SYNOD_".into(),
            env: None,
            ignored_env: Vec::new(),
            overrides: Vec::new(),
            bad_overrides: Vec::new(),
            validators: Vec::new(),
            migrations: BTreeMap::new(),
            current_version: None,
            custom_schema: None,
            compiled: OnceLock::new(),
            _marker: PhantomData,
        }
    }

    /// Adds a required file (TOML, YAML or JSON by extension); loading fails if it is missing.
    #[must_use]
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(FileSpec {
            path: path.into(),
            required: true,
            text: None,
        });
        self
    }

    /// Adds configuration text that is not in a file (read from standard input, generated,
    /// embedded), in the files' precedence order. `name` stands for it in errors and
    /// provenance (`<stdin>:3:1`), and its extension picks the format (`.yaml`, `.yml`,
    /// `.json`; TOML when it has none). A watcher has no file to watch for it.
    #[must_use]
    pub fn text(mut self, name: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.files.push(FileSpec {
            path: name.into(),
            required: true,
            text: Some(Arc::from(text.into())),
        });
        self
    }

    /// Adds a file that is used when it exists (and picked up by the watcher when it appears).
    #[must_use]
    pub fn optional_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(FileSpec {
            path: path.into(),
            required: false,
            text: None,
        });
        self
    }

    /// Sets the environment prefix (default `SYNOD_`; a trailing `_` is added if missing).
    /// `PREFIX_A__B_C=v` sets key `a.b_c`: `__` separates nesting levels, single `_` stays
    /// part of the key, names match keys case-insensitively, numeric levels index arrays (an
    /// existing element or one past the end). Values are typed by the schema: numbers and
    /// booleans are parsed where the key expects them, arrays and tables are given as JSON.
    /// Variables with the prefix that name no key are reported by [`Loaded::warnings`].
    #[must_use]
    pub fn env_prefix(mut self, prefix: impl Into<String>) -> Self {
        let mut prefix = prefix.into();
        if !prefix.is_empty() && !prefix.ends_with('_') {
            prefix.push('_');
        }
        self.env_prefix = prefix;
        self
    }

    /// Reads variables from `vars` instead of the process environment (for tests and
    /// embedding).
    #[must_use]
    pub fn env_source<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Ignores a variable that carries the prefix but is not configuration (e.g. `SYNOD_LOG`),
    /// so it is neither applied nor warned about.
    #[must_use]
    pub fn ignore_env_var(mut self, name: impl Into<String>) -> Self {
        self.ignored_env.push(name.into());
        self
    }

    /// Sets `key` (dotted, `agents.0.timeout`; `agents[0].timeout` also accepted) to `value`,
    /// typed by the schema (so `"30"` becomes a number where a number is expected).
    #[must_use]
    pub fn set_override(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.overrides.push((key.into(), value.into()));
        self
    }

    /// Adds overrides given as `key.path=value` strings, as a command line passes them.
    /// A string without `=` makes [`load`](Loader::load) fail with [`Error::Override`].
    #[must_use]
    pub fn overrides<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for item in items {
            let item = item.as_ref();
            match item.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    self.overrides.push((k.trim().to_owned(), v.to_owned()));
                }
                _ => self.bad_overrides.push(item.to_owned()),
            }
        }
        self
    }

    /// Adds a semantic check that runs after schema validation on the typed value.
    #[must_use]
    pub fn validator<F>(mut self, check: F) -> Self
    where
        F: Fn(&T) -> std::result::Result<(), Issue> + Send + Sync + 'static,
    {
        self.validators.push(Arc::new(move |value: &T| {
            check(value).map_err(|issue| vec![issue])
        }));
        self
    }

    /// Adds a semantic check that reports every problem it finds (none: the value passes),
    /// so a user fixes them all in one pass instead of one per load.
    #[must_use]
    pub fn validator_all<F>(mut self, check: F) -> Self
    where
        F: Fn(&T) -> Vec<Issue> + Send + Sync + 'static,
    {
        self.validators.push(Arc::new(move |value: &T| {
            let issues = check(value);
            if issues.is_empty() {
                Ok(())
            } else {
                Err(issues)
            }
        }));
        self
    }

    /// Registers the migration from config version `from` to `from + 1`, applied to each
    /// file's raw value (before merging and validation) when its top-level `version` is
    /// `from`. The newest supported version becomes the highest `from + 1` (unless set with
    /// [`current_version`](Loader::current_version)). Files without `version` are taken to be
    /// at the newest version.
    #[must_use]
    pub fn migration<F>(mut self, from: u64, migrate: F) -> Self
    where
        F: Fn(Value) -> std::result::Result<Value, String> + Send + Sync + 'static,
    {
        self.migrations.insert(from, Arc::new(migrate));
        self
    }

    /// Sets the newest supported config version explicitly.
    #[must_use]
    pub fn current_version(mut self, version: u64) -> Self {
        self.current_version = Some(version);
        self
    }

    /// Validates against `schema` instead of the one generated from `T`.
    #[must_use]
    pub fn schema(mut self, schema: Value) -> Self {
        self.custom_schema = Some(schema);
        self.compiled = OnceLock::new();
        self
    }

    /// The files registered, in precedence order (not the names of [`text`](Self::text)
    /// sources).
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files
            .iter()
            .filter(|f| f.text.is_none())
            .map(|f| f.path.as_path())
    }

    /// The newest config version this loader understands.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.current_version
            .or_else(|| self.migrations.keys().next_back().map(|v| v + 1))
            .unwrap_or(1)
    }

    fn compiled(&self) -> Result<Arc<Compiled>> {
        if let Some(c) = self.compiled.get() {
            return Ok(c.clone());
        }
        let schema = match &self.custom_schema {
            Some(s) => s.clone(),
            None => schema::schema::<T>(),
        };
        let compiled = Arc::new(Compiled::new(schema)?);
        Ok(self.compiled.get_or_init(|| compiled).clone())
    }

    /// Reads every layer, migrates, validates and builds `T`.
    ///
    /// # Errors
    /// A missing required file, a parse error (with file:line:column), a version that is too
    /// new or a failed migration, an override that cannot apply, or [`Error::Invalid`] listing
    /// every schema and validator violation with the layer that set each offending value.
    pub fn load(&self) -> Result<Loaded<T>> {
        let span = tracing::debug_span!("config.load", files = self.files.len());
        let _guard = span.enter();
        let compiled = self.compiled()?;
        let mut provenance = Provenance::default();
        let mut warnings = Vec::new();

        // Defaults.
        let mut merged = serde_json::to_value(T::default()).map_err(|e| Error::Convert {
            message: format!("serialising the defaults: {e}"),
        })?;
        if !merged.is_object() {
            return Err(Error::Convert {
                message: "the configuration type must serialise as a table of keys".into(),
            });
        }
        let defaults = provenance.add_source(0, Layer::Default);
        record_leaves(&mut provenance, &mut Vec::new(), &merged, &mut |_| {
            (defaults, 0, 0)
        });

        // Files.
        let latest = self.version();
        let env_ordinal = self.files.len() as u32 + 1;
        for (ordinal, spec) in (1u32..).zip(&self.files) {
            let Some((value, positions, exact)) = self.read_file(spec, latest)? else {
                continue;
            };
            if spec.text.is_none()
                && compiled.contains_secret(&value)
                && let Some(w) = readable_secrets(&spec.path)
            {
                tracing::warn!(%w, "config file permissions");
                warnings.push(w);
            }
            let source = provenance.add_source(
                ordinal,
                Layer::File {
                    path: spec.path.clone(),
                    line: None,
                    column: None,
                },
            );
            if exact {
                // The parser listed every key with its position and leaf flag.
                provenance.reserve(positions.len());
                for p in positions.into_iter().filter(|p| p.leaf) {
                    provenance.record(p.key, source, p.line, p.column);
                }
            } else {
                // Positions are partial (YAML) or keys moved (migration): look each leaf up,
                // falling back to its nearest ancestor with a position.
                let spans = Parsed::spans(positions);
                record_leaves(
                    &mut provenance,
                    &mut Vec::new(),
                    &value,
                    &mut |key: &str| {
                        let (line, column) = position(&spans, key);
                        (source, line, column)
                    },
                );
            }
            schema::merge(&mut merged, value);
        }

        // Environment.
        self.apply_env(
            &compiled,
            &mut merged,
            &mut provenance,
            env_ordinal,
            &mut warnings,
        );

        // Overrides.
        if let Some(bad) = self.bad_overrides.first() {
            return Err(Error::Override {
                input: bad.clone(),
                message: "expected `key.path=value`".into(),
            });
        }
        let overrides = provenance.add_source(env_ordinal + 1, Layer::Override);
        for (key, raw) in &self.overrides {
            let path = split_key(key);
            if path.iter().any(String::is_empty) {
                return Err(Error::Override {
                    input: format!("{key}={raw}"),
                    message: "the key has an empty segment".into(),
                });
            }
            // Never echo a secret's value in an error.
            let shown = if compiled.is_secret_path(&path) {
                format!("{key}={}", crate::REDACTED)
            } else {
                format!("{key}={raw}")
            };
            let (path, value) = match compiled.resolve(&path, true) {
                Some((canonical, node)) => {
                    let v = compiled.coerce(node, raw);
                    (canonical, v)
                }
                // Unknown keys are kept so validation reports them next to the others.
                None => (path, Value::String(raw.clone())),
            };
            schema::set(&mut merged, &path, value.clone()).map_err(|message| Error::Override {
                input: shown,
                message,
            })?;
            record_leaves(&mut provenance, &mut path.clone(), &value, &mut |_| {
                (overrides, 0, 0)
            });
        }

        // Drop `version` if the type does not declare it.
        if let Value::Object(map) = &mut merged
            && compiled.resolve(&["version".to_owned()], false).is_none()
        {
            map.remove("version");
        }

        // Schema.
        let violations = compiled.violations(&merged, &provenance);
        if !violations.is_empty() {
            for w in &warnings {
                tracing::warn!(%w, "config warning");
            }
            return Err(Error::Invalid { violations });
        }

        // A value the schema allows but the type refuses (a duration past synod's bound, say)
        // is reported like a schema violation: with its key and the layer that set it.
        let value = serde_path_to_error::deserialize(&merged).map_err(|e| {
            let key = dotted_path(e.path());
            let message = e.inner().to_string();
            Error::Invalid {
                violations: vec![Violation {
                    layer: provenance.locate(&key),
                    key,
                    message,
                }],
            }
        })?;

        // Semantic validators.
        let mut violations = Vec::new();
        for check in &self.validators {
            for issue in check(&value).err().into_iter().flatten() {
                let key = issue
                    .key
                    .map(|k| split_key(&k).join("."))
                    .unwrap_or_default();
                let layer = if key.is_empty() {
                    None
                } else {
                    provenance.locate(&key)
                };
                violations.push(Violation {
                    key,
                    layer,
                    message: issue.message,
                });
            }
        }
        if !violations.is_empty() {
            return Err(Error::Invalid { violations });
        }

        for w in &warnings {
            tracing::warn!(%w, "config warning");
        }
        tracing::debug!("configuration loaded");
        // The typed value holds the defaults of keys no layer set inside list items
        // (`agents.0.timeout`), which `merged` lacks: `explain` reads them here.
        let resolved = serde_json::to_value(&value).unwrap_or_else(|error| {
            tracing::debug!(%error, "cannot serialise the loaded configuration");
            Value::Null
        });
        Ok(Loaded {
            value,
            merged,
            resolved,
            provenance,
            warnings,
            compiled,
        })
    }

    /// Reads, parses and migrates one file; `None` when an optional file does not exist.
    /// Also returns the key positions, and whether they exactly describe the value's keys
    /// (complete and not moved by a migration).
    fn read_file(&self, spec: &FileSpec, latest: u64) -> Result<Option<(Value, Vec<Pos>, bool)>> {
        let path = &spec.path;
        if let Some(text) = &spec.text {
            let format = match path.extension() {
                None => Some(Format::Toml),
                Some(_) => Format::from_path(path),
            };
            let format = format.ok_or_else(|| Error::UnsupportedFormat { path: path.clone() })?;
            return self.parse_source(path, text, format, latest).map(Some);
        }
        let text = match std::fs::read(path) {
            Ok(bytes) => utf8_text(path, bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if spec.required {
                    return Err(Error::MissingFile { path: path.clone() });
                }
                tracing::debug!(path = %path.display(), "optional config file absent");
                return Ok(None);
            }
            Err(source) => {
                return Err(Error::Io {
                    path: path.clone(),
                    source,
                });
            }
        };
        tracing::debug!(path = %path.display(), bytes = text.len(), "read config file");
        let format = Format::from_path(path)
            .ok_or_else(|| Error::UnsupportedFormat { path: path.clone() })?;
        self.parse_source(path, &text, format, latest).map(Some)
    }

    /// Parses and migrates one source's text.
    fn parse_source(
        &self,
        path: &Path,
        text: &str,
        format: Format,
        latest: u64,
    ) -> Result<(Value, Vec<Pos>, bool)> {
        let parsed = format::parse(path, text, format)?;
        let (value, migrated) = self.migrate(path, parsed.value, latest)?;
        Ok((value, parsed.positions, parsed.complete && !migrated))
    }

    /// Migrates a file's raw value to `latest`, saying whether any step ran.
    fn migrate(&self, path: &Path, mut value: Value, latest: u64) -> Result<(Value, bool)> {
        let found = match value.get("version") {
            None => return Ok((value, false)),
            Some(v) => v
                .as_u64()
                .filter(|v| *v >= 1)
                .ok_or_else(|| Error::Migration {
                    path: path.to_owned(),
                    from: 0,
                    message: format!("`version` must be a positive integer, found {v}"),
                })?,
        };
        if found > latest {
            return Err(Error::UnsupportedVersion {
                path: path.to_owned(),
                found,
                supported: latest,
            });
        }
        for from in found..latest {
            let step = self.migrations.get(&from).ok_or_else(|| Error::Migration {
                path: path.to_owned(),
                from,
                message: format!(
                    "no migration is registered from version {from} to {}",
                    from + 1
                ),
            })?;
            value = step(value).map_err(|message| Error::Migration {
                path: path.to_owned(),
                from,
                message,
            })?;
            if let Value::Object(map) = &mut value {
                map.insert("version".into(), Value::from(from + 1));
            } else {
                return Err(Error::Migration {
                    path: path.to_owned(),
                    from,
                    message: "the migration did not return a table".into(),
                });
            }
            tracing::info!(path = %path.display(), from, to = from + 1, "migrated config");
        }
        Ok((value, found < latest))
    }

    fn apply_env(
        &self,
        compiled: &Compiled,
        merged: &mut Value,
        provenance: &mut Provenance,
        ordinal: u32,
        warnings: &mut Vec<Warning>,
    ) {
        if self.env_prefix.is_empty() {
            return;
        }
        let prefix = self.env_prefix.as_str();
        let mut vars: Vec<(String, String)> = match &self.env {
            Some(vars) => vars.clone(),
            None => std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .filter(|(k, _)| has_prefix(k, prefix))
                .collect(),
        };
        vars.sort();
        for (var, raw) in vars {
            if !has_prefix(&var, prefix) || self.ignored_env.contains(&var) {
                continue;
            }
            let rest = &var[prefix.len()..];
            let segments: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            let resolved = if segments.iter().any(String::is_empty) {
                None
            } else {
                compiled.resolve(&segments, true)
            };
            let Some((path, node)) = resolved else {
                warnings.push(Warning::UnknownEnvVar { var });
                continue;
            };
            let value = compiled.coerce(node, &raw);
            if let Err(reason) = schema::set(merged, &path, value.clone()) {
                warnings.push(Warning::IgnoredEnvVar { var, reason });
                continue;
            }
            let source = provenance.add_source(ordinal, Layer::Env { var });
            record_leaves(provenance, &mut path.clone(), &value, &mut |_| {
                (source, 0, 0)
            });
        }
    }
}

fn has_prefix(name: &str, prefix: &str) -> bool {
    name.len() > prefix.len()
        && name
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Splits `a.b[0].c` / `a.b.0.c` into segments.
pub(crate) fn split_key(key: &str) -> Vec<String> {
    let normalised = key.replace('[', ".").replace(']', "");
    if normalised.is_empty() {
        return Vec::new();
    }
    normalised.split('.').map(str::to_owned).collect()
}

/// A config file's bytes as text; bytes that are not UTF-8 are a parse error at the first
/// one, by line and character column.
fn utf8_text(path: &Path, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = String::from_utf8_lossy(&bytes[..bad]);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Error::Parse {
            path: path.to_owned(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            message: format!(
                "byte 0x{:02X} is not UTF-8 text; save the file as UTF-8",
                bytes[bad]
            ),
        }
    })
}

/// The position of `key`, or of its nearest ancestor that has one; `(0, 0)` if none does.
fn position(spans: &Spans, key: &str) -> (u32, u32) {
    let mut k = key;
    loop {
        if let Some(&pos) = spans.get(k) {
            return pos;
        }
        match k.rfind('.') {
            Some(i) => k = &k[..i],
            None => return (0, 0),
        }
    }
}

/// Records a source (and position) for every leaf (scalar, empty table, empty array) of
/// `value` at `path`; `at` maps a leaf's key to `(source, line, column)`.
fn record_leaves(
    provenance: &mut Provenance,
    path: &mut Vec<String>,
    value: &Value,
    at: &mut dyn FnMut(&str) -> (u32, u32, u32),
) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                path.push(k.clone());
                record_leaves(provenance, path, v, at);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                record_leaves(provenance, path, v, at);
                path.pop();
            }
        }
        _ => {
            let key = path.join(".");
            let (source, line, column) = at(&key);
            provenance.record(key, source, line, column);
        }
    }
}

/// Adds to `base` what only `from` has: the keys of a table `base` lacks (also in tables
/// inside lists of the same length), or all of `from` when `base` is null (a type that cannot
/// be serialised).
fn fill_missing(base: &mut Value, from: &Value) {
    match (base, from) {
        (Value::Object(base), Value::Object(from)) => {
            for (key, value) in from {
                match base.get_mut(key) {
                    Some(slot) => fill_missing(slot, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(base), Value::Array(from)) if base.len() == from.len() => {
            for (slot, value) in base.iter_mut().zip(from) {
                fill_missing(slot, value);
            }
        }
        (base @ Value::Null, from) => *base = from.clone(),
        _ => {}
    }
}

#[cfg(unix)]
fn readable_secrets(path: &Path) -> Option<Warning> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| Warning::ReadableSecrets {
        path: path.to_owned(),
        mode,
    })
}

#[cfg(not(unix))]
fn readable_secrets(_path: &Path) -> Option<Warning> {
    None
}

/// A loaded configuration: the typed value plus where each key came from.
pub struct Loaded<T> {
    /// The configuration.
    pub value: T,
    merged: Value,
    /// `value` serialised: `merged` plus every default the type filled in.
    resolved: Value,
    provenance: Provenance,
    warnings: Vec<Warning>,
    compiled: Arc<Compiled>,
}

impl<T: fmt::Debug> fmt::Debug for Loaded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loaded")
            .field("value", &self.value)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl<T> Loaded<T> {
    /// Where `key` (dotted: `agents.0.timeout`, or `agents[0].timeout`) got its value: the final
    /// value (secrets redacted), the winning layer and every layer that set it. A key no layer
    /// set has its default value, from [`Layer::Default`] (also inside a list item:
    /// `agents.0.timeout`). `None` if the configuration has no such key.
    #[must_use]
    pub fn explain(&self, key: &str) -> Option<Explanation> {
        let path = split_key(key);
        let dotted = path.join(".");
        let (mut value, winner, layers) = match schema::get(&self.merged, &path) {
            Some(value) => {
                let layers = self.provenance.layers(&dotted);
                let winner = layers
                    .last()
                    .cloned()
                    .or_else(|| self.provenance.locate(&dotted))?;
                (value.clone(), winner, layers)
            }
            None => (
                schema::get(&self.resolved, &path)?.clone(),
                Layer::Default,
                Vec::new(),
            ),
        };
        let secret = match self.compiled.node(&path) {
            Some(node) => self.compiled.redact(node, &mut value),
            None => self.compiled.is_secret_path(&path),
        };
        Some(Explanation {
            key: dotted,
            value,
            winner,
            layers,
            secret,
        })
    }

    /// Non-fatal findings: unknown `SYNOD_*` variables, files holding secrets that others can
    /// read.
    #[must_use]
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The effective configuration as JSON, with secrets redacted (for `synod config show`):
    /// the loaded value as the type serialises it, so every default the type filled in shows,
    /// also inside list items (`agents.0.timeout` when no layer set it). Keys the type does
    /// not serialise show as the layers set them.
    #[must_use]
    pub fn to_redacted_json(&self) -> Value {
        let mut value = self.resolved.clone();
        fill_missing(&mut value, &self.merged);
        if let Some(root) = self.compiled.node::<&str>(&[]) {
            self.compiled.redact(root, &mut value);
        }
        value
    }

    /// Dotted keys whose values differ between `self` and `other` (leaves only).
    #[must_use]
    pub fn changed_keys<U>(&self, other: &Loaded<U>) -> Vec<String> {
        let mut out = Vec::new();
        diff(&self.merged, &other.merged, &mut Vec::new(), &mut out);
        out.sort();
        out
    }
}

impl<T> Loaded<T> {
    /// Separates the value from its provenance.
    pub(crate) fn split(self) -> (T, Loaded<()>) {
        let Loaded {
            value,
            merged,
            resolved,
            provenance,
            warnings,
            compiled,
        } = self;
        (
            value,
            Loaded {
                value: (),
                merged,
                resolved,
                provenance,
                warnings,
                compiled,
            },
        )
    }
}

fn diff(a: &Value, b: &Value, path: &mut Vec<String>, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                path.push(k.clone());
                match y.get(k) {
                    Some(vb) => diff(va, vb, path, out),
                    None => out.push(path.join(".")),
                }
                path.pop();
            }
            for k in y.keys().filter(|k| !x.contains_key(*k)) {
                path.push(k.clone());
                out.push(path.join("."));
                path.pop();
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                path.push(i.to_string());
                diff(va, vb, path, out);
                path.pop();
            }
        }
        _ if a == b => {}
        _ => out.push(path.join(".")),
    }
}

/// `agents.0.timeout` for serde_path_to_error's `agents[0].timeout`.
fn dotted_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut parts: Vec<String> = Vec::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => parts.push(index.to_string()),
            Segment::Map { key } => parts.push(key.clone()),
            Segment::Enum { variant } => parts.push(variant.clone()),
            Segment::Unknown => {}
        }
    }
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_key_forms() {
        assert_eq!(split_key("a.b[0].c"), vec!["a", "b", "0", "c"]);
        assert_eq!(split_key("a.0.c"), vec!["a", "0", "c"]);
        assert!(split_key("").is_empty());
    }

    #[test]
    fn prefix_matching() {
        assert!(has_prefix("SYNOD_X", "SYNOD_"));
        assert!(has_prefix("synod_x", "SYNOD_"));
        assert!(!has_prefix("SYNOD_", "SYNOD_"));
        assert!(!has_prefix("SYNODX", "SYNOD_"));
        assert!(!has_prefix("É", "SYNOD_"));
    }

    #[test]
    fn diff_lists_changed_leaves() {
        let a = serde_json::json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        let b = serde_json::json!({"a": {"b": 1, "c": 3, "d": 0}, "l": [1]});
        let mut out = Vec::new();
        diff(&a, &b, &mut Vec::new(), &mut out);
        assert_eq!(out, vec!["a.c", "a.d", "l"]);
    }
}
