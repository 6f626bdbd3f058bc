//! The shared vocabulary of synod's layers: nothing here does I/O or needs a runtime.
//!
//! - [`ErrorClass`] and [`Classify`]: what a failure means for whoever might retry it. Every
//!   synod error implements `Classify`; retries, budgets and breakers decide from the class.
//! - [`HumanDuration`]: the one duration grammar of every config file, CLI flag and message
//!   (`250ms`, `90s`, `1m30s`, `2h`, `30d`, `500 microseconds`), bounded by
//!   [`HumanDuration::MAX`] so no value can overflow a timer.
//! - [`Secret`]: a value that never reaches `Debug`, `Display` or a log.
//! - [`Usage`]: the input, output and cached tokens of one agent run, as its CLI reported
//!   them (adapters fill it, reports and the store carry it).
//!
//! Layers depend on this crate, not on each other, for these types; the facade re-exports
//! them as `synod::core` (and `synod::{Classify, ErrorClass}`) under every feature.
//!
//! ```
//! use std::time::Duration;
//! use synod_core::{Classify, ErrorClass, HumanDuration, Secret};
//!
//! let timeout: HumanDuration = "1m30s".parse()?;
//! assert_eq!(timeout.get(), Duration::from_secs(90));
//! assert_eq!(timeout.to_string(), "90s");
//!
//! let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
//! assert_eq!(reset.class(), ErrorClass::Transient);
//!
//! let key = Secret::from("sk-ant-not-for-logs");
//! assert_eq!(format!("{key:?} {key}"), "Secret([redacted]) [redacted]");
//! # Ok::<(), synod_core::Error>(())
//! ```
//!
//! Features: `tokio` adds `Classify` for `tokio::time::error::Elapsed`; `schemars` adds
//! `JsonSchema` for [`HumanDuration`] and [`Secret`].

pub mod class;
pub mod duration;
mod error;
pub mod secret;
pub mod usage;

pub use class::{Classify, ErrorClass};
pub use duration::HumanDuration;
pub use error::{Error, Result};
pub use secret::{REDACTED, Secret};
pub use usage::Usage;
