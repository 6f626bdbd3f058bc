//! Tidy rules for the whole workspace, run as an ordinary test.
//!
//! 1. Every crate root (library and binary targets) opens with `//!` docs.
//! 2. Every member inherits `[lints]` and the shared `[workspace.package]` keys.
//! 3. Every dependency of a member is `{ workspace = true }`: versions live only in the root
//!    `[workspace.dependencies]`.
//! 4. No Rust source in the tree holds a placeholder macro or an ignored test.
//! 5. The crate graph is the one `docs/ARCHITECTURE.md` draws ([`ALLOWED_INTERNAL_DEPS`],
//!    declared once here): a member's normal dependencies on synod crates are listed there.
//! 6. Only synod-exec spawns processes; only synod-store opens SQLite; synod-consensus and
//!    synod-core do no I/O and use no tokio (checked in library sources and manifests).
//!
//! Each rule is a pure function over a file's text, so the unit tests below show it failing on
//! a bad sample; `workspace_is_tidy` applies all of them to the real tree.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// One broken rule at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Violation {
    file: String,
    rule: &'static str,
    detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: [{}] {}", self.file, self.rule, self.detail)
    }
}

fn violation(file: &str, rule: &'static str, detail: impl Into<String>) -> Violation {
    Violation {
        file: file.to_owned(),
        rule,
        detail: detail.into(),
    }
}

/// Keys every member must take from `[workspace.package]`.
const INHERITED_PACKAGE_KEYS: &[&str] = &[
    "version",
    "edition",
    "rust-version",
    "license",
    "repository",
];

/// Rule 5: which synod crates each member may depend on (normal dependencies; dev-dependencies
/// may use anything for tests). The map in `docs/ARCHITECTURE.md` shows the same graph.
const ALLOWED_INTERNAL_DEPS: &[(&str, &[&str])] = &[
    ("synod-core", &[]),
    ("synod-consensus", &[]),
    ("synod-resilience", &["synod-core"]),
    ("synod-exec", &["synod-core"]),
    ("synod-store", &["synod-core"]),
    ("synod-config", &["synod-core"]),
    ("synod-auth", &["synod-core", "synod-resilience"]),
    ("synod-policy", &["synod-core", "synod-exec"]),
    (
        "synod-agents",
        &["synod-core", "synod-exec", "synod-consensus"],
    ),
    (
        "synod",
        &[
            "synod-core",
            "synod-exec",
            "synod-resilience",
            "synod-store",
            "synod-config",
            "synod-auth",
            "synod-policy",
            "synod-consensus",
            "synod-agents",
        ],
    ),
    ("synod-cli", &["synod"]),
    ("synod-benches", &[]),
    ("synod-examples", &["synod"]),
    // Dev-only test fixture (a throwaway PostgreSQL cluster); never a normal dependency.
    ("synod-testpg", &[]),
];

/// Rule 6: what each crate's library sources and normal dependencies must not touch, and why.
/// `(crate, forbidden source tokens, forbidden dependencies, reason)`; crates not listed may
/// use everything except what another crate owns (see [`OWNED`]).
const PURE_CRATES: &[(&str, &[&str], &[&str], &str)] = &[
    (
        "synod-consensus",
        &[
            "std::fs",
            "std::net",
            "std::process",
            "tokio",
            "Instant::now",
            "SystemTime",
        ],
        &["tokio", "rusqlite", "nix", "reqwest"],
        "synod-consensus is pure: no I/O, no clock, no tokio",
    ),
    (
        "synod-core",
        &[
            "std::fs",
            "std::net",
            "std::process",
            "Instant::now",
            "SystemTime",
        ],
        &["rusqlite", "nix", "reqwest"],
        "synod-core is the shared vocabulary: no I/O",
    ),
];

/// Rule 6: capabilities one crate owns. `(owner, source tokens, dependency names, what)`.
const OWNED: &[(&str, &[&str], &[&str], &str)] = &[
    (
        "synod-exec",
        &["process::Command", "tokio::process"],
        &[],
        "only synod-exec spawns processes (use synod_exec::AgentCommand)",
    ),
    (
        "synod-store",
        &["rusqlite"],
        &["rusqlite", "libsqlite3-sys"],
        "only synod-store opens SQLite",
    ),
];

/// The package name of a member manifest.
fn package_name(manifest: &toml::Table) -> Option<&str> {
    manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
}

/// Names of the normal (not dev, not build) dependencies of a manifest, including
/// target-specific ones.
fn normal_dependencies(manifest: &toml::Table) -> Vec<String> {
    let mut names: Vec<String> = manifest
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
        for target in targets.values() {
            if let Some(deps) = target.get("dependencies").and_then(toml::Value::as_table) {
                names.extend(deps.keys().cloned());
            }
        }
    }
    names
}

/// Rules 5 and 6 for one member manifest.
fn check_architecture_manifest(file: &str, text: &str) -> Vec<Violation> {
    let Ok(manifest) = text.parse::<toml::Table>() else {
        return Vec::new(); // rule 2 reports unparsable manifests
    };
    let Some(name) = package_name(&manifest) else {
        return Vec::new();
    };
    let deps = normal_dependencies(&manifest);
    let mut found = Vec::new();
    match ALLOWED_INTERNAL_DEPS
        .iter()
        .find(|(crate_name, _)| *crate_name == name)
    {
        None => found.push(violation(
            file,
            "crate-graph",
            format!(
                "{name} is not in ALLOWED_INTERNAL_DEPS; add it there and to docs/ARCHITECTURE.md"
            ),
        )),
        Some((_, allowed)) => {
            for dep in deps.iter().filter(|d| d.starts_with("synod")) {
                if !allowed.contains(&dep.as_str()) {
                    found.push(violation(
                        file,
                        "crate-graph",
                        format!("{name} may not depend on {dep} (allowed: {allowed:?}); see docs/ARCHITECTURE.md"),
                    ));
                }
            }
        }
    }
    for (pure, _, forbidden, why) in PURE_CRATES {
        if *pure == name {
            for dep in deps.iter().filter(|d| forbidden.contains(&d.as_str())) {
                found.push(violation(
                    file,
                    "layer-duty",
                    format!("depends on {dep}: {why}"),
                ));
            }
        }
    }
    for (owner, _, owned, what) in OWNED {
        if *owner != name && !matches!(name, "synod-benches" | "synod-examples") {
            for dep in deps.iter().filter(|d| owned.contains(&d.as_str())) {
                found.push(violation(
                    file,
                    "layer-duty",
                    format!("depends on {dep}: {what}"),
                ));
            }
        }
    }
    found
}

/// Rule 6 for one library source file of crate `name`.
fn check_architecture_source(name: &str, file: &str, text: &str) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut rules: Vec<(&str, &str)> = Vec::new();
    for (pure, tokens, _, why) in PURE_CRATES {
        if *pure == name {
            rules.extend(tokens.iter().map(|t| (*t, *why)));
        }
    }
    for (owner, tokens, _, what) in OWNED {
        // synod-testpg is a dev-only fixture: it runs PostgreSQL's own programs.
        if *owner != name && name != "synod-testpg" {
            rules.extend(tokens.iter().map(|t| (*t, *what)));
        }
    }
    let mut in_tests = false;
    for (index, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            in_tests = true; // unit tests may use anything
        }
        if in_tests || code.starts_with("//") {
            continue;
        }
        for (token, why) in &rules {
            if let Some(column) = find_token(line, token) {
                found.push(violation(
                    file,
                    "layer-duty",
                    format!("line {}:{}: `{token}`: {why}", index + 1, column + 1),
                ));
            }
        }
    }
    found
}

/// Rule 1: the first non-blank line of a crate root is a `//!` doc line.
fn check_crate_root(file: &str, text: &str) -> Vec<Violation> {
    let first = text.lines().map(str::trim).find(|line| !line.is_empty());
    match first {
        Some(line) if line.starts_with("//!") || line.starts_with("#![doc") => Vec::new(),
        _ => vec![violation(
            file,
            "crate-docs",
            "crate root must open with `//!` docs describing the crate (with an example)",
        )],
    }
}

/// Rules 2 and 3 for one member manifest.
fn check_member_manifest(file: &str, text: &str) -> Vec<Violation> {
    let manifest: toml::Table = match text.parse() {
        Ok(table) => table,
        Err(err) => {
            return vec![violation(
                file,
                "manifest",
                format!("not valid TOML: {err}"),
            )];
        }
    };
    let mut found = Vec::new();

    let inherits = |value: Option<&toml::Value>| {
        value
            .and_then(|v| v.get("workspace"))
            .and_then(toml::Value::as_bool)
            == Some(true)
    };

    if !inherits(manifest.get("lints")) {
        found.push(violation(file, "lints", "add `[lints]\\nworkspace = true`"));
    }

    match manifest.get("package").and_then(toml::Value::as_table) {
        None => found.push(violation(file, "package", "missing [package] table")),
        Some(package) => {
            for key in INHERITED_PACKAGE_KEYS {
                if !inherits(package.get(*key)) {
                    found.push(violation(
                        file,
                        "workspace-package",
                        format!("write `{key}.workspace = true` in [package]"),
                    ));
                }
            }
        }
    }

    let mut dependency_tables: Vec<(String, &toml::Table)> = Vec::new();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(table) = manifest.get(section).and_then(toml::Value::as_table) {
            dependency_tables.push((section.to_owned(), table));
        }
    }
    if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
        for (target, spec) in targets {
            for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
                if let Some(table) = spec.get(section).and_then(toml::Value::as_table) {
                    dependency_tables.push((format!("target.{target}.{section}"), table));
                }
            }
        }
    }
    for (section, table) in dependency_tables {
        for (name, spec) in table {
            let ok = inherits(Some(spec))
                && ["version", "path", "git", "registry"]
                    .iter()
                    .all(|key| spec.get(*key).is_none());
            if !ok {
                found.push(violation(
                    file,
                    "workspace-dependency",
                    format!(
                        "[{section}] {name}: write `{name} = {{ workspace = true }}` and put its \
                         version in the root [workspace.dependencies]"
                    ),
                ));
            }
        }
    }
    found
}

/// Rule 4: placeholder macros and ignored tests. The needles are assembled at run time so this
/// file does not trip its own rule.
fn check_source(file: &str, text: &str) -> Vec<Violation> {
    let needles = [
        ["todo", "!("].concat(),
        ["unimplemented", "!("].concat(),
        ["#[", "ignore"].concat(),
    ];
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for needle in &needles {
            if let Some(column) = find_token(line, needle) {
                found.push(violation(
                    file,
                    "no-placeholders",
                    format!(
                        "line {}:{}: `{needle}` — finish the code or the test, or remove it",
                        index + 1,
                        column + 1
                    ),
                ));
            }
        }
    }
    found
}

/// Finds `needle` where it starts a token (not as the tail of a longer identifier).
fn find_token(line: &str, needle: &str) -> Option<usize> {
    line.match_indices(needle).map(|(at, _)| at).find(|&at| {
        line[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

// ---------------------------------------------------------------------------------------------
// Walking the real tree.

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// Member directories from the root manifest's `members` (plain paths and `dir/*` globs).
fn member_dirs(root: &Path) -> Vec<PathBuf> {
    let manifest: toml::Table = read(&root.join("Cargo.toml"))
        .parse()
        .expect("root Cargo.toml parses");
    let workspace = manifest["workspace"].as_table().expect("[workspace]");
    let list = |key: &str| -> Vec<String> {
        workspace
            .get(key)
            .and_then(toml::Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let excluded: Vec<PathBuf> = list("exclude").iter().map(|e| root.join(e)).collect();
    let mut dirs = Vec::new();
    for member in list("members") {
        if let Some(parent) = member.strip_suffix("/*") {
            let mut found: Vec<PathBuf> = fs::read_dir(root.join(parent))
                .expect("member glob directory exists")
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.join("Cargo.toml").is_file())
                .collect();
            found.sort();
            dirs.extend(found);
        } else {
            dirs.push(root.join(member));
        }
    }
    dirs.retain(|dir| !excluded.iter().any(|ex| dir == ex));
    dirs
}

/// Library and binary roots of a member: the conventional ones plus any declared paths.
fn crate_roots(dir: &Path, manifest: &toml::Table) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for conventional in ["src/lib.rs", "src/main.rs"] {
        roots.push(dir.join(conventional));
    }
    if let Some(path) = manifest
        .get("lib")
        .and_then(|lib| lib.get("path"))
        .and_then(toml::Value::as_str)
    {
        roots.push(dir.join(path));
    }
    for bin in manifest
        .get("bin")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(path) = bin.get("path").and_then(toml::Value::as_str) {
            roots.push(dir.join(path));
        }
    }
    roots.sort();
    roots.dedup();
    roots.retain(|path| path.is_file());
    roots
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name == "target" || name == "node_modules" || name.starts_with('.') {
                continue;
            }
            rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn workspace_is_tidy() {
    let root = workspace_root();
    let mut found = Vec::new();
    let members = member_dirs(&root);
    assert!(
        members.len() >= 10,
        "expected every crate plus benches and examples, got {members:?}"
    );
    for dir in &members {
        let manifest_path = dir.join("Cargo.toml");
        let text = read(&manifest_path);
        found.extend(check_member_manifest(
            &relative(&root, &manifest_path),
            &text,
        ));
        found.extend(check_architecture_manifest(
            &relative(&root, &manifest_path),
            &text,
        ));
        let manifest: toml::Table = text.parse().unwrap_or_default();
        if let Some(name) = package_name(&manifest) {
            let mut library_sources = Vec::new();
            rust_files(&dir.join("src"), &mut library_sources);
            for source in library_sources {
                found.extend(check_architecture_source(
                    name,
                    &relative(&root, &source),
                    &read(&source),
                ));
            }
        }
        let roots = crate_roots(dir, &manifest);
        assert!(
            !roots.is_empty(),
            "{} has no library or binary root",
            dir.display()
        );
        for crate_root in roots {
            found.extend(check_crate_root(
                &relative(&root, &crate_root),
                &read(&crate_root),
            ));
        }
    }
    let mut sources = Vec::new();
    for top in ["crates", "benches", "examples"] {
        rust_files(&root.join(top), &mut sources);
    }
    assert!(
        sources.len() > 10,
        "the walk found too few Rust files: {sources:?}"
    );
    for source in sources {
        found.extend(check_source(&relative(&root, &source), &read(&source)));
    }
    let report: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        found.is_empty(),
        "tidy rules broken:\n{}",
        report.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Each rule fails on a bad sample and passes on a good one.

const GOOD_MANIFEST: &str = r#"
[package]
name = "x"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
repository.workspace = true

[dependencies]
serde = { workspace = true, features = ["derive"] }

[target.'cfg(unix)'.dependencies]
nix = { workspace = true }

[lints]
workspace = true
"#;

#[test]
fn good_manifest_passes() {
    assert_eq!(check_member_manifest("Cargo.toml", GOOD_MANIFEST), vec![]);
}

#[test]
fn manifest_without_workspace_lints_fails() {
    let bad = GOOD_MANIFEST.replace("[lints]\nworkspace = true", "");
    let found = check_member_manifest("Cargo.toml", &bad);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "lints");
}

#[test]
fn manifest_with_own_edition_fails() {
    let bad = GOOD_MANIFEST.replace("edition.workspace = true", "edition = \"2021\"");
    let found = check_member_manifest("Cargo.toml", &bad);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "workspace-package");
    assert!(found[0].detail.contains("edition"), "{}", found[0]);
}

#[test]
fn dependency_version_outside_workspace_fails() {
    for bad_line in [
        "serde = \"1.0\"",
        "serde = { version = \"1.0\", features = [\"derive\"] }",
        "serde = { workspace = true, version = \"1.0\" }",
        "serde = { path = \"../serde\" }",
    ] {
        let bad = GOOD_MANIFEST.replace(
            "serde = { workspace = true, features = [\"derive\"] }",
            bad_line,
        );
        let found = check_member_manifest("Cargo.toml", &bad);
        assert_eq!(found.len(), 1, "{bad_line}: {found:?}");
        assert_eq!(found[0].rule, "workspace-dependency");
        assert!(found[0].detail.contains("serde"), "{}", found[0]);
    }
}

#[test]
fn target_specific_dependency_version_fails() {
    let bad = GOOD_MANIFEST.replace("nix = { workspace = true }", "nix = \"0.29\"");
    let found = check_member_manifest("Cargo.toml", &bad);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].detail.contains("target."), "{}", found[0]);
}

#[test]
fn crate_root_without_docs_fails() {
    assert_eq!(
        check_crate_root("lib.rs", "\n//! Docs.\npub fn f() {}\n"),
        vec![]
    );
    let found = check_crate_root("lib.rs", "// a plain comment\npub fn f() {}\n");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].rule, "crate-docs");
    assert_eq!(check_crate_root("lib.rs", "").len(), 1);
}

#[test]
fn placeholders_and_ignored_tests_fail() {
    let samples = [
        ["fn f() { ", "todo", "!() }"].concat(),
        ["fn f() { ", "unimplemented", "!(\"later\") }"].concat(),
        ["#[", "ignore", "]\n#[test]\nfn t() {}"].concat(),
        ["#[", "ignore = \"slow\"]"].concat(),
    ];
    for sample in &samples {
        let found = check_source("x.rs", sample);
        assert_eq!(found.len(), 1, "{sample}: {found:?}");
        assert_eq!(found[0].rule, "no-placeholders");
        assert!(found[0].detail.starts_with("line "), "{}", found[0]);
    }
    // Names that merely contain the words are fine.
    let fine = [
        "fn my_todo() {}",
        "let unimplemented_count = 1;",
        "// ignore this",
    ];
    for sample in fine {
        assert_eq!(check_source("x.rs", sample), vec![], "{sample}");
    }
}

#[test]
fn an_edge_outside_the_crate_graph_fails() {
    let manifest = |deps: &str| {
        format!(
            "[package]\nname = \"synod-store\"\n\n[dependencies]\n{deps}\n[dev-dependencies]\nsynod-exec = {{ workspace = true }}\n"
        )
    };
    assert!(
        check_architecture_manifest("m", &manifest("synod-core = { workspace = true }")).is_empty()
    );
    let found =
        check_architecture_manifest("m", &manifest("synod-resilience = { workspace = true }"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "crate-graph");
    let unknown = check_architecture_manifest("m", "[package]\nname = \"synod-new\"\n");
    assert_eq!(unknown[0].rule, "crate-graph");
}

#[test]
fn io_in_consensus_and_owned_capabilities_elsewhere_fail() {
    let found = check_architecture_source(
        "synod-consensus",
        "f",
        "use std::fs::read;\nlet t = tokio::spawn(x);\n",
    );
    assert_eq!(found.len(), 2, "{found:?}");
    let found = check_architecture_source(
        "synod-config",
        "f",
        "let c = std::process::Command::new(\"git\");\nuse rusqlite::Connection;\n",
    );
    assert_eq!(found.len(), 2, "{found:?}");
    // The owners themselves, comments and unit tests are fine.
    assert!(
        check_architecture_source("synod-exec", "f", "tokio::process::Command::new(p)").is_empty()
    );
    assert!(check_architecture_source("synod-store", "f", "use rusqlite::Connection;").is_empty());
    assert!(check_architecture_source("synod-config", "f", "// std::process::Command is exec's\n#[cfg(test)]\nmod tests { use rusqlite::Connection; }").is_empty());
    let found = check_architecture_manifest(
        "m",
        "[package]\nname = \"synod-consensus\"\n[dependencies]\ntokio = { workspace = true }\n",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    let found = check_architecture_manifest(
        "m",
        "[package]\nname = \"synod-auth\"\n[dependencies]\nrusqlite = { workspace = true }\nsynod-core = { workspace = true }\n",
    );
    assert_eq!(found.len(), 1, "{found:?}");
}
