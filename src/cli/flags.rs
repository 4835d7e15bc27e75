//! Value parsers for flags, so that a bad value fails while the command line is read (exit 2,
//! before anything runs), each tested here with the flags that use it (`cli/args.rs` holds
//! the definitions).

use std::time::Duration;

use super::args::Selection;

/// A duration flag (`30s`, `5m`, `1h`, `1m30s`, a bare number of seconds), checked when the
/// command line is parsed so that a typo fails before anything runs.
pub fn duration(text: &str) -> Result<Duration, String> {
    droidforge::util::duration::parse(text).ok_or_else(|| {
        format!(
            "`{text}` is not a duration; write a number with a unit: `1500ms`, `30s`, `5m`, `1h` (or `1m30s`)"
        )
    })
}

/// `lock --wait[=DURATION]`: `forever` (the flag alone) or at most a duration.
pub fn wait(text: &str) -> Result<droidforge::state::locks::WaitPolicy, String> {
    use droidforge::state::locks::WaitPolicy;
    match text {
        "forever" => Ok(WaitPolicy::Forever),
        _ => duration(text).map(WaitPolicy::AtMost),
    }
}

/// A duration that must be longer than 0 (`--stall`).
pub fn nonzero_duration(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        d if d.is_zero() => Err("must be longer than 0, for example `10m`".to_owned()),
        d => Ok(d),
    }
}

/// A count of at least 1 (`--jobs`).
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => {
            Err("must be at least 1; leave it out to run every selected droid at once".to_owned())
        }
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a number")),
    }
}

impl Selection {
    /// The selection as `ops::run` takes it.
    pub fn to_ops(&self) -> droidforge::ops::run::Selection {
        droidforge::ops::run::Selection {
            droids: self.droids.clone(),
            phase: self.phase,
            all: self.all,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use crate::cli::Cli;
    use crate::cli::args::{Command, LockArgs, RunArgs};
    use droidforge::state::locks::WaitPolicy;

    fn run(flags: &[&str]) -> Result<RunArgs, clap::Error> {
        let argv = ["droidforge", "run", "--all"].iter().chain(flags);
        match Cli::try_parse_from(argv)?.command {
            Command::Run(args) => Ok(args),
            other => panic!("not run: {other:?}"),
        }
    }

    fn rejected(flags: &[&str], why: &str) {
        let err = run(flags).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{flags:?}");
        assert!(err.to_string().contains(why), "{flags:?}: {err}");
    }

    #[test]
    fn run_durations_are_parsed_with_the_flags() {
        let args = run(&[
            "--stagger",
            "30s",
            "--timeout",
            "1m30s",
            "--grace",
            "1500ms",
        ])
        .unwrap();
        assert_eq!(args.stagger, Some(Duration::from_secs(30)));
        assert_eq!(args.timeout, Some(Duration::from_secs(90)));
        assert_eq!(args.grace, Some(Duration::from_millis(1500)));
        assert_eq!(
            run(&["--timeout", "0"]).unwrap().timeout,
            Some(Duration::ZERO)
        );
        for flag in ["--stagger", "--timeout", "--grace", "--stall"] {
            rejected(&[flag, "soon"], "`soon` is not a duration");
        }
    }

    #[test]
    fn run_stall_must_be_longer_than_zero() {
        assert_eq!(
            run(&["--stall", "10m"]).unwrap().stall,
            Some(Duration::from_secs(600))
        );
        rejected(&["--stall", "0s"], "must be longer than 0");
    }

    #[test]
    fn run_jobs_is_at_least_one() {
        assert_eq!(run(&["--jobs", "2"]).unwrap().jobs, Some(2));
        assert_eq!(run(&[]).unwrap().jobs, None);
        rejected(&["--jobs", "0"], "must be at least 1");
        rejected(&["--jobs", "x"], "`x` is not a number");
    }

    fn lock(flags: &[&str]) -> Result<LockArgs, clap::Error> {
        let argv = ["droidforge", "lock", "src/**"].iter().chain(flags);
        match Cli::try_parse_from(argv)?.command {
            Command::Lock(args) => Ok(args),
            other => panic!("not lock: {other:?}"),
        }
    }

    #[test]
    fn lock_ttl_and_wait_are_parsed_with_the_flags() {
        let args = lock(&["--ttl", "2h", "--wait=5m"]).unwrap();
        assert_eq!(args.ttl, Some(Duration::from_secs(7200)));
        assert_eq!(
            args.wait,
            Some(WaitPolicy::AtMost(Duration::from_secs(300)))
        );
        assert_eq!(lock(&["--wait"]).unwrap().wait, Some(WaitPolicy::Forever));
        assert_eq!(lock(&[]).unwrap().wait, None);
        for flags in [&["--ttl", "soon"][..], &["--wait=soon"][..]] {
            let err = lock(flags).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{flags:?}");
            assert!(
                err.to_string().contains("`soon` is not a duration"),
                "{err}"
            );
        }
    }
}
