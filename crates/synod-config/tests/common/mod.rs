//! Configuration type and helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use synod_config::{Error, JsonSchema, Secret, Violation};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Config {
    pub version: u32,
    pub log_level: String,
    pub max_tokens: u32,
    pub server: Server,
    pub agents: Vec<Agent>,
    pub api_token: Option<Secret>,
    pub labels: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: 2,
            log_level: "warn".into(),
            max_tokens: 1000,
            server: Server::default(),
            agents: Vec::new(),
            api_token: None,
            labels: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub request_timeout_ms: u64,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            host: "127.0.0.1".into(),
            port: 7070,
            request_timeout_ms: 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Agent {
    pub name: String,
    pub timeout: u32,
    pub enabled: bool,
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Err(e) = std::fs::write(&path, text) {
        panic!("cannot write {}: {e}", path.display());
    }
    path
}

pub fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

pub fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The violations of a load that must fail validation; panics (naming what came instead)
/// on success or on another error.
pub fn violations<T: std::fmt::Debug>(loaded: Result<T, Error>) -> Vec<Violation> {
    match loaded {
        Err(Error::Invalid { violations }) => violations,
        other => panic!("expected violations, got {other:?}"),
    }
}

/// Sets a file's Unix permission bits (nothing elsewhere).
#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        panic!("chmod {}: {e}", path.display());
    }
}

/// Sets a file's Unix permission bits (nothing elsewhere).
#[cfg(not(unix))]
pub fn set_mode(_path: &Path, _mode: u32) {}
