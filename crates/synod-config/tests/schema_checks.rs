//! What the JSON Schema generated from a configuration type says, and what validation against
//! it accepts, rejects and reports: strictness in every nested shape, "did you mean" hints,
//! how environment and override strings are typed, and where secrets are found and redacted
//! (see docs/TESTING.md, mutation testing).

mod common;

use std::collections::BTreeMap;

use common::{env, no_env, write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use synod_config::{CompiledSchema, Error, JsonSchema, Loaded, Loader, REDACTED, Secret, Warning};

fn ok<T>(r: Result<T, Error>) -> T {
    r.unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

/// The violations of a load or validation that must fail, as `(key, message)`.
fn violations<T: std::fmt::Debug>(r: Result<T, Error>) -> Vec<(String, String)> {
    match r {
        Err(Error::Invalid { violations }) => {
            violations.into_iter().map(|v| (v.key, v.message)).collect()
        }
        other => panic!("expected violations, got {other:?}"),
    }
}

#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
struct Limits {
    size: u32,
}

/// Internally tagged: each variant is a `oneOf` branch listing its own properties.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Mode {
    Fixed {
        size: u32,
    },
    #[default]
    Auto,
}

/// Inlined where used: an object schema directly under `items` and `prefixItems`.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(inline)]
struct Step {
    name: String,
}

/// A table that takes any other key as a number (`#[serde(flatten)]` of a map).
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
struct Weights {
    base: u32,
    #[serde(flatten)]
    others: BTreeMap<String, u32>,
}

#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
struct Shapes {
    limits: Limits,
    mode: Mode,
    steps: Vec<Step>,
    pair: (Step, u32),
    weights: Weights,
    retries: Option<u32>,
}

#[test]
fn the_generated_schema_rejects_unknown_keys_in_every_nested_shape() {
    let schema = ok(CompiledSchema::for_type::<Shapes>());
    let document = json!({
        "limits": {"sise": 1},
        "mode": {"kind": "fixed", "size": 2, "szie": 3},
        "steps": [{"name": "a"}, {"nmae": "b"}],
        "pair": [{"name": "c", "extra": true}, 4],
        "weights": {"base": 1, "gpu": 5},
        "retires": 2,
    });
    let found = violations(schema.validate(&document));
    let pairs: Vec<(&str, &str)> = found
        .iter()
        .map(|(k, m)| (k.as_str(), m.as_str()))
        .collect();
    // A struct in `$defs`, the top level, a tuple member (`prefixItems`), an element of a list
    // (`items`) and a variant of a tagged enum (`oneOf`: the variant its tag names) each
    // reject a misspelt key, listed by key; the flattened map takes `gpu` as one of its own.
    assert_eq!(
        pairs,
        [
            ("limits.sise", "unknown key `sise`; did you mean `size`?"),
            ("mode.szie", "unknown key `szie`; did you mean `size`?"),
            ("pair.0.extra", "unknown key `extra`"),
            ("retires", "unknown key `retires`; did you mean `retries`?"),
            ("steps.1.nmae", "unknown key `nmae`; did you mean `name`?"),
        ]
    );

    let valid = json!({"mode": {"kind": "fixed", "size": 2}, "weights": {"gpu": 5}, "pair": [{"name": "c"}, 4]});
    assert!(schema.is_valid(&valid));
    assert!(schema.validate(&valid).is_ok());
    assert!(!schema.is_valid(&document));
    assert!(!schema.is_valid(&json!({"weights": {"gpu": "x"}})));
}

#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Speed {
    #[default]
    Slow,
    Fast,
    Faster,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Named {
    All,
    Majority,
}

/// `"all" | "majority" | { at_least = n }`, as synod's quorum.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
enum Quorum {
    Named(Named),
    AtLeast {
        #[schemars(range(min = 1))]
        at_least: u32,
    },
}

impl Default for Quorum {
    fn default() -> Self {
        Quorum::Named(Named::Majority)
    }
}

#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
struct Choices {
    speed: Speed,
    optional_speed: Option<Speed>,
    quorum: Quorum,
    mode: Mode,
}

#[test]
fn a_value_that_matches_none_of_the_alternatives_is_told_what_they_are() {
    let schema = ok(CompiledSchema::for_type::<Choices>());
    let cases: [(Value, &[(&str, &str)]); 9] = [
        (
            json!({"speed": "fsat"}),
            &[(
                "speed",
                r#""fsat" is not one of: "slow", "fast", "faster"; did you mean "fast"?"#,
            )],
        ),
        // An optional value: `null` is no word anyone writes in TOML, so it is not listed.
        (
            json!({"optional_speed": "turbo"}),
            &[(
                "optional_speed",
                r#""turbo" is not one of: "slow", "fast", "faster""#,
            )],
        ),
        (
            json!({"quorum": "most"}),
            &[(
                "quorum",
                r#""most" is not one of: "all", "majority", a table with `at_least`"#,
            )],
        ),
        (
            json!({"quorum": 5}),
            &[(
                "quorum",
                r#"5 is not one of: "all", "majority", a table with `at_least`"#,
            )],
        ),
        // A table is the one alternative of its type: its own reason is given, at its key.
        (
            json!({"quorum": {"at_least": 0}}),
            &[("quorum.at_least", "0 is less than the minimum of 1")],
        ),
        (
            json!({"quorum": {"at_leest": 2}}),
            &[
                ("quorum", r#""at_least" is a required property"#),
                (
                    "quorum.at_leest",
                    "unknown key `at_leest`; did you mean `at_least`?",
                ),
            ],
        ),
        // An internally tagged enum: the tag names no variant, or is missing.
        (
            json!({"mode": {"kind": "fxed", "size": 1}}),
            &[(
                "mode.kind",
                r#""fxed" is not one of: "fixed", "auto"; did you mean "fixed"?"#,
            )],
        ),
        (
            json!({"mode": {"size": 1}}),
            &[("mode.kind", r#"missing; write one of: "fixed", "auto""#)],
        ),
        // The tag names a variant: that variant says what is wrong.
        (
            json!({"mode": {"kind": "fixed", "size": "big"}}),
            &[("mode.size", r#""big" is not of type "integer""#)],
        ),
    ];
    for (document, expected) in cases {
        let found = violations(schema.validate(&document));
        let pairs: Vec<(&str, &str)> = found
            .iter()
            .map(|(k, m)| (k.as_str(), m.as_str()))
            .collect();
        assert_eq!(pairs, expected, "{document}");
    }
    let valid = json!({"speed": "fast", "optional_speed": "faster", "quorum": {"at_least": 2}, "mode": {"kind": "auto"}});
    assert!(schema.validate(&valid).is_ok());
}

#[test]
fn the_accepted_values_and_shapes_are_each_listed_once() {
    let schema = ok(CompiledSchema::new(json!({
        "type": "object",
        "properties": {
            "level": {"anyOf": [
                {"enum": ["low", "high", null]},
                {"const": "low"},
                {"enum": [1, 2]},
                {"type": "array"},
                {"type": ["boolean", "integer"]},
                {"type": "array", "minItems": 1},
            ]},
            "size": {"anyOf": [{"const": "auto"}, {"type": "number"}, {"type": "string", "pattern": "^[0-9]+%$"}]},
        },
    })));
    let found = violations(schema.validate(&json!({"level": "hgh", "size": true})));
    assert_eq!(
        found,
        [
            (
                "level".to_owned(),
                r#""hgh" is not one of: "low", "high", 1, 2, a list, true or false, a whole number; did you mean "high"?"#
                    .to_owned()
            ),
            (
                "size".to_owned(),
                r#"true is not one of: "auto", a number, a string"#.to_owned()
            ),
        ]
    );
}

#[test]
fn a_secret_outside_its_choices_is_reported_without_its_value() {
    let schema = ok(CompiledSchema::new(json!({
        "type": "object",
        "properties": {
            "pin": {"type": "string", "enum": ["1111", "2222"], "x-synod-secret": true},
            "token": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "x-synod-secret": true
            },
        },
    })));
    let found = violations(schema.validate(&json!({"pin": "hunter2", "token": 31337})));
    assert_eq!(found.len(), 2, "{found:?}");
    for (key, message) in &found {
        assert!(
            !message.contains("hunter2") && !message.contains("31337"),
            "{key}: {message}"
        );
        assert!(message.contains("the secret value"), "{key}: {message}");
    }
}

#[test]
fn the_generated_schema_marks_only_tables_with_declared_keys_as_closed() {
    let schema = synod_config::schema::<Shapes>();
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["$defs"]["Limits"]["additionalProperties"], false);
    assert_eq!(
        schema["properties"]["steps"]["items"]["additionalProperties"],
        false
    );
    assert_eq!(
        schema["properties"]["pair"]["prefixItems"][0]["additionalProperties"],
        false
    );
    // A table that declares what other keys hold keeps that, and a scalar gets nothing.
    let weights = &schema["$defs"]["Weights"];
    assert_eq!(
        weights["additionalProperties"]["type"], "integer",
        "{weights}"
    );
    assert!(
        schema["properties"]["retries"]
            .get("additionalProperties")
            .is_none(),
        "{}",
        schema["properties"]["retries"]
    );
    // The compiled schema is the generated one, and printing it does not dump the schema.
    let compiled = ok(CompiledSchema::for_type::<Shapes>());
    assert_eq!(compiled.schema(), &schema);
    assert_eq!(format!("{compiled:?}"), "CompiledSchema(Compiled { .. })");
}

#[test]
fn unknown_keys_hint_the_closest_known_key_within_two_edits() {
    let schema = ok(CompiledSchema::new(json!({
        "type": "object",
        "properties": {
            "timeout": {},
            "retries": {},
            "port": {},
            "server": {
                "type": "object",
                "properties": {"host": {}, "port": {}},
                "additionalProperties": false
            }
        },
        "additionalProperties": false
    })));
    let hint = |key: &str| -> String {
        let found = violations(schema.validate(&json!({ key: 1 })));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, key);
        found[0].1.clone()
    };
    let did_you_mean =
        |key: &str, known: &str| format!("unknown key `{key}`; did you mean `{known}`?");
    // One edit: a letter missing, one too many, one wrong; two: a swap.
    assert_eq!(hint("timout"), did_you_mean("timout", "timeout"));
    assert_eq!(hint("timeoutt"), did_you_mean("timeoutt", "timeout"));
    assert_eq!(hint("portt"), did_you_mean("portt", "port"));
    assert_eq!(hint("pot"), did_you_mean("pot", "port"));
    assert_eq!(hint("prot"), did_you_mean("prot", "port"));
    assert_eq!(hint("retires"), did_you_mean("retires", "retries"));
    // Three edits or more: no guess.
    assert_eq!(hint("time"), "unknown key `time`");
    assert_eq!(hint("retry"), "unknown key `retry`");
    assert_eq!(hint("timeout_secs"), "unknown key `timeout_secs`");
    assert_eq!(hint("zzz"), "unknown key `zzz`");
    // Nested: the hint comes from the table the key is in.
    let found = violations(schema.validate(&json!({"server": {"hots": "a"}})));
    assert_eq!(
        found,
        vec![(
            "server.hots".to_owned(),
            "unknown key `hots`; did you mean `host`?".to_owned()
        )]
    );
}

/// Fields whose types make the schema list several types, or none, for env typing.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
enum CountOrSwitch {
    Count(u32),
    Switch(bool),
}

impl Default for CountOrSwitch {
    fn default() -> Self {
        CountOrSwitch::Switch(false)
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
struct Typed {
    retries: Option<u32>,
    label: Option<String>,
    verbose: bool,
    workers: u32,
    limit: CountOrSwitch,
    tags: Vec<String>,
    labels: BTreeMap<String, String>,
    nested: Option<Limits>,
}

impl Default for Typed {
    fn default() -> Self {
        Typed {
            retries: Some(3),
            label: None,
            verbose: true,
            workers: 1,
            limit: CountOrSwitch::default(),
            tags: vec!["a".into(), "b".into()],
            labels: BTreeMap::new(),
            nested: None,
        }
    }
}

fn load_typed(vars: &[(&str, &str)]) -> Result<Loaded<Typed>, Error> {
    Loader::<Typed>::new().env_source(env(vars)).load()
}

#[test]
fn environment_strings_take_the_types_the_schema_allows() {
    let loaded = ok(load_typed(&[
        ("SYNOD_RETRIES", "5"),
        ("SYNOD_LABEL", "null"),
        ("SYNOD_VERBOSE", "False"),
        ("SYNOD_LIMIT", "7"),
        ("SYNOD_LABELS", r#"{"team": "core"}"#),
    ]));
    let c = &loaded.value;
    assert_eq!(c.retries, Some(5));
    // A string field takes the text as it is, even `null`.
    assert_eq!(c.label.as_deref(), Some("null"));
    assert!(!c.verbose);
    // A type listed only in an `anyOf` branch (an untagged enum) counts.
    assert_eq!(c.limit, CountOrSwitch::Count(7));
    assert_eq!(c.labels.get("team").map(String::as_str), Some("core"));
    assert!(loaded.warnings().is_empty(), "{:?}", loaded.warnings());

    let loaded = ok(load_typed(&[
        ("SYNOD_RETRIES", "null"),
        ("SYNOD_LABEL", ""),
        ("SYNOD_LIMIT", "TRUE"),
    ]));
    assert_eq!(loaded.value.retries, None);
    assert_eq!(loaded.value.label.as_deref(), Some(""));
    assert_eq!(loaded.value.limit, CountOrSwitch::Switch(true));
}

#[test]
fn a_string_that_does_not_fit_is_reported_as_the_text_given() {
    let found = violations(load_typed(&[
        ("SYNOD_WORKERS", "null"),
        ("SYNOD_VERBOSE", "yes"),
        ("SYNOD_TAGS", "a, b,"),
    ]));
    assert_eq!(
        found,
        vec![
            // Where a list belongs, the message shows the text written as one.
            (
                "tags".to_owned(),
                r#""a, b," is not of type "array"; write a list, e.g. ["a","b"]"#.to_owned()
            ),
            (
                "verbose".to_owned(),
                r#""yes" is not of type "boolean""#.to_owned()
            ),
            (
                "workers".to_owned(),
                r#""null" is not of type "integer""#.to_owned()
            ),
        ]
    );
    // An override that cannot apply shows the value given (it is not a secret).
    match Loader::<Typed>::new()
        .env_source(no_env())
        .set_override("workers.max", "9")
        .load()
    {
        Err(Error::Override { input, .. }) => assert_eq!(input, "workers.max=9"),
        other => panic!("expected an override error, got {other:?}"),
    }
    // Without commas the words are the items; an override is told the same.
    let found = violations(
        Loader::<Typed>::new()
            .env_source(no_env())
            .set_override("tags", " x  y ")
            .load(),
    );
    assert_eq!(
        found,
        vec![(
            "tags".to_owned(),
            r#"" x  y " is not of type "array"; write a list, e.g. ["x","y"]"#.to_owned()
        )]
    );
}

#[test]
fn list_elements_are_replaced_or_appended_by_index() {
    let loaded = ok(load_typed(&[
        ("SYNOD_TAGS__1", "x"),
        ("SYNOD_TAGS__2", "y"),
    ]));
    assert_eq!(loaded.value.tags, ["a", "x", "y"]);
    let loaded = ok(Loader::<Typed>::new()
        .env_source(no_env())
        .set_override("tags.0", "z")
        .load());
    assert_eq!(loaded.value.tags, ["z", "b"]);
    match Loader::<Typed>::new()
        .env_source(no_env())
        .set_override("tags.3", "z")
        .load()
    {
        Err(Error::Override { input, message }) => {
            assert_eq!(input, "tags.3=z");
            assert_eq!(message, "index 3 is past the end of an array of 2");
        }
        other => panic!("expected an override error, got {other:?}"),
    }
}

#[test]
fn a_key_inside_an_optional_table_that_is_unset_creates_the_table() {
    // `nested` is `None` (null) by default; setting one of its keys makes it a table.
    let loaded = ok(load_typed(&[("SYNOD_NESTED__SIZE", "4")]));
    assert_eq!(loaded.value.nested.as_ref().map(|n| n.size), Some(4));
    assert!(loaded.warnings().is_empty(), "{:?}", loaded.warnings());
    let loaded = ok(Loader::<Typed>::new()
        .env_source(no_env())
        .set_override("nested.size", "5")
        .load());
    assert_eq!(loaded.value.nested.as_ref().map(|n| n.size), Some(5));
}

#[test]
fn an_override_of_the_whole_document_merges_a_table() {
    let loaded = ok(Loader::<Typed>::new()
        .env_source(no_env())
        .set_override("", r#"{"workers": 4, "labels": {"a": "b"}}"#)
        .load());
    assert_eq!(loaded.value.workers, 4);
    assert_eq!(loaded.value.tags, ["a", "b"]);
    assert_eq!(loaded.value.labels.get("a").map(String::as_str), Some("b"));
    match Loader::<Typed>::new()
        .env_source(no_env())
        .set_override("", "4")
        .load()
    {
        Err(Error::Override { message, .. }) => {
            assert_eq!(message, "the document root must be a table");
        }
        other => panic!("expected an override error, got {other:?}"),
    }
}

/// A loader of an untyped table validated against `schema`.
fn custom(schema: Value) -> Loader<BTreeMap<String, Value>> {
    Loader::<BTreeMap<String, Value>>::new().schema(schema)
}

#[test]
fn a_supplied_schema_types_values_by_enum_const_and_open_tables() {
    let schema = json!({
        "type": "object",
        "properties": {
            "level": {"enum": [1, 2, 3]},
            "ratio": {"enum": [0.5, 1.5]},
            "extra": {"type": "object", "additionalProperties": true}
        },
        "additionalProperties": false
    });
    let loaded = ok(custom(schema)
        .env_source(env(&[
            ("SYNOD_LEVEL", "2"),
            ("SYNOD_RATIO", "1.5"),
            ("SYNOD_EXTRA__ANYTHING", "x"),
        ]))
        .load());
    assert_eq!(loaded.value.get("level"), Some(&json!(2)));
    assert_eq!(loaded.value.get("ratio"), Some(&json!(1.5)));
    // Any key under a table open to all keys is a key, so its variable is no typo.
    assert_eq!(loaded.value.get("extra"), Some(&json!({"anything": "x"})));
    assert!(loaded.warnings().is_empty(), "{:?}", loaded.warnings());
}

#[test]
fn a_schema_whose_alternatives_refer_to_themselves_still_types_values() {
    // `Limit` is a number or, through a reference, a `Limit` again: following the
    // alternatives must stop.
    let schema = json!({
        "type": "object",
        "properties": {"limit": {"$ref": "#/$defs/Limit"}},
        "$defs": {"Limit": {"anyOf": [{"type": "integer"}, {"$ref": "#/$defs/Limit"}]}},
        "additionalProperties": false
    });
    let loaded = ok(custom(schema)
        .env_source(env(&[("SYNOD_LIMIT", "12")]))
        .load());
    assert_eq!(loaded.value.get("limit"), Some(&json!(12)));
}

#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
struct Agent {
    name: String,
    key: Option<Secret>,
}

#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
struct Vault {
    agents: Vec<Agent>,
    tokens: BTreeMap<String, Secret>,
    login: (String, Secret),
    nested: Option<Limits>,
    workers: u32,
}

/// Whether loading `text` from a file others can read warns about its secrets (always false
/// on Windows, which has no mode bits).
fn warns_of_secrets<T>(loader: Loader<T>, name: &str, text: &str) -> bool
where
    T: serde::de::DeserializeOwned + Serialize + Default + JsonSchema,
{
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(dir.path(), name, text);
    common::set_mode(&file, 0o644);
    let loaded = ok(loader.file(&file).env_source(no_env()).load());
    loaded
        .warnings()
        .iter()
        .any(|w| matches!(w, Warning::ReadableSecrets { .. }))
}

#[test]
fn a_readable_file_is_warned_about_wherever_it_sets_a_secret() {
    let vault = || Loader::<Vault>::new();
    assert_eq!(
        warns_of_secrets(vault(), "map.toml", "[tokens]\ngithub = \"t\"\n"),
        cfg!(unix)
    );
    assert_eq!(
        warns_of_secrets(vault(), "tuple.toml", "login = [\"me\", \"pw\"]\n"),
        cfg!(unix)
    );
    assert_eq!(
        warns_of_secrets(
            vault(),
            "list.toml",
            "[[agents]]\nname = \"a\"\nkey = \"k\"\n"
        ),
        cfg!(unix)
    );
    // Tables and lists without a secret set: no warning.
    assert!(!warns_of_secrets(
        vault(),
        "plain.toml",
        "workers = 2\n[[agents]]\nname = \"a\"\n[nested]\nsize = 1\n"
    ));
}

/// A schema nesting `depth` tables `k`, the innermost a secret.
fn nested_secret_schema(depth: usize) -> Value {
    let mut node = json!({"type": "string", "x-synod-secret": true});
    for _ in 0..depth {
        node = json!({"type": "object", "properties": {"k": node}, "additionalProperties": false});
    }
    node
}

#[test]
fn secrets_are_found_and_redacted_deep_inside_the_configuration() {
    // 33 levels down, a secret set by a readable file is still warned about.
    let dotted = vec!["k"; 33].join(".");
    assert_eq!(
        warns_of_secrets(
            custom(nested_secret_schema(33)),
            "deep.toml",
            &format!("{dotted} = \"s3cret\"\n")
        ),
        cfg!(unix)
    );
    // 65 levels down, it is still redacted.
    let dotted = vec!["k"; 65].join(".");
    let loaded = ok(custom(nested_secret_schema(65))
        .env_source(no_env())
        .set_override(dotted, "s3cret")
        .load());
    let shown = loaded.to_redacted_json().to_string();
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains(REDACTED), "{shown}");
}

#[test]
fn explain_says_whether_a_value_holds_a_secret() {
    let loaded = ok(Loader::<Vault>::new()
        .env_source(env(&[
            ("SYNOD_AGENTS", r#"[{"name": "a", "key": "k1"}]"#),
            ("SYNOD_TOKENS__GITHUB", "t1"),
            ("SYNOD_NESTED", r#"{"size": 4}"#),
            ("SYNOD_WORKERS", "2"),
        ]))
        .load());
    let secret = |key: &str| {
        let why = loaded
            .explain(key)
            .unwrap_or_else(|| panic!("no key {key}"));
        (why.secret, why.value)
    };
    assert_eq!(secret("workers"), (false, json!(2)));
    // An optional table (`anyOf` of the table and null) is not a secret.
    assert_eq!(secret("nested"), (false, json!({"size": 4})));
    assert_eq!(secret("agents.0.key"), (true, json!(REDACTED)));
    // A table or list holding a secret is one, with the secret redacted inside it.
    assert_eq!(
        secret("agents"),
        (true, json!([{"name": "a", "key": REDACTED}]))
    );
    assert_eq!(secret("tokens"), (true, json!({"github": REDACTED})));
    let all = loaded.to_redacted_json();
    assert_eq!(all["nested"], json!({"size": 4}));
    assert_eq!(all["agents"][0]["key"], json!(REDACTED));
    assert!(
        !all.to_string().contains("k1") && !all.to_string().contains("t1"),
        "{all}"
    );
}
