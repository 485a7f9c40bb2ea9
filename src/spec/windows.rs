//! Multi-window, multi-burn-rate alert windows: data (the SRE workbook's table) plus one
//! function that fits them to an SLO's period.
//!
//! A tier fires when the error ratio over both its long and its short window exceeds
//! `factor x error budget`. The long window says the burn is real, the short one that it is
//! still going on (so the alert resolves soon after the burn stops).

use crate::spec::{AlertWindowsSpec, BurnWindowSpec, PromDuration};

/// One burn-rate condition: two windows and the factor both must exceed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnWindow {
    /// The window that proves the burn is significant.
    pub long: PromDuration,
    /// The window that proves the burn is still going on (1/12 of the long one).
    pub short: PromDuration,
    /// Burn rate (multiple of the sustainable rate) that triggers.
    pub factor: f64,
    /// Share of the period's error budget spent when this burn lasts one long window.
    pub budget_fraction: f64,
}

/// The four conditions of one SLO: two page, two ticket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertWindows {
    /// The period these windows were made for.
    pub period: PromDuration,
    /// Fast page: a large burn over a short time.
    pub page_quick: BurnWindow,
    /// Slow page: a sustained burn over hours.
    pub page_slow: BurnWindow,
    /// Fast ticket.
    pub ticket_quick: BurnWindow,
    /// Slow ticket.
    pub ticket_slow: BurnWindow,
}

impl AlertWindows {
    /// The four conditions, page first.
    pub fn all(&self) -> [BurnWindow; 4] {
        [
            self.page_quick,
            self.page_slow,
            self.ticket_quick,
            self.ticket_slow,
        ]
    }

    /// Every distinct window used (long and short), shortest first: the SLI windows to record.
    pub fn distinct_windows(&self) -> Vec<PromDuration> {
        let mut windows: Vec<PromDuration> =
            self.all().iter().flat_map(|w| [w.short, w.long]).collect();
        windows.sort();
        windows.dedup();
        windows
    }
}

const MINUTE: u64 = 60;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

/// The SRE workbook's recommendation (chapter 5, table 5-8) for a 30-day period:
/// (long window, short window, budget fraction spent over the long window).
const WORKBOOK: [(u64, u64, f64); 4] = [
    (HOUR, 5 * MINUTE, 0.02),
    (6 * HOUR, 30 * MINUTE, 0.05),
    (DAY, 2 * HOUR, 0.10),
    (3 * DAY, 6 * HOUR, 0.10),
];

/// The shortest window slogate asks `rate()` over: shorter windows hold too few scrapes at a
/// 1m scrape interval and return nothing.
const MIN_WINDOW: u64 = 5 * MINUTE;

/// The periods for which the workbook's windows are used as they are (factors follow the
/// period: 14.4 / 6 / 3 / 1 at 30d, 13.44 / 5.6 / 2.8 / 0.93 at 28d, as Sloth does).
const WORKBOOK_PERIODS: [u64; 2] = [28 * DAY, 30 * DAY];

/// Alert windows for an SLO period.
///
/// For 28d and 30d: the workbook's windows, each factor being the budget fraction spent over
/// the long window at that burn (`factor = fraction x period / long`).
///
/// For any other period the windows shrink or grow with the period (`window x period / 30d`,
/// rounded to the minute, never under 5m) and keep the 30d factors (14.4, 6, 3, 1), so every tier still fires
/// at the same burn rate after spending the same share of the budget. Keeping the windows and
/// scaling the factors instead would make a 7d SLO's slow ticket fire at 0.23x, a burn that
/// never exhausts the budget.
pub fn alert_windows(period: PromDuration) -> AlertWindows {
    let period_secs = period.as_secs().max(1);
    let condition = |(long, short, fraction): (u64, u64, f64)| {
        if WORKBOOK_PERIODS.contains(&period_secs) {
            BurnWindow {
                long: PromDuration::from_secs(long),
                short: PromDuration::from_secs(short),
                factor: fraction * period_secs as f64 / long as f64,
                budget_fraction: fraction,
            }
        } else {
            let scale = |w: u64| {
                let minutes = (w as f64 * period_secs as f64 / (30 * DAY) as f64 / 60.0).round();
                PromDuration::from_secs((minutes as u64 * MINUTE).max(MIN_WINDOW))
            };
            BurnWindow {
                long: scale(long),
                short: scale(short),
                factor: fraction * (30 * DAY) as f64 / long as f64,
                budget_fraction: fraction,
            }
        }
    };
    AlertWindows {
        period,
        page_quick: condition(WORKBOOK[0]),
        page_slow: condition(WORKBOOK[1]),
        ticket_quick: condition(WORKBOOK[2]),
        ticket_slow: condition(WORKBOOK[3]),
    }
}

/// Alert windows for an SLO period, from the custom windows for that period when the
/// definitions have them (Sloth `AlertWindows` documents), otherwise [`alert_windows`].
pub fn alert_windows_with(period: PromDuration, custom: &[AlertWindowsSpec]) -> AlertWindows {
    let Some(spec) = custom.iter().find(|c| c.period == period) else {
        return alert_windows(period);
    };
    let condition = |w: &BurnWindowSpec| {
        let fraction = w.budget_percent / 100.0;
        BurnWindow {
            long: w.long,
            short: w.short,
            factor: fraction * period.as_secs() as f64 / w.long.as_secs() as f64,
            budget_fraction: fraction,
        }
    };
    AlertWindows {
        period,
        page_quick: condition(&spec.page_quick),
        page_slow: condition(&spec.page_slow),
        ticket_quick: condition(&spec.ticket_quick),
        ticket_slow: condition(&spec.ticket_slow),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> PromDuration {
        PromDuration::parse(text).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn thirty_days_is_the_workbook_table() {
        let w = alert_windows(d("30d"));
        let got: Vec<(String, String, f64)> = w
            .all()
            .iter()
            .map(|c| (c.long.to_string(), c.short.to_string(), c.factor))
            .collect();
        let want = [
            ("1h", "5m", 14.4),
            ("6h", "30m", 6.0),
            ("1d", "2h", 3.0),
            ("3d", "6h", 1.0),
        ];
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.0.as_str(), g.1.as_str()), (w.0, w.1));
            assert!(close(g.2, w.2), "{} vs {}", g.2, w.2);
        }
    }

    #[test]
    fn twenty_eight_days_keeps_windows_and_scales_factors_like_sloth() {
        let w = alert_windows(d("28d"));
        assert_eq!(w.page_quick.long, d("1h"));
        assert!(close(w.page_quick.factor, 13.44));
        assert!(close(w.page_slow.factor, 5.6));
        assert!(close(w.ticket_quick.factor, 2.8));
        assert!(close(w.ticket_slow.factor, 0.1 * 28.0 / 3.0));
    }

    #[test]
    fn custom_windows_apply_to_their_period_only() {
        let w = |percent, short: &str, long: &str| BurnWindowSpec {
            budget_percent: percent,
            short: d(short),
            long: d(long),
        };
        let custom = [AlertWindowsSpec {
            period: d("7d"),
            page_quick: w(8.0, "5m", "1h"),
            page_slow: w(12.5, "30m", "6h"),
            ticket_quick: w(20.0, "2h", "1d"),
            ticket_slow: w(42.0, "6h", "3d"),
        }];
        let seven = alert_windows_with(d("7d"), &custom);
        assert!(close(seven.page_quick.factor, 0.08 * 168.0));
        assert!(close(seven.ticket_slow.factor, 0.42 * 7.0 / 3.0));
        assert_eq!(seven.page_slow.long, d("6h"));
        assert_eq!(
            alert_windows_with(d("30d"), &custom),
            alert_windows(d("30d"))
        );
    }

    #[test]
    fn other_periods_scale_windows_and_keep_factors() {
        let w = alert_windows(d("7d"));
        assert_eq!(w.page_quick.long, d("14m"));
        assert_eq!(w.page_quick.short, d("5m"), "never under 5m");
        assert_eq!(w.ticket_slow.long, d("16h48m"));
        assert!(close(w.page_quick.factor, 14.4));
        assert!(close(w.ticket_slow.factor, 1.0));
        // The budget spent before each tier fires is the workbook's, whatever the period.
        for c in w.all().iter().filter(|c| c.long > d("5m")) {
            let spent = c.factor * c.long.as_secs() as f64 / w.period.as_secs() as f64;
            assert!((spent - c.budget_fraction).abs() < 0.002, "{c:?}");
        }
    }
}
