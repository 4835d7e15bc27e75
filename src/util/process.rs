//! Process groups: the agents `run` starts and the verification commands `merge` runs each
//! lead their own group, so that stopping one stops everything it started; background work
//! (emptying the trash, git's housekeeping) runs detached in a group of its own.

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

/// Start `cmd` detached: its own process group (the Ctrl-C that stops this command does not
/// stop it), no terminal, nobody waiting for its output. A thread reaps it when it ends, so a
/// long-lived process (`mcp`, `run --land`) keeps no zombie; when this process ends first,
/// init reaps it. Whether it started.
pub fn spawn_detached(cmd: &mut std::process::Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    match cmd.spawn() {
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
            true
        }
        Err(_) => false,
    }
}
