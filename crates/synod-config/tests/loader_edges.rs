//! The loader's edges: how loaders and results print, prefixes, malformed overrides, the
//! precedence order inside a table, versions, empty tables, file modes, reload diffs and the
//! key named by a value the type refuses.

mod common;

use std::path::Path;

use common::{Config, env, no_env, write};
use serde::{Deserialize, Serialize};
use synod_config::{Error, JsonSchema, Layer, Loader};

fn ok<T>(r: Result<T, Error>) -> T {
    r.unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn file_at(path: &Path, line: u32, column: u32) -> Layer {
    Layer::File {
        path: path.to_owned(),
        line: Some(line),
        column: Some(column),
    }
}

#[test]
fn loaders_and_loaded_configs_print_what_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "a.toml", "max_tokens = 5\n");
    let loader = Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .overrides(["log_level=info", "max_tokens=6"]);
    let shown = format!("{loader:?}");
    assert!(shown.starts_with("Loader {"), "{shown}");
    assert!(
        shown.contains(&format!("{:?}", file.display().to_string())) || shown.contains("a.toml"),
        "{shown}"
    );
    assert!(shown.contains("env_prefix: \"SYNOD_\""), "{shown}");
    assert!(shown.contains("overrides: 2"), "{shown}");
    let loaded = ok(loader.load());
    let shown = format!("{loaded:?}");
    assert!(shown.starts_with("Loaded {"), "{shown}");
    assert!(shown.contains("max_tokens: 6"), "{shown}");
    assert!(shown.contains("warnings: []"), "{shown}");
}

#[test]
fn a_prefix_that_already_ends_in_an_underscore_is_kept_as_given() {
    let loaded = ok(Loader::<Config>::new()
        .env_prefix("APP_")
        .env_source(env(&[("APP_MAX_TOKENS", "5"), ("APP_SERVER__PORT", "9")]))
        .load());
    assert_eq!(loaded.value.max_tokens, 5);
    assert_eq!(loaded.value.server.port, 9);
    assert!(loaded.warnings().is_empty(), "{:?}", loaded.warnings());
    let loaded = ok(Loader::<Config>::new()
        .env_prefix("APP")
        .env_source(env(&[("APP_MAX_TOKENS", "7")]))
        .load());
    assert_eq!(loaded.value.max_tokens, 7);
}

#[test]
fn an_override_without_a_key_is_refused_as_malformed() {
    for bad in ["=5", "  =5", "max_tokens"] {
        match Loader::<Config>::new()
            .env_source(no_env())
            .overrides([bad])
            .load()
        {
            Err(Error::Override { input, message }) => {
                assert_eq!(input, bad);
                assert_eq!(message, "expected `key.path=value`", "{bad}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn a_table_lists_its_layers_in_precedence_order_file_then_env_then_override() {
    let dir = tempfile::tempdir().unwrap();
    // The file's key is on line 3, so only the precedence ordinal puts it before the
    // environment and the overrides (which have no line).
    let file = write(dir.path(), "a.toml", "\n[server]\nport = 8000\n");
    let loaded = ok(Loader::<Config>::new()
        .file(&file)
        .env_source(env(&[("SYNOD_SERVER__HOST", "0.0.0.0")]))
        .overrides(["server.request_timeout_ms=9"])
        .load());
    let why = loaded.explain("server").unwrap();
    assert_eq!(
        why.layers,
        vec![
            Layer::Default,
            file_at(&file, 3, 1),
            Layer::Env {
                var: "SYNOD_SERVER__HOST".into()
            },
            Layer::Override,
        ]
    );
}

#[test]
fn a_key_with_one_layer_prints_on_one_line() {
    let loaded = ok(Loader::<Config>::new().env_source(no_env()).load());
    let why = loaded.explain("max_tokens").unwrap();
    assert_eq!(why.to_string(), "max_tokens = 1000  (default)");
}

#[test]
fn a_file_at_the_current_version_loads_unmigrated_with_exact_positions() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "v2.toml", "version = 2\n\nmax_tokens = 4\n");
    let loaded = ok(Loader::<Config>::new()
        .env_source(no_env())
        .current_version(2)
        .migration(1, |_| Err("must not run on a version-2 file".into()))
        .file(&file)
        .load());
    assert_eq!(loaded.value.max_tokens, 4);
    assert_eq!(
        loaded.explain("max_tokens").unwrap().winner,
        file_at(&file, 3, 1)
    );
}

#[test]
fn a_migrated_key_names_its_file_but_no_line_it_never_had() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "v1.json", "{\"version\": 1, \"old\": 4}");
    let loaded = ok(Loader::<Config>::new()
        .env_source(no_env())
        .current_version(2)
        .migration(1, |mut v| {
            let old = v["old"].take();
            let obj = v.as_object_mut().ok_or("not a table")?;
            obj.remove("old");
            obj.insert("max_tokens".into(), old);
            Ok(v)
        })
        .file(&file)
        .load());
    assert_eq!(loaded.value.max_tokens, 4);
    let winner = loaded.explain("max_tokens").unwrap().winner;
    assert_eq!(
        winner,
        Layer::File {
            path: file,
            line: None,
            column: None
        }
    );
}

#[test]
fn an_empty_table_or_list_set_by_a_file_is_explained_by_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "a.toml",
        "max_tokens = 1\nlabels = {}\nagents = []\n",
    );
    let loaded = ok(Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .load());
    assert_eq!(
        loaded.explain("labels").unwrap().winner,
        file_at(&file, 2, 1)
    );
    assert_eq!(
        loaded.explain("agents").unwrap().winner,
        file_at(&file, 3, 1)
    );
}

#[test]
fn an_optional_path_that_is_a_directory_is_an_error_not_an_absent_file() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("conf.toml");
    std::fs::create_dir(&sub).unwrap();
    match Loader::<Config>::new()
        .optional_file(&sub)
        .env_source(no_env())
        .load()
    {
        Err(Error::Io { path, .. }) => assert_eq!(path, sub),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bytes_that_are_not_utf8_are_a_parse_error_at_their_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("synod.toml");
    // Line 3, after `# éab`: 6 bytes but 5 characters, so column 6.
    std::fs::write(
        &file,
        b"version = 1\n\n# \xC3\xA9ab\xFF\xFE\nlog_level = \"info\"\n",
    )
    .unwrap();
    let err = Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .load()
        .unwrap_err();
    match &err {
        Error::Parse {
            path,
            line,
            column,
            message,
        } => {
            assert_eq!((path, *line, *column), (&file, 3, 6));
            assert_eq!(
                message,
                "byte 0xFF is not UTF-8 text; save the file as UTF-8"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("{}:3:6: ", file.display()))
    );
    // The first byte decides: one on the first line, at its start.
    std::fs::write(&file, b"\x80version = 1\n").unwrap();
    let err = Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .load()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Parse {
                line: 1,
                column: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_private_file_with_secrets_gives_no_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.toml", "api_token = \"hunter2\"\n");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let loaded = ok(Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .load());
    assert!(loaded.warnings().is_empty(), "{:?}", loaded.warnings());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let loaded = ok(Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .load());
    assert_eq!(
        loaded.warnings(),
        &[synod_config::Warning::ReadableSecrets {
            path: file,
            mode: 0o640
        }]
    );
}

#[test]
fn a_reload_names_the_changed_element_of_a_list_not_the_whole_list() {
    let dir = tempfile::tempdir().unwrap();
    let agents = |timeout: u32| {
        format!(
            "[[agents]]\nname = \"a\"\ntimeout = 1\n\n[[agents]]\nname = \"b\"\ntimeout = {timeout}\n"
        )
    };
    let before = write(dir.path(), "before.toml", &agents(2));
    let after = write(dir.path(), "after.toml", &agents(3));
    let load = |p: &Path| ok(Loader::<Config>::new().file(p).env_source(no_env()).load());
    assert_eq!(
        load(&before).changed_keys(&load(&after)),
        vec!["agents.1.timeout".to_owned()]
    );
    let longer = write(
        dir.path(),
        "longer.toml",
        &format!("{}\n[[agents]]\nname = \"c\"\n", agents(2)),
    );
    assert_eq!(
        load(&before).changed_keys(&load(&longer)),
        vec!["agents".to_owned()]
    );
}

/// An even number: the schema says "integer", the type refuses odd ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "u32")]
struct Even(#[schemars(with = "u32")] u32);

impl TryFrom<u32> for Even {
    type Error = String;
    fn try_from(n: u32) -> Result<Self, String> {
        if n.is_multiple_of(2) {
            Ok(Even(n))
        } else {
            Err(format!("{n} is odd"))
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
struct Lanes {
    lanes: Vec<Lane>,
}

#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
struct Lane {
    width: Even,
}

#[test]
fn a_value_the_type_refuses_names_its_key_and_where_it_was_set() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "l.toml",
        "[[lanes]]\nwidth = 2\n\n[[lanes]]\nwidth = 3\n",
    );
    match Loader::<Lanes>::new()
        .file(&file)
        .env_source(no_env())
        .load()
    {
        Err(Error::Invalid { violations }) => {
            assert_eq!(violations.len(), 1);
            assert_eq!(violations[0].key, "lanes.1.width");
            assert_eq!(violations[0].message, "3 is odd");
            assert_eq!(violations[0].layer, Some(file_at(&file, 5, 1)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_list_the_defaults_leave_empty_is_explained_by_the_file_that_fills_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "a.toml",
        "[[agents]]\nname = \"claude\"\ntimeout = 30\n",
    );
    let loaded = ok(Loader::<Config>::new()
        .file(&file)
        .env_source(no_env())
        .load());
    let why = loaded.explain("agents").unwrap();
    assert_eq!(why.winner, file_at(&file, 3, 1));
    assert_eq!(
        why.layers,
        vec![Layer::Default, file_at(&file, 2, 1), file_at(&file, 3, 1)]
    );
    // Without the file, the defaults' empty list is all there is.
    let bare = ok(Loader::<Config>::new().env_source(no_env()).load());
    let why = bare.explain("agents").unwrap();
    assert_eq!(
        (why.winner, why.layers),
        (Layer::Default, vec![Layer::Default])
    );
    // An empty table of the defaults is explained the same way.
    let why = bare.explain("labels").unwrap();
    assert_eq!(
        (why.winner, why.layers),
        (Layer::Default, vec![Layer::Default])
    );
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
struct Item {
    name: String,
    retries: u32,
    token: synod_config::Secret,
}

impl Default for Item {
    fn default() -> Self {
        Item {
            name: String::new(),
            retries: 3,
            token: synod_config::Secret::from("built-in-token"),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
struct WithItems {
    items: Vec<Item>,
}

#[test]
fn a_key_left_at_its_default_inside_a_list_item_is_explained_as_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "a.toml", "[[items]]\nname = \"a\"\n");
    let loaded = ok(Loader::<WithItems>::new()
        .file(&file)
        .env_source(no_env())
        .load());
    let why = loaded.explain("items.0.retries").expect("a defaulted key");
    assert_eq!(why.value, serde_json::json!(3));
    assert_eq!(why.winner, Layer::Default);
    assert!(why.layers.is_empty());
    assert_eq!(why.to_string(), "items.0.retries = 3  (default)");
    // A defaulted secret is redacted like any other.
    let secret = loaded
        .explain("items[0].token")
        .expect("a defaulted secret");
    assert!(secret.secret);
    assert!(!secret.to_string().contains("built-in-token"), "{secret}");
    // What the file set is still credited to the file.
    let name = loaded.explain("items.0.name").expect("a set key");
    assert_eq!(name.winner, file_at(&file, 2, 1));
    // No such item, no such key.
    assert!(loaded.explain("items.1.retries").is_none());
    assert!(loaded.explain("items.0.retry").is_none());
}
