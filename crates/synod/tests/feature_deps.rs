//! What each facade feature pulls in: the dependency sets a user of one layer relies on
//! (issue 16, "Layers pay for what they do not use").
//!
//! Each check resolves `cargo tree -p synod --no-default-features --features F -e normal
//! --prefix none --locked --offline` in the workspace root (normal dependencies only: what a
//! user's build compiles) and asserts which crates must be absent, and, so that an empty or
//! misparsed tree cannot pass, which crates must be present.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `(feature, crates it must pull in, crates it must not pull in)`.
const EXPECTATIONS: &[(&str, &[&str], &[&str])] = &[
    ("consensus", &["synod-consensus"], &["tokio"]),
    ("config", &["synod-config"], &["backon", "failsafe"]),
    (
        "policy",
        &["synod-policy", "serde_json"],
        &["tokio", "tokio-util", "nix", "synod-exec"],
    ),
    (
        "policy-hooks",
        &["synod-policy", "synod-exec", "tokio"],
        &[],
    ),
    ("resilience", &["synod-resilience"], &["rusqlite"]),
    ("exec", &["synod-exec", "tokio"], &["rusqlite", "reqwest"]),
    // The PostgreSQL store: the raw client and its pool (ADR 0016), no TLS stack yet, no
    // second SQL toolkit.
    (
        "postgres",
        &["synod-store", "tokio-postgres", "deadpool-postgres"],
        &["sqlx", "openssl", "native-tls", "rustls", "reqwest"],
    ),
    // Parsing the CLIs' envelopes needs no store, no HTTP client and no retry engines.
    (
        "agents",
        &["synod-agents", "synod-exec"],
        &["rusqlite", "reqwest", "backon", "failsafe"],
    ),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The crate names in the normal-dependency tree of `synod` with only `feature` on.
fn dependencies(feature: &str) -> BTreeSet<String> {
    let args = [
        "tree",
        "-p",
        "synod",
        "--no-default-features",
        "--features",
        feature,
        "-e",
        "normal",
        "--prefix",
        "none",
        "--locked",
        "--offline",
    ];
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `cargo {}`: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "`cargo {}` failed ({}); run `cargo fetch` first if the registry is not local:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn why(feature: &str, name: &str) -> String {
    format!(
        "`cargo tree -p synod --no-default-features --features {feature} -e normal -i {name}` \
         shows the path"
    )
}

#[test]
fn each_facade_feature_pulls_in_only_what_its_users_rely_on() {
    let mut failures = Vec::new();
    for (feature, required, forbidden) in EXPECTATIONS {
        let deps = dependencies(feature);
        assert!(
            deps.contains("synod"),
            "feature `{feature}`: the tree does not list synod itself; got {deps:?}"
        );
        for name in *required {
            if !deps.contains(*name) {
                failures.push(format!(
                    "feature `{feature}` no longer pulls in `{name}`, which it needs"
                ));
            }
        }
        for name in *forbidden {
            if deps.contains(*name) {
                failures.push(format!(
                    "feature `{feature}` pulls in `{name}`, which its users must not pay for; {}",
                    why(feature, name)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_facade_feature_is_covered_or_listed_as_aggregate() {
    let manifest = std::fs::read_to_string(workspace_root().join("crates/synod/Cargo.toml"))
        .expect("read crates/synod/Cargo.toml");
    let manifest: toml::Table = manifest.parse().expect("crates/synod/Cargo.toml is TOML");
    let features = manifest
        .get("features")
        .and_then(toml::Value::as_table)
        .expect("crates/synod/Cargo.toml has [features]");
    // Features that add no dependency boundary of their own: they are everything (`full`),
    // the default set, or the layers wired together (`orchestrator`, which needs them all),
    // or layers no other layer's users depend on the absence of (`store`, `auth`).
    let aggregates = ["default", "full", "orchestrator", "store", "auth"];
    for name in features.keys() {
        assert!(
            aggregates.contains(&name.as_str())
                || EXPECTATIONS.iter().any(|(feature, _, _)| feature == name),
            "facade feature `{name}` has no expectation in tests/feature_deps.rs; add what it \
             must and must not pull in to EXPECTATIONS"
        );
    }
}
