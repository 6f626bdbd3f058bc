//! File formats: parse TOML, YAML or JSON into a JSON value plus a map from every key path to
//! its 1-based line and column.
//!
//! - TOML: parsed with `toml`'s span-preserving `DeTable`; every key and array element has an
//!   exact position.
//! - JSON: parsed with `serde_json` (parse errors carry line:column); positions come from a
//!   small scanner over the same text, exact for every key and array element.
//! - YAML: parsed by the `config` crate (yaml-rust2); positions come from a line scanner that
//!   understands block mappings and `- ` sequences. Values inside flow collections
//!   (`{a: 1}`, `[1, 2]`) and anchors/aliases report the position of their enclosing key.

use std::collections::HashMap;
use std::path::Path;

use config::{FileFormat, Source};
use serde_json::{Map, Number, Value};

use crate::error::{Error, Result};

/// Positions by dotted key path.
pub(crate) type Spans = HashMap<String, (u32, u32)>;

/// The position of one key (or array element) in a file.
#[derive(Debug, Clone)]
pub(crate) struct Pos {
    pub(crate) key: String,
    pub(crate) line: u32,
    pub(crate) column: u32,
    /// Whether the value is a scalar or an empty table/array.
    pub(crate) leaf: bool,
}

fn is_leaf(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => true,
    }
}

/// A supported file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Toml,
    Yaml,
    Json,
}

impl Format {
    pub(crate) fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "toml" => Some(Format::Toml),
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// A parsed file: its value (always an object) and key positions.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) value: Value,
    pub(crate) positions: Vec<Pos>,
    /// Whether `positions` holds every key and element of `value`, with correct leaf flags.
    pub(crate) complete: bool,
}

impl Parsed {
    /// Positions by key.
    pub(crate) fn spans(positions: Vec<Pos>) -> Spans {
        positions
            .into_iter()
            .map(|p| (p.key, (p.line, p.column)))
            .collect()
    }
}

pub(crate) fn parse(path: &Path, text: &str, format: Format) -> Result<Parsed> {
    let lines = LineIndex::new(text);
    let parsed = match format {
        Format::Toml => parse_toml(path, text, &lines)?,
        Format::Json => parse_json(path, text, &lines)?,
        Format::Yaml => parse_yaml(path, text)?,
    };
    if !parsed.value.is_object() {
        return Err(Error::Parse {
            path: path.to_owned(),
            line: 1,
            column: 1,
            message: "the top level must be a table / mapping / object of keys".into(),
        });
    }
    Ok(parsed)
}

/// Byte offset to 1-based line and character column.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    pub(crate) fn position(&self, offset: usize) -> (u32, u32) {
        let line = self.starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = self.starts[line];
        let column = self
            .text
            .get(start..offset.min(self.text.len()))
            .map_or(offset - start, |s| s.chars().count());
        (line as u32 + 1, column as u32 + 1)
    }
}

fn join(path: &[String]) -> String {
    path.join(".")
}

// ---------------------------------------------------------------- TOML

fn parse_toml(path: &Path, text: &str, lines: &LineIndex<'_>) -> Result<Parsed> {
    let table = toml::de::DeTable::parse(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| lines.position(s.start));
        Error::Parse {
            path: path.to_owned(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    let mut positions = Vec::new();
    let mut key = Vec::new();
    let value = toml_table(path, table.get_ref(), &mut key, &mut positions, lines)?;
    Ok(Parsed {
        value,
        positions,
        complete: true,
    })
}

fn toml_table(
    path: &Path,
    table: &toml::de::DeTable<'_>,
    key: &mut Vec<String>,
    positions: &mut Vec<Pos>,
    lines: &LineIndex<'_>,
) -> Result<Value> {
    let mut map = Map::new();
    for (k, v) in table {
        key.push(k.get_ref().to_string());
        let (line, column) = lines.position(k.span().start);
        let value = toml_value(path, v, key, positions, lines)?;
        positions.push(Pos {
            key: join(key),
            line,
            column,
            leaf: is_leaf(&value),
        });
        if let Some(name) = key.pop() {
            map.insert(name, value);
        }
    }
    Ok(Value::Object(map))
}

fn toml_value(
    path: &Path,
    v: &toml::Spanned<toml::de::DeValue<'_>>,
    key: &mut Vec<String>,
    positions: &mut Vec<Pos>,
    lines: &LineIndex<'_>,
) -> Result<Value> {
    use toml::de::DeValue;
    let bad = |what: &str| {
        let (line, column) = lines.position(v.span().start);
        Error::Parse {
            path: path.to_owned(),
            line,
            column,
            message: format!("{what} cannot be represented in configuration"),
        }
    };
    Ok(match v.get_ref() {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            if let Ok(n) = i64::from_str_radix(i.as_str(), i.radix()) {
                Value::from(n)
            } else if let Ok(n) = u64::from_str_radix(i.as_str(), i.radix()) {
                Value::from(n)
            } else {
                return Err(bad("an integer outside the 64-bit range"));
            }
        }
        DeValue::Float(x) => {
            let n = x.as_str().parse::<f64>().ok().and_then(Number::from_f64);
            Value::Number(n.ok_or_else(|| bad("an infinite or NaN float"))?)
        }
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                key.push(i.to_string());
                let (line, column) = lines.position(item.span().start);
                let value = toml_value(path, item, key, positions, lines)?;
                positions.push(Pos {
                    key: join(key),
                    line,
                    column,
                    leaf: is_leaf(&value),
                });
                out.push(value);
                key.pop();
            }
            Value::Array(out)
        }
        DeValue::Table(t) => toml_table(path, t, key, positions, lines)?,
    })
}

// ---------------------------------------------------------------- JSON

fn parse_json(path: &Path, text: &str, lines: &LineIndex<'_>) -> Result<Parsed> {
    if text.trim().is_empty() {
        return Ok(Parsed {
            value: Value::Object(Map::new()),
            positions: Vec::new(),
            complete: true,
        });
    }
    let value: Value = serde_json::from_str(text).map_err(|e| Error::Parse {
        path: path.to_owned(),
        line: e.line() as u32,
        column: e.column() as u32,
        message: e.to_string(),
    })?;
    let mut scan = JsonScan {
        b: text.as_bytes(),
        text,
        i: 0,
        path: Vec::new(),
        positions: Vec::new(),
        lines,
    };
    let complete = scan.value(None, 0).is_some();
    Ok(Parsed {
        value,
        positions: scan.positions,
        complete,
    })
}

/// Records key positions in text that `serde_json` has already accepted. It never panics
/// and simply stops if the text surprises it.
struct JsonScan<'a, 'l> {
    b: &'a [u8],
    text: &'a str,
    i: usize,
    path: Vec<String>,
    positions: Vec<Pos>,
    lines: &'l LineIndex<'a>,
}

impl JsonScan<'_, '_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Scans one value; `at` is where its key started (object members), else the value start
    /// is recorded (array elements). Returns whether the value is a leaf, or `None` if the
    /// text surprised the scanner. Depth-limited like serde_json.
    fn value(&mut self, at: Option<usize>, depth: usize) -> Option<bool> {
        self.ws();
        let slot = (depth > 0).then(|| {
            let (line, column) = self.lines.position(at.unwrap_or(self.i));
            self.positions.push(Pos {
                key: join(&self.path),
                line,
                column,
                leaf: true,
            });
            self.positions.len() - 1
        });
        if depth > 256 {
            return None;
        }
        let leaf = match self.peek()? {
            b'{' => self.object(depth)? == 0,
            b'[' => self.array(depth)? == 0,
            b'"' => self.string().map(|_| true)?,
            _ => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b']' | b'}') || c.is_ascii_whitespace() {
                        break;
                    }
                    self.i += 1;
                }
                true
            }
        };
        if let Some(slot) = slot {
            self.positions[slot].leaf = leaf;
        }
        Some(leaf)
    }

    /// Scans a string, returning its decoded contents.
    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'"' => return serde_json::from_str(self.text.get(start..self.i)?).ok(),
                _ => {}
            }
        }
        None
    }

    /// Scans an object, returning its member count.
    fn object(&mut self, depth: usize) -> Option<usize> {
        self.i += 1;
        let mut members = 0;
        loop {
            self.ws();
            match self.peek()? {
                b'}' => {
                    self.i += 1;
                    return Some(members);
                }
                b',' => self.i += 1,
                b'"' => {
                    let at = self.i;
                    let key = self.string()?;
                    self.ws();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.i += 1;
                    self.path.push(key);
                    let ok = self.value(Some(at), depth + 1);
                    self.path.pop();
                    ok?;
                    members += 1;
                }
                _ => return None,
            }
        }
    }

    /// Scans an array, returning its length.
    fn array(&mut self, depth: usize) -> Option<usize> {
        self.i += 1;
        let mut index = 0usize;
        loop {
            self.ws();
            match self.peek()? {
                b']' => {
                    self.i += 1;
                    return Some(index);
                }
                b',' => self.i += 1,
                _ => {
                    self.path.push(index.to_string());
                    let ok = self.value(None, depth + 1);
                    self.path.pop();
                    ok?;
                    index += 1;
                }
            }
        }
    }
}

// ---------------------------------------------------------------- YAML

fn parse_yaml(path: &Path, text: &str) -> Result<Parsed> {
    let map = config::File::from_str(text, FileFormat::Yaml)
        .collect()
        .map_err(|e| {
            let message = e.to_string();
            let (line, column) = yaml_error_position(&message);
            Error::Parse {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        })?;
    let mut obj = Map::new();
    for (k, v) in map {
        obj.insert(k, from_config(v));
    }
    Ok(Parsed {
        value: Value::Object(obj),
        positions: yaml_positions(text),
        complete: false,
    })
}

/// Converts a `config` value into JSON.
pub(crate) fn from_config(v: config::Value) -> Value {
    use config::ValueKind;
    match v.kind {
        ValueKind::Nil => Value::Null,
        ValueKind::Boolean(b) => Value::Bool(b),
        ValueKind::I64(n) => Value::from(n),
        ValueKind::U64(n) => Value::from(n),
        ValueKind::I128(n) => i64::try_from(n)
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(n.to_string())),
        ValueKind::U128(n) => u64::try_from(n)
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(n.to_string())),
        ValueKind::Float(x) => Number::from_f64(x).map_or(Value::Null, Value::Number),
        ValueKind::String(s) => Value::String(s),
        ValueKind::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, from_config(v))).collect())
        }
        ValueKind::Array(a) => Value::Array(a.into_iter().map(from_config).collect()),
    }
}

/// yaml-rust2 messages end in `at byte B line L column C`; pick L and C out (both 1-based:
/// yaml-rust2 prints its 0-based column plus one).
fn yaml_error_position(message: &str) -> (u32, u32) {
    let num_after = |word: &str| -> Option<u32> {
        let at = message.rfind(word)? + word.len();
        let digits: String = message[at..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    match (num_after(" line "), num_after(" column ")) {
        (Some(l), Some(c)) => (l, c),
        (Some(l), None) => (l, 0),
        _ => (0, 0),
    }
}

struct YamlFrame {
    indent: usize,
    seg: String,
    item: bool,
}

/// Line scanner for block-style YAML (see the module docs for its limits).
fn yaml_positions(text: &str) -> Vec<Pos> {
    let mut spans: Vec<Pos> = Vec::new();
    let mut stack: Vec<YamlFrame> = Vec::new();
    // Index counters for sequences that have no frame yet: keyed by (parent path, indent).
    let mut counters: HashMap<(String, usize), usize> = HashMap::new();
    let mut block_scalar: Option<usize> = None;
    for (lineno, raw) in text.lines().enumerate() {
        let line_no = lineno as u32 + 1;
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let content = raw[indent..].trim_end();
        if let Some(min) = block_scalar {
            if content.is_empty() || indent > min {
                continue;
            }
            block_scalar = None;
        }
        if content.is_empty()
            || content.starts_with('#')
            || content == "---"
            || content == "..."
            || content.starts_with('%')
        {
            continue;
        }
        let mut n = indent;
        let mut rest = content;
        // Sequence items, possibly several on one line (`- - a`).
        while rest == "-" || rest.starts_with("- ") {
            while stack
                .last()
                .is_some_and(|f| f.indent > n || (f.indent == n && f.item))
            {
                stack.pop();
            }
            let parent: Vec<&str> = stack.iter().map(|f| f.seg.as_str()).collect();
            let slot = counters.entry((parent.join("."), n)).or_insert(0);
            let index = *slot;
            *slot += 1;
            stack.push(YamlFrame {
                indent: n,
                seg: index.to_string(),
                item: true,
            });
            let path: Vec<&str> = stack.iter().map(|f| f.seg.as_str()).collect();
            spans.push(Pos {
                key: path.join("."),
                line: line_no,
                column: n as u32 + 1,
                leaf: false,
            });
            let after = rest.get(1..).unwrap_or("");
            let skipped = after.len() - after.trim_start_matches(' ').len();
            n += 1 + skipped;
            rest = after.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
        }
        let Some((key, value)) = split_yaml_key(rest) else {
            continue;
        };
        while stack.last().is_some_and(|f| f.indent >= n) {
            stack.pop();
        }
        stack.push(YamlFrame {
            indent: n,
            seg: key,
            item: false,
        });
        let path: Vec<&str> = stack.iter().map(|f| f.seg.as_str()).collect();
        spans.push(Pos {
            key: path.join("."),
            line: line_no,
            column: n as u32 + 1,
            leaf: false,
        });
        let value = value.trim();
        if value.starts_with('|') || value.starts_with('>') {
            block_scalar = Some(n);
        }
    }
    spans
}

/// Splits `key: value` (or `key:`), honouring quoted keys. Returns `None` for lines that are
/// not mapping entries.
fn split_yaml_key(s: &str) -> Option<(String, &str)> {
    let (key, rest) = if let Some(q @ ('"' | '\'')) = s.chars().next() {
        let end = s[1..].find(q)? + 1;
        let key = &s[1..end];
        (key.to_owned(), &s[end + 1..])
    } else {
        let mut split = None;
        for (i, c) in s.char_indices() {
            if c == ':' && s[i + 1..].chars().next().is_none_or(|n| n == ' ') {
                split = Some(i);
                break;
            }
            if c == '#' || c == '{' || c == '[' {
                return None;
            }
        }
        let i = split?;
        (s[..i].trim_end().to_owned(), &s[i..])
    };
    let rest = rest.trim_start();
    let rest = rest.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some((key, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(p: &Parsed, key: &str) -> (u32, u32) {
        p.positions
            .iter()
            .find(|x| x.key == key)
            .map_or((0, 0), |x| (x.line, x.column))
    }

    fn leaves(p: &Parsed) -> Vec<&str> {
        let mut v: Vec<&str> = p
            .positions
            .iter()
            .filter(|x| x.leaf)
            .map(|x| x.key.as_str())
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn toml_positions() {
        let text = "name = \"x\"\n\n[server]\nport = 8080\n\n[[agents]]\ntimeout = 5\n[[agents]]\n  timeout = 6\n";
        let p = parse(Path::new("a.toml"), text, Format::Toml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(at(&p, "name"), (1, 1));
        assert_eq!(at(&p, "server.port"), (4, 1));
        assert_eq!(at(&p, "agents.1.timeout"), (9, 3));
        assert_eq!(p.value["agents"][1]["timeout"], 6);
        assert!(p.complete);
        assert_eq!(
            leaves(&p),
            vec![
                "agents.0.timeout",
                "agents.1.timeout",
                "name",
                "server.port"
            ]
        );
    }

    #[test]
    fn toml_error_has_position() {
        let err = parse(Path::new("a.toml"), "a = 1\nb = = 2\n", Format::Toml);
        match err {
            Err(Error::Parse { line, column, .. }) => assert_eq!((line, column), (2, 5)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn json_positions() {
        let text =
            "{\n  \"a\": 1,\n  \"list\": [\n    {\"t\": 2},\n    3\n  ],\n  \"e\\\"x\": true\n}";
        let p = parse(Path::new("a.json"), text, Format::Json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(at(&p, "a"), (2, 3));
        assert_eq!(at(&p, "list.0"), (4, 5));
        assert_eq!(at(&p, "list.0.t"), (4, 6));
        assert_eq!(at(&p, "list.1"), (5, 5));
        assert_eq!(at(&p, "e\"x"), (7, 3));
        assert!(p.complete);
        assert_eq!(leaves(&p), vec!["a", "e\"x", "list.0.t", "list.1"]);
    }

    #[test]
    fn json_error_has_position() {
        match parse(Path::new("a.json"), "{\n \"a\": ,\n}", Format::Json) {
            Err(Error::Parse { line, .. }) => assert_eq!(line, 2),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn yaml_positions() {
        let text = "# c\nname: x\nserver:\n  port: 8080\n  note: |\n    a: b\nagents:\n- timeout: 5\n  model: m\n- timeout: 6\nlist:\n  - 1\n  - 2\n\"q k\": 1\n";
        let p = parse(Path::new("a.yaml"), text, Format::Yaml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(at(&p, "name"), (2, 1));
        assert_eq!(at(&p, "server.port"), (4, 3));
        assert_eq!(at(&p, "server.note.a"), (0, 0));
        assert_eq!(at(&p, "agents.0.timeout"), (8, 3));
        assert_eq!(at(&p, "agents.0.model"), (9, 3));
        assert_eq!(at(&p, "agents.1.timeout"), (10, 3));
        assert_eq!(at(&p, "list.1"), (13, 3));
        assert_eq!(at(&p, "q k"), (14, 1));
        assert_eq!(p.value["agents"][1]["timeout"], 6);
    }

    #[test]
    fn yaml_error_has_position() {
        match parse(Path::new("a.yaml"), "a: 1\nb: [1, 2\n", Format::Yaml) {
            Err(Error::Parse { line, .. }) => assert!(line >= 2),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn leaf_keys(v: &Value, path: &mut Vec<String>, out: &mut Vec<String>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    path.push(k.clone());
                    leaf_keys(v, path, out);
                    path.pop();
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for (i, v) in a.iter().enumerate() {
                    path.push(i.to_string());
                    leaf_keys(v, path, out);
                    path.pop();
                }
            }
            _ if !path.is_empty() => out.push(path.join(".")),
            _ => {}
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-z \"\\\\é\n]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map("[a-zA-Z_ é\"\\\\]{1,6}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn json_scanner_places_every_key(
            members in proptest::collection::btree_map("[a-z_é\"]{1,6}", json_value(), 0..6),
            pretty in proptest::bool::ANY,
        ) {
            let value = Value::Object(members.into_iter().collect());
            let text = if pretty {
                serde_json::to_string_pretty(&value)
            } else {
                serde_json::to_string(&value)
            }
            .unwrap_or_default();
            let p = parse(Path::new("p.json"), &text, Format::Json)
                .unwrap_or_else(|e| panic!("{e}"));
            proptest::prop_assert!(p.complete);
            let mut expected = Vec::new();
            leaf_keys(&value, &mut Vec::new(), &mut expected);
            expected.sort();
            let mut got: Vec<String> =
                p.positions.iter().filter(|x| x.leaf).map(|x| x.key.clone()).collect();
            got.sort();
            proptest::prop_assert_eq!(got, expected);
            // A member's position is where its quoted name starts; an element's, its value.
            let lines: Vec<&str> = text.split('\n').collect();
            for pos in &p.positions {
                let line = lines[pos.line as usize - 1];
                let rest: String = line.chars().skip(pos.column as usize - 1).collect();
                let segs: Vec<&str> = pos.key.split('.').collect();
                let parent = crate::schema::get(&value, &segs[..segs.len() - 1]);
                let expected = match parent {
                    Some(Value::Object(_)) => serde_json::to_string(segs[segs.len() - 1]),
                    _ => crate::schema::get(&value, &segs).map_or(Ok(String::new()), |v| {
                        serde_json::to_string(v).map(|t| t.chars().take(1).collect())
                    }),
                }
                .unwrap_or_default();
                proptest::prop_assert!(
                    rest.starts_with(&expected),
                    "{} at {}:{} -> {rest:?}, expected {expected:?}", pos.key, pos.line, pos.column
                );
            }
        }

        #[test]
        fn parsers_never_panic(text in "(?s).{0,200}") {
            for format in [Format::Toml, Format::Yaml, Format::Json] {
                let _ = parse(Path::new("x"), &text, format);
            }
            let _ = super::yaml_positions(&text);
        }

        #[test]
        fn yaml_scanner_never_panics_on_yaml_like_text(
            lines in proptest::collection::vec("( {0,4})(- )?([a-z\"']{0,4}(: ?)?)([a-z0-9|>{}\\[\\]#]{0,4})", 0..12)
        ) {
            let text = lines.join("\n");
            let _ = super::yaml_positions(&text);
            let _ = parse(Path::new("x.yaml"), &text, Format::Yaml);
        }
    }

    #[test]
    fn top_level_must_be_a_table() {
        assert!(matches!(
            parse(Path::new("a.json"), "[1]", Format::Json),
            Err(Error::Parse { .. })
        ));
    }
}
