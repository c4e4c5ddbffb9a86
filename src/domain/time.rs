//! Dates as administrators type them, and times as the console and CLI print them.

use super::types::UnixTime;
use jiff::{Timestamp, civil::Date, tz::TimeZone};

/// Parses `YYYY-MM-DD` (midnight at the start of that day in `tz`, as Moodle's date selector)
/// or an RFC 3339 timestamp (`2026-12-31T18:00:00Z`, `…+01:00`).
pub fn parse_date(text: &str, tz: &TimeZone) -> Result<UnixTime, String> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts.as_second());
    }
    if let Ok(date) = text.parse::<Date>() {
        return date
            .to_zoned_datetime(tz.clone())
            .map(|z| z.timestamp().as_second())
            .map_err(|e| format!("\"{text}\": {e}"));
    }
    Err(format!("\"{text}\" is not a date: write YYYY-MM-DD or an RFC 3339 time such as 2026-12-31T18:00:00Z"))
}

/// `YYYY-MM-DD HH:MM UTC`: unambiguous wherever the reader sits.
pub fn format_time(t: UnixTime) -> String {
    match Timestamp::from_second(t) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => format!("@{t}"),
    }
}

/// An HTTP date (RFC 9110 IMF-fixdate), as PHP's `gmdate('D, d M Y H:i:s') . ' GMT'` writes it.
pub fn http_date(t: UnixTime) -> String {
    match Timestamp::from_second(t) {
        Ok(ts) => ts.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        Err(_) => "Thu, 01 Jan 1970 00:00:00 GMT".into(),
    }
}

/// The same time in a given zone, for screens that show local time.
pub fn format_time_in(t: UnixTime, tz: &TimeZone) -> String {
    match Timestamp::from_second(t) {
        Ok(ts) => ts.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string(),
        Err(_) => format!("@{t}"),
    }
}

/// The day of a time in a given zone, `YYYY-MM-DD`: what `parse_date` reads back.
pub fn format_date_in(t: UnixTime, tz: &TimeZone) -> String {
    match Timestamp::from_second(t) {
        Ok(ts) => ts.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%d").to_string(),
        Err(_) => format!("@{t}"),
    }
}

/// A duration in Moodle's units, for settings such as `tokenduration`: `3600`, `90m`, `12h`,
/// `30d`, `12w` (seconds when unitless).
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let n: i64 = digits.parse().map_err(|_| format!("\"{text}\" is not a duration such as 3600, 12h, 30d or 12w"))?;
    let unit = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("\"{text}\": the unit must be s, m, h, d or w")),
    };
    n.checked_mul(unit).filter(|v| *v > 0).ok_or_else(|| format!("\"{text}\" must be a positive duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(http_date(1_796_403_824), "Fri, 04 Dec 2026 17:03:44 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn a_formatted_day_reads_back_as_its_midnight() {
        let tz = TimeZone::get("Australia/Perth").unwrap_or(TimeZone::fixed(jiff::tz::offset(8)));
        let t = 1_798_760_000; // 2026-12-31 23:33 UTC, 2027-01-01 07:33 in Perth
        assert_eq!(format_date_in(t, &tz), "2027-01-01");
        let midnight = parse_date(&format_date_in(t, &tz), &tz).unwrap();
        assert!(midnight <= t && t - midnight < 86_400);
        assert_eq!(format_date_in(t, &TimeZone::UTC), "2026-12-31");
    }

    #[test]
    fn dates_and_timestamps() {
        let utc = TimeZone::UTC;
        assert_eq!(parse_date("2026-12-31", &utc).unwrap(), 1_798_675_200);
        assert_eq!(parse_date("2026-12-31T00:00:00Z", &utc).unwrap(), 1_798_675_200);
        assert_eq!(parse_date("2026-12-31T01:00:00+01:00", &utc).unwrap(), 1_798_675_200);
        let paris = TimeZone::get("Europe/Paris").unwrap_or(TimeZone::fixed(jiff::tz::offset(1)));
        assert_eq!(parse_date("2026-12-31", &paris).unwrap(), 1_798_675_200 - 3600);
        let err = parse_date("31/12/2026", &utc).unwrap_err();
        assert!(err.contains("YYYY-MM-DD"), "{err}");
        assert!(parse_date("2026-02-30", &utc).is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(format_time(1_798_675_200), "2026-12-31 00:00 UTC");
        assert_eq!(format_time_in(1_798_675_200, &TimeZone::UTC), "2026-12-31 00:00 UTC");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600").unwrap(), 3600);
        assert_eq!(parse_duration("12w").unwrap(), 7_257_600);
        assert_eq!(parse_duration("30d").unwrap(), 2_592_000);
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("12y").is_err());
        assert!(parse_duration("").is_err());
    }
}
