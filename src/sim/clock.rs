//! The emulator's clock and ServiceNow's date-time text: `YYYY-MM-DD HH:MM:SS`, UTC at rest.
//! Tests move the clock forward instead of sleeping; nothing else here keeps state.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

const MAX_OFFSET: i64 = 100 * 366 * 86_400;

/// `paused_at` when the clock runs with the wall clock.
const RUNNING: i64 = i64::MIN;

/// Wall-clock time (or the instant it was paused at) plus an offset that only grows
/// (`advance`).
#[derive(Debug)]
pub(crate) struct Clock {
    offset_secs: AtomicI64,
    /// UNIX seconds the wall clock stood at when paused, or `RUNNING`.
    paused_at: AtomicI64,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            offset_secs: AtomicI64::new(0),
            paused_at: AtomicI64::new(RUNNING),
        }
    }
}

impl Clock {
    /// The emulated current time.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let base = match self.paused_at.load(Ordering::Relaxed) {
            RUNNING => Utc::now(),
            at => DateTime::from_timestamp(at, 0).unwrap_or_else(Utc::now),
        };
        base + chrono::Duration::seconds(self.offset_secs.load(Ordering::Relaxed))
    }

    /// Stops the clock at the current whole second: from then on only `advance` moves it, so a
    /// test can put several writes in one second, or in seconds it chooses. Pausing twice
    /// keeps the first instant.
    pub(crate) fn pause(&self) {
        let _ = self.paused_at.compare_exchange(
            RUNNING,
            Utc::now().timestamp(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// The emulated current time in UNIX seconds.
    pub(crate) fn unix(&self) -> i64 {
        self.now().timestamp()
    }

    /// The emulated current time as a ServiceNow date-time string.
    pub(crate) fn now_text(&self) -> String {
        format(&self.now().naive_utc())
    }

    /// Moves the emulated time forward, by at most a century in all: dates stay printable.
    pub(crate) fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(MAX_OFFSET);
        let _ = self
            .offset_secs
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(secs).min(MAX_OFFSET))
            });
    }
}

/// `YYYY-MM-DD HH:MM:SS`.
pub(crate) fn format(t: &NaiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Reads `YYYY-MM-DD HH:MM:SS`, or a bare `YYYY-MM-DD` as its midnight.
pub(crate) fn parse(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Some(t);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// The UTC offset in seconds of a user's `time_zone`.
///
/// Only fixed-offset zones are modelled (`UTC`, `GMT`, `Etc/GMT±N` with POSIX's inverted
/// sign); any other name counts as UTC, since the emulator carries no zone database.
pub(crate) fn zone_offset(time_zone: &str) -> i64 {
    let rest = match time_zone.strip_prefix("Etc/GMT") {
        Some(r) => r,
        None => return 0,
    };
    let (sign, digits) = match rest.as_bytes().first() {
        Some(b'+') => (-1, &rest[1..]),
        Some(b'-') => (1, &rest[1..]),
        _ => return 0,
    };
    digits.parse::<i64>().map(|h| sign * h * 3600).unwrap_or(0)
}

/// A stored UTC date-time shown in a zone `offset` seconds from UTC.
pub(crate) fn to_zone(utc_text: &str, offset: i64) -> String {
    match parse(utc_text) {
        Some(t) if offset != 0 => format(&(t + chrono::Duration::seconds(offset))),
        _ => utc_text.to_owned(),
    }
}

/// A date-time typed in a zone `offset` seconds from UTC, stored as UTC; unreadable text
/// is kept as given.
pub(crate) fn from_zone(local_text: &str, offset: i64) -> String {
    match parse(local_text) {
        Some(t) => format(&(t - chrono::Duration::seconds(offset))),
        None => local_text.to_owned(),
    }
}

/// Seconds between two stored date-times, when both parse.
pub(crate) fn seconds_between(from: &str, to: &str) -> Option<i64> {
    Some((parse(to)? - parse(from)?).num_seconds())
}

/// A duration stored the ServiceNow way: a date-time that many seconds after the epoch.
pub(crate) fn duration_text(secs: i64) -> String {
    let t = Utc
        .timestamp_opt(secs.max(0), 0)
        .single()
        .unwrap_or_default();
    format(&t.naive_utc())
}

/// How a duration reads with display values on: "1 Day 4 Hours 23 Minutes", "8 Hours".
pub(crate) fn duration_display(stored: &str) -> String {
    let Some(t) = parse(stored) else {
        return stored.to_owned();
    };
    let secs = t.and_utc().timestamp();
    if secs <= 0 {
        return String::new();
    }
    let parts = [
        (secs / 86_400, "Day"),
        ((secs % 86_400) / 3600, "Hour"),
        ((secs % 3600) / 60, "Minute"),
    ];
    let mut out: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    if out.is_empty() {
        let s = secs % 60;
        out.push(format!("{s} Second{}", if s == 1 { "" } else { "s" }));
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_recorded_display_values() {
        assert_eq!(duration_display("1970-01-01 08:00:00"), "8 Hours");
        assert_eq!(
            duration_display("1970-01-02 04:23:17"),
            "1 Day 4 Hours 23 Minutes"
        );
        assert_eq!(duration_text(28_800), "1970-01-01 08:00:00");
    }

    #[test]
    fn fixed_offset_zones_follow_posix_signs() {
        assert_eq!(zone_offset("Etc/GMT+7"), -7 * 3600);
        assert_eq!(zone_offset("Etc/GMT-2"), 2 * 3600);
        assert_eq!(zone_offset("Europe/Paris"), 0);
        assert_eq!(
            to_zone("2022-11-04 22:29:20", zone_offset("Etc/GMT+7")),
            "2022-11-04 15:29:20"
        );
        assert_eq!(
            from_zone("2022-11-04 15:29:20", -7 * 3600),
            "2022-11-04 22:29:20"
        );
    }

    #[test]
    fn a_paused_clock_moves_only_when_advanced() {
        let clock = Clock::default();
        clock.pause();
        let at = clock.now();
        assert_eq!(clock.now(), at);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), at + chrono::Duration::seconds(90));
    }

    #[test]
    fn bare_dates_mean_midnight() {
        assert_eq!(
            parse("2025-08-01").map(|t| format(&t)).as_deref(),
            Some("2025-08-01 00:00:00")
        );
    }
}
