//! Signals to process groups: the agents `run` starts and the verification commands `merge`
//! runs each lead their own group, so that stopping one stops everything it started.

use std::process::Stdio;

/// Send a signal (`TERM`, `KILL`, `0` to probe) to a whole process group, through kill(1): the
/// crate forbids `unsafe`. Whether the group exists (and the signal was sent).
pub fn signal_group(pgid: u32, signal: &str) -> bool {
    std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
