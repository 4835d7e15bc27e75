//! Who droidforge's reflog entries and commits are by, and when: git's identity settings,
//! droidforge's fallback identity, and the local time (see [`super::local_time`]).

use super::{FALLBACK_EMAIL, FALLBACK_NAME, Repo};

impl Repo {
    /// The identity used as committer for commits droidforge writes: git config (and the
    /// `GIT_COMMITTER_*` environment), falling back to `droidforge <droidforge@localhost>`.
    pub fn committer(&self) -> gix::actor::Signature {
        committer_of(&self.git)
    }
}

/// The committer of `repo`'s reflog entries and commits, now: git's configuration and the
/// `GIT_COMMITTER_*` environment, else the fallback identity.
///
/// The name and email are read from the configuration in the order gix's own `committer()`
/// uses (which also sees the environment: gix maps `GIT_COMMITTER_NAME`/`EMAIL`, `EMAIL` and
/// `GIT_COMMITTER_DATE` onto configuration keys). gix's `committer()` itself is asked only when
/// a committer date is set (`GIT_COMMITTER_DATE`), so that its parsing rules stay: otherwise it
/// would resolve the local time zone through jiff, which indexes the whole zoneinfo directory
/// first; [`super::local_time`] reads just the zone's file.
pub(super) fn committer_of(repo: &gix::Repository) -> gix::actor::Signature {
    // The resolved file as gix's `committer()` reads it (no trust filter).
    let snapshot = repo.config_snapshot();
    let config = snapshot.plumbing();
    let local = (config.string("gitoxide.commit.committerDate").is_none())
        .then(super::local_time::now)
        .flatten();
    let Some(time) = local else {
        let now = gix::date::Time::now_local_or_utc();
        return match repo.committer() {
            Some(Ok(sig)) => gix::actor::Signature {
                name: sig.name.into(),
                email: sig.email.into(),
                time: sig.time().unwrap_or(now),
            },
            _ => fallback_signature(now),
        };
    };
    let first = |keys: &[&str]| keys.iter().find_map(|key| config.string(*key));
    let name = first(&[
        "committer.name",
        "user.name",
        "gitoxide.committer.nameFallback",
    ]);
    let email = first(&[
        "committer.email",
        "user.email",
        "gitoxide.user.emailFallback",
        "gitoxide.committer.emailFallback",
    ]);
    match (name, email) {
        (Some(name), Some(email)) => gix::actor::Signature { name, email, time },
        _ => fallback_signature(time),
    }
}

fn fallback_signature(time: gix::date::Time) -> gix::actor::Signature {
    gix::actor::Signature {
        name: FALLBACK_NAME.into(),
        email: FALLBACK_EMAIL.into(),
        time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::git::tests::git;

    /// The name and email are read from the configuration without gix's `committer()` (whose
    /// time would load jiff's zoneinfo index): they must be the ones it gives, in its order
    /// (`committer.*` over `user.*` over the fallback identity).
    #[test]
    fn committer_identity_is_gix_s_own_without_its_time_zone_lookup() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let run = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}");
        };
        git(dir, &["init", "-q"]);
        for settings in [
            &[][..],
            &[("user.name", "U"), ("user.email", "u@u")][..],
            &[("committer.name", "C"), ("committer.email", "c@c")][..],
            &[("committer.email", "c2@c")][..],
        ] {
            for (key, value) in settings {
                run(&["config", key, value]);
            }
            let repo = Repo::open(dir).unwrap();
            let ours = committer_of(&repo.git);
            let theirs = repo.git.committer().unwrap().unwrap();
            assert_eq!(ours.name, theirs.name, "{settings:?}");
            assert_eq!(ours.email, theirs.email, "{settings:?}");
        }
    }
}
