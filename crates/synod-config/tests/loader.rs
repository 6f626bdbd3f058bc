//! Loader integration tests against real files in temporary directories.

mod common;

use std::path::Path;

use common::{Config, env, no_env, write};
use synod_config::{Error, Issue, Layer, Loader, Warning};

fn file_at(path: &Path, line: u32, column: u32) -> Layer {
    Layer::File {
        path: path.to_owned(),
        line: Some(line),
        column: Some(column),
    }
}

fn env_layer(var: &str) -> Layer {
    Layer::Env { var: var.into() }
}

fn ok<T>(r: Result<T, Error>) -> T {
    r.unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

#[test]
fn precedence_table_across_all_four_layers() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = write(
        dir.path(),
        "base.toml",
        "max_tokens = 10\n\n[server]\nhost = \"0.0.0.0\"\nport = 8000\n",
    );
    let local = write(dir.path(), "local.yaml", "server:\n  port: 8001\n");
    let loaded = ok(Loader::<Config>::new()
        .file(&base)
        .optional_file(&local)
        .optional_file(dir.path().join("absent.json"))
        .env_source(env(&[
            ("SYNOD_MAX_TOKENS", "20"),
            ("SYNOD_SERVER__REQUEST_TIMEOUT_MS", "900"),
        ]))
        .overrides(["max_tokens=30", "log_level=debug"])
        .load());

    // key, final value, every layer that set it (lowest first).
    let table: Vec<(&str, serde_json::Value, Vec<Layer>)> = vec![
        ("version", 2.into(), vec![Layer::Default]),
        (
            "log_level",
            "debug".into(),
            vec![Layer::Default, Layer::Override],
        ),
        (
            "server.host",
            "0.0.0.0".into(),
            vec![Layer::Default, file_at(&base, 4, 1)],
        ),
        (
            "server.port",
            8001.into(),
            vec![Layer::Default, file_at(&base, 5, 1), file_at(&local, 2, 3)],
        ),
        (
            "server.request_timeout_ms",
            900.into(),
            vec![
                Layer::Default,
                env_layer("SYNOD_SERVER__REQUEST_TIMEOUT_MS"),
            ],
        ),
        (
            "max_tokens",
            30.into(),
            vec![
                Layer::Default,
                file_at(&base, 1, 1),
                env_layer("SYNOD_MAX_TOKENS"),
                Layer::Override,
            ],
        ),
    ];
    for (key, value, layers) in table {
        let why = loaded
            .explain(key)
            .unwrap_or_else(|| panic!("no explanation for {key}"));
        assert_eq!(why.value, value, "{key}");
        assert_eq!(why.layers, layers, "{key}");
        assert_eq!(Some(&why.winner), layers.last(), "{key}");
    }
    assert_eq!(loaded.value.max_tokens, 30);
    assert_eq!(loaded.value.server.port, 8001);
    assert!(loaded.warnings().is_empty(), "{:?}", loaded.warnings());
    assert!(loaded.explain("server.nope").is_none());
}

#[test]
fn explain_names_line_for_array_elements_and_tables() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(
        dir.path(),
        "synod.toml",
        "log_level = \"info\"\n\n[[agents]]\nname = \"a\"\ntimeout = 5\n\n[[agents]]\nname = \"b\"\n  timeout = 7\n",
    );
    let loaded = ok(Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .load());
    let why = ok(loaded.explain("agents.1.timeout").ok_or(Error::Convert {
        message: "missing".into(),
    }));
    assert_eq!(why.winner, file_at(&file, 9, 3));
    assert_eq!(why.value, 7);
    // Bracket syntax works too, and a table explains with the layers below it.
    let same = loaded.explain("agents[1].timeout");
    assert_eq!(same.map(|w| w.winner), Some(file_at(&file, 9, 3)));
    let agents = loaded.explain("agents.0");
    assert_eq!(
        agents.as_ref().map(|w| w.layers.clone()),
        Some(vec![file_at(&file, 4, 1), file_at(&file, 5, 1)])
    );
    // The keys of a table one file set are one entry of `set by`.
    let text = agents.map(|w| w.to_string()).unwrap_or_default();
    assert!(
        text.ends_with(&format!("\n  set by: {}:4-5 (2 keys)", file.display())),
        "{text}"
    );
    let text = loaded
        .explain("log_level")
        .map(|w| w.to_string())
        .unwrap_or_default();
    assert_eq!(
        text,
        format!(
            "log_level = \"info\"  ({}:1:1)\n  set by: default; {}:1:1",
            file.display(),
            file.display()
        )
    );
}

#[test]
fn the_redacted_json_is_the_effective_config_with_list_item_defaults() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(
        dir.path(),
        "synod.toml",
        "api_token = \"s3cret\"\n[server]\nport = 9000\n\n[[agents]]\nname = \"a\"\n\n[[agents]]\nname = \"b\"\ntimeout = 7\n",
    );
    let loaded = ok(Loader::<Config>::new()
        .file(&file)
        .env_source(env(&[("SYNOD_AGENTS__0__ENABLED", "true")]))
        .load());
    assert_eq!(
        loaded.to_redacted_json(),
        serde_json::json!({
            "version": 2,
            "log_level": "warn",
            "max_tokens": 1000,
            "server": {"host": "127.0.0.1", "port": 9000, "request_timeout_ms": 500},
            "agents": [
                {"name": "a", "timeout": 0, "enabled": true},
                {"name": "b", "timeout": 7, "enabled": false},
            ],
            "api_token": synod_config::REDACTED,
            "labels": {},
        })
    );
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize, synod_config::JsonSchema)]
#[serde(default)]
struct Shown {
    #[serde(deserialize_with = "lowercase")]
    level: String,
    #[serde(skip_serializing)]
    note: String,
    items: Vec<ShownItem>,
    #[serde(deserialize_with = "named_only")]
    named: Vec<ShownItem>,
}

/// Drops the items without a name: the loaded list is shorter than the one the layers set.
fn named_only<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ShownItem>, D::Error> {
    let items = <Vec<ShownItem> as serde::Deserialize>::deserialize(d)?;
    Ok(items.into_iter().filter(|i| !i.name.is_empty()).collect())
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize, synod_config::JsonSchema)]
#[serde(default)]
struct ShownItem {
    name: String,
    #[serde(skip_serializing)]
    hint: String,
    retries: u32,
}

fn lowercase<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    <String as serde::Deserialize>::deserialize(d).map(|s| s.to_lowercase())
}

#[test]
fn the_redacted_json_shows_values_as_loaded_and_keys_the_type_does_not_serialise() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(
        dir.path(),
        "shown.toml",
        "level = \"INFO\"\nnote = \"kept\"\n\n[[items]]\nname = \"x\"\nhint = \"h\"\n\n\
         [[named]]\nhint = \"h1\"\n\n[[named]]\nname = \"y\"\nhint = \"h2\"\n",
    );
    let loaded = ok(Loader::<Shown>::new()
        .file(&file)
        .env_source(no_env())
        .load());
    assert_eq!(
        loaded.to_redacted_json(),
        serde_json::json!({
            "level": "info",
            "note": "kept",
            "items": [{"name": "x", "hint": "h", "retries": 0}],
            // Which item the loaded one was is unknown, so no key of the layers' is added.
            "named": [{"name": "y", "retries": 0}],
        })
    );
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize, synod_config::JsonSchema)]
#[serde(default)]
struct Unserialisable {
    #[serde(serialize_with = "refuse")]
    level: String,
    server: common::Server,
}

/// Serialises the default (empty) value only, so the defaults load and the loaded value fails.
fn refuse<S: serde::Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
    if value.is_empty() {
        s.serialize_str(value)
    } else {
        Err(serde::ser::Error::custom("not today"))
    }
}

#[test]
fn a_type_that_cannot_be_serialised_shows_what_the_layers_set() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(
        dir.path(),
        "u.toml",
        "level = \"info\"\n[server]\nport = 1\n",
    );
    let loaded = ok(Loader::<Unserialisable>::new()
        .file(&file)
        .env_source(no_env())
        .load());
    let shown = loaded.to_redacted_json();
    assert_eq!(shown["level"], "info", "{shown}");
    assert_eq!(shown["server"]["port"], 1, "{shown}");
}

#[test]
fn text_that_is_not_a_file_loads_as_a_named_source_in_the_files_order() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(
        dir.path(),
        "base.toml",
        "log_level = \"info\"\nmax_tokens = 5\n",
    );
    let stdin = Path::new("<stdin>");
    let loader = Loader::<Config>::new()
        .file(&file)
        .text(stdin, "# piped\nmax_tokens = 9\n\n[server]\nport = 9000\n")
        .env_source(no_env());
    // Only real files are watched.
    assert_eq!(loader.files().collect::<Vec<_>>(), [file.as_path()]);
    let loaded = ok(loader.load());
    assert_eq!(loaded.value.log_level, "info");
    assert_eq!(loaded.value.max_tokens, 9);
    assert_eq!(loaded.value.server.port, 9000);
    let why = ok(loaded.explain("max_tokens").ok_or(Error::Convert {
        message: "missing".into(),
    }));
    assert_eq!(
        why.layers,
        [Layer::Default, file_at(&file, 2, 1), file_at(stdin, 2, 1)]
    );
    assert_eq!(
        loaded.explain("server.port").map(|w| w.winner),
        Some(file_at(stdin, 5, 1))
    );

    // Its name's extension picks the format; an unknown one is refused by name.
    let yaml = ok(Loader::<Config>::new()
        .text("<generated>.yaml", "max_tokens: 3\n")
        .env_source(no_env())
        .load());
    assert_eq!(yaml.value.max_tokens, 3);
    let err = Loader::<Config>::new()
        .text("<generated>.ini", "max_tokens = 3\n")
        .env_source(no_env())
        .load()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("<generated>.ini has an unsupported extension"),
        "{err}"
    );

    // Errors name it with the line and column.
    let err = Loader::<Config>::new()
        .text(stdin, "max_tokens = 1\nlog_level = \n")
        .env_source(no_env())
        .load()
        .unwrap_err();
    assert!(err.to_string().starts_with("<stdin>:2:"), "{err}");
}

#[test]
fn text_holding_a_secret_is_never_shown_nor_warned_about_as_a_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // A world-readable file of the same name: the text is not that file.
    let name = write(dir.path(), "same.toml", "max_tokens = 1\n");
    common::set_mode(&name, 0o644);
    let loader = Loader::<Config>::new()
        .text(&name, "api_token = \"tok-text-4242\"\n")
        .env_source(no_env());
    assert!(!format!("{loader:?}").contains("tok-text-4242"));
    let loaded = ok(loader.load());
    assert_eq!(
        loaded.value.api_token.as_ref().map(|s| s.expose()),
        Some("tok-text-4242")
    );
    assert!(loaded.warnings().is_empty(), "{:?}", loaded.warnings());
}

#[test]
fn env_keys_with_underscores_maps_and_arrays() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(dir.path(), "c.toml", "[[agents]]\nname = \"a\"\n");
    let loaded = ok(Loader::<Config>::new()
        .file(&file)
        .env_source(env(&[
            ("SYNOD_MAX_TOKENS", "5"),
            ("synod_server__request_timeout_ms", "10"),
            ("SYNOD_AGENTS__0__ENABLED", "true"),
            ("SYNOD_AGENTS__1__NAME", "appended"),
            ("SYNOD_AGENTS__7__NAME", "too far"),
            ("SYNOD_LABELS__TEAM_NAME", "core"),
            ("SYNOD_SERVER_PORT", "1"),
            ("SYNOD_BOGUS", "1"),
            ("SYNOD_LOG", "trace"),
            ("OTHER_MAX_TOKENS", "7"),
        ]))
        .ignore_env_var("SYNOD_LOG")
        .load());
    let c = &loaded.value;
    assert_eq!(c.max_tokens, 5);
    assert_eq!(c.server.request_timeout_ms, 10);
    assert!(c.agents[0].enabled);
    assert_eq!(c.agents[1].name, "appended");
    assert_eq!(c.labels.get("team_name").map(String::as_str), Some("core"));
    assert_eq!(c.server.port, 7070);
    let w = loaded.warnings();
    assert!(
        w.contains(&Warning::UnknownEnvVar {
            var: "SYNOD_SERVER_PORT".into()
        }),
        "{w:?}"
    );
    assert!(
        w.contains(&Warning::UnknownEnvVar {
            var: "SYNOD_BOGUS".into()
        }),
        "{w:?}"
    );
    assert!(
        w.iter().any(
            |w| matches!(w, Warning::IgnoredEnvVar { var, .. } if var == "SYNOD_AGENTS__7__NAME")
        ),
        "{w:?}"
    );
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].to_string().contains("SYNOD_"));
}

#[test]
fn env_type_error_names_the_variable_and_custom_prefix_works() {
    let err = Loader::<Config>::new()
        .env_source(env(&[("SYNOD_SERVER__PORT", "http")]))
        .load();
    let violations = common::violations(err);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].key, "server.port");
    assert_eq!(violations[0].layer, Some(env_layer("SYNOD_SERVER__PORT")));
    assert!(
        violations[0]
            .to_string()
            .starts_with("env SYNOD_SERVER__PORT: server.port: ")
    );

    let loaded = ok(Loader::<Config>::new()
        .env_prefix("APP")
        .env_source(env(&[("APP_MAX_TOKENS", "3"), ("SYNOD_MAX_TOKENS", "4")]))
        .load());
    assert_eq!(loaded.value.max_tokens, 3);
}

#[test]
fn twenty_violations_in_one_file_are_all_reported_with_lines() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut text = String::new();
    let mut expected = Vec::new();
    for i in 0..20 {
        text.push_str("[[agents]]\n");
        let line = text.lines().count() as u32 + 1;
        if i % 2 == 0 {
            text.push_str(&format!("timeout = \"slow{i}\"\n"));
            expected.push((format!("agents.{i}.timeout"), line));
        } else {
            text.push_str(&format!("timout = {i}\n"));
            expected.push((format!("agents.{i}.timout"), line));
        }
    }
    let file = write(dir.path(), "many.toml", &text);
    let err = Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .load();
    let violations = common::violations(err);
    assert_eq!(violations.len(), 20, "{violations:#?}");
    for (key, line) in expected {
        let v = violations
            .iter()
            .find(|v| v.key == key)
            .unwrap_or_else(|| panic!("no violation for {key}: {violations:#?}"));
        assert_eq!(v.layer, Some(file_at(&file, line, 1)), "{key}");
        if key.ends_with("timout") {
            assert!(
                v.message.contains("did you mean `timeout`"),
                "{}",
                v.message
            );
        }
    }
    let text = Error::Invalid { violations }.to_string();
    assert!(text.contains("20 problems"));
    assert!(
        text.contains(&format!("{}:2:1: agents.0.timeout", file.display())),
        "{text}"
    );
}

#[test]
fn violations_in_json_and_yaml_name_their_lines() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let json = write(
        dir.path(),
        "a.json",
        "{\n  \"server\": {\n    \"port\": \"x\"\n  }\n}\n",
    );
    let yaml = write(
        dir.path(),
        "b.yaml",
        "agents:\n  - name: a\n    timeout: -1\n",
    );
    let err = Loader::<Config>::new()
        .file(&json)
        .file(&yaml)
        .env_source(no_env())
        .load();
    let violations = common::violations(err);
    let layers: Vec<_> = violations
        .iter()
        .map(|v| (v.key.clone(), v.layer.clone()))
        .collect();
    assert!(
        layers.contains(&("server.port".into(), Some(file_at(&json, 3, 5)))),
        "{layers:?}"
    );
    assert!(
        layers.contains(&("agents.0.timeout".into(), Some(file_at(&yaml, 3, 5)))),
        "{layers:?}"
    );
}

#[test]
fn parse_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(dir.path(), "bad.toml", "log_level = \"x\"\nserver = {\n");
    match Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .load()
    {
        Err(Error::Parse { path, line, .. }) => {
            assert_eq!(path, file);
            assert!(line >= 2, "line {line}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let missing = dir.path().join("nope.toml");
    let err = Loader::<Config>::new().file(&missing).load();
    assert!(matches!(err, Err(Error::MissingFile { ref path }) if *path == missing));
    let ini = write(dir.path(), "x.ini", "a=1");
    assert!(matches!(
        Loader::<Config>::new().file(&ini).load(),
        Err(Error::UnsupportedFormat { .. })
    ));
}

#[test]
fn overrides_are_typed_and_checked() {
    let loaded = ok(Loader::<Config>::new()
        .env_source(no_env())
        .overrides(["server.port=9000", "agents[0].name=x", "labels.a=1"])
        .load());
    assert_eq!(loaded.value.server.port, 9000);
    assert_eq!(loaded.value.agents[0].name, "x");
    assert_eq!(loaded.value.labels.get("a").map(String::as_str), Some("1"));

    let malformed = Loader::<Config>::new().overrides(["server.port"]).load();
    assert!(matches!(malformed, Err(Error::Override { ref input, .. }) if input == "server.port"));

    let unknown = Loader::<Config>::new()
        .env_source(no_env())
        .set_override("server.prot", "1")
        .load();
    let Err(Error::Invalid { violations }) = unknown else {
        panic!("expected a violation, got {unknown:?}");
    };
    assert_eq!(violations[0].layer, Some(Layer::Override));
    assert!(violations[0].message.contains("did you mean `port`"));
}

#[test]
fn semantic_validators_run_after_the_schema_and_point_at_the_layer() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(dir.path(), "c.toml", "\n[server]\nport = 80\n");
    let err = Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .validator(|c| {
            if c.server.port < 1024 {
                Err(Issue::at(
                    "server.port",
                    "must be 1024 or above (unprivileged)",
                ))
            } else {
                Ok(())
            }
        })
        .validator(|_| Err("always".into()))
        .load();
    let violations = common::violations(err);
    assert_eq!(violations.len(), 2);
    assert_eq!(violations[0].layer, Some(file_at(&file, 3, 1)));
    assert_eq!(violations[1].key, "");
}

#[test]
fn a_key_missing_from_an_array_entry_points_at_that_entry_in_the_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(
        dir.path(),
        "c.toml",
        "[[agents]]\nname = \"a\"\ntimeout = 5\n\n[[agents]]\nname = \"b\"\nenabled = true\n",
    );
    let unset_timeout = |c: &Config| match c.agents.iter().position(|a| a.timeout == 0) {
        Some(i) => Err(Issue::at(format!("agents.{i}.timeout"), "set a timeout")),
        None => Ok(()),
    };
    let err = Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .validator(unset_timeout)
        .load();
    let violations = common::violations(err);
    // Only the defaults gave `agents.1.timeout` a value: the entry's first line is named,
    // not "default".
    assert_eq!(violations[0].key, "agents.1.timeout");
    assert_eq!(violations[0].layer, Some(file_at(&file, 6, 1)));

    // A variable that set the entry is named when no file did.
    let err = Loader::<Config>::new()
        .env_source(env(&[("SYNOD_AGENTS__0__NAME", "c")]))
        .validator(unset_timeout)
        .load();
    let violations = common::violations(err);
    assert_eq!(
        violations[0].layer,
        Some(env_layer("SYNOD_AGENTS__0__NAME"))
    );

    // A key set by nobody, at the top level, has no better place than the defaults.
    let err = Loader::<Config>::new()
        .env_source(no_env())
        .validator(|_| Err(Issue::at("max_tokens", "too few")))
        .load();
    let violations = common::violations(err);
    assert_eq!(violations[0].layer, Some(Layer::Default));
}

fn migrating_loader() -> Loader<Config> {
    // v1 had a top-level `timeout_secs`; v2 moved it to `server.request_timeout_ms`.
    Loader::<Config>::new()
        .env_source(no_env())
        .migration(1, |mut v| {
            let obj = v.as_object_mut().ok_or("not a table")?;
            if let Some(secs) = obj.remove("timeout_secs") {
                let secs = secs.as_u64().ok_or("timeout_secs must be an integer")?;
                let server = obj
                    .entry("server")
                    .or_insert_with(|| serde_json::json!({}))
                    .as_object_mut()
                    .ok_or("server must be a table")?;
                server.insert("request_timeout_ms".into(), (secs * 1000).into());
            }
            Ok(v)
        })
}

#[test]
fn migration_v1_to_v2() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let v1 = write(dir.path(), "v1.toml", "version = 1\ntimeout_secs = 3\n");
    let loader = migrating_loader().file(&v1);
    assert_eq!(loader.version(), 2);
    let loaded = ok(loader.load());
    assert_eq!(loaded.value.version, 2);
    assert_eq!(loaded.value.server.request_timeout_ms, 3000);
    // The migrated key is placed at the nearest line that still exists (the document).
    assert!(matches!(
        loaded
            .explain("server.request_timeout_ms")
            .map(|w| w.winner),
        Some(Layer::File { .. })
    ));

    let v3 = write(dir.path(), "v3.toml", "version = 3\n");
    match migrating_loader().file(&v3).load() {
        Err(
            e @ Error::UnsupportedVersion {
                found: 3,
                supported: 2,
                ..
            },
        ) => {
            assert!(e.to_string().contains("upgrade synod"), "{e}");
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    let bad = write(
        dir.path(),
        "bad.toml",
        "version = 1\ntimeout_secs = \"x\"\n",
    );
    assert!(matches!(
        migrating_loader().file(&bad).load(),
        Err(Error::Migration { from: 1, .. })
    ));
    // Without a migration registered, version 1 of a v2 loader cannot be read.
    assert!(matches!(
        Loader::<Config>::new().current_version(2).file(&v1).load(),
        Err(Error::Migration { from: 1, .. })
    ));
}

#[test]
fn secrets_are_never_printed() {
    const SECRET: &str = "hunter2-do-not-print";
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(
        dir.path(),
        "secret.toml",
        &format!("api_token = \"{SECRET}\"\nmax_tokens = 1\n"),
    );
    common::set_mode(&file, 0o644);
    let loaded = ok(Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .load());
    assert_eq!(
        loaded.value.api_token.as_ref().map(|s| s.expose()),
        Some(SECRET)
    );
    let why = loaded.explain("api_token");
    let printed = format!(
        "{:?} {:?} {} {} {:?}",
        loaded,
        why,
        why.as_ref().map(ToString::to_string).unwrap_or_default(),
        loaded.to_redacted_json(),
        loaded.explain("").map(|w| w.to_string()),
    );
    assert!(!printed.contains(SECRET), "{printed}");
    assert!(why.is_some_and(|w| w.secret && w.value == synod_config::REDACTED));
    // Unix only: Windows has no mode bits, and the warning is never given there.
    assert_eq!(
        loaded
            .warnings()
            .iter()
            .any(|w| matches!(w, Warning::ReadableSecrets { mode: 0o644, .. })),
        cfg!(unix),
        "{:?}",
        loaded.warnings()
    );

    // Private file: no warning. A schema violation on a secret does not echo it either.
    common::set_mode(&file, 0o600);
    let loaded = ok(Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .load());
    assert!(loaded.warnings().is_empty());
    let err = Loader::<Config>::new()
        .file(&file)
        .env_source(env(&[("SYNOD_API_TOKEN", SECRET)]))
        .validator(|c| {
            Err(Issue::at(
                "api_token",
                format!("len {}", c.api_token.iter().count()),
            ))
        })
        .load();
    let text = match &err {
        Err(e) => format!("{e} {e:?}"),
        Ok(_) => panic!("the validator should have failed"),
    };
    assert!(
        text.contains("env SYNOD_API_TOKEN: api_token: len 1"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
    let err = Loader::<Config>::new()
        .env_source(no_env())
        .set_override("api_token", "abc")
        .set_override("api_token.inner", SECRET)
        .load();
    let Err(e @ Error::Override { .. }) = err else {
        panic!("expected an override error, got {err:?}");
    };
    assert!(e.to_string().contains("api_token.inner=[redacted]"), "{e}");
    assert!(!format!("{e} {e:?}").contains(SECRET), "{e}");
    let int_secret = write(dir.path(), "int.toml", "api_token = 123456789\n");
    let err = Loader::<Config>::new()
        .file(&int_secret)
        .env_source(no_env())
        .load();
    let text = err.map(|_| String::new()).unwrap_or_else(|e| e.to_string());
    assert!(text.contains("api_token"), "{text}");
    assert!(!text.contains("123456789"), "{text}");
}

#[test]
fn schema_is_strict_and_exported() {
    let schema = synod_config::schema::<Config>();
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["properties"]["api_token"]["writeOnly"], true);
    // A supplied schema replaces the generated one.
    let loaded = Loader::<Config>::new()
        .env_source(no_env())
        .schema(
            serde_json::json!({"type": "object", "properties": {"max_tokens": {"maximum": 10}}}),
        )
        .load();
    assert!(matches!(loaded, Err(Error::Invalid { .. })));
}

#[test]
fn yaml_flow_values_fall_back_to_their_key_and_env_takes_json_for_arrays() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let yaml = write(
        dir.path(),
        "flow.yml",
        "log_level: info\nagents: [{name: a, timeout: soon}]\n",
    );
    let err = Loader::<Config>::new()
        .file(&yaml)
        .env_source(no_env())
        .load();
    let violations = common::violations(err);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].key, "agents.0.timeout");
    assert_eq!(violations[0].layer, Some(file_at(&yaml, 2, 1)));

    let loaded = ok(Loader::<Config>::new()
        .env_source(env(&[(
            "SYNOD_AGENTS",
            r#"[{"name": "x", "timeout": 3}, {"name": "y"}]"#,
        )]))
        .load());
    assert_eq!(loaded.value.agents.len(), 2);
    assert_eq!(loaded.value.agents[0].timeout, 3);
    let why = loaded.explain("agents.1.name").map(|w| w.winner);
    assert_eq!(why, Some(env_layer("SYNOD_AGENTS")));
}

#[test]
fn a_validator_can_report_every_problem_it_finds_at_once() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(
        dir.path(),
        "c.toml",
        "[[agents]]\nname = \"a\"\n\n[[agents]]\nname = \"b\"\n",
    );
    let untimed = |c: &Config| -> Vec<Issue> {
        c.agents
            .iter()
            .enumerate()
            .filter(|(_, a)| a.timeout == 0)
            .map(|(i, _)| Issue::at(format!("agents.{i}.timeout"), "set a timeout"))
            .collect()
    };
    let err = Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .validator_all(untimed)
        .load();
    let violations = common::violations(err);
    let keys: Vec<&str> = violations.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(keys, ["agents.0.timeout", "agents.1.timeout"]);
    assert_eq!(violations[1].layer, Some(file_at(&file, 5, 1)));

    // No issue is a pass.
    let loaded = Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .validator_all(|_| Vec::new())
        .load();
    assert!(loaded.is_ok(), "{:?}", loaded.err());
}
