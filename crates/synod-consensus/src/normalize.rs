//! Canonical text of a JSON value, used to decide whether two agents said "the same thing".
//!
//! Strings are trimmed and case-folded (Unicode lowercase), numbers compare by value (`1`,
//! `1.0` and `1e0` are equal), object keys are sorted explicitly (so the result does not depend
//! on serde_json's `preserve_order` feature), array order is kept. The text is only ever
//! compared, never parsed back; it is injective on normalized values.

use std::fmt::Write as _;

use serde_json::Value;

/// A JSON pointer parsed once (tokens unescaped), so lookups do not allocate the way
/// [`Value::pointer`] does for every token.
pub(crate) struct Pointer {
    tokens: Vec<String>,
}

impl Pointer {
    /// Parses a pointer already checked by [`StageSpec::validate`](crate::StageSpec::validate).
    pub(crate) fn parse(pointer: &str) -> Self {
        let tokens = pointer
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        Self { tokens }
    }

    /// The value at this pointer, with [`Value::pointer`]'s semantics.
    pub(crate) fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        let mut current = value;
        for token in &self.tokens {
            current = match current {
                Value::Object(map) => map.get(token)?,
                Value::Array(items) => items.get(array_index(token)?)?,
                _ => return None,
            };
        }
        Some(current)
    }
}

/// RFC 6901 array index: digits without a leading zero (except "0" itself).
fn array_index(token: &str) -> Option<usize> {
    if token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_digit())
        || (token.len() > 1 && token.starts_with('0'))
    {
        return None;
    }
    token.parse().ok()
}

/// The canonical text of `value`.
pub(crate) fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

pub(crate) fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_folded(s.trim(), out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

fn write_number(n: &serde_json::Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        // Integral floats in the exactly representable range print as integers, so 1.0 == 1.
        if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
            let _ = write!(out, "{}", f as i64);
        } else {
            let _ = write!(out, "{f:e}");
        }
    } else {
        // Arbitrary-precision numbers (a feature some builds enable): keep the text.
        let _ = write!(out, "{n}");
    }
}

/// A case-folded, quoted string. Fast path: ASCII without `"` or `\\` is copied and
/// lowercased in place.
fn write_folded(s: &str, out: &mut String) {
    out.push('"');
    if s.is_ascii() && !s.bytes().any(|b| b == b'"' || b == b'\\') {
        let start = out.len();
        out.push_str(s);
        out[start..].make_ascii_lowercase();
    } else {
        for c in s.chars() {
            if c.is_ascii() {
                push_escaped(c.to_ascii_lowercase(), out);
            } else {
                for lower in c.to_lowercase() {
                    push_escaped(lower, out);
                }
            }
        }
    }
    out.push('"');
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        push_escaped(c, out);
    }
    out.push('"');
}

fn push_escaped(c: char, out: &mut String) {
    if c == '"' || c == '\\' {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_trimmed_and_case_folded() {
        assert_eq!(canonical(&json!("  PASS ")), canonical(&json!("pass")));
        assert_eq!(canonical(&json!("Ärger")), canonical(&json!("ärger")));
        assert_ne!(canonical(&json!("a\"b")), canonical(&json!("a\\\"b")));
        assert_eq!(canonical(&json!(" Ä\"B ")), canonical(&json!("ä\"b")));
        assert_eq!(canonical(&json!(["A\",\"B"])), r#"["a\",\"b"]"#);
        assert_ne!(
            canonical(&json!(["a\",\"b"])),
            canonical(&json!(["a", "b"]))
        );
    }

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(canonical(&json!(1)), canonical(&json!(1.0)));
        assert_eq!(canonical(&json!(-3)), canonical(&json!(-3.0)));
        assert_ne!(canonical(&json!(1)), canonical(&json!(1.5)));
        assert_ne!(canonical(&json!(1)), canonical(&json!("1")));
        let big: Value = serde_json::from_str("1e300").unwrap_or(Value::Null);
        assert_eq!(canonical(&big), "1e300");
    }

    #[test]
    fn pointer_matches_serde_json() {
        let doc = json!({
            "a": {"b/c": [10, {"~d": 1}]}, "": 2, "0": 3, "arr": [1, 2],
            "big": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        });
        for p in [
            "",
            "/arr/0",
            "/big/10",
            "/big/00",
            "/big/010",
            "/a",
            "/a/b~1c",
            "/a/b~1c/1/~0d",
            "/",
            "/0",
            "/arr/1",
            "/arr/01",
            "/arr/+1",
            "/arr/9",
            "/a/x",
            "/arr/x",
        ] {
            assert_eq!(Pointer::parse(p).get(&doc), doc.pointer(p), "{p}");
        }
    }

    #[test]
    fn quotes_and_backslashes_are_escaped_even_alone() {
        assert_eq!(canonical(&json!("\"")), r#""\"""#);
        assert_eq!(canonical(&json!("\\")), r#""\\""#);
        assert_ne!(
            canonical(&json!(["\"", "\""])),
            canonical(&json!(["\",\""]))
        );
    }

    #[test]
    fn floats_merge_with_integers_only_below_two_to_the_53() {
        // Below 2^53 every integral float is exactly the integer it prints as.
        assert_eq!(
            canonical(&json!(9_007_199_254_740_991.0_f64)),
            canonical(&json!(9_007_199_254_740_991_i64))
        );
        // At 2^53 a float may be a rounded neighbour (9007199254740993.0 is stored as 2^53),
        // so it is not merged with the integer 2^53.
        #[allow(clippy::excessive_precision)]
        let rounded = json!(9_007_199_254_740_993.0_f64);
        assert_ne!(
            canonical(&rounded),
            canonical(&json!(9_007_199_254_740_992_i64))
        );
    }

    #[test]
    fn array_items_are_separated() {
        assert_eq!(canonical(&json!([1, 2])), "[1,2]");
        assert_ne!(canonical(&json!([1, 2])), canonical(&json!([12])));
        assert_ne!(canonical(&json!(["a", "b"])), canonical(&json!(["ab"])));
    }

    #[test]
    fn object_keys_are_sorted() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": "X"}"#).unwrap_or(Value::Null);
        let b: Value = serde_json::from_str(r#"{"a": "x", "b": 1.0}"#).unwrap_or(Value::Null);
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(canonical(&a), r#"{"a":"x","b":1}"#);
    }
}
