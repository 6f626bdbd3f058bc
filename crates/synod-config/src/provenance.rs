//! Where every value came from: [`Layer`], [`Explanation`] and load-time [`Warning`]s.
//!
//! ```
//! use synod_config::Layer;
//!
//! let layer = Layer::File { path: "synod.toml".into(), line: Some(3), column: Some(1) };
//! assert_eq!(layer.to_string(), "synod.toml:3:1");
//! assert_eq!(Layer::Env { var: "SYNOD_LOG".into() }.to_string(), "env SYNOD_LOG");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use serde_json::Value;

/// One source of configuration values, lowest precedence first:
/// `Default` < `File` (in registration order) < `Env` < `Override`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layer {
    /// `T::default()`.
    Default,
    /// A configuration file. `line`/`column` are 1-based and point at the key (or, for array
    /// elements, the element). They are `None` where the format scanner could not place the
    /// value (see the crate docs for what each format reports).
    File {
        /// The file as registered with the loader.
        path: PathBuf,
        /// 1-based line.
        line: Option<u32>,
        /// 1-based column, in characters.
        column: Option<u32>,
    },
    /// An environment variable.
    Env {
        /// Its name, e.g. `SYNOD_AGENTS__0__TIMEOUT`.
        var: String,
    },
    /// An explicit `key.path=value` override (command line).
    Override,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::Default => f.write_str("default"),
            Layer::File { path, line, column } => {
                write!(f, "{}", path.display())?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                    if let Some(column) = column {
                        write!(f, ":{column}")?;
                    }
                }
                Ok(())
            }
            Layer::Env { var } => write!(f, "env {var}"),
            Layer::Override => f.write_str("override"),
        }
    }
}

/// The answer to [`Loaded::explain`](crate::Loaded::explain), like `git config --show-origin`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Explanation {
    /// The key asked about, normalised to dotted form (`agents.0.timeout`).
    pub key: String,
    /// The final value (secrets replaced by `"[redacted]"`).
    pub value: Value,
    /// The layer whose value won.
    pub winner: Layer,
    /// Every layer that set this key (or, for a table, a key below it), lowest precedence first.
    pub layers: Vec<Layer>,
    /// Whether the value is (or contains) a [`Secret`](crate::Secret).
    pub secret: bool,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}  ({})", self.key, self.value, self.winner)?;
        if self.layers.len() > 1 {
            f.write_str("\n  set by:")?;
            for layer in &self.layers {
                write!(f, " {layer};")?;
            }
        }
        Ok(())
    }
}

/// Something worth telling the user that does not stop the load.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// A variable with the configured prefix names no configuration key.
    UnknownEnvVar {
        /// The variable.
        var: String,
    },
    /// A variable names a key but could not be applied (e.g. an array index past the end).
    IgnoredEnvVar {
        /// The variable.
        var: String,
        /// Why.
        reason: String,
    },
    /// A file that sets secrets can be read by its group or by others.
    ReadableSecrets {
        /// The file.
        path: PathBuf,
        /// Its permission bits (e.g. `0o644`).
        mode: u32,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnknownEnvVar { var } => write!(
                f,
                "environment variable {var} names no configuration key; check its spelling (use `__` between nested keys)"
            ),
            Warning::IgnoredEnvVar { var, reason } => {
                write!(f, "environment variable {var} was ignored: {reason}")
            }
            Warning::ReadableSecrets { path, mode } => write!(
                f,
                "{} holds secrets but is readable by group or others (mode {mode:o}); run `chmod 600 {}`",
                path.display(),
                path.display()
            ),
        }
    }
}

/// Per-key record of the layers that set it. Keys are dotted paths; layers are pushed in
/// precedence order, so the last entry of a key is its winner.
#[derive(Debug, Clone, Default)]
pub(crate) struct Provenance {
    entries: HashMap<String, Vec<(u32, Layer)>>,
}

impl Provenance {
    /// Records that `layer` set `key`. `ordinal` orders layers by precedence (defaults 0,
    /// then each file, then the environment, then overrides); calls come in that order.
    pub(crate) fn record(&mut self, key: String, ordinal: u32, layer: Layer) {
        self.entries.entry(key).or_default().push((ordinal, layer));
    }

    /// Layers that set `key`, or any key below it, lowest precedence first.
    pub(crate) fn layers(&self, key: &str) -> Vec<Layer> {
        if let Some(exact) = self.entries.get(key) {
            return exact.iter().map(|(_, l)| l.clone()).collect();
        }
        let mut found: Vec<(u32, Option<u32>, Option<u32>, &Layer)> = Vec::new();
        for (k, layers) in &self.entries {
            if is_below(k, key) {
                for (ordinal, layer) in layers {
                    let (line, column) = match layer {
                        Layer::File { line, column, .. } => (*line, *column),
                        _ => (None, None),
                    };
                    found.push((*ordinal, line, column, layer));
                }
            }
        }
        found.sort_by(|a, b| {
            (a.0, a.1, a.2)
                .cmp(&(b.0, b.1, b.2))
                .then_with(|| a.3.to_string().cmp(&b.3.to_string()))
        });
        let mut out: Vec<Layer> = Vec::new();
        for (_, _, _, layer) in found {
            if !out.contains(layer) {
                out.push(layer.clone());
            }
        }
        out
    }

    /// The layer most responsible for `key`: its winner, else the highest layer below it,
    /// else the winner of its nearest recorded ancestor.
    pub(crate) fn locate(&self, key: &str) -> Option<Layer> {
        if let Some(layer) = self.layers(key).pop() {
            return Some(layer);
        }
        let mut k = key;
        while let Some(i) = k.rfind('.') {
            k = &k[..i];
            if let Some((_, layer)) = self.entries.get(k).and_then(|l| l.last()) {
                return Some(layer.clone());
            }
        }
        None
    }
}

/// Whether `k` is strictly below `parent` (`parent` empty means the root).
fn is_below(k: &str, parent: &str) -> bool {
    if parent.is_empty() {
        return true;
    }
    k.len() > parent.len() && k.starts_with(parent) && k.as_bytes()[parent.len()] == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(line: u32) -> Layer {
        Layer::File {
            path: "a.toml".into(),
            line: Some(line),
            column: Some(1),
        }
    }

    #[test]
    fn locate_prefers_exact_then_below_then_above() {
        let mut p = Provenance::default();
        p.record("a.b".into(), 0, Layer::Default);
        p.record("a.b".into(), 1, file(2));
        p.record("a.c".into(), 3, Layer::Override);
        p.record("x".into(), 1, file(9));
        assert_eq!(p.locate("a.b"), Some(file(2)));
        assert_eq!(p.locate("a"), Some(Layer::Override));
        assert_eq!(
            p.layers("a"),
            vec![Layer::Default, file(2), Layer::Override]
        );
        assert_eq!(p.locate("x.y.z"), Some(file(9)));
        assert_eq!(p.locate("nope"), None);
        assert!(!is_below("ab.c", "a"));
    }

    #[test]
    fn layer_display() {
        let l = Layer::File {
            path: "c.yaml".into(),
            line: None,
            column: None,
        };
        assert_eq!(l.to_string(), "c.yaml");
        assert_eq!(Layer::Override.to_string(), "override");
    }
}
