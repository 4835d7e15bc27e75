//! The current time with the local UTC offset, for reflog entries and commits, found without
//! jiff's system time zone lookup.
//!
//! gix asks jiff (`Zoned::now()`) for the local time, and jiff's first system time zone in a
//! process indexes every file under the zoneinfo directory to learn the zone's *name*: ~3.4M
//! instructions and a hundred syscalls, as much as the rest of a 10-file `spawn`. A git time
//! needs only the offset, so the zone is read here from the one file that defines it, the way
//! the C library (and so git) does:
//!
//! - `TZ` unset: `/etc/localtime`;
//! - `TZ` empty: UTC;
//! - `TZ` a POSIX rule (`UTC0`, `EST5EDT,M3.2.0,M11.1.0`): that rule;
//! - `TZ` a zone name or a path, with or without a leading `:` (`America/New_York`,
//!   `:/usr/share/zoneinfo/Europe/Paris`): the TZif file under `TZDIR` or the system zoneinfo
//!   directories (a path containing `zoneinfo/` is looked up by the name after it), else the
//!   path itself.
//!
//! Anything this cannot read or parse returns `None`, and the caller asks gix/jiff exactly as
//! before, so an unusual `TZ` behaves as it always did. The zone is resolved once per process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jiff::tz::TimeZone;

/// The zoneinfo directories jiff searches after `TZDIR`, in its order.
const ZONEINFO_DIRS: [&str; 3] = [
    "/usr/share/zoneinfo",
    "/usr/share/lib/zoneinfo",
    "/etc/zoneinfo",
];

/// Now, with the local UTC offset; `None` when the local zone could not be read cheaply.
pub(super) fn now() -> Option<gix::date::Time> {
    static ZONE: OnceLock<Option<TimeZone>> = OnceLock::new();
    let zone = ZONE.get_or_init(|| {
        let tz = std::env::var_os("TZ");
        local_zone(tz.as_ref().map(|v| v.to_str()))
    });
    let zone = zone.as_ref()?;
    let now = jiff::Timestamp::now();
    Some(gix::date::Time {
        seconds: now.as_second(),
        offset: zone.to_offset(now).seconds(),
    })
}

/// The zone `TZ` selects: `None` = unset, `Some(None)` = set but not UTF-8 (left to jiff).
fn local_zone(tz: Option<Option<&str>>) -> Option<TimeZone> {
    let Some(tz) = tz else {
        return tzif_file(Path::new("/etc/localtime"));
    };
    let tz = tz?;
    if tz.is_empty() {
        return Some(TimeZone::UTC);
    }
    let name = match tz.strip_prefix(':') {
        Some(name) => name,
        None => match TimeZone::posix(tz) {
            Ok(zone) => return Some(zone),
            Err(_) => tz,
        },
    };
    named_zone(name)
}

/// A zone given by name or path, as jiff resolves it: by name in the zoneinfo directories
/// first (for a path, the name after its last `zoneinfo/`), then the path itself.
fn named_zone(name_or_path: &str) -> Option<TimeZone> {
    let name = match name_or_path.rfind("zoneinfo/") {
        Some(at) => &name_or_path[at + "zoneinfo/".len()..],
        None => name_or_path,
    };
    let by_name = safe_zone_name(name).then(|| {
        let tzdir = std::env::var_os("TZDIR").map(PathBuf::from);
        tzdir
            .into_iter()
            .chain(ZONEINFO_DIRS.iter().map(PathBuf::from))
            .find_map(|dir| tzif_file(&dir.join(name)))
    });
    by_name
        .flatten()
        .or_else(|| tzif_file(Path::new(name_or_path)))
}

/// A relative name that stays inside the directory it is looked up in.
fn safe_zone_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && name.split('/').all(|part| !part.is_empty() && part != "..")
}

/// The zone in a TZif file (following symlinks); `None` when missing or not TZif.
fn tzif_file(path: &Path) -> Option<TimeZone> {
    let data = std::fs::read(path).ok()?;
    TimeZone::tzif("Local", &data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset_at(zone: &TimeZone, second: i64) -> i32 {
        zone.to_offset(jiff::Timestamp::from_second(second).unwrap())
            .seconds()
    }

    /// 2024-01-15 and 2024-07-15, noon UTC: winter and summer in the northern hemisphere.
    const WINTER: i64 = 1_705_320_000;
    const SUMMER: i64 = 1_721_044_800;

    #[test]
    fn posix_rules_with_daylight_saving_time_give_the_season_s_offset() {
        let zone = local_zone(Some(Some("EST5EDT,M3.2.0,M11.1.0"))).unwrap();
        assert_eq!(offset_at(&zone, WINTER), -5 * 3600);
        assert_eq!(offset_at(&zone, SUMMER), -4 * 3600);
        let zone = local_zone(Some(Some("IST-5:30"))).unwrap();
        assert_eq!(offset_at(&zone, WINTER), 5 * 3600 + 1800);
    }

    #[test]
    fn an_empty_tz_is_utc() {
        let zone = local_zone(Some(Some(""))).unwrap();
        assert_eq!(offset_at(&zone, SUMMER), 0);
    }

    #[test]
    fn names_that_would_leave_the_zoneinfo_directory_are_not_looked_up_there() {
        assert!(safe_zone_name("America/New_York"));
        assert!(!safe_zone_name("../etc/passwd"));
        assert!(!safe_zone_name("/etc/localtime"));
        assert!(!safe_zone_name("a//b"));
        assert!(!safe_zone_name(""));
    }

    #[test]
    fn an_unknown_zone_name_is_left_to_the_fallback() {
        assert!(local_zone(Some(Some("Not/A_Zone"))).is_none());
        assert!(local_zone(Some(Some(":Not/A_Zone"))).is_none());
        assert!(local_zone(Some(None)).is_none());
    }
}
