//! Structured answers: a stage's JSON Schema, compiled once at plan time, checked against
//! every answer.
//!
//! A `[[stages]]` entry gives its schema as a file (`schema = "schemas/plan.json"`, relative
//! to the config file, read when the plan is built like `prompt_file`), as an inline table
//! (`schema = { type = "object", required = ["verdict"] }`), or derives one from the fields
//! every answer must have (`required = ["verdict", "steps"]`: an object with those
//! properties). A schema that does not compile is a config error naming the stage's key and
//! the file, so `synod config check` refuses it.
//!
//! Presets whose CLI takes a schema get it ([`synod_agents::Invocation::with_schema`]:
//! claude `--json-schema`, codex `--output-schema FILE`, the file written once into a private
//! cache directory); every answer, from any agent, is validated. An answer that does not
//! match is an `invalid` attempt whose error lists the validation errors (instance path and
//! message, bounded). With `repair = true`, the agent is asked once more with the original
//! prompt and the errors appended ([`AnswerSchema::repair_prompt`]), stored as its own
//! attempt (`repaired` when its answer matches, else `invalid`).
//!
//! ```
//! use serde_json::json;
//! use synod::orchestrator::AnswerSchema;
//!
//! let schema = AnswerSchema::from_required(&["verdict".to_owned()]);
//! let checked = AnswerSchema::compile(schema, false).unwrap();
//! assert!(checked.check(&json!({"verdict": "approve"})).is_ok());
//! let errors = checked.check(&json!({"verdict_": 1})).unwrap_err();
//! assert_eq!(errors[0], r#"(root): "verdict" is a required property"#);
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

/// At most this many validation errors are listed.
const MAX_ERRORS: usize = 8;
/// Each listed error is cut to this many characters.
const MAX_ERROR_CHARS: usize = 200;

/// A stage's compiled answer schema.
#[derive(Debug)]
pub struct AnswerSchema {
    schema: Value,
    text: String,
    validator: jsonschema::Validator,
    repair: bool,
    /// Whether the schema is in the strict subset OpenAI's structured outputs accept.
    strict: bool,
    /// The schema written to a private file for CLIs that read it from one (codex).
    file: OnceLock<Option<PathBuf>>,
}

impl AnswerSchema {
    /// The schema an answer has when it must carry `fields`: an object with those
    /// properties required.
    #[must_use]
    pub fn from_required(fields: &[String]) -> Value {
        let properties: serde_json::Map<String, Value> = fields
            .iter()
            .map(|f| (f.clone(), Value::Object(serde_json::Map::new())))
            .collect();
        serde_json::json!({
            "type": "object",
            "required": fields,
            "properties": properties,
        })
    }

    /// Compiles `schema`; `repair`: whether an invalid answer is sent back once.
    ///
    /// # Errors
    /// Why the schema is not a valid JSON Schema (one line).
    pub fn compile(schema: Value, repair: bool) -> Result<Self, String> {
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| format!("not a valid JSON Schema: {}", one_line(&e.to_string())))?;
        Ok(Self {
            text: schema.to_string(),
            strict: is_strict(&schema),
            schema,
            validator,
            repair,
            file: OnceLock::new(),
        })
    }

    /// The schema.
    #[must_use]
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// The schema as compact JSON text (what claude's `--json-schema` gets).
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the schema is in the strict subset of OpenAI's structured outputs (what codex
    /// `--output-schema` sends): every object lists all its properties in `required` and has
    /// `additionalProperties: false`, and every property has a schema of its own. codex is
    /// given only such a schema (the API refuses any other, failing every attempt); answers
    /// are validated either way.
    #[must_use]
    pub fn strict(&self) -> bool {
        self.strict
    }

    /// Whether an invalid answer is sent back once with its validation errors.
    #[must_use]
    pub fn repair(&self) -> bool {
        self.repair
    }

    /// `Ok` when `answer` matches, else its validation errors (`/path: message`, `(root)`
    /// for the whole answer), at most 8, each at most 200 characters.
    ///
    /// # Errors
    /// The validation errors.
    pub fn check(&self, answer: &Value) -> Result<(), Vec<String>> {
        let mut errors: Vec<String> = Vec::new();
        let mut more = 0usize;
        for error in self.validator.iter_errors(answer) {
            if errors.len() == MAX_ERRORS {
                more += 1;
                continue;
            }
            let path = error.instance_path().to_string();
            let path = if path.is_empty() { "(root)" } else { &path };
            errors.push(cut(&format!("{path}: {}", one_line(&error.to_string()))));
        }
        if more > 0 {
            errors.push(format!("… and {more} more"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The one-line error of an invalid answer: its validation errors joined by `; `.
    #[must_use]
    pub fn describe(errors: &[String]) -> String {
        format!(
            "the answer does not match the stage's schema: {}",
            errors.join("; ")
        )
    }

    /// The prompt of a repair attempt: the original prompt, then the validation errors and
    /// what to do.
    #[must_use]
    pub fn repair_prompt(&self, prompt: &str, errors: &[String]) -> String {
        let mut out = String::with_capacity(prompt.len() + self.text.len() + 512);
        out.push_str(prompt);
        if !prompt.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(
            "\n---\nYour previous answer to the task above did not match the required JSON \
             Schema. Validation errors (instance path: message):\n",
        );
        for error in errors {
            out.push_str("- ");
            out.push_str(error);
            out.push('\n');
        }
        out.push_str("\nThe JSON Schema your answer must match:\n");
        out.push_str(&self.text);
        out.push_str(
            "\n\nAnswer the task again, with a JSON answer that matches this schema and fixes \
             every error listed.\n",
        );
        out
    }

    /// The schema written to a file for CLIs that read it from one (codex
    /// `--output-schema`): `<cache>/synod/schemas/<hash>.json` in a directory only the user
    /// can write to, written once (atomically, unchanged contents are not rewritten). `None`
    /// when it cannot be written (logged; the answer is still validated).
    pub(crate) fn file(&self, cache: &Path) -> Option<&Path> {
        self.file
            .get_or_init(|| {
                let dir = cache.join("synod").join("schemas");
                let path = dir.join(format!("{:016x}.json", fnv1a(self.text.as_bytes())));
                match write_private(&dir, &path, &self.text) {
                    Ok(()) => Some(path),
                    Err(error) => {
                        tracing::warn!(
                            %error,
                            path = %path.display(),
                            "cannot write the stage's schema file; the CLI is not given the schema"
                        );
                        None
                    }
                }
            })
            .as_deref()
    }
}

/// Writes `text` to `path` in `dir` (created 0700) unless it already holds it, through a
/// temporary file and a rename, so a CLI started meanwhile never reads half a schema.
fn write_private(dir: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    if std::fs::read_to_string(path).is_ok_and(|existing| existing == text) {
        return Ok(());
    }
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("schema"),
        std::process::id()
    ));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Whether `schema` is in OpenAI's strict structured-output subset (see
/// [`AnswerSchema::strict`]).
fn is_strict(schema: &Value) -> bool {
    let Value::Object(map) = schema else {
        return false;
    };
    if map.is_empty() {
        return false;
    }
    if let Some(properties) = map.get("properties") {
        let Value::Object(properties) = properties else {
            return false;
        };
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if map.get("additionalProperties") != Some(&Value::Bool(false))
            || !properties.keys().all(|k| required.contains(&k.as_str()))
            || !properties.values().all(is_strict)
        {
            return false;
        }
    } else if map.get("type").and_then(Value::as_str) == Some("object") {
        return false;
    }
    let nested_ok = |key: &str| match map.get(key) {
        None => true,
        Some(Value::Array(list)) => list.iter().all(is_strict),
        Some(one) => is_strict(one),
    };
    ["items", "anyOf"].into_iter().all(nested_ok)
        && map.get("$defs").is_none_or(|defs| {
            defs.as_object()
                .is_some_and(|defs| defs.values().all(is_strict))
        })
}

/// FNV-1a: a stable file name for a schema's text (the same on every run and version).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_ERROR_CHARS {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MAX_ERROR_CHARS - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_instance_path_and_are_bounded() {
        let schema = json!({
            "type": "object",
            "properties": { "steps": { "type": "array", "items": { "type": "string" } } }
        });
        let checked = AnswerSchema::compile(schema.clone(), true).unwrap();
        assert_eq!(checked.schema(), &schema);
        assert_eq!(checked.text(), schema.to_string());
        let steps: Vec<i32> = (0..20).collect();
        let errors = checked.check(&json!({ "steps": steps })).unwrap_err();
        assert_eq!(errors.len(), MAX_ERRORS + 1, "{errors:?}");
        assert!(errors[0].starts_with("/steps/0: "), "{errors:?}");
        assert_eq!(errors[MAX_ERRORS], "… and 12 more");
        let long = "x".repeat(1000);
        let checked = AnswerSchema::compile(json!({ "const": long }), false).unwrap();
        let errors = checked.check(&json!("y")).unwrap_err();
        assert_eq!(errors[0].chars().count(), MAX_ERROR_CHARS);
    }

    #[test]
    fn only_schemas_in_the_strict_subset_are_strict() {
        let strict = |v: Value| AnswerSchema::compile(v, false).unwrap().strict();
        assert!(strict(json!({
            "type": "object", "additionalProperties": false, "required": ["a", "b"],
            "properties": {
                "a": { "type": "string" },
                "b": { "type": "array", "items": {
                    "type": "object", "additionalProperties": false, "required": ["id"],
                    "properties": { "id": { "anyOf": [{ "type": "string" }, { "type": "null" }] } }
                } }
            }
        })));
        // Derived from `required`: properties without schemas, extra keys allowed.
        assert!(!strict(AnswerSchema::from_required(&["a".into()])));
        assert!(!strict(json!({ "type": "object" })));
        assert!(!strict(json!({
            "type": "object", "additionalProperties": false, "required": ["a"],
            "properties": { "a": { "type": "string" }, "b": { "type": "string" } }
        })));
        assert!(!strict(json!({
            "type": "object", "additionalProperties": false, "required": ["a"],
            "properties": { "a": { "type": "array", "items": { "type": "object" } } }
        })));
    }

    #[test]
    fn a_bad_schema_does_not_compile() {
        let err = AnswerSchema::compile(json!({ "type": "objekt" }), false).unwrap_err();
        assert!(err.starts_with("not a valid JSON Schema"), "{err}");
    }

    #[test]
    fn the_repair_prompt_holds_prompt_errors_and_schema() {
        let checked =
            AnswerSchema::compile(AnswerSchema::from_required(&["a".into()]), true).unwrap();
        let prompt = checked.repair_prompt("Do it.", &["(root): missing a".into()]);
        assert!(prompt.starts_with("Do it.\n\n---\n"), "{prompt}");
        // A prompt that ends its line is not given a second newline.
        let ended = checked.repair_prompt("Do it.\n", &["(root): missing a".into()]);
        assert_eq!(ended, prompt);
        assert!(prompt.contains("- (root): missing a\n"), "{prompt}");
        assert!(prompt.contains(checked.text()), "{prompt}");
    }

    #[test]
    fn the_schema_file_is_written_once_privately() {
        let dir = tempfile::tempdir().unwrap();
        let checked = AnswerSchema::compile(json!({ "type": "object" }), false).unwrap();
        let path = checked.file(dir.path()).unwrap().to_path_buf();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"{"type":"object"}"#
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        assert_eq!(checked.file(dir.path()), Some(path.as_path()));
        // The name is the FNV-1a hash of the text: the same file on every run and version.
        assert_eq!(path, dir.path().join("synod/schemas/9cdd4c929f357a54.json"));
    }

    #[test]
    fn a_stale_schema_file_is_replaced_and_an_unchanged_one_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{"type":"object"}"#;
        let path = AnswerSchema::compile(json!({ "type": "object" }), false)
            .unwrap()
            .file(dir.path())
            .unwrap()
            .to_path_buf();
        std::fs::write(&path, "{}").unwrap();
        let again = AnswerSchema::compile(json!({ "type": "object" }), false).unwrap();
        assert_eq!(again.file(dir.path()), Some(path.as_path()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

        let long_ago =
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        let third = AnswerSchema::compile(json!({ "type": "object" }), false).unwrap();
        assert_eq!(third.file(dir.path()), Some(path.as_path()));
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(modified, long_ago, "a CLI starting now may be reading it");
    }
}
