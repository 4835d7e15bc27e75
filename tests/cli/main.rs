//! End-to-end tests of the `droidforge` binary on real temporary git repositories, with the
//! `git` CLI as the oracle. One test binary (faster to link); one module per command.

mod common;
mod manifest;
mod remove;
mod spawn;
mod status;
