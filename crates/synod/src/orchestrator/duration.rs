//! Human-readable durations for config files: `"250ms"`, `"2s"`, `"1.5m"`, `"1h"`.
//!
//! ```
//! use std::time::Duration;
//! use synod::orchestrator::HumanDuration;
//!
//! let d: HumanDuration = "1.5s".parse().unwrap();
//! assert_eq!(Duration::from(d), Duration::from_millis(1500));
//! assert_eq!(d.to_string(), "1500ms");
//! assert!("soon".parse::<HumanDuration>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A [`Duration`] written as a number and a unit (`ms`, `s`, `m`, `h`) in config files.
///
/// A bare number (integer or float) is read as seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// A duration of `secs` seconds.
    #[must_use]
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// A duration of `millis` milliseconds.
    #[must_use]
    pub const fn from_millis(millis: u64) -> Self {
        Self(Duration::from_millis(millis))
    }

    /// The wrapped [`Duration`].
    #[must_use]
    pub const fn get(self) -> Duration {
        self.0
    }
}

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Self {
        d.0
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

/// Why a duration string could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDurationError {
    input: String,
}

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid duration {:?}: write a number and a unit, e.g. \"250ms\", \"2s\", \"1.5m\" or \"1h\"",
            self.input
        )
    }
}

impl std::error::Error for ParseDurationError {}

impl FromStr for HumanDuration {
    type Err = ParseDurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseDurationError {
            input: s.to_owned(),
        };
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let unit_nanos: u128 = match unit.trim() {
            "" | "s" | "sec" | "secs" => 1_000_000_000,
            "ms" => 1_000_000,
            "us" | "µs" => 1_000,
            "m" | "min" | "mins" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            _ => return Err(err()),
        };
        // Exact decimal arithmetic: "8342507.688399s" must not pass through f64.
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(err());
        }
        let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if !digits(int_part) || !digits(frac_part) || int_part.len() > 20 {
            return Err(err());
        }
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| err())?
        };
        let frac_digits = &frac_part[..frac_part.len().min(18)];
        let frac: u128 = if frac_digits.is_empty() {
            0
        } else {
            frac_digits.parse().map_err(|_| err())?
        };
        let scale = 10u128.pow(u32::try_from(frac_digits.len()).map_err(|_| err())?);
        let nanos = int
            .checked_mul(unit_nanos)
            .and_then(|n| n.checked_add(frac * unit_nanos / scale))
            .ok_or_else(err)?;
        let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| err())?;
        Ok(Self(Duration::new(secs, (nanos % 1_000_000_000) as u32)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() == 0 && d.as_secs() > 0 {
            let s = d.as_secs();
            if s.is_multiple_of(3600) {
                write!(f, "{}h", s / 3600)
            } else if s.is_multiple_of(60) {
                write!(f, "{}m", s / 60)
            } else {
                write!(f, "{s}s")
            }
        } else if d.subsec_nanos().is_multiple_of(1_000_000) {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{}us", d.as_micros())
        }
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration such as \"250ms\", \"2s\" or \"1m\", or a number of seconds",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<HumanDuration, E> {
                Ok(HumanDuration::from_secs(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                u64::try_from(v)
                    .map(HumanDuration::from_secs)
                    .map_err(|_| E::custom(format!("invalid duration {v}: must not be negative")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<HumanDuration, E> {
                Duration::try_from_secs_f64(v)
                    .map(HumanDuration)
                    .map_err(|_| {
                        E::custom(format!(
                            "invalid duration {v}: must be a non-negative number of seconds"
                        ))
                    })
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HumanDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: a number and a unit (ms, s, m, h, d), e.g. \"250ms\" or \"2s\"; a bare number is seconds.",
            "anyOf": [
                { "type": "string", "pattern": "^\\s*([0-9]+(\\.[0-9]*)?|\\.[0-9]+)\\s*(ms|us|µs|s|sec|secs|m|min|mins|h|d)?\\s*$" },
                { "type": "number", "minimum": 0 }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_round_trips() {
        for (s, d) in [
            ("250ms", Duration::from_millis(250)),
            ("2s", Duration::from_secs(2)),
            ("3", Duration::from_secs(3)),
            ("1.5m", Duration::from_secs(90)),
            ("1h", Duration::from_secs(3600)),
            ("30d", Duration::from_secs(30 * 86_400)),
            ("8342507.688399s", Duration::from_micros(8_342_507_688_399)),
            (".5s", Duration::from_millis(500)),
        ] {
            let parsed: HumanDuration = s.parse().unwrap();
            assert_eq!(parsed.0, d, "{s}");
            let again: HumanDuration = parsed.to_string().parse().unwrap();
            assert_eq!(again, parsed, "{s}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "s", "1x", "-1s", "1..2s", "NaNs"] {
            assert!(s.parse::<HumanDuration>().is_err(), "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn display_parses_back_exactly(micros in 0u64..10_000_000_000_000) {
            let d = HumanDuration(Duration::from_micros(micros));
            let back: HumanDuration = d.to_string().parse().unwrap();
            proptest::prop_assert_eq!(back, d);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,12}") {
            let _ = s.parse::<HumanDuration>();
        }
    }

    #[test]
    fn serde_forms() {
        let d: HumanDuration = serde_json::from_str("\"20ms\"").unwrap();
        assert_eq!(d.0, Duration::from_millis(20));
        let d: HumanDuration = serde_json::from_str("2").unwrap();
        assert_eq!(d.0, Duration::from_secs(2));
        let d: HumanDuration = serde_json::from_str("0.5").unwrap();
        assert_eq!(d.0, Duration::from_millis(500));
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"500ms\"");
        assert!(serde_json::from_str::<HumanDuration>("-1").is_err());
    }
}
