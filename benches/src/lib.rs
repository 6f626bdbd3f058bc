//! Shared helpers for the head-to-head benchmarks.
