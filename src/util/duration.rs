//! Durations on the command line (`--timeout 45m`, `--ttl 1h`, `--wait=30s`): one parser for
//! every flag.

use std::time::Duration;

/// Parse `1500ms`, `30s`, `5m`, `1h`, `2d`, compounds like `1m30s`, or a bare number of
/// seconds (`12`, `1.5`). No spaces, no signs.
pub fn parse(text: &str) -> Option<Duration> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(secs) = t.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0 && !t.starts_with(['+', '-']))
            .then(|| Duration::from_secs_f64(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if digits == 0 {
            return None;
        }
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let millis = match unit {
            "ms" => value,
            "s" | "sec" | "secs" => value * 1_000.0,
            "m" | "min" | "mins" => value * 60_000.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => value * 3_600_000.0,
            "d" | "day" | "days" => value * 86_400_000.0,
            _ => return None,
        };
        total += Duration::from_millis(millis.round() as u64);
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_compounds_and_bare_seconds() {
        assert_eq!(parse("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse("1d"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse("1.5"), Some(Duration::from_millis(1500)));
        for bad in ["", "s", "5x", "m5", "-1s", "-1", "5 m", "soon"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
