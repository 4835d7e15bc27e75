//! droidforge: several AI coding agents ("droids") build one codebase in parallel, each in its
//! own git worktree and branch, under an ownership manifest, merged back in dependency order.
//!
//! Architecture tour (one line per module):
//! - [`agent`]: agent presets and the concurrent runner (logs, stalls, signals).
//! - [`ask`]: requests from one droid to the owner of files it needs changed.
//! - [`check`]: the CI job: a dry-run merge of one head or a phase against a trusted base.
//! - [`clock`]: UTC calendar dates for ids, logs and reports.
//! - [`cli`]: the clap definitions; doc comments are the help text.
//! - [`commands`]: one module per command; each renders a report built by library code.
//! - [`duration`]: the one parser for duration flags.
//! - [`demo`]: the end-to-end demo and the scripted agent it runs.
//! - [`doctor`]: stale-state findings with explanations, and the safe fixes.
//! - [`manifest`]: `.droidforge/forge.toml` schema, validation, order and waves.
//! - [`merge`]: the merger: plan, ownership/replay/verify gates, landing, journal, undo.
//! - [`ownership`]: glob rules that say who may change a path; glob intersection.
//! - [`guard`]: may this droid change these paths now? (edit and commit time, fast).
//! - [`file_ownership`]: FILE_OWNERSHIP.md rendering.
//! - [`hooks`]: agent edit hooks (Claude Code, Factory droid): settings files and payloads.
//! - [`plan`]: the plan report (phases, order, waves, overlaps) and its renderings.
//! - [`progress_file`]: TODO checkbox parsing, PROGRESS.md and FILE_OWNERSHIP.md rendering.
//! - [`repo`]: the only module that talks to gix (worktrees, refs, diff, in-memory replay).
//! - [`scaffold`]: the files `init` writes.
//! - [`workspace`]: repository + manifest + state, found from any worktree.
//! - [`state`]: runtime state in the git common dir: store, event journal, file locks.
//! - [`brief`]: the droid's BRIEF.md (the seed's assignment prompt) from the manifest.
//! - [`spawn`]: branch + worktree + brief per droid, in parallel threads.
//! - [`status`]: per-droid status rows (branch, ahead/behind, dirt, TODO %, agent).
//! - [`remove`]: remove/prune worktrees without losing uncommitted or unmerged work.
//! - [`ui`]: all terminal output (stdout data, stderr status), progress bars.
//! - [`error`]: the user-facing error with hints and its exit code.
#![forbid(unsafe_code)]

pub mod agent;
pub mod ask;
pub mod brief;
pub mod check;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod demo;
pub mod doctor;
pub mod duration;
pub mod error;
pub mod file_ownership;
pub mod guard;
pub mod hooks;
pub mod manifest;
pub mod merge;
pub mod ownership;
pub mod plan;
pub mod progress_file;
pub mod remove;
pub mod repo;
pub mod safe_fs;
pub mod scaffold;
pub mod spawn;
pub mod state;
pub mod status;
pub mod text;
pub mod ui;
pub mod workspace;
