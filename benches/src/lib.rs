//! Support code for synod's benchmark suite.
//!
//! The benchmarks themselves live in `benches/benches/`: one criterion target per layer, each
//! pairing synod with the plain library it wraps in the same run (groups named
//! `layer/operation` with contenders `synod` and `raw`), plus the iai instruction-count suite.
//! [`report`] turns criterion's results into `docs/PERFORMANCE.md`.
//!
//! ```
//! assert_eq!(synod_benches::report::human_time(1_500.0), "1.50 µs");
//! ```
#![forbid(unsafe_code)]

pub mod report;
