//! The one duration grammar of synod: config files, CLI flags and the retry times agents
//! print all go through [`parse_duration`].
//!
//! A duration is one or more parts, each a number (digits, optionally with a fraction) and a
//! unit, optionally separated by spaces: `250ms`, `1.5s`, `1m30s`, `1h 30m`, `30d`,
//! `500 microseconds`. Units: `ns` (`nanosecond[s]`), `us` / `µs` (`microsecond[s]`), `ms`
//! (`msec[s]`, `millisecond[s]`), `s` (`sec[s]`, `second[s]`), `m` (`min[s]`, `minute[s]`),
//! `h` (`hr[s]`, `hour[s]`), `d` (`day[s]`), in any letter case. A bare number is seconds
//! (`"10"`, `"0.5"`, and numbers in TOML/JSON). Every duration is at most
//! [`HumanDuration::MAX`] (3650 days), so adding it to `Instant::now()` cannot overflow.
//! Formatting picks the largest unit that represents the value exactly, so
//! `parse(format(d)) == d`.
//!
//! ```
//! use std::time::Duration;
//! use synod_core::duration::{format_duration, parse_duration};
//!
//! assert_eq!(parse_duration("1m30s")?, Duration::from_secs(90));
//! assert_eq!(parse_duration("500 microseconds")?, Duration::from_micros(500));
//! assert_eq!(parse_duration("10")?, Duration::from_secs(10));
//! assert_eq!(format_duration(Duration::from_secs(120)), "2m");
//! assert!(parse_duration("10 parsecs").is_err());
//! assert!(parse_duration("99999d").is_err()); // over the bound
//! # Ok::<(), synod_core::Error>(())
//! ```
//!
//! With serde, a [`HumanDuration`] field reads a string or a number of seconds; on a plain
//! `Duration` field use `#[serde(with = "synod_core::duration")]` (or
//! `synod_core::duration::option` for `Option<Duration>`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

const NANOS_PER_SEC: u128 = 1_000_000_000;
const MINUTE: u128 = 60 * NANOS_PER_SEC;
const HOUR: u128 = 60 * MINUTE;
const DAY: u128 = 24 * HOUR;

/// The largest duration synod accepts anywhere: 3650 days.
pub const MAX: Duration = Duration::from_secs(3650 * 86_400);

/// Unit names and their length in nanoseconds. Matched case-insensitively, whole word.
const UNITS: &[(&[&str], u128)] = &[
    (&["ns", "nanosecond", "nanoseconds"], 1),
    (&["us", "µs", "microsecond", "microseconds"], 1_000),
    (
        &["ms", "msec", "msecs", "millisecond", "milliseconds"],
        1_000_000,
    ),
    (&["s", "sec", "secs", "second", "seconds"], NANOS_PER_SEC),
    (&["m", "min", "mins", "minute", "minutes"], MINUTE),
    (&["h", "hr", "hrs", "hour", "hours"], HOUR),
    (&["d", "day", "days"], DAY),
];

/// Parses a duration in synod's grammar (see the [module docs](self)).
///
/// # Errors
/// [`Error::InvalidDuration`] naming the text and what is wrong: empty, a number without a
/// unit in a compound, an unknown unit, a malformed number, or more than [`MAX`].
pub fn parse_duration(text: &str) -> Result<Duration> {
    let invalid = |why: &str| Error::InvalidDuration {
        text: text.to_owned(),
        why: why.to_owned(),
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(invalid("it is empty"));
    }
    let mut total: u128 = 0;
    let mut rest = s;
    let mut parts = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(invalid("expected a number"));
        }
        let (num, after) = rest.split_at(num_len);
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        parts += 1;
        let scale = if unit.is_empty() {
            if parts > 1 || !next.trim().is_empty() {
                return Err(invalid("every part of a compound duration needs a unit"));
            }
            NANOS_PER_SEC
        } else {
            let lower = unit.to_lowercase();
            UNITS
                .iter()
                .find(|(names, _)| names.contains(&lower.as_str()))
                .map(|(_, scale)| *scale)
                .ok_or_else(|| {
                    invalid(&format!(
                        "unknown unit {unit:?} (use ns, us, ms, s, m, h or d)"
                    ))
                })?
        };
        let nanos = scale_number(num, scale).ok_or_else(|| invalid("the number is not valid"))?;
        total = total
            .checked_add(nanos)
            .filter(|t| *t <= MAX.as_nanos())
            .ok_or_else(|| invalid("it is longer than the maximum of 3650d"))?;
        rest = next.trim_start();
    }
    let secs = u64::try_from(total / NANOS_PER_SEC)
        .map_err(|_| invalid("it is longer than the maximum of 3650d"))?;
    Ok(Duration::new(secs, (total % NANOS_PER_SEC) as u32))
}

/// `num` (digits with an optional fraction) times `scale` nanoseconds, exactly (digits finer
/// than a nanosecond are dropped).
fn scale_number(num: &str, scale: u128) -> Option<u128> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') || int.len() > 30 {
        return None;
    }
    let int_val: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut nanos = int_val.checked_mul(scale)?;
    let mut place = scale;
    for digit in frac.chars() {
        let d = u128::from(digit.to_digit(10)?);
        if place < 10 {
            break;
        }
        place /= 10;
        nanos = nanos.checked_add(d * place)?;
    }
    Some(nanos)
}

/// Formats a duration with the largest unit that represents it exactly (`"10s"`, `"250ms"`,
/// `"1500us"`, `"2m"`, `"30d"`); zero is `"0s"`.
#[must_use]
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    for (name, scale) in [
        ("d", DAY),
        ("h", HOUR),
        ("m", MINUTE),
        ("s", NANOS_PER_SEC),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if nanos.is_multiple_of(scale) {
            return format!("{}{name}", nanos / scale);
        }
    }
    format!("{nanos}ns")
}

/// Formats a duration for people, rounded to what a reader can use: `"4.8s"` for a jittered
/// 4.823458123 s retry delay where [`format_duration`] would print `"4823458123ns"`.
///
/// Under a second it keeps whole units (`"750us"`, `"250ms"`); from 1 s to 10 s one decimal
/// (`"4.8s"`); from 10 s on at most two units, each rounded to the smaller one (`"1m23s"`,
/// `"2h5m"`, `"3d4h"`). Rounding carries into the larger unit (59.6 s is `"1m"`). The text
/// is in synod's grammar, so [`parse_duration`] reads it back (as the rounded value).
///
/// ```
/// use std::time::Duration;
/// use synod_core::duration::format_duration_rounded;
///
/// assert_eq!(format_duration_rounded(Duration::from_nanos(4_823_458_123)), "4.8s");
/// assert_eq!(format_duration_rounded(Duration::from_millis(83_456)), "1m23s");
/// ```
#[must_use]
pub fn format_duration_rounded(d: Duration) -> String {
    use std::fmt::Write as _;
    let nanos = d.as_nanos();
    let step = match nanos {
        0..1_000 => 1,
        1_000..1_000_000 => 1_000,
        1_000_000..NANOS_PER_SEC => 1_000_000,
        n if n < 10 * NANOS_PER_SEC => NANOS_PER_SEC / 10,
        n if n < HOUR => NANOS_PER_SEC,
        n if n < DAY => MINUTE,
        _ => HOUR,
    };
    let rounded = (nanos + step / 2) / step * step;
    if rounded < NANOS_PER_SEC {
        return format_duration(Duration::from_nanos(
            u64::try_from(rounded).unwrap_or(u64::MAX),
        ));
    }
    if rounded < 10 * NANOS_PER_SEC {
        let tenths = rounded / (NANOS_PER_SEC / 10);
        return match tenths % 10 {
            0 => format!("{}s", tenths / 10),
            frac => format!("{}.{frac}s", tenths / 10),
        };
    }
    let mut text = String::new();
    let mut rest = rounded;
    for (name, scale) in [("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", NANOS_PER_SEC)] {
        if rest >= scale {
            let _ = write!(text, "{}{name}", rest / scale);
            rest %= scale;
        }
    }
    text
}

/// A [`Duration`] read and written in synod's grammar: a string (`"1m30s"`) or a number of
/// seconds, never more than [`HumanDuration::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(Duration);

impl HumanDuration {
    /// The largest accepted duration (3650 days).
    pub const MAX: HumanDuration = HumanDuration(MAX);
    /// Zero.
    pub const ZERO: HumanDuration = HumanDuration(Duration::ZERO);

    /// `secs` seconds (capped at [`MAX`](Self::MAX)).
    #[must_use]
    pub const fn from_secs(secs: u64) -> Self {
        if secs > MAX.as_secs() {
            Self::MAX
        } else {
            Self(Duration::from_secs(secs))
        }
    }

    /// `millis` milliseconds (capped at [`MAX`](Self::MAX)).
    #[must_use]
    pub const fn from_millis(millis: u64) -> Self {
        // Compare whole milliseconds: `millis / 1000 > MAX` let up to 999ms past the bound in.
        if millis > MAX.as_secs() * 1000 {
            Self::MAX
        } else {
            Self(Duration::from_millis(millis))
        }
    }

    /// `d`, or an error naming it when it is longer than [`MAX`](Self::MAX).
    ///
    /// # Errors
    /// [`Error::InvalidDuration`] when `d` exceeds the bound.
    pub fn new(d: Duration) -> Result<Self> {
        if d > MAX {
            return Err(Error::InvalidDuration {
                text: format_duration(d),
                why: "it is longer than the maximum of 3650d".into(),
            });
        }
        Ok(Self(d))
    }

    /// `secs` seconds from a config number; errors on negative, non-finite or too large.
    ///
    /// # Errors
    /// [`Error::InvalidDuration`] naming the number.
    pub fn from_secs_f64(secs: f64) -> Result<Self> {
        let invalid = |why: &str| Error::InvalidDuration {
            text: secs.to_string(),
            why: why.to_owned(),
        };
        if !secs.is_finite() || secs < 0.0 {
            return Err(invalid("a duration must be a finite, non-negative number"));
        }
        if secs > MAX.as_secs_f64() {
            return Err(invalid("it is longer than the maximum of 3650d"));
        }
        Ok(Self(Duration::from_secs_f64(secs)))
    }

    /// The wrapped [`Duration`].
    #[must_use]
    pub const fn get(self) -> Duration {
        self.0
    }

    /// Whether this is zero.
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Self {
        d.0
    }
}

impl TryFrom<Duration> for HumanDuration {
    type Error = Error;

    fn try_from(d: Duration) -> Result<Self> {
        Self::new(d)
    }
}

impl FromStr for HumanDuration {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        parse_duration(s).map(Self)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(HumanDurationVisitor)
    }
}

struct HumanDurationVisitor;

impl serde::de::Visitor<'_> for HumanDurationVisitor {
    type Value = HumanDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"250ms\", \"90s\", \"1m30s\" or a number of seconds")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<HumanDuration, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<HumanDuration, E> {
        if v > MAX.as_secs() {
            return Err(E::custom(Error::InvalidDuration {
                text: v.to_string(),
                why: "it is longer than the maximum of 3650d".into(),
            }));
        }
        Ok(HumanDuration(Duration::from_secs(v)))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<HumanDuration, E> {
        let secs = u64::try_from(v).map_err(|_| {
            E::custom(Error::InvalidDuration {
                text: v.to_string(),
                why: "a duration cannot be negative".into(),
            })
        })?;
        self.visit_u64(secs)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<HumanDuration, E> {
        HumanDuration::from_secs_f64(v).map_err(E::custom)
    }
}

/// Serializes a `Duration` in synod's grammar (for `#[serde(with = "synod_core::duration")]`).
///
/// # Errors
/// Whatever the serializer reports.
pub fn serialize<S: Serializer>(
    d: &Duration,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_duration(*d))
}

/// Deserializes a `Duration` in synod's grammar: a string, or a number of seconds.
///
/// # Errors
/// A serde error naming the text when it is not a valid duration.
pub fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Duration, D::Error> {
    HumanDuration::deserialize(deserializer).map(HumanDuration::get)
}

/// Serde helpers for `Option<Duration>` (absent or `null` is `None`).
///
/// ```
/// use std::time::Duration;
/// #[derive(serde::Deserialize)]
/// struct Cfg {
///     #[serde(default, with = "synod_core::duration::option")]
///     deadline: Option<Duration>,
/// }
/// let cfg: Cfg = serde_json::from_str(r#"{"deadline": "2s"}"#).unwrap();
/// assert_eq!(cfg.deadline, Some(Duration::from_secs(2)));
/// ```
pub mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::HumanDuration;

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

    /// Deserializes an optional duration.
    ///
    /// # Errors
    /// A serde error naming the text when it is not a valid duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Option<Duration>, D::Error> {
        Ok(Option::<HumanDuration>::deserialize(deserializer)?.map(HumanDuration::get))
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for HumanDuration {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HumanDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // Loose on purpose: the deserializer checks the grammar and the bound, with messages
        // that say what is wrong ("longer than the maximum of 3650d"), where a schema would
        // only say "not valid under any of the schemas".
        schemars::json_schema!({
            "description": "A duration: a number and a unit (\"250ms\", \"90s\", \"1m30s\", \"2h\", \"30d\"), or a number of seconds; at most 3650 days.",
            "type": ["string", "number"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_grammar_for_every_layer() {
        let cases = [
            ("250ms", Duration::from_millis(250)),
            ("90s", Duration::from_secs(90)),
            ("1.5s", Duration::from_millis(1500)),
            ("1m30s", Duration::from_secs(90)),
            ("1h 30m", Duration::from_secs(5400)),
            ("2h", Duration::from_secs(7200)),
            ("30d", Duration::from_secs(30 * 86_400)),
            ("15us", Duration::from_micros(15)),
            ("15µs", Duration::from_micros(15)),
            ("7ns", Duration::from_nanos(7)),
            ("0", Duration::ZERO),
            ("10", Duration::from_secs(10)),
            ("0.25", Duration::from_millis(250)),
            (" 3 s ", Duration::from_secs(3)),
            (".5s", Duration::from_millis(500)),
            ("500 microseconds", Duration::from_micros(500)),
            ("500 milliseconds", Duration::from_millis(500)),
            ("30 Seconds", Duration::from_secs(30)),
            ("2 minutes", Duration::from_secs(120)),
            ("1 hour", Duration::from_secs(3600)),
            ("3 days", Duration::from_secs(3 * 86_400)),
            ("3650d", MAX),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_bad_text_naming_it_and_the_reason() {
        for (bad, why) in [
            ("", "empty"),
            ("ms", "expected a number"),
            ("10 parsecs", "unknown unit \"parsecs\""),
            ("1..5s", "not valid"),
            ("-1s", "expected a number"),
            ("1m30", "needs a unit"),
            ("10 20", "needs a unit"),
            ("3651d", "maximum of 3650d"),
            ("99999999999999999999999h", "maximum"),
            ("1e19", "unknown unit"),
        ] {
            let err = parse_duration(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn formats_with_the_largest_exact_unit() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(format_duration(Duration::from_secs(86_400 * 30)), "30d");
        assert_eq!(format_duration(Duration::from_micros(15)), "15us");
        assert_eq!(format_duration(Duration::from_nanos(1_001)), "1001ns");
    }

    #[test]
    fn serde_reads_strings_and_numbers_of_seconds_within_the_bound() {
        #[derive(Deserialize)]
        struct Cfg {
            t: HumanDuration,
        }
        let read = |toml_text: &str| toml::from_str::<Cfg>(toml_text).map(|c| c.t.get());
        assert_eq!(read("t = \"1m30s\""), Ok(Duration::from_secs(90)));
        assert_eq!(read("t = 10").ok(), Some(Duration::from_secs(10)));
        assert_eq!(read("t = 0.5").ok(), Some(Duration::from_millis(500)));
        for bad in [
            "t = 1e19",
            "t = -1",
            "t = nan",
            "t = 315360001",
            "t = \"soon\"",
        ] {
            let err = read(bad).unwrap_err().to_string();
            assert!(err.contains("duration"), "{bad}: {err}");
        }
        let json = serde_json::to_string(&HumanDuration::from_secs(90)).unwrap();
        assert_eq!(json, "\"90s\"");
    }

    #[test]
    fn constructors_respect_the_bound() {
        assert_eq!(HumanDuration::from_secs(u64::MAX), HumanDuration::MAX);
        assert_eq!(HumanDuration::from_millis(u64::MAX), HumanDuration::MAX);
        assert_eq!(HumanDuration::from_secs(5).get(), Duration::from_secs(5));
        assert!(HumanDuration::new(MAX).is_ok());
        assert!(HumanDuration::new(MAX + Duration::from_nanos(1)).is_err());
        assert!(HumanDuration::from_secs_f64(f64::INFINITY).is_err());
        assert!(HumanDuration::ZERO.is_zero());
        assert!(!HumanDuration::from_millis(1).is_zero());
        assert_eq!(
            HumanDuration::try_from(Duration::from_secs(3)).map(Duration::from),
            Ok(Duration::from_secs(3))
        );
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(nanos in 0u64..=u64::MAX) {
            let d = Duration::from_nanos(nanos).min(MAX);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = parse_duration(&text);
        }
    }
}
