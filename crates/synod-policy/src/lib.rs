//! synod-policy: see the crate description. This crate is being built; its API lands with its issue.
#![forbid(unsafe_code)]
