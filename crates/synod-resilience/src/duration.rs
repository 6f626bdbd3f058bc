//! Human-readable durations ("250ms", "10s", "1m30s") for config files.
//!
//! Accepted units: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`; a number may have a fraction
//! (`1.5s`) and several parts may be joined (`1m30s`). A bare `0` is zero. Formatting picks the
//! largest unit that represents the value exactly, so `parse(format(d)) == d`.
//!
//! ```
//! use std::time::Duration;
//! use synod_resilience::duration::{format_duration, parse_duration};
//!
//! assert_eq!(parse_duration("250ms")?, Duration::from_millis(250));
//! assert_eq!(parse_duration("1m30s")?, Duration::from_secs(90));
//! assert_eq!(format_duration(Duration::from_secs(10)), "10s");
//! assert!(parse_duration("10 parsecs").is_err());
//! # Ok::<(), synod_resilience::Error>(())
//! ```
//!
//! With serde, use `#[serde(with = "synod_resilience::duration")]` on a `Duration` field and
//! `#[serde(with = "synod_resilience::duration::option")]` on an `Option<Duration>` field.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

use crate::{Error, Result};

const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a human duration such as `"250ms"`, `"10s"`, `"1.5s"` or `"1m30s"`.
///
/// # Errors
/// [`Error::InvalidDuration`] naming the text when it is empty, has no or an unknown unit, or
/// overflows.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let invalid = |why: &'static str| Error::InvalidDuration {
        text: text.to_owned(),
        why,
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(invalid("it is empty"));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| invalid("a number has no unit (use ns, us, ms, s, m or h)"))?;
        if num_len == 0 {
            return Err(invalid("expected a number before the unit"));
        }
        let (num, after) = rest.split_at(num_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let unit = unit.trim();
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(|| invalid("unknown unit (use ns, us, ms, s, m or h)"))?;
        let nanos = scale_number(num, scale).ok_or_else(|| invalid("the number is not valid"))?;
        total = total
            .checked_add(nanos)
            .ok_or_else(|| invalid("it is too large"))?;
        rest = next.trim_start();
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| invalid("it is too large"))?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// `num` (digits with an optional fraction) times `scale` nanoseconds, exactly.
fn scale_number(num: &str, scale: u128) -> Option<u128> {
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if frac.contains('.') {
        return None;
    }
    let int_val: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut nanos = int_val.checked_mul(scale)?;
    let mut place = scale;
    for digit in frac.chars() {
        let d = u128::from(digit.to_digit(10)?);
        if place < 10 {
            break; // finer than a nanosecond: truncated
        }
        place /= 10;
        nanos = nanos.checked_add(d * place)?;
    }
    Some(nanos)
}

/// Formats a duration with the largest unit that represents it exactly (`"10s"`, `"250ms"`,
/// `"1500us"`, `"2m"`); zero is `"0s"`.
#[must_use]
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    for (name, scale) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if nanos.is_multiple_of(scale) {
            return format!("{}{name}", nanos / scale);
        }
    }
    format!("{nanos}ns")
}

/// Serializes a `Duration` as a human string (for `#[serde(with = "...")]`).
///
/// # Errors
/// Whatever the serializer reports.
pub fn serialize<S: Serializer>(
    d: &Duration,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_duration(*d))
}

/// Deserializes a `Duration` from a human string (for `#[serde(with = "...")]`).
///
/// # Errors
/// A serde error naming the text when it is not a valid duration.
pub fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

/// Serde helpers for `Option<Duration>` (absent or `null` is `None`).
///
/// ```
/// use std::time::Duration;
/// #[derive(serde::Deserialize)]
/// struct Cfg {
///     #[serde(default, with = "synod_resilience::duration::option")]
///     deadline: Option<Duration>,
/// }
/// let cfg: Cfg = serde_json::from_str(r#"{"deadline": "2s"}"#).unwrap();
/// assert_eq!(cfg.deadline, Some(Duration::from_secs(2)));
/// ```
pub mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes `Some(d)` as a human string and `None` as `null`.
    ///
    /// # Errors
    /// Whatever the serializer reports.
    pub fn serialize<S: Serializer>(
        d: &Option<Duration>,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match d {
            Some(d) => serializer.serialize_some(&super::format_duration(*d)),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes an optional human duration.
    ///
    /// # Errors
    /// A serde error naming the text when it is not a valid duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|t| super::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_units_fractions_and_compounds() {
        let cases = [
            ("250ms", Duration::from_millis(250)),
            ("10s", Duration::from_secs(10)),
            ("1.5s", Duration::from_millis(1500)),
            ("1m30s", Duration::from_secs(90)),
            ("2h", Duration::from_secs(7200)),
            ("15us", Duration::from_micros(15)),
            ("15µs", Duration::from_micros(15)),
            ("7ns", Duration::from_nanos(7)),
            ("0", Duration::ZERO),
            (" 3 s ", Duration::from_secs(3)),
            (".5s", Duration::from_millis(500)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn rejects_bad_text_naming_it() {
        for bad in [
            "",
            "10",
            "ms",
            "10 parsecs",
            "1..5s",
            "-1s",
            "99999999999999999999999h",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(
                err.to_string().contains(&format!("{bad:?}")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn formats_with_largest_exact_unit() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_nanos(1_001)), "1001ns");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(nanos in 0u64..u64::MAX) {
            let d = Duration::from_nanos(nanos);
            prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
    }
}
