//! End-to-end tests of the `droidforge` binary on real temporary git repositories, with the
//! `git` CLI as the oracle. One test binary (faster to link); one module per command.

mod common;
mod completions;
mod doctor;
mod glob_intersect;
mod locks;
mod locks_stress;
mod mcp;
