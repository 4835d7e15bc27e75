//! droidforge: several AI coding agents ("droids") build one codebase in parallel, each in its
//! own git worktree and branch, under an ownership manifest, merged back in dependency order.
//!
//! Architecture tour (ARCHITECTURE.md has the layering table and the flow of a merge; the
//! command line is the binary's, `src/main.rs` + `src/cli/`, and this library cannot see it):
//! - [`ops`]: one module per operation (spawn, status, merge, check, guard, ready, ...); each
//!   takes the workspace and options and returns a typed report, never prints.
//! - [`agent`]: agent presets and the concurrent runner (logs, stalls, signals, settling).
//! - [`demo`]: the end-to-end demo, its scripted agent and fixture text.
//! - [`workspace`]: repository + trusted manifest + state, found from any worktree.
//! - [`state`]: runtime state in the git common dir; [`state::StateDir`] names every path in
//!   it; store, event journal, file locks, the hardened JSON reader.
//! - [`forge`]: the model, pure: manifest schema/validation/order, ownership rules, TODO and
//!   PROGRESS.md files, briefs, scaffolding.
//! - [`git`]: the only module that talks to gix and to the `git` binary (worktrees, refs, diff,
//!   in-memory replay, checkout, fsck name rules, short ids).
//! - [`util`]: the clock and date formats, durations, text (counted nouns, shell quoting), and
//!   the no-follow and atomic file writers.
//! - [`error`]: the user-facing error, its exit code, and the `Typed` trait module errors
//!   implement.
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
