//! The command line, binary only: clap definitions, one module per command, terminal output.
//!
//! The library cannot see this module. A command turns its flags into options, calls the
//! library (`droidforge::ops`, `droidforge::forge`, ...), and renders the report it gets back.

pub mod args;
pub mod candidates;
pub mod commands;
pub mod error;
pub mod flags;
pub mod mcp;
pub mod render;
pub mod ui;

pub use args::Cli;
