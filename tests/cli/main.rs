//! End-to-end tests of the `droidforge` binary on real temporary git repositories, with the
//! `git` CLI as the oracle. One test binary (faster to link); one module per command.

mod agent_hooks;
mod ask;
mod check;
mod common;
mod completions;
mod demo;
mod doctor;
mod events;
mod glob_intersect;
mod guard;
mod guards;
mod hostile_branches;
mod hostile_manifests;
mod init;
mod json;
mod locks;
mod locks_stress;
mod manifest;
mod mcp;
mod merge;
mod merge_conflicts;
mod merge_crash;
mod merge_support;
mod merge_truth;
mod merge_verify;
mod plan;
mod pool;
mod remove;
mod run;
mod run_land;
mod sparse;
mod spawn;
mod state_files;
mod status;
mod sync;
