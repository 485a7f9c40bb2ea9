//! The status pages in a real headless Chromium (chromedriver over W3C WebDriver) against a
//! running `slogate serve` on a Prometheus backfilled with the example scenario: sign-in with
//! the API token, the overview's budget figures against the JSON API, the team filter, a
//! failed canary verdict's page; screenshots in `target/test-artifacts/`. Also, over plain
//! HTTP: error pages, security headers, and who may see the pages.

mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::prometheus::PrometheusGuard;
use support::slogate::{ServeOptions, SlogateGuard, TOKEN, example_scenario};
use support::webdriver::Browser;

fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-artifacts")
        .join(name)
}

/// `42.5% left` -> 0.425; `overspent by 12.0%` -> -0.12.
fn budget_from_text(text: &str) -> f64 {
    let number = |s: &str| s.trim().trim_end_matches('%').parse::<f64>().unwrap() / 100.0;
    if let Some(rest) = text.strip_prefix("overspent by ") {
        -number(rest)
    } else {
        number(text.trim_end_matches(" left"))
    }
}

#[test]
fn an_sre_signs_in_sees_every_budget_as_the_api_gives_it_filters_by_team_and_reads_why_a_canary_failed()
 {
    let prometheus = PrometheusGuard::start(&example_scenario());
    let mut slogate = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    slogate.wait_for("/readyz", 200);
    // A failing canary, made the way Argo asks for it.
    let body = r#"{"service": "financeanalyst-api", "baseline": {"version": "stable-7d9f"},
                   "canary": {"version": "bad-6f1a"}, "lookback": "10m"}"#;
    let (status, bad) = slogate.post("/api/v1/gates/canary", body);
    assert_eq!(
        (status, bad["verdict"].as_str()),
        (200, Some("fail")),
        "{bad:#}"
    );

    let browser = Browser::start(1440, 1000);
    // Tokens are configured: the pages ask for one first.
    browser.goto(&format!("{}/", slogate.url));
    let token = browser.find("input#token");
    browser.type_text(&token, TOKEN);
    browser.click(&browser.find("form.login button[type=submit]"));
    browser.wait_until("the overview after signing in", |b| {
        !b.find_all("tr.slo-row").is_empty()
    });

    // Every SLO of the API is a row, with the API's budget.
    let (status, api) = slogate.get("/api/v1/slos");
    assert_eq!(status, 200, "{api:#}");
    let slos = api["slos"].as_array().unwrap();
    assert_eq!(browser.find_all("tr.slo-row").len(), slos.len());
    let mut compared = 0;
    for slo in slos {
        let (service, name) = (
            slo["service"].as_str().unwrap(),
            slo["slo"].as_str().unwrap(),
        );
        let row = browser.find(&format!(
            "tr.slo-row[data-service=\"{service}\"][data-slo=\"{name}\"]"
        ));
        let budget_cell = browser.find_all(&format!(
            "tr.slo-row[data-service=\"{service}\"][data-slo=\"{name}\"] td.budget"
        ));
        let cell_text = browser.text(&budget_cell[0]);
        match slo["error_budget"]["remaining"].as_f64() {
            Some(remaining) => {
                let shown = browser.text(&browser.find(&format!(
                    "tr.slo-row[data-service=\"{service}\"][data-slo=\"{name}\"] .budget-text"
                )));
                // Two evaluations a moment apart: equal to the display's 0.1 point.
                assert!(
                    (budget_from_text(&shown) - remaining).abs() < 0.0015,
                    "{service}/{name}: page {shown:?}, API {remaining}"
                );
                let raw: f64 = browser
                    .attribute(&row, "data-budget-remaining")
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(
                    (raw - remaining).abs() < 0.001,
                    "{service}/{name}: {raw} vs {remaining}"
                );
                compared += 1;
            }
            None => assert!(
                cell_text.contains("no data"),
                "{service}/{name}: {cell_text:?}"
            ),
        }
    }
    assert!(compared >= 4, "the scenario's services have data: {api:#}");
    // mita-backend burns its budget: the page says so in words, not only in red.
    let mita = browser.text(&browser.find("tr.slo-row[data-service=\"mita-backend\"]"));
    assert!(
        mita.contains("exhausted") || mita.contains("overspent"),
        "{mita}"
    );
    browser.screenshot(&artifact("pages-overview-wide.png"));

    // The team filter: choose a team, the page shows only its SLOs (and says so in the URL).
    let team = "mita";
    browser.click(&browser.find(&format!("select#team option[value=\"{team}\"]")));
    browser.click(&browser.find("button#apply"));
    browser.wait_until("the team filter in the URL", |b| {
        b.url().contains("team=mita")
    });
    let rows = browser.find_all("tr.slo-row");
    assert!(!rows.is_empty());
    for row in &rows {
        assert_eq!(browser.attribute(row, "data-team").as_deref(), Some(team));
    }
    let expected = slos
        .iter()
        .filter(|s| s["service"] == "mita-backend")
        .count();
    assert_eq!(rows.len(), expected);
    browser.resize(390, 844);
    browser.goto(&format!("{}/", slogate.url));
    browser.find("tr.slo-row");
    browser.screenshot(&artifact("pages-overview-phone.png"));
    browser.resize(1440, 1000);

    // The failed verdict: from the list to its page, the failing check and its reason.
    browser.goto(&format!("{}/verdicts?outcome=fail", slogate.url));
    let link = browser.find(&format!(
        "a[href=\"/verdicts/{}\"]",
        bad["id"].as_str().unwrap()
    ));
    browser.screenshot(&artifact("pages-verdicts.png"));
    browser.click(&link);
    browser.wait_until("the verdict page", |b| {
        !b.find_all("table.checks").is_empty()
    });
    let failing: Vec<&Value> = bad["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "fail")
        .collect();
    assert!(!failing.is_empty());
    for check in failing {
        let name = check["name"].as_str().unwrap();
        let row = browser.find(&format!("tr.check-row[data-check=\"{name}\"]"));
        let text = browser.text(&row);
        assert!(text.contains("fail"), "{text}");
        assert!(
            text.contains(check["reason"].as_str().unwrap()),
            "{text}\nexpected reason: {}",
            check["reason"]
        );
    }
    let charts = browser.find_all("figure.check-figure svg title");
    assert_eq!(
        charts.len(),
        bad["checks"].as_array().unwrap().len(),
        "one chart per check"
    );
    browser.screenshot(&artifact("pages-verdict-failed.png"));

    // An SLO page: charts drawn from the range query, alert windows listed.
    browser.goto(&format!("{}/slos/mita-backend/availability", slogate.url));
    browser.find("table.conditions");
    assert_eq!(browser.find_all("table.conditions tbody tr").len(), 4);
    assert!(
        !browser.find_all("svg.chart circle.point").is_empty(),
        "the SLI has points"
    );
    browser.screenshot(&artifact("pages-slo.png"));
}

fn fetch(url: &str, cookie: Option<&str>) -> (u16, reqwest::header::HeaderMap, String) {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.get(url);
    if let Some(c) = cookie {
        request = request.header("Cookie", c);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().unwrap())
}

#[test]
fn pages_answer_bad_parameters_and_unknown_things_with_pages_that_say_which_and_send_only_self_csp()
{
    let prometheus = PrometheusGuard::start(&example_scenario());
    let slogate = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    let cookie = sign_in(&slogate.url);
    let page = |path: &str| fetch(&format!("{}{path}", slogate.url), Some(&cookie));

    let (status, headers, body) = page("/?sort=colour");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("sort"), "{body}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(page("/verdicts?outcome=maybe").0, 400);
    assert_eq!(page("/verdicts?before=garbage").0, 400);
    let (status, _, body) = page("/verdicts/no-such-verdict");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no-such-verdict"), "{body}");
    assert_eq!(page("/slos/mita-backend/no-such-slo").0, 404);
    assert_eq!(page("/slos/no-such-service/availability").0, 404);
    let (status, headers, css) = page("/assets/slogate.css");
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(css.contains(":focus-visible"));

    // The example profiles before any canary analysis: each says why it has no backtest.
    let (status, _, body) = page("/calibration");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("financy-api") && body.contains("latest canary analysis"),
        "{body}"
    );

    // Without the token: the sign-in form, never the data; a wrong token is refused.
    let (status, _, body) = fetch(&format!("{}/verdicts", slogate.url), None);
    assert_eq!(status, 401);
    assert_eq!(fetch(&format!("{}/calibration", slogate.url), None).0, 401);
    assert!(
        body.contains("name=\"token\"") && !body.contains("verdict-row"),
        "{body}"
    );
    let (status, _, _) = fetch(
        &format!("{}/", slogate.url),
        Some("slogate_session=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    );
    assert_eq!(status, 401);
    // The cookie is a session, not the token: the token itself as a cookie opens nothing.
    assert!(!cookie.contains(TOKEN), "{cookie}");
    let raw = format!("slogate_session={TOKEN}");
    assert_eq!(fetch(&format!("{}/", slogate.url), Some(&raw)).0, 401);
    // The JSON API is unchanged: the cookie does not open it.
    let (status, _, _) = fetch(&format!("{}/api/v1/slos", slogate.url), Some(&cookie));
    assert_eq!(status, 401);

    // Signing out ends the session for good: the same cookie, replayed, opens nothing.
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let out = client
        .post(format!("{}/logout", slogate.url))
        .header("Cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);
    assert_eq!(page("/verdicts").0, 401);
}

/// Signs in with the form as a browser does; the cookie it sets (`name=value`).
fn sign_in(url: &str) -> String {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .post(format!("{url}/login"))
        .form(&[("token", TOKEN), ("next", "/verdicts")])
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let set = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly")
            && set.contains("SameSite=Strict")
            && set.contains("Max-Age=43200"),
        "a 12-hour session cookie: {set}"
    );
    set.split(';').next().unwrap().to_string()
}

#[test]
fn a_session_ends_when_its_token_is_removed_from_the_settings() {
    let prometheus = PrometheusGuard::start(&example_scenario());
    let options = ServeOptions::new(&prometheus.url);
    let mut slogate = SlogateGuard::start(&options);
    let cookie = sign_in(&slogate.url);
    assert_eq!(
        fetch(&format!("{}/verdicts", slogate.url), Some(&cookie)).0,
        200
    );

    // The same database, restarted with another token: the old token's sessions are over.
    slogate.signal("TERM");
    slogate.wait_exit();
    let dir = slogate.into_dir();
    let mut rotated = ServeOptions::new(&prometheus.url);
    rotated.tokens = vec!["rotated-token-0123456789abcdef".to_string()];
    let slogate = SlogateGuard::start_in(dir, &rotated);
    assert_eq!(
        fetch(&format!("{}/verdicts", slogate.url), Some(&cookie)).0,
        401
    );
}

#[test]
fn pages_are_open_without_a_token_when_declared_public_and_link_to_grafana() {
    let prometheus = PrometheusGuard::start(&example_scenario());
    let mut options = ServeOptions::new(&prometheus.url);
    options.config = "pages:\n  public: true\n  grafana_url: https://grafana.example/\n".into();
    let slogate = SlogateGuard::start(&options);
    let (status, _, body) = fetch(
        &format!("{}/slos/financy-api/availability", slogate.url),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("href=\"https://grafana.example/d/slogate-financy-api\""),
        "{body}"
    );
    let (status, _, _) = fetch(&format!("{}/api/v1/slos", slogate.url), None);
    assert_eq!(status, 401, "public pages leave the API behind its token");
}
