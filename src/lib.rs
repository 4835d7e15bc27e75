//! droidforge: several AI coding agents ("droids") build one codebase in parallel, each in its
//! own git worktree and branch, under an ownership manifest, merged back in dependency order.
//!
//! Architecture tour (see ARCHITECTURE.md for the flow of a merge):
//! - [`workspace`]: repository + manifest + state, found from any worktree.
//! - [`ops`]: one module per operation (spawn, status, merge, check, guard, ...); each returns a
//!   typed report and never prints. The command line lives in the binary and renders them.
//! - [`forge`]: the model, pure: manifest schema/validation/order, ownership rules, TODO and
//!   PROGRESS.md files, briefs, scaffolding.
//! - [`git`]: the only module that talks to gix and to the `git` binary (worktrees, refs, diff,
//!   in-memory replay, checkout, fsck name rules).
//! - [`state`]: runtime state in the git common dir: store, event journal, file locks.
//! - [`agent`]: agent presets and the concurrent runner (logs, stalls, signals).
//! - [`demo`]: the end-to-end demo and the scripted agent it runs.
//! - [`util`]: clock, durations, counted nouns, the no-follow file writer.
//! - [`error`]: the user-facing error with hints and its exit code.
#![forbid(unsafe_code)]

pub mod agent;
pub mod demo;
pub mod error;
pub mod forge;
pub mod git;
pub mod ops;
pub mod state;
pub mod util;
pub mod workspace;
