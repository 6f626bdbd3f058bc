//! Where every value came from: [`Layer`], [`Explanation`] and load-time [`Warning`]s.
//!
//! ```
//! use synod_config::Layer;
//!
//! let layer = Layer::File { path: "synod.toml".into(), line: Some(3), column: Some(1) };
//! assert_eq!(layer.to_string(), "synod.toml:3:1");
//! assert_eq!(Layer::Env { var: "SYNOD_LOG".into() }.to_string(), "env SYNOD_LOG");
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

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

/// `key = value  (winner)`, then, when more than one layer set it, `set by:` each layer
/// lowest precedence first, the keys of a table one file set counted as one entry
/// (`synod.toml:25-28 (4 keys)`).
impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}  ({})", self.key, self.value, self.winner)?;
        if self.layers.len() < 2 {
            return Ok(());
        }
        f.write_str("\n  set by: ")?;
        let mut rest = self.layers.as_slice();
        let mut separator = "";
        while let Some(first) = rest.first() {
            let same_file = |layer: &Layer| match (first, layer) {
                (Layer::File { path: a, .. }, Layer::File { path: b, .. }) => a == b,
                _ => false,
            };
            let run = rest.iter().take_while(|l| same_file(l)).count().max(1);
            f.write_str(separator)?;
            match (first, &rest[run - 1]) {
                (Layer::File { path, line, .. }, Layer::File { line: last, .. }) if run > 1 => {
                    write!(f, "{}", path.display())?;
                    match (line, last) {
                        (Some(a), Some(b)) if a == b => write!(f, ":{a}")?,
                        (Some(a), Some(b)) => write!(f, ":{a}-{b}")?,
                        _ => {}
                    }
                    write!(f, " ({run} keys)")?;
                }
                _ => write!(f, "{first}")?,
            }
            separator = "; ";
            rest = &rest[run..];
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
    /// A file that sets secrets can be read by its group or by others (Unix and macOS; never
    /// given on Windows, which has no mode bits: there the file is as private as its ACL).
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

/// One record: a source (index into `Provenance::sources`) set a key, at a position for files
/// (line 0 = unknown).
#[derive(Debug, Clone, Copy)]
struct Rec {
    source: u32,
    line: u32,
    column: u32,
}

/// Per-key record of the layers that set it. Recording is append-only and allocation-light
/// (the load path); an index sorted by key is built on the first query, so exact keys and
/// whole subtrees (`agents.0.` ...) are contiguous ranges found by binary search.
#[derive(Debug, Clone, Default)]
pub(crate) struct Provenance {
    /// Distinct layers (files without positions) and their precedence ordinals.
    sources: Vec<(u32, Layer)>,
    records: Vec<(String, Rec)>,
    index: OnceLock<Vec<u32>>,
}

impl Provenance {
    /// Registers a layer; `ordinal` orders layers by precedence (defaults 0, then each file,
    /// then the environment, then overrides). Sources must be added in that order.
    pub(crate) fn add_source(&mut self, ordinal: u32, layer: Layer) -> u32 {
        self.sources.push((ordinal, layer));
        self.sources.len() as u32 - 1
    }

    /// Records that `source` set `key` (at `line`:`column` for files; 0 when unknown).
    pub(crate) fn record(&mut self, key: String, source: u32, line: u32, column: u32) {
        self.records.push((
            key,
            Rec {
                source,
                line,
                column,
            },
        ));
        self.index = OnceLock::new();
    }

    pub(crate) fn reserve(&mut self, additional: usize) {
        self.records.reserve(additional);
    }

    fn layer(&self, rec: Rec) -> Option<Layer> {
        let (_, layer) = self.sources.get(rec.source as usize)?;
        Some(match layer {
            // Line 0 means the position is unknown; known positions are 1-based.
            Layer::File { path, .. } => {
                let known = rec.line > 0;
                Layer::File {
                    path: path.clone(),
                    line: known.then_some(rec.line),
                    column: known.then_some(rec.column),
                }
            }
            other => other.clone(),
        })
    }

    fn ordinal(&self, rec: Rec) -> u32 {
        self.sources.get(rec.source as usize).map_or(0, |(o, _)| *o)
    }

    fn index(&self) -> &[u32] {
        self.index.get_or_init(|| {
            let mut index: Vec<u32> = (0..self.records.len() as u32).collect();
            // Stable: records of one key stay in recording (= precedence) order.
            index.sort_by(|a, b| {
                self.records[*a as usize]
                    .0
                    .cmp(&self.records[*b as usize].0)
            });
            index
        })
    }

    /// Records whose key starts with `prefix` (all of them when `exact` is false), or equals
    /// it (when `exact` is true).
    fn range(&self, prefix: &str, exact: bool) -> impl Iterator<Item = Rec> + '_ {
        let index = self.index();
        let key = |i: &u32| self.records[*i as usize].0.as_str();
        let start = index.partition_point(|i| key(i) < prefix);
        let len = index[start..].partition_point(|i| {
            if exact {
                key(i) == prefix
            } else {
                key(i).starts_with(prefix)
            }
        });
        index[start..start + len]
            .iter()
            .map(move |i| self.records[*i as usize].1)
    }

    /// Layers that set `key` or any key below it, lowest precedence first. Both count: a
    /// list or table that one layer set whole (the defaults' empty `agents = []`) and another
    /// filled in element by element was set by both.
    pub(crate) fn layers(&self, key: &str) -> Vec<Layer> {
        let mut recs: Vec<Rec> = if key.is_empty() {
            self.range("", false).collect()
        } else {
            let mut exact: Vec<Rec> = self.range(key, true).collect();
            exact.extend(self.range(&format!("{key}."), false));
            exact
        };
        recs.sort_by_key(|r| (self.ordinal(*r), r.line, r.column, r.source));
        let mut out: Vec<Layer> = Vec::new();
        for layer in recs.into_iter().filter_map(|r| self.layer(r)) {
            if !out.contains(&layer) {
                out.push(layer);
            }
        }
        out
    }

    /// The layer most responsible for `key`: its winner, else the highest layer below it,
    /// else the nearest ancestor's. A key no file or variable set (only the defaults, or
    /// nothing: a missing `command` in an `[[agents]]` entry) is located at the first key
    /// a file or variable set in its nearest enclosing table, since that is where the user
    /// can fix it.
    pub(crate) fn locate(&self, key: &str) -> Option<Layer> {
        let own = self.layers(key).pop();
        if own.as_ref().is_some_and(|layer| *layer != Layer::Default) {
            return own;
        }
        let mut fallback = own;
        let mut k = key;
        while let Some(i) = k.rfind('.') {
            k = &k[..i];
            let mut recs: Vec<Rec> = self.range(k, true).collect();
            recs.extend(self.range(&format!("{k}."), false));
            recs.sort_by_key(|r| (self.ordinal(*r), r.line, r.column, r.source));
            let layers: Vec<Layer> = recs.into_iter().filter_map(|r| self.layer(r)).collect();
            if let Some(set) = layers.iter().find(|layer| **layer != Layer::Default) {
                return Some(set.clone());
            }
            if fallback.is_none() {
                fallback = layers.last().cloned();
            }
        }
        fallback
    }
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
    fn set_by_counts_the_keys_of_a_table_one_file_set_as_one_entry() {
        let explained = |layers: Vec<Layer>| {
            Explanation {
                key: "retry".into(),
                value: Value::Null,
                winner: Layer::Override,
                layers,
                secret: false,
            }
            .to_string()
        };
        let other = |line: u32| Layer::File {
            path: "b.toml".into(),
            line: Some(line),
            column: Some(9),
        };
        let unplaced = Layer::File {
            path: "c.yaml".into(),
            line: None,
            column: None,
        };
        assert_eq!(
            explained(vec![
                Layer::Default,
                file(45),
                file(45),
                file(45),
                other(2),
                other(7),
                unplaced.clone(),
                unplaced,
                Layer::Env { var: "X".into() },
                Layer::Override,
            ]),
            "retry = null  (override)\n  set by: default; a.toml:45 (3 keys); b.toml:2-7 (2 keys); \
             c.yaml (2 keys); env X; override"
        );
        assert_eq!(
            explained(vec![file(3), other(4)]),
            "retry = null  (override)\n  set by: a.toml:3:1; b.toml:4:9"
        );
        assert_eq!(explained(vec![file(3)]), "retry = null  (override)");
    }

    #[test]
    fn locate_prefers_exact_then_below_then_above() {
        let mut p = Provenance::default();
        let d = p.add_source(0, Layer::Default);
        let f = p.add_source(1, file(0));
        let o = p.add_source(3, Layer::Override);
        p.record("a.b".into(), d, 0, 0);
        p.record("ab".into(), d, 0, 0);
        p.record("a.b".into(), f, 2, 1);
        p.record("a.c".into(), o, 0, 0);
        p.record("x".into(), f, 9, 1);
        assert_eq!(p.locate("a.b"), Some(file(2)));
        assert_eq!(p.locate("a"), Some(Layer::Override));
        assert_eq!(
            p.layers("a"),
            vec![Layer::Default, file(2), Layer::Override]
        );
        assert_eq!(p.locate("x.y.z"), Some(file(9)));
        assert_eq!(p.locate("nope"), None);
        assert_eq!(p.layers("").len(), 4);
        // Recording after a query invalidates the index.
        p.record("a.b".into(), o, 0, 0);
        assert_eq!(p.locate("a.b"), Some(Layer::Override));
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
