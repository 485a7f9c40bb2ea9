//! ISO weeks (`2026-W07`) and their boundaries in a time zone: Monday 00:00 to the next
//! Monday 00:00 local time, so a week that crosses a DST change lasts 167 or 169 hours.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

/// An ISO 8601 week: its week-numbering year and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct IsoWeek {
    /// ISO week-numbering year (may differ from the calendar year around New Year).
    pub year: i32,
    /// Week number, 1 to 52 or 53.
    pub week: u32,
}

impl IsoWeek {
    /// The week holding `date`.
    pub fn containing(date: NaiveDate) -> IsoWeek {
        let w = date.iso_week();
        IsoWeek {
            year: w.year(),
            week: w.week(),
        }
    }

    /// Its Monday.
    pub fn monday(self) -> NaiveDate {
        NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon)
            .expect("an IsoWeek is always a valid week")
    }

    /// The week before.
    pub fn previous(self) -> IsoWeek {
        IsoWeek::containing(self.monday() - Duration::days(7))
    }

    /// `[start, end)`: Monday 00:00 of this week and of the next, in `tz`.
    pub fn bounds(self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let monday = self.monday();
        (
            local_midnight(monday, tz),
            local_midnight(monday + Duration::days(7), tz),
        )
    }

    /// The last full week before `at` in `tz`: the week before the one `at` falls in.
    pub fn last_full_before(at: DateTime<Utc>, tz: Tz) -> IsoWeek {
        IsoWeek::containing(at.with_timezone(&tz).date_naive()).previous()
    }
}

/// The first instant of `date` in `tz` (midnight, or the end of a DST gap at midnight).
fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut local = date.and_time(NaiveTime::MIN);
    // A zone that springs forward at midnight has no 00:00 that day: take the first minute
    // that exists (gaps are at most a few hours).
    for _ in 0..(24 * 60) {
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
        local += Duration::minutes(1);
    }
    Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

impl FromStr for IsoWeek {
    type Err = String;

    /// `YYYY-Www` (`2026-W07`); the week must exist in that year.
    fn from_str(s: &str) -> Result<IsoWeek, String> {
        let bad = || format!("{s:?} is not an ISO week; write YYYY-Www, e.g. 2026-W07");
        let (year, week) = s.split_once("-W").ok_or_else(bad)?;
        if year.len() != 4 || week.len() != 2 {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let week: u32 = week.parse().map_err(|_| bad())?;
        if NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).is_none() {
            return Err(format!("{year} has no week {week:02}"));
        }
        Ok(IsoWeek { year, week })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn weeks_print_and_parse_as_iso_8601() {
        let w: IsoWeek = "2026-W07".parse().unwrap();
        assert_eq!(
            w,
            IsoWeek {
                year: 2026,
                week: 7
            }
        );
        assert_eq!(w.to_string(), "2026-W07");
        assert_eq!("2020-W53".parse::<IsoWeek>().unwrap().week, 53);
        for bad in [
            "2026-07", "2026-W7", "2026-W54", "2025-W53", "26-W01", "2026-Wxx",
        ] {
            assert!(bad.parse::<IsoWeek>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_week_around_new_year_belongs_to_its_iso_year() {
        let w = IsoWeek::containing(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        assert_eq!(w.to_string(), "2026-W53");
        assert_eq!(
            IsoWeek {
                year: 2027,
                week: 1
            }
            .previous()
            .to_string(),
            "2026-W53"
        );
    }

    #[test]
    fn a_week_ending_in_a_dst_change_lasts_167_hours_in_berlin() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // Summer time starts on Sunday 29 March 2026: that week has 167 hours.
        let w: IsoWeek = "2026-W13".parse().unwrap();
        let (start, end) = w.bounds(berlin);
        assert_eq!(start, utc("2026-03-22T23:00:00Z"));
        assert_eq!(end, utc("2026-03-29T22:00:00Z"));
        assert_eq!((end - start).num_hours(), 167);
        // And it ends on Sunday 25 October 2026: 169 hours.
        let (start, end) = "2026-W43".parse::<IsoWeek>().unwrap().bounds(berlin);
        assert_eq!((end - start).num_hours(), 169);
    }

    #[test]
    fn the_last_full_week_is_the_one_before_the_local_week_of_the_instant() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // Sunday 23:30 UTC is already Monday 00:30 in Berlin (winter, UTC+1).
        let at = utc("2026-02-15T23:30:00Z");
        assert_eq!(
            IsoWeek::last_full_before(at, berlin).to_string(),
            "2026-W07"
        );
        assert_eq!(
            IsoWeek::last_full_before(at, Tz::UTC).to_string(),
            "2026-W06"
        );
    }

    #[test]
    fn a_zone_without_midnight_on_monday_starts_the_week_at_its_first_minute() {
        // Chile changes its clocks at midnight (00:00 -> 01:00 in spring): every week still
        // starts at an instant that exists and lasts 167 to 169 hours.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        for week in 1..=52 {
            let (start, end) = IsoWeek { year: 2026, week }.bounds(santiago);
            let hours = (end - start).num_hours();
            assert!((166..=170).contains(&hours), "week {week}: {hours}");
        }
    }
}
