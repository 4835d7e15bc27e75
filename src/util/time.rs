//! The one clock: "now" (epoch seconds or milliseconds) and every spelling of a date
//! droidforge writes (RFC 3339 for machine output, `YYYY-MM-DD HH:MM UTC` for PROGRESS.md,
//! `YYYYMMDD-HHMMSS` in merge ids, date + time in logs), all UTC, without a date crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch (zero if the system clock is set before 1970).
pub fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Epoch seconds now.
pub fn now() -> i64 {
    since_epoch().as_secs() as i64
}

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    since_epoch().as_millis() as i64
}

/// (year, month, day, hour, minute, second) in UTC for epoch seconds.
pub fn utc_civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

/// RFC 3339 UTC timestamp with second precision (`2026-11-30T03:29:59Z`) for epoch seconds:
/// the one spelling of a point in time in machine output (see docs/json.md).
pub fn rfc3339(secs: i64) -> String {
    let (y, m, d, hh, mm, ss) = utc_civil(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// [`rfc3339`] for epoch milliseconds (truncated to the second, like `date -u`).
pub fn rfc3339_ms(ms: i64) -> String {
    rfc3339(ms.div_euclid(1000))
}

/// Epoch seconds of a UTC civil date and time: the inverse of [`utc_civil`] (Howard Hinnant's
/// days-from-civil).
pub fn from_utc_civil(y: i64, m: u32, d: u32, hh: u32, mm: u32, ss: u32) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + i64::from(hh) * 3600 + i64::from(mm) * 60 + i64::from(ss)
}

/// `YYYY-MM-DD HH:MM UTC` for epoch seconds: dates people read in PROGRESS.md.
pub fn utc_minute(secs: i64) -> String {
    let (y, m, d, hh, mm, _) = utc_civil(secs);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02} UTC")
}

/// `YYYYMMDD-HHMMSS` (UTC) for epoch seconds: sortable, and a valid ref name component
/// (merge ids start with it).
pub fn compact_utc(secs: i64) -> String {
    let (y, m, d, hh, mm, ss) = utc_civil(secs);
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

/// Epoch seconds of text that starts with [`compact_utc`]'s `YYYYMMDD-HHMMSS`; `None` when it
/// does not (or names no valid date).
pub fn parse_compact_utc(text: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<u32>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if text.as_bytes().get(8) != Some(&b'-') || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(from_utc_civil(i64::from(y), m, d, hh, mm, ss))
}

/// `(YYYY-MM-DD, HH:MM:SS)` in UTC for epoch milliseconds: the two columns of log and event
/// lines.
pub fn utc_parts(epoch_ms: i64) -> (String, String) {
    let (y, m, d, hh, mm, ss) = utc_civil(epoch_ms.div_euclid(1000));
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{hh:02}:{mm:02}:{ss:02}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_with_a_z() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_009_399), "2026-11-30T03:29:59Z");
        assert_eq!(rfc3339_ms(1_796_009_399_999), "2026-11-30T03:29:59Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn human_and_compact_dates() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(compact_utc(1_767_225_600), "20260101-000000");
        assert_eq!(
            utc_parts(1_767_270_896_000),
            ("2026-01-01".to_owned(), "12:34:56".to_owned())
        );
        assert_eq!(
            utc_parts(0),
            ("1970-01-01".to_owned(), "00:00:00".to_owned())
        );
    }

    #[test]
    fn compact_dates_parse_back() {
        for secs in [0, 951_782_400, 1_767_270_896, 4_102_444_799] {
            let id = format!("{}-abcdef", compact_utc(secs));
            assert_eq!(parse_compact_utc(&id), Some(secs), "{id}");
        }
        for bad in [
            "",
            "2026",
            "20261301-000000",
            "20260101x000000",
            "2026010-1000000",
        ] {
            assert_eq!(parse_compact_utc(bad), None, "{bad}");
        }
    }
}
