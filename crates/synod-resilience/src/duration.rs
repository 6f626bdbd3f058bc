//! Human durations (`"250ms"`, `"10s"`, `"1m30s"`, `"30d"`) for config files: synod's one
//! duration grammar, from synod-core, re-exported here for serde attributes.
//!
//! ```
//! use std::time::Duration;
//! use synod_resilience::duration::{format_duration, parse_duration};
//!
//! assert_eq!(parse_duration("250ms")?, Duration::from_millis(250));
//! assert_eq!(parse_duration("1m30s")?, Duration::from_secs(90));
//! assert_eq!(format_duration(Duration::from_secs(10)), "10s");
//! assert!(parse_duration("10 parsecs").is_err());
//! # Ok::<(), synod_core::Error>(())
//! ```
//!
//! With serde, use `#[serde(with = "synod_resilience::duration")]` on a `Duration` field and
//! `#[serde(with = "synod_resilience::duration::option")]` on an `Option<Duration>` field.

pub use synod_core::duration::{
    HumanDuration, MAX, deserialize, format_duration, format_duration_rounded, option,
    parse_duration, serialize,
};
