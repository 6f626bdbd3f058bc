//! JSON Schema: generated from the configuration type with `schemars`, made strict (unknown
//! keys are violations), compiled once with `jsonschema` (offline: only local `$ref`s), and
//! used to type environment and override strings and to find secrets.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use synod_config::JsonSchema;
//!
//! #[derive(Default, Serialize, Deserialize, JsonSchema)]
//! struct Config {
//!     port: u16,
//! }
//!
//! let schema = synod_config::schema::<Config>();
//! assert_eq!(schema["properties"]["port"]["type"], "integer");
//! // Unknown keys are rejected, so editors flag typos too.
//! assert_eq!(schema["additionalProperties"], false);
//! ```

use schemars::JsonSchema;
use serde_json::{Map, Value};

use crate::error::{Error, Result, Violation};
use crate::provenance::Provenance;
use crate::secret::{REDACTED, SECRET_KEYWORD};

/// The JSON Schema the loader validates `T` against (draft 2020-12), for editors and
/// `synod config schema`. Objects with declared properties get `"additionalProperties": false`
/// so misspelt keys are reported rather than silently ignored; secrets carry `writeOnly`.
#[must_use]
pub fn schema<T: JsonSchema>() -> Value {
    let mut value = schemars::schema_for!(T).to_value();
    make_strict(&mut value);
    value
}

/// Adds `additionalProperties: false` to every object schema that lists its properties and
/// says nothing about others (and is not combined with `$ref`/`allOf`/`anyOf`/`oneOf`, where
/// it would reject properties declared in the other branch).
fn make_strict(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    let combined = [
        "$ref",
        "allOf",
        "anyOf",
        "oneOf",
        "patternProperties",
        "unevaluatedProperties",
    ]
    .iter()
    .any(|k| map.contains_key(*k));
    if map.contains_key("properties") && !map.contains_key("additionalProperties") && !combined {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
    for (k, v) in map.iter_mut() {
        match k.as_str() {
            "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => {
                if let Value::Object(children) = v {
                    children.values_mut().for_each(make_strict);
                }
            }
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                if let Value::Array(children) = v {
                    children.iter_mut().for_each(make_strict);
                }
            }
            "items"
            | "additionalProperties"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contains"
            | "unevaluatedProperties"
            | "unevaluatedItems"
            | "propertyNames" => make_strict(v),
            _ => {}
        }
    }
}

const ANY: &Value = &Value::Bool(true);

/// A schema compiled once for validating whole documents directly, e.g. for
/// `synod config validate` or an editor integration. [`Loader`](crate::Loader) uses the same
/// machinery, plus provenance.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use synod_config::{CompiledSchema, Error, JsonSchema};
///
/// #[derive(Default, Serialize, Deserialize, JsonSchema)]
/// struct Config {
///     port: u16,
/// }
///
/// let schema = CompiledSchema::for_type::<Config>()?;
/// assert!(schema.validate(&serde_json::json!({"port": 80})).is_ok());
/// match schema.validate(&serde_json::json!({"port": "x", "prot": 1})) {
///     Err(Error::Invalid { violations }) => assert_eq!(violations.len(), 2),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug)]
pub struct CompiledSchema(Compiled);

impl CompiledSchema {
    /// Compiles `schema` (offline: only references inside the document resolve).
    ///
    /// # Errors
    /// [`Error::Schema`] if the schema is not a valid JSON Schema.
    pub fn new(schema: Value) -> Result<Self> {
        Compiled::new(schema).map(CompiledSchema)
    }

    /// Compiles the strict schema generated from `T` (see [`schema()`]).
    ///
    /// # Errors
    /// [`Error::Schema`] if the generated schema does not compile.
    pub fn for_type<T: JsonSchema>() -> Result<Self> {
        Self::new(schema::<T>())
    }

    /// The schema.
    #[must_use]
    pub fn schema(&self) -> &Value {
        &self.0.schema
    }

    /// Whether `document` is valid (the fast path: no error details).
    #[must_use]
    pub fn is_valid(&self, document: &Value) -> bool {
        self.0.validator.is_valid(document)
    }

    /// Validates `document`, collecting every violation (secret values masked).
    ///
    /// # Errors
    /// [`Error::Invalid`] listing every violation by key.
    pub fn validate(&self, document: &Value) -> Result<()> {
        let violations = self.0.violations(document, &Provenance::default());
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid { violations })
        }
    }
}

/// A schema and its compiled validator.
pub(crate) struct Compiled {
    pub(crate) schema: Value,
    validator: jsonschema::Validator,
    /// Key patterns of every secret (`None` segments match any array index or map key).
    secrets: Vec<Vec<Option<String>>>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled").finish_non_exhaustive()
    }
}

impl Compiled {
    pub(crate) fn new(schema: Value) -> Result<Self> {
        let validator = jsonschema::validator_for(&schema).map_err(|e| Error::Schema {
            message: e.to_string(),
        })?;
        let mut secrets = Vec::new();
        secret_patterns(
            &schema,
            &schema,
            &mut Vec::new(),
            &mut Vec::new(),
            &mut secrets,
        );
        Ok(Compiled {
            schema,
            validator,
            secrets,
        })
    }

    /// Whether `value` (a whole document) sets any secret to a non-null value.
    pub(crate) fn contains_secret(&self, value: &Value) -> bool {
        self.secrets.iter().any(|p| matches_pattern(value, p))
    }

    /// Every violation, each placed at the layer that set the offending value.
    pub(crate) fn violations(&self, value: &Value, provenance: &Provenance) -> Vec<Violation> {
        if self.validator.is_valid(value) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for error in self.validator.iter_errors(value) {
            self.describe(&error, provenance, &mut out);
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// Adds the violations `error` stands for: one per unknown key (with a "did you mean"),
    /// the reasons of the one alternative a value fits when it matches none of a key's
    /// `anyOf`/`oneOf` alternatives, the accepted values when it fits none, else the
    /// validator's own message.
    fn describe(
        &self,
        error: &jsonschema::ValidationError<'_>,
        provenance: &Provenance,
        out: &mut Vec<Violation>,
    ) {
        use jsonschema::error::ValidationErrorKind as Kind;
        let path: Vec<String> = error
            .instance_path()
            .iter()
            .map(|segment| match segment {
                jsonschema::paths::LocationSegment::Property(p) => p.to_string(),
                jsonschema::paths::LocationSegment::Index(i) => i.to_string(),
            })
            .collect();
        let mut push = |key: String, message: String| {
            out.push(Violation {
                layer: provenance.locate(&key),
                key,
                message,
            });
        };
        let secret = self.is_secret_path(&path);
        match error.kind() {
            Kind::AdditionalProperties { unexpected } => {
                let known = self.node(&path).map(|n| property_names(&self.schema, n));
                for name in unexpected {
                    let mut p = path.clone();
                    p.push(name.clone());
                    let hint = known
                        .as_ref()
                        .and_then(|k| closest(name, k))
                        .map(|c| format!("; did you mean `{c}`?"))
                        .unwrap_or_default();
                    push(p.join("."), format!("unknown key `{name}`{hint}"));
                }
                return;
            }
            Kind::Enum { options } if !secret => {
                if let Some(options) = options.as_array() {
                    push(path.join("."), not_listed(error.instance(), options));
                    return;
                }
            }
            Kind::AnyOf { context } | Kind::OneOfNotValid { context } if !secret => {
                // The validator's error tree is finite, so this recursion ends.
                if let Some(reasons) = only_fitting(context, path.len()) {
                    for reason in reasons {
                        self.describe(reason, provenance, out);
                    }
                    return;
                }
                if let Some((tag, message)) = self.unknown_tag(&path, error.instance()) {
                    let mut p = path.clone();
                    p.push(tag);
                    push(p.join("."), message);
                    return;
                }
                if let Some(message) = self.not_one_of(&path, error.instance()) {
                    push(path.join("."), message);
                    return;
                }
            }
            Kind::Type { kind } if !secret => {
                if let Some(hint) = list_hint(kind, error.instance()) {
                    push(path.join("."), format!("{error}; {hint}"));
                    return;
                }
            }
            _ => {}
        }
        let message = if secret {
            error.masked_with("the secret value").to_string()
        } else {
            error.to_string()
        };
        push(path.join("."), message);
    }

    /// For a table of an internally tagged enum whose tag names no variant: the tag's key and
    /// `"fxed" is not one of: "fixed", "auto"; did you mean "fixed"?` (or that it is missing).
    fn unknown_tag(&self, path: &[String], given: &Value) -> Option<(String, String)> {
        let given = given.as_object()?;
        let node = deref(&self.schema, self.node(path)?);
        let variants: Vec<&Value> = ["anyOf", "oneOf"]
            .into_iter()
            .filter_map(|k| node.get(k).and_then(Value::as_array))
            .flatten()
            .map(|v| deref(&self.schema, v))
            .collect();
        let tag_value = |variant: &Value, tag: &str| {
            variant
                .get("properties")?
                .get(tag)?
                .get("const")?
                .as_str()
                .map(str::to_owned)
        };
        let first = variants.first()?.get("properties")?.as_object()?;
        let (tag, words) = first.keys().find_map(|tag| {
            let words: Option<Vec<String>> = variants.iter().map(|v| tag_value(v, tag)).collect();
            words.map(|w| (tag.clone(), w))
        })?;
        let listed: Vec<String> = words.iter().map(|w| format!("{w:?}")).collect();
        let named = given.get(&tag).and_then(Value::as_str);
        if named.is_some_and(|n| words.iter().any(|w| w == n)) {
            return None;
        }
        let message = match given.get(&tag) {
            None => format!("missing; write one of: {}", listed.join(", ")),
            Some(value) => one_of_message(value, &listed, &words),
        };
        Some((tag, message))
    }

    /// `"paralel" is not one of: "parallel", "sequential"; did you mean "parallel"?`, from
    /// the values and shapes the schema at `path` accepts (None when it lists none).
    fn not_one_of(&self, path: &[String], given: &Value) -> Option<String> {
        let mut accepted = Accepted::default();
        accepted.collect(&self.schema, self.node(path)?, 0);
        if accepted.words.is_empty() && accepted.shapes.is_empty() {
            return None;
        }
        let listed: Vec<String> = accepted
            .words
            .iter()
            .map(|w| format!("{w:?}"))
            .chain(accepted.shapes.iter().cloned())
            .collect();
        Some(one_of_message(given, &listed, &accepted.words))
    }

    /// The schema node for a key path, if the schema describes it.
    pub(crate) fn node<S: AsRef<str>>(&self, path: &[S]) -> Option<&Value> {
        let mut node = &self.schema;
        for seg in path {
            node = child(&self.schema, node, seg.as_ref(), false)?.0;
        }
        Some(node)
    }

    /// Resolves each segment (case-insensitively if asked) to the property name the schema
    /// uses, returning the canonical path and the schema of its last segment.
    pub(crate) fn resolve(&self, path: &[String], ci: bool) -> Option<(Vec<String>, &Value)> {
        let mut node = &self.schema;
        let mut out = Vec::with_capacity(path.len());
        for seg in path {
            let (next, name) = child(&self.schema, node, seg, ci)?;
            out.push(name);
            node = next;
        }
        Some((out, node))
    }

    pub(crate) fn is_secret_path(&self, path: &[String]) -> bool {
        let mut node = &self.schema;
        for seg in path {
            if is_secret(&self.schema, node) {
                return true;
            }
            match child(&self.schema, node, seg, false) {
                Some((n, _)) => node = n,
                None => return false,
            }
        }
        is_secret(&self.schema, node)
    }

    /// Converts an environment or override string to the type the schema expects there.
    pub(crate) fn coerce(&self, node: &Value, raw: &str) -> Value {
        coerce(raw, &types(&self.schema, node, 0))
    }

    /// Replaces every secret inside `value` (located at `node`) with `"[redacted]"`.
    /// Returns whether anything was redacted.
    pub(crate) fn redact(&self, node: &Value, value: &mut Value) -> bool {
        redact(&self.schema, node, value, 0)
    }
}

/// Collects the key patterns of secrets, following local `$ref`s (cycles cut).
fn secret_patterns<'a>(
    root: &'a Value,
    node: &'a Value,
    path: &mut Vec<Option<String>>,
    refs: &mut Vec<&'a str>,
    out: &mut Vec<Vec<Option<String>>>,
) {
    if is_secret(root, node) {
        out.push(path.clone());
        return;
    }
    if path.len() > 32 {
        return;
    }
    let reference = node.get("$ref").and_then(Value::as_str);
    if let Some(r) = reference {
        if refs.contains(&r) {
            return;
        }
        refs.push(r);
    }
    let target = deref(root, node);
    if let Some(props) = target.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            path.push(Some(k.clone()));
            secret_patterns(root, v, path, refs, out);
            path.pop();
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v) = target.get(key).filter(|v| v.is_object()) {
            path.push(None);
            secret_patterns(root, v, path, refs, out);
            path.pop();
        }
    }
    if let Some(items) = target.get("prefixItems").and_then(Value::as_array) {
        for (i, v) in items.iter().enumerate() {
            path.push(Some(i.to_string()));
            secret_patterns(root, v, path, refs, out);
            path.pop();
        }
    }
    for b in branches(target) {
        secret_patterns(root, b, path, refs, out);
    }
    if reference.is_some() {
        refs.pop();
    }
}

fn matches_pattern(value: &Value, pattern: &[Option<String>]) -> bool {
    let Some((first, rest)) = pattern.split_first() else {
        return !value.is_null();
    };
    match (value, first) {
        (Value::Object(m), Some(k)) => m.get(k).is_some_and(|v| matches_pattern(v, rest)),
        (Value::Object(m), None) => m.values().any(|v| matches_pattern(v, rest)),
        (Value::Array(a), Some(k)) => k
            .parse::<usize>()
            .ok()
            .and_then(|i| a.get(i))
            .is_some_and(|v| matches_pattern(v, rest)),
        (Value::Array(a), None) => a.iter().any(|v| matches_pattern(v, rest)),
        _ => false,
    }
}

fn deref<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    for _ in 0..32 {
        match node.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with('#') => match root.pointer(&r[1..]) {
                Some(target) => node = target,
                None => return node,
            },
            _ => return node,
        }
    }
    node
}

fn branches(node: &Value) -> impl Iterator<Item = &Value> {
    ["anyOf", "oneOf", "allOf"]
        .into_iter()
        .filter_map(|k| node.get(k).and_then(Value::as_array))
        .flatten()
}

fn child<'a>(root: &'a Value, node: &'a Value, seg: &str, ci: bool) -> Option<(&'a Value, String)> {
    let node = deref(root, node);
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        if let Some(v) = props.get(seg) {
            return Some((v, seg.to_owned()));
        }
        if ci && let Some((k, v)) = props.iter().find(|(k, _)| k.eq_ignore_ascii_case(seg)) {
            return Some((v, k.clone()));
        }
    }
    if let Ok(index) = seg.parse::<usize>() {
        if let Some(v) = node
            .get("prefixItems")
            .and_then(Value::as_array)
            .and_then(|items| items.get(index))
        {
            return Some((v, seg.to_owned()));
        }
        if let Some(v) = node
            .get("items")
            .filter(|v| v.is_object() || v.is_boolean())
        {
            return Some((v, seg.to_owned()));
        }
    }
    match node.get("additionalProperties") {
        Some(v @ Value::Object(_)) => return Some((v, seg.to_owned())),
        Some(Value::Bool(true)) => return Some((ANY, seg.to_owned())),
        _ => {}
    }
    if node.get("patternProperties").is_some() {
        return Some((ANY, seg.to_owned()));
    }
    branches(node).find_map(|b| child(root, b, seg, ci))
}

/// The keys a table declares, its alternatives' included (a tagged enum's variants, the table
/// form of `"majority" | { at_least = n }`).
fn property_names(root: &Value, node: &Value) -> Vec<String> {
    let mut names = Vec::new();
    collect_property_names(root, node, &mut names, 0);
    names
}

fn collect_property_names(root: &Value, node: &Value, names: &mut Vec<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let node = deref(root, node);
    let declared = node.get("properties").and_then(Value::as_object);
    for name in declared.into_iter().flat_map(Map::keys) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    for branch in branches(node) {
        collect_property_names(root, branch, names, depth + 1);
    }
}

/// How deep `$ref`s and nested alternatives are followed when explaining a violation.
const MAX_DEPTH: usize = 16;

/// The errors of the one alternative whose type (and tag, for a tagged enum) the value at
/// depth `depth` has, when exactly one has them: what is wrong with the value is said there.
fn only_fitting<'e, 'v>(
    alternatives: &'e [Vec<jsonschema::ValidationError<'v>>],
    depth: usize,
) -> Option<&'e [jsonschema::ValidationError<'v>]> {
    use jsonschema::error::ValidationErrorKind as Kind;
    // The value itself has another type or value, or its tag (a key of it) names another
    // variant; a wrong value deeper inside does not make the alternative a mismatch.
    let mismatch = |e: &jsonschema::ValidationError<'_>| {
        let at = e.instance_path().iter().count();
        match e.kind() {
            Kind::Type { .. } | Kind::Enum { .. } => at == depth,
            Kind::Constant { .. } => at <= depth + 1,
            _ => false,
        }
    };
    let mut fitting = alternatives
        .iter()
        .filter(|errors| !errors.is_empty() && !errors.iter().any(mismatch));
    match (fitting.next(), fitting.next()) {
        (Some(errors), None) => Some(errors),
        _ => None,
    }
}

/// What a schema node accepts, for "is not one of" messages: its string constants, and the
/// other shapes it takes ("a table with `at_least`", "a number").
#[derive(Default)]
struct Accepted {
    words: Vec<String>,
    shapes: Vec<String>,
}

impl Accepted {
    fn collect(&mut self, root: &Value, node: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let node = deref(root, node);
        let mut constants: Vec<&Value> = node.get("const").into_iter().collect();
        if let Some(values) = node.get("enum").and_then(Value::as_array) {
            constants.extend(values);
        }
        if constants.is_empty() {
            let shapes = match node.get("type") {
                Some(Value::String(t)) => vec![t.as_str()],
                Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for shape in shapes {
                let described = match shape {
                    "object" => Some(table_shape(node)),
                    "array" => Some("a list".to_owned()),
                    "string" => Some("a string".to_owned()),
                    "integer" => Some("a whole number".to_owned()),
                    "number" => Some("a number".to_owned()),
                    "boolean" => Some("true or false".to_owned()),
                    _ => None,
                };
                self.shapes
                    .extend(described.filter(|d| !self.shapes.contains(d)));
            }
        }
        for constant in constants {
            if let Some(word) = constant.as_str() {
                if !self.words.iter().any(|w| w == word) {
                    self.words.push(word.to_owned());
                }
            } else if !constant.is_null() {
                let shown = constant.to_string();
                if !self.shapes.contains(&shown) {
                    self.shapes.push(shown);
                }
            }
        }
        for key in ["anyOf", "oneOf"] {
            for branch in node
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.collect(root, branch, depth + 1);
            }
        }
    }
}

/// `"fsat" is not one of: "slow", "fast"; did you mean "fast"?` for a value outside an `enum`.
fn not_listed(given: &Value, options: &[Value]) -> String {
    let words: Vec<String> = options
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let listed: Vec<String> = options.iter().map(Value::to_string).collect();
    one_of_message(given, &listed, &words)
}

/// `GIVEN is not one of: LISTED`, with "did you mean" the closest of `words` to a string.
fn one_of_message(given: &Value, listed: &[String], words: &[String]) -> String {
    let hint = given
        .as_str()
        .and_then(|g| closest(g, words))
        .map(|w| format!("; did you mean {w:?}?"))
        .unwrap_or_default();
    format!("{given} is not one of: {}{hint}", listed.join(", "))
}

/// `a table`, or `a table with `at_least`` naming the keys it requires.
fn table_shape(node: &Value) -> String {
    let required: Vec<String> = node
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|k| format!("`{k}`"))
        .collect();
    if required.is_empty() {
        "a table".to_owned()
    } else {
        format!("a table with {}", required.join(", "))
    }
}

/// The closest known key within edit distance 2, for "did you mean" hints.
fn closest<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (distance(name, k), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn is_secret(root: &Value, node: &Value) -> bool {
    if node.get(SECRET_KEYWORD) == Some(&Value::Bool(true)) {
        return true;
    }
    let target = deref(root, node);
    if target.get(SECRET_KEYWORD) == Some(&Value::Bool(true)) {
        return true;
    }
    branches(target).any(|b| {
        let b = deref(root, b);
        b.get(SECRET_KEYWORD) == Some(&Value::Bool(true))
    })
}

fn types(root: &Value, node: &Value, depth: usize) -> Vec<String> {
    let node = deref(root, node);
    let mut out: Vec<String> = match node.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    if out.is_empty() {
        if let Some(values) = node.get("enum").and_then(Value::as_array) {
            out.extend(values.iter().map(json_type));
        }
        if let Some(c) = node.get("const") {
            out.push(json_type(c));
        }
    }
    if depth < 8 {
        for b in branches(node) {
            out.extend(types(root, b, depth + 1));
        }
    }
    out
}

fn json_type(v: &Value) -> String {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
    .to_owned()
}

/// For a text where a list belongs (`--set agents.0.args=a,b`, `args = "a b"`): how the list
/// is written, with the text's own items (split at commas, else at spaces).
fn list_hint(kind: &jsonschema::error::TypeKind, given: &Value) -> Option<String> {
    use jsonschema::JsonType;
    use jsonschema::error::TypeKind;
    let wants_list = match kind {
        TypeKind::Single(ty) => *ty == JsonType::Array,
        TypeKind::Multiple(set) => set.contains(JsonType::Array),
    };
    let text = given.as_str().filter(|_| wants_list)?;
    let items: Vec<&str> = if text.contains(',') {
        text.split(',').map(str::trim).collect()
    } else {
        text.split_whitespace().collect()
    };
    let list = Value::Array(
        items
            .into_iter()
            .filter(|item| !item.is_empty())
            .map(|item| Value::String(item.to_owned()))
            .collect(),
    );
    Some(format!("write a list, e.g. {list}"))
}

fn coerce(raw: &str, types: &[String]) -> Value {
    let has = |t: &str| types.iter().any(|x| x == t);
    if types.is_empty() || has("string") {
        return Value::String(raw.to_owned());
    }
    let trimmed = raw.trim();
    if has("integer") {
        if let Ok(n) = trimmed.parse::<i64>() {
            return Value::from(n);
        }
        if let Ok(n) = trimmed.parse::<u64>() {
            return Value::from(n);
        }
    }
    if has("number")
        && let Some(n) = trimmed
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
    {
        return Value::Number(n);
    }
    if has("boolean") {
        match trimmed.to_ascii_lowercase().as_str() {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
    }
    if has("null") && (trimmed.is_empty() || trimmed == "null") {
        return Value::Null;
    }
    if (has("array") || has("object"))
        && let Ok(v) = serde_json::from_str::<Value>(trimmed)
        && (v.is_array() || v.is_object())
    {
        return v;
    }
    // Leave it a string: validation then reports the type mismatch against its source.
    Value::String(raw.to_owned())
}

fn redact(root: &Value, node: &Value, value: &mut Value, depth: usize) -> bool {
    if is_secret(root, node) {
        *value = Value::String(REDACTED.to_owned());
        return true;
    }
    if depth > 64 {
        return false;
    }
    let mut any = false;
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if let Some((n, _)) = child(root, node, k, false) {
                    any |= redact(root, n, v, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                if let Some((n, _)) = child(root, node, &i.to_string(), false) {
                    any |= redact(root, n, v, depth + 1);
                }
            }
        }
        _ => {}
    }
    any
}

/// Reads a value at a dotted path.
pub(crate) fn get<'a, S: AsRef<str>>(value: &'a Value, path: &[S]) -> Option<&'a Value> {
    let mut v = value;
    for seg in path {
        let seg = seg.as_ref();
        v = match v {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Writes a value at a path, creating tables as needed. Array indices may address an existing
/// element or the one just past the end (appending).
pub(crate) fn set(root: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return match value {
            Value::Object(_) => {
                merge(root, value);
                Ok(())
            }
            _ => Err("the document root must be a table".into()),
        };
    };
    let mut cur = root;
    for seg in parents {
        cur = step(cur, seg)?;
    }
    if cur.is_null() {
        *cur = Value::Object(Map::new());
    }
    match cur {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = index(last, a.len())?;
            if i == a.len() {
                a.push(value);
            } else {
                a[i] = value;
            }
            Ok(())
        }
        _ => Err(format!(
            "cannot set `{last}` inside a value that is not a table or array"
        )),
    }
}

fn step<'a>(cur: &'a mut Value, seg: &str) -> Result<&'a mut Value, String> {
    if cur.is_null() {
        *cur = Value::Object(Map::new());
    }
    match cur {
        Value::Object(m) => Ok(m.entry(seg.to_owned()).or_insert(Value::Null)),
        Value::Array(a) => {
            let i = index(seg, a.len())?;
            if i == a.len() {
                a.push(Value::Object(Map::new()));
            }
            Ok(&mut a[i])
        }
        _ => Err(format!(
            "cannot set `{seg}` inside a value that is not a table or array"
        )),
    }
}

fn index(seg: &str, len: usize) -> Result<usize, String> {
    match seg.parse::<usize>() {
        Ok(i) if i <= len => Ok(i),
        Ok(i) => Err(format!("index {i} is past the end of an array of {len}")),
        Err(_) => Err(format!("`{seg}` is not an array index")),
    }
}

/// Deep-merges `src` into `dst`: tables merge key by key; everything else is replaced.
pub(crate) fn merge(dst: &mut Value, src: Value) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                match d.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        d.insert(k, v);
                    }
                }
            }
        }
        (d, s) => *d = s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_does_not_touch_property_named_properties() {
        let mut s = json!({
            "type": "object",
            "properties": {"properties": {"type": "object", "properties": {"a": {}}}},
            "$defs": {"X": {"properties": {"b": {}}}}
        });
        make_strict(&mut s);
        assert_eq!(s["additionalProperties"], false);
        assert!(s["properties"].get("additionalProperties").is_none());
        assert_eq!(s["properties"]["properties"]["additionalProperties"], false);
        assert_eq!(s["$defs"]["X"]["additionalProperties"], false);
    }

    #[test]
    fn coercion_follows_schema_types() {
        let int = vec!["integer".to_owned()];
        assert_eq!(coerce("42", &int), json!(42));
        assert_eq!(coerce("soon", &int), json!("soon"));
        let opt_bool = vec!["boolean".to_owned(), "null".to_owned()];
        assert_eq!(coerce("TRUE", &opt_bool), json!(true));
        assert_eq!(coerce("", &opt_bool), Value::Null);
        assert_eq!(coerce("007", &["string".to_owned()]), json!("007"));
        assert_eq!(coerce("[1,2]", &["array".to_owned()]), json!([1, 2]));
        assert_eq!(coerce("1.5", &["number".to_owned()]), json!(1.5));
    }

    #[test]
    fn set_and_merge() {
        let mut v = json!({"a": {"b": 1}, "l": [1]});
        assert!(set(&mut v, &["a".into(), "c".into()], json!(2)).is_ok());
        assert!(set(&mut v, &["l".into(), "1".into()], json!(5)).is_ok());
        assert!(set(&mut v, &["l".into(), "5".into()], json!(5)).is_err());
        assert!(set(&mut v, &["a".into(), "b".into(), "x".into()], json!(5)).is_err());
        merge(&mut v, json!({"a": {"b": 3}, "l": [9]}));
        assert_eq!(v, json!({"a": {"b": 3, "c": 2}, "l": [9]}));
        assert_eq!(get(&v, &["a", "c"]), Some(&json!(2)));
    }

    #[test]
    fn secret_patterns_find_nested_and_repeated_secrets() {
        let schema = json!({
            "type": "object",
            "properties": {
                "token": {"type": "string", "x-synod-secret": true},
                "agents": {"type": "array", "items": {"$ref": "#/$defs/Agent"}},
                "tree": {"$ref": "#/$defs/Tree"}
            },
            "$defs": {
                "Agent": {"properties": {"key": {"type": ["string", "null"], "x-synod-secret": true}}},
                "Tree": {"properties": {"child": {"$ref": "#/$defs/Tree"}}}
            }
        });
        let c = Compiled::new(schema).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.secrets.len(), 2);
        assert!(c.contains_secret(&json!({"token": "x"})));
        assert!(!c.contains_secret(&json!({"token": null, "agents": [{"key": null}]})));
        assert!(c.contains_secret(&json!({"agents": [{}, {"key": "k"}]})));
        assert!(!c.contains_secret(&json!({"tree": {"child": {}}})));
    }

    #[test]
    fn hints_and_distance() {
        let known = vec!["timeout".to_owned(), "model".to_owned()];
        assert_eq!(closest("timout", &known), Some("timeout"));
        assert_eq!(closest("zzz", &known), None);
    }
}
