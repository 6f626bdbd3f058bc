//! Where `explain` and parse errors point in TOML, YAML and JSON files: exact lines and
//! character columns for the shapes users write (see docs/TESTING.md).

mod common;

use std::path::Path;

use common::{Config, no_env, write};
use synod_config::{Error, Layer, Loaded, Loader};

fn load(path: &Path) -> Loaded<Config> {
    Loader::<Config>::new()
        .file(path)
        .env_source(no_env())
        .load()
        .unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

/// The `(line, column)` that `explain` gives for `key`, set by the file.
fn at(loaded: &Loaded<Config>, key: &str) -> (u32, u32) {
    match loaded.explain(key).map(|why| why.winner) {
        Some(Layer::File {
            line: Some(line),
            column: Some(column),
            ..
        }) => (line, column),
        other => panic!("{key}: {other:?}"),
    }
}

fn parse_error(path: &Path) -> (u32, u32, String) {
    match Loader::<Config>::new()
        .file(path)
        .env_source(no_env())
        .load()
    {
        Err(Error::Parse {
            line,
            column,
            message,
            ..
        }) => (line, column, message),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn yaml_parse_errors_point_at_the_offending_character() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // The second `:` on line 1 (character 5) is where a mapping value is not allowed.
    let (line, column, message) = parse_error(&write(dir.path(), "a.yaml", "a: b: c\n"));
    assert_eq!((line, column), (1, 5), "{message}");
    // `b` at the start of line 2 is where a `-` was expected.
    let (line, column, message) = parse_error(&write(dir.path(), "b.yaml", "- a\nb: 1\n"));
    assert_eq!((line, column), (2, 1), "{message}");
    let (line, column, message) =
        parse_error(&write(dir.path(), "c.yaml", "log_level: info\n  bad: [\n"));
    assert_eq!((line, column), (2, 6), "{message}");
}

#[test]
fn columns_count_characters_not_bytes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let toml = write(
        dir.path(),
        "a.toml",
        "log_level = \"info\"\nlabels = { \"é€\" = \"ü\", b = \"y\" }\n",
    );
    let loaded = load(&toml);
    assert_eq!(at(&loaded, "labels.b"), (2, 24));
    assert_eq!(at(&loaded, "labels.é€"), (2, 12));
    let json = write(
        dir.path(),
        "a.json",
        "{\"log_level\": \"info\",\n\"labels\": {\"é€\": \"ü\", \"b\": \"y\"}}",
    );
    let loaded = load(&json);
    assert_eq!(at(&loaded, "labels.b"), (2, 23));
    assert_eq!(at(&loaded, "log_level"), (1, 2));
}

#[test]
fn yaml_positions_skip_directives_comments_and_block_scalars() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = "%YAML 1.2\n\
                ---\n\
                # log_level: debug\n\
                log_level: info\n\
                server:\n  \
                  host: |\n    \
                    port: 1\n\n    \
                    more text\n  \
                  port: 8080\n\
                agents:\n  \
                  - name: a\n    \
                    timeout: 5\n  \
                  -   name: b\n\
                labels:\n  \
                  \"k\": v\n  \
                  'q': r\n\
                ...\n";
    let yaml = write(dir.path(), "a.yaml", text);
    let loaded = load(&yaml);
    assert_eq!(loaded.value.server.port, 8080);
    assert_eq!(loaded.value.server.host, "port: 1\n\nmore text\n");
    assert_eq!(at(&loaded, "log_level"), (4, 1));
    assert_eq!(at(&loaded, "server.host"), (6, 3));
    assert_eq!(at(&loaded, "server.port"), (10, 3));
    assert_eq!(at(&loaded, "agents.0.name"), (12, 5));
    assert_eq!(at(&loaded, "agents.0.timeout"), (13, 5));
    assert_eq!(at(&loaded, "agents.1.name"), (14, 7));
    assert_eq!(at(&loaded, "labels.k"), (16, 3));
    assert_eq!(at(&loaded, "labels.q"), (17, 3));
}

#[test]
fn a_yaml_flow_mapping_over_several_lines_points_at_the_line_of_the_bad_value() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let yaml = write(
        dir.path(),
        "flow.yaml",
        "log_level: info\nagents:\n  - {name: a,\n     timeout: soon}\n",
    );
    let err = Loader::<Config>::new()
        .file(&yaml)
        .env_source(no_env())
        .load();
    let violations = common::violations(err);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].key, "agents.0.timeout");
    assert_eq!(
        violations[0].layer,
        Some(Layer::File {
            path: yaml,
            line: Some(4),
            column: Some(6),
        })
    );
}
