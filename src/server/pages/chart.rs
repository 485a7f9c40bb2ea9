//! Charts as SVG text, drawn on the server: a line chart of a series over time, box plots of a
//! canary's two sides, bars of two event rates. Every text is escaped; every chart carries a
//! `<title>` and a `<desc>` that say in words what it shows (its text alternative), and the
//! two sides differ by label and pattern, not colour alone.

use std::fmt::Write;

use chrono::{TimeZone, Utc};

use super::view::{escape as esc, number, percent};
use crate::analysis::canary::Counts;
use crate::analysis::distribution::Quantiles;

const W: f64 = 720.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 24.0;

fn open(svg: &mut String, height: f64, id: &str, title: &str, desc: &str) {
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-labelledby="{id}-t {id}-d" xmlns="http://www.w3.org/2000/svg"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        esc(title),
        esc(desc)
    );
}

/// Nice ticks over `[lo, hi]`: about `count` round numbers.
fn ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let span = (hi - lo).abs().max(f64::EPSILON);
    let raw = span / count.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    (0..=count * 2 + 2)
        .map(|i| first + i as f64 * step)
        .take_while(|t| *t <= hi + step * 1e-9)
        .collect()
}

/// Value range with a margin, never empty.
fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold(None, |acc: Option<(f64, f64)>, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })?;
    if hi - lo < f64::EPSILON * hi.abs().max(1.0) {
        let pad = hi.abs().max(1e-6) * 0.05;
        return Some((lo - pad, hi + pad));
    }
    let pad = (hi - lo) * 0.08;
    Some((lo - pad, hi + pad))
}

/// A line over time: `points` are `(unix seconds, value)`; `reference` a horizontal line
/// with its label (the objective, the empty budget); `percent_axis` writes values as percents.
pub fn line_chart(
    id: &str,
    title: &str,
    points: &[(i64, f64)],
    reference: Option<(f64, &str)>,
    percent_axis: bool,
) -> String {
    let h = 260.0;
    let (top, bottom) = (16.0, h - 40.0);
    let fmt = |v: f64| {
        if percent_axis {
            percent(v, 2)
        } else {
            number(v)
        }
    };
    let mut svg = String::with_capacity(4096 + points.len() * 24);
    let Some(&(t0, _)) = points.first() else {
        open(&mut svg, 80.0, id, title, "No data over the period.");
        let _ = write!(
            svg,
            r#"<text x="{LEFT}" y="44" class="muted">No data over the period</text></svg>"#
        );
        return svg;
    };
    let t1 = points.last().map_or(t0, |p| p.0).max(t0 + 1);
    let values = points.iter().map(|p| p.1).chain(reference.map(|r| r.0));
    let (lo, hi) = range(values).unwrap_or((0.0, 1.0));
    let x = |t: i64| LEFT + (t - t0) as f64 / (t1 - t0) as f64 * (W - LEFT - RIGHT);
    let y = |v: f64| bottom - (v - lo) / (hi - lo) * (bottom - top);
    let last = points.last().map_or(0.0, |p| p.1);
    let (min, max) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let desc = format!(
        "{} points from {} to {}; lowest {}, highest {}, last {}.",
        points.len(),
        date(t0),
        date(t1),
        fmt(min),
        fmt(max),
        fmt(last)
    );
    open(&mut svg, h, id, title, &desc);
    for t in ticks(lo, hi, 4) {
        let yy = y(t);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            LEFT - 8.0,
            yy + 4.0,
            esc(&fmt(t))
        );
    }
    // One point has one time to write; more have four.
    let labels = if points.len() > 1 { 3 } else { 0 };
    for i in 0..=labels {
        let t = t0 + (t1 - t0) * i / labels.max(1);
        let anchor = match i {
            _ if labels == 0 => "start",
            0 => "start",
            3 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            x(t),
            h - 14.0,
            esc(&date(t))
        );
    }
    if let Some((v, label)) = reference {
        let yy = y(v);
        let _ = write!(
            svg,
            r#"<line class="reference" x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}"/><text class="reference-label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            W - RIGHT - 4.0,
            yy - 5.0,
            esc(label)
        );
    }
    // Few points are drawn as dots too (a single one has no line).
    if points.len() <= 30 {
        for &(t, v) in points {
            let _ = write!(
                svg,
                r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="4"/>"#,
                x(t),
                y(v)
            );
        }
    }
    svg.push_str(r#"<polyline class="series" points=""#);
    for &(t, v) in points {
        let _ = write!(svg, "{:.1},{:.1} ", x(t), y(v));
    }
    svg.push_str(r#""/></svg>"#);
    svg
}

fn date(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .map_or_else(|| t.to_string(), |d| d.format("%b %-d %H:%M").to_string())
}

/// Box plots of the baseline and the canary on one axis: whiskers from the 5% to the 95%
/// quantile, the box from 25% to 75%, the median as a bar, min and max as dots.
pub fn box_plots(id: &str, metric: &str, baseline: &Quantiles, canary: &Quantiles) -> String {
    let h = 190.0;
    let sides = [("baseline", baseline), ("canary", canary)];
    let describe = |name: &str, q: &Quantiles| match (q.at(5), q.at(50), q.at(95)) {
        (Some(p5), Some(p50), Some(p95)) => format!(
            "{name}: {} values, median {}, 5% to 95% from {} to {}",
            q.n,
            number(p50),
            number(p5),
            number(p95)
        ),
        _ => format!("{name}: no values"),
    };
    let desc = format!(
        "{}; {}.",
        describe("baseline", baseline),
        describe("canary", canary)
    );
    let mut svg = String::with_capacity(4096);
    open(
        &mut svg,
        h,
        id,
        &format!("{metric}: baseline and canary distributions"),
        &desc,
    );
    let all = sides.iter().flat_map(|(_, q)| q.q.iter().copied());
    let Some((lo, hi)) = range(all) else {
        let _ = write!(
            svg,
            r#"<text x="{LEFT}" y="60" class="muted">No values on either side</text></svg>"#
        );
        return svg;
    };
    let x = |v: f64| LEFT + (v - lo) / (hi - lo) * (W - LEFT - RIGHT);
    for t in ticks(lo, hi, 5) {
        let xx = x(t);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{xx:.1}" x2="{xx:.1}" y1="12" y2="{:.1}"/><text class="tick" x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            h - 34.0,
            h - 14.0,
            esc(&number(t))
        );
    }
    for (row, (name, q)) in sides.iter().enumerate() {
        let cy = 40.0 + row as f64 * 64.0;
        let _ = write!(
            svg,
            r#"<text class="side-label" x="{:.1}" y="{:.1}" text-anchor="end">{name} (n={})</text>"#,
            LEFT - 10.0,
            cy + 4.0,
            q.n
        );
        let (Some(min), Some(p5), Some(p25), Some(p50), Some(p75), Some(p95), Some(max)) = (
            q.at(0),
            q.at(5),
            q.at(25),
            q.at(50),
            q.at(75),
            q.at(95),
            q.at(100),
        ) else {
            let _ = write!(
                svg,
                r#"<text class="muted" x="{LEFT}" y="{:.1}">no values</text>"#,
                cy + 4.0
            );
            continue;
        };
        let _ = write!(
            svg,
            concat!(
                r#"<g class="side side-{name}">"#,
                r#"<line class="whisker" x1="{:.1}" x2="{:.1}" y1="{cy:.1}" y2="{cy:.1}"/>"#,
                r#"<rect class="box" x="{:.1}" y="{:.1}" width="{:.1}" height="28"/>"#,
                r#"<line class="median" x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/>"#,
                r#"<circle class="extreme" cx="{:.1}" cy="{cy:.1}" r="3"/><circle class="extreme" cx="{:.1}" cy="{cy:.1}" r="3"/>"#,
                "</g>"
            ),
            x(p5),
            x(p95),
            x(p25),
            cy - 14.0,
            (x(p75) - x(p25)).max(1.5),
            x(p50),
            x(p50),
            cy - 16.0,
            cy + 16.0,
            x(min),
            x(max),
            name = name,
            cy = cy,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Two bars: the share of events counted on each side, with the counts written out.
pub fn rate_bars(id: &str, metric: &str, baseline: Counts, canary: Counts) -> String {
    let h = 150.0;
    let share = |c: Counts| (c.total > 0).then(|| c.counted as f64 / c.total as f64);
    let words = |name: &str, c: Counts| match share(c) {
        Some(s) => format!(
            "{name}: {} of {} events ({})",
            c.counted,
            c.total,
            percent(s, 3)
        ),
        None => format!("{name}: no events"),
    };
    let desc = format!(
        "{}; {}.",
        words("baseline", baseline),
        words("canary", canary)
    );
    let mut svg = String::with_capacity(2048);
    open(
        &mut svg,
        h,
        id,
        &format!("{metric}: share of events, baseline and canary"),
        &desc,
    );
    let top = [share(baseline), share(canary)]
        .into_iter()
        .flatten()
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.15;
    let width = W - LEFT - RIGHT - 200.0;
    for (row, (name, c)) in [("baseline", baseline), ("canary", canary)]
        .into_iter()
        .enumerate()
    {
        let cy = 36.0 + row as f64 * 56.0;
        let w = share(c).map_or(0.0, |s| s / top * width);
        let label = match share(c) {
            Some(s) => format!("{} ({} of {})", percent(s, 3), c.counted, c.total),
            None => "no events".to_string(),
        };
        let _ = write!(
            svg,
            r#"<text class="side-label" x="{:.1}" y="{:.1}" text-anchor="end">{name}</text><g class="side side-{name}"><rect class="box" x="{LEFT}" y="{:.1}" width="{:.1}" height="26"/></g><text class="value-label" x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT - 10.0,
            cy + 4.0,
            cy - 13.0,
            w.max(1.0),
            LEFT + w + 8.0,
            cy + 5.0,
            esc(&label)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_text_is_escaped_and_described() {
        let q = Quantiles::of(&[1.0, 2.0, 3.0]);
        let svg = box_plots("c1", "<script>alert(1)</script>", &q, &q);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"), "{svg}");
        assert!(
            svg.contains("<desc id=\"c1-d\">baseline: 3 values, median 2"),
            "{svg}"
        );
    }

    #[test]
    fn a_line_chart_without_points_says_so() {
        let svg = line_chart("s", "SLI", &[], Some((0.999, "objective")), true);
        assert!(svg.contains("No data over the period"), "{svg}");
        let svg = line_chart(
            "s",
            "SLI",
            &[(0, 0.9991), (60, 0.9995)],
            Some((0.999, "objective 99.9%")),
            true,
        );
        assert!(svg.contains("<polyline"), "{svg}");
        assert!(svg.contains("objective 99.9%"), "{svg}");
    }

    #[test]
    fn rate_bars_write_out_the_counts() {
        let svg = rate_bars(
            "r",
            "errors",
            Counts {
                counted: 1,
                total: 1000,
            },
            Counts {
                counted: 50,
                total: 1000,
            },
        );
        assert!(svg.contains("5.000% (50 of 1000)"), "{svg}");
        assert!(svg.contains("0.100% (1 of 1000)"), "{svg}");
    }

    #[test]
    fn ticks_are_round_numbers_inside_the_range() {
        assert_eq!(ticks(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert!(
            ticks(0.993, 0.9991, 4)
                .iter()
                .all(|t| (0.993..=0.9991).contains(t))
        );
    }
}
