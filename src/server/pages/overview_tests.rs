//! The overview's view: sorting, filtering, rows, escaping.

use super::*;
use crate::analysis::slo::ErrorBudget;
use crate::spec::PromDuration;
use crate::verdict::Outcome;

pub(crate) fn status(service: &str, slo: &str, remaining: Option<f64>) -> SloStatus {
    let d = |s: &str| PromDuration::parse(s).unwrap();
    let mut burn = BTreeMap::new();
    burn.insert(d("1h"), remaining.map_or(0.0, |r| (1.0 - r) * 20.0));
    SloStatus {
        service: service.into(),
        slo: slo.into(),
        objective: 99.9,
        period: "30d".into(),
        sli: [(d("30d"), 0.9995)].into_iter().collect(),
        burn_rate: burn,
        events: BTreeMap::new(),
        error_budget: remaining.map(|r| ErrorBudget {
            remaining: r,
            remaining_minutes: 0.0,
            consumed: 1.0 - r,
        }),
        alerts: vec![],
        exhaustion_hours: None,
        verdict: Outcome::Pass,
        reason: "healthy".into(),
    }
}

fn meta(team: &str, description: &str) -> SloMeta {
    SloMeta {
        team: Some(team.into()),
        description: Some(description.into()),
        windows: alert_windows_with(PromDuration::parse("30d").unwrap(), &[]),
    }
}

fn fixture() -> (Vec<SloStatus>, BTreeMap<(String, String), SloMeta>) {
    let statuses = vec![
        status("checkout", "availability", Some(0.9)),
        status("checkout", "latency", None),
        status("billing", "availability", Some(-0.5)),
        status("search", "latency", Some(0.3)),
    ];
    let metas = [
        (("checkout", "availability"), "payments"),
        (("checkout", "latency"), "payments"),
        (("billing", "availability"), "payments"),
        (("search", "latency"), "discovery"),
    ]
    .into_iter()
    .map(|((s, o), t)| ((s.to_string(), o.to_string()), meta(t, "desc")))
    .collect();
    (statuses, metas)
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn names(view: &OverviewView) -> Vec<String> {
    view.rows
        .iter()
        .map(|r| format!("{}/{}", r.service, r.slo))
        .collect()
}

#[test]
fn rows_are_sorted_by_service_then_slo_by_default() {
    let (s, m) = fixture();
    let v = overview(&s, &m, &OverviewQuery::default(), String::new());
    assert_eq!(
        names(&v),
        [
            "billing/availability",
            "checkout/availability",
            "checkout/latency",
            "search/latency"
        ]
    );
}

#[test]
fn sorting_by_budget_puts_the_least_left_first_and_no_data_last_both_ways() {
    let (s, m) = fixture();
    let q = OverviewQuery::parse(&params(&[("sort", "budget")])).unwrap();
    let v = overview(&s, &m, &q, String::new());
    assert_eq!(
        names(&v),
        [
            "billing/availability",
            "search/latency",
            "checkout/availability",
            "checkout/latency"
        ]
    );
    assert_eq!(v.headings[4].aria_sort, "ascending");
    assert!(
        v.headings[4].href.contains("order=desc"),
        "{}",
        v.headings[4].href
    );
    let q = OverviewQuery::parse(&params(&[("sort", "budget"), ("order", "desc")])).unwrap();
    let v = overview(&s, &m, &q, String::new());
    assert_eq!(
        names(&v),
        [
            "checkout/availability",
            "search/latency",
            "billing/availability",
            "checkout/latency"
        ]
    );
}

#[test]
fn the_team_filter_keeps_only_that_teams_slos_and_the_service_filter_one_service() {
    let (s, m) = fixture();
    let q = OverviewQuery::parse(&params(&[("team", "discovery")])).unwrap();
    let v = overview(&s, &m, &q, String::new());
    assert_eq!(names(&v), ["search/latency"]);
    assert!(v.filtered);
    assert!(v.teams.iter().any(|c| c.value == "discovery" && c.selected));
    let q = OverviewQuery::parse(&params(&[("service", "checkout"), ("team", "")])).unwrap();
    let v = overview(&s, &m, &q, String::new());
    assert_eq!(names(&v), ["checkout/availability", "checkout/latency"]);
    assert_eq!(v.total, 4);
}

#[test]
fn a_bad_parameter_is_refused_by_name() {
    let err = OverviewQuery::parse(&params(&[("sort", "colour")])).unwrap_err();
    assert_eq!(err.0, "sort");
    assert!(err.1.contains("budget"), "{}", err.1);
    assert_eq!(
        OverviewQuery::parse(&params(&[("order", "up")]))
            .unwrap_err()
            .0,
        "order"
    );
    assert_eq!(
        OverviewQuery::parse(&params(&[("tema", "x")]))
            .unwrap_err()
            .0,
        "tema"
    );
}

#[test]
fn a_row_shows_the_budget_bar_burns_per_alert_window_and_a_word_for_the_state() {
    let (s, m) = fixture();
    let r = row(&s[2], m.get(&("billing".into(), "availability".into())));
    assert_eq!(r.budget.as_ref().unwrap().word, "exhausted");
    assert_eq!(r.budget.as_ref().unwrap().width, "0.0");
    assert_eq!(r.burns.len(), 4);
    assert_eq!(
        (r.burns[0].window.as_str(), r.burns[0].rate.as_str()),
        ("1h", "30.0×")
    );
    assert!(r.burns[0].over, "30x is over the 14.4x page factor");
    assert_eq!(r.burns[1].rate, "n/a");
    assert_eq!(r.state.word, "pass");
    assert_eq!(r.sli, "99.95%");
    assert_eq!(r.href, "/slos/billing/availability");
}

#[test]
fn a_script_in_an_slo_description_is_shown_as_text_not_run() {
    let (s, mut m) = fixture();
    m.insert(
        ("search".into(), "latency".into()),
        meta("discovery", "<script>alert('x')</script>"),
    );
    let v = overview(&s, &m, &OverviewQuery::default(), String::new());
    let html = super::super::render::render_text("overview.html", "SLO overview", &v).unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&lt;script&gt;alert("), "{html}");
    assert_eq!(html.matches("<tr class=\"slo-row\"").count(), 4);
}
