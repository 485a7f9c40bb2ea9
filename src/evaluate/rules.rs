//! The whole catalog's SLO status read from slogate's own recording rules.
//!
//! `slogate generate` writes recording rules for every SLO and window
//! (`slogate:sli_error:ratio_rate<window>`, `slogate:sli_total:rate<window>`, each series
//! labelled `slo_service` and `slo_name`). Where Prometheus runs them, one query per metric and
//! window answers for every SLO at once: at 10,000 SLOs that is a dozen queries instead of
//! tens of thousands. The gates never come here; they query raw, fresh data.
//!
//! Which SLOs can be read from rules is decided per SLO, from the meta recordings the same
//! rules write (`slogate:objective:ratio`, `slogate:time_period:days`): an SLO whose meta
//! series is missing has no rules loaded, and one whose recorded objective or period differs
//! from its definition has rules that are out of date (the definitions changed and the rules
//! were not redeployed). In `auto` mode those SLOs are evaluated from raw queries, and the
//! reason is given with their status; in `rules` mode they are inconclusive with that reason,
//! so a catalog whose rules are missing never turns into tens of thousands of raw queries.
//!
//! What the rules cannot tell: an SLI expression changed without its objective or period
//! changing. The recorded series then still measure the old expression until the rules are
//! redeployed; `slogate generate --check` in the deploy pipeline catches it at its source.
//! The period's ratio from rules is as long as the rules' own history: for the first period
//! after the rules are deployed it covers less than the period (docs/rules.md).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;

use crate::analysis::slo::{self, GatePolicy, SloStatus, WindowResult, WindowValues};
use crate::conventions::{
    LABEL_SERVICE, LABEL_SLO, METRIC_OBJECTIVE, METRIC_PERIOD_DAYS, sli_error_ratio_metric,
    sli_total_rate_metric,
};
use crate::source::prometheus::{QuerySource, Sample};
use crate::spec::windows::AlertWindows;
use crate::spec::{Catalog, PromDuration, ServiceLevels, Slo};

use super::describe;

/// Where the catalog-wide status (overview, `GET /api/v1/slos`, the report) is read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EvaluationMode {
    /// From the recording rules where Prometheus runs current ones, raw queries for the rest.
    #[default]
    Auto,
    /// From the recording rules only; an SLO without current rules is inconclusive.
    Rules,
    /// Raw SLI queries, one per service and window.
    Raw,
}

impl EvaluationMode {
    /// The word in the settings and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            EvaluationMode::Auto => "auto",
            EvaluationMode::Rules => "rules",
            EvaluationMode::Raw => "raw",
        }
    }
}

/// How each SLO of one catalog evaluation was read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    /// The mode asked for.
    pub mode: EvaluationMode,
    /// SLOs read from recording rules, as (service, SLO).
    pub from_rules: BTreeSet<(String, String)>,
    /// SLOs whose rules were wanted but could not be used, and why (in `auto` mode these were
    /// evaluated raw; in `rules` mode they are inconclusive).
    pub without_rules: BTreeMap<(String, String), String>,
}

impl Provenance {
    /// `"rules"` or `"raw"`: where one SLO's status came from.
    pub fn source_of(&self, service: &str, slo: &str) -> &'static str {
        if self
            .from_rules
            .contains(&(service.to_string(), slo.to_string()))
        {
            "rules"
        } else {
            "raw"
        }
    }

    /// Why one SLO was not read from rules, when rules were wanted.
    pub fn note_of(&self, service: &str, slo: &str) -> Option<&str> {
        self.without_rules
            .get(&(service.to_string(), slo.to_string()))
            .map(String::as_str)
    }
}

/// Key of a recorded series: (service, SLO).
type SloKey = (String, String);

/// Values of one recorded metric for every SLO, or why the query failed. An SLO with more
/// than one series (rules loaded twice, or two Prometheus servers behind one query URL without
/// deduplication) maps to `Err`.
type Recorded = Result<HashMap<SloKey, Result<f64, String>>, String>;

fn recorded(result: Result<Vec<Sample>, crate::source::prometheus::SourceError>) -> Recorded {
    let samples = result.map_err(|e| describe(&e))?;
    let mut out: HashMap<SloKey, Result<f64, String>> = HashMap::new();
    for s in samples {
        let (Some(service), Some(slo)) = (s.labels.get(LABEL_SERVICE), s.labels.get(LABEL_SLO))
        else {
            continue;
        };
        out.entry((service.clone(), slo.clone()))
            .and_modify(|v| {
                *v = Err(
                    "several recorded series answer for it (rules loaded twice, or \
                          replicas not deduplicated)"
                        .to_string(),
                )
            })
            .or_insert(Ok(s.value));
    }
    Ok(out)
}

/// Whether an SLO's recording rules are loaded and current, from the meta series.
fn rules_state(
    service: &str,
    slo: &Slo,
    objectives: &HashMap<SloKey, Result<f64, String>>,
    periods: &HashMap<SloKey, Result<f64, String>>,
) -> Result<(), String> {
    let key = (service.to_string(), slo.name.clone());
    let objective = match objectives.get(&key) {
        None => {
            return Err(format!(
                "no recording rules for this SLO in Prometheus ({METRIC_OBJECTIVE} not found; \
                 deploy alert-rules/{service}.yaml)"
            ));
        }
        Some(Err(why)) => return Err(why.clone()),
        Some(Ok(v)) => *v,
    };
    let wanted = slo.objective / 100.0;
    if (objective - wanted).abs() > 1e-9 {
        return Err(format!(
            "the recording rules in Prometheus are out of date (objective {}% there, {}% in the \
             definition); redeploy alert-rules/{service}.yaml",
            crate::numfmt::short(objective * 100.0),
            crate::numfmt::short(slo.objective)
        ));
    }
    let days = slo.period.nominal().as_secs() as f64 / 86_400.0;
    match periods.get(&key) {
        Some(Ok(d)) if (d - days).abs() < 1e-9 => Ok(()),
        Some(Ok(d)) => Err(format!(
            "the recording rules in Prometheus are out of date (period {}d there, {} in the \
             definition); redeploy alert-rules/{service}.yaml",
            crate::numfmt::short(*d),
            slo.period.nominal()
        )),
        Some(Err(why)) => Err(why.clone()),
        None => Err(format!(
            "the recording rules in Prometheus are incomplete ({METRIC_PERIOD_DAYS} not found)"
        )),
    }
}

/// One service's SLOs that can be read from rules, and those that cannot with why.
struct Split<'a> {
    service: &'a ServiceLevels,
    covered: Vec<(&'a Slo, AlertWindows)>,
    uncovered: Vec<(&'a Slo, AlertWindows, String)>,
}

/// Evaluates every SLO of `catalog` at `at` in `mode`: statuses in catalog order, and where
/// each came from.
pub async fn evaluate_catalog(
    source: &dyn QuerySource,
    catalog: &Catalog,
    policy: &GatePolicy,
    at: i64,
    mode: EvaluationMode,
) -> (Vec<SloStatus>, Provenance) {
    let mut provenance = Provenance {
        mode,
        ..Provenance::default()
    };
    if mode == EvaluationMode::Raw {
        return (raw_catalog(source, catalog, policy, at).await, provenance);
    }
    let meta = source
        .instant_all(
            &[METRIC_OBJECTIVE.to_string(), METRIC_PERIOD_DAYS.to_string()],
            at,
        )
        .await;
    let mut meta = meta.into_iter().map(recorded);
    let (objectives, periods) = (
        meta.next().unwrap_or_else(|| Err("not asked".into())),
        meta.next().unwrap_or_else(|| Err("not asked".into())),
    );
    let splits: Vec<Split> = catalog
        .services
        .iter()
        .map(|service| {
            let mut split = Split {
                service,
                covered: Vec::new(),
                uncovered: Vec::new(),
            };
            for (slo, windows) in slo::selected(service, None, &catalog.alert_windows) {
                let state = match (&objectives, &periods) {
                    (Ok(o), Ok(p)) => rules_state(&service.service, slo, o, p),
                    (Err(e), _) | (_, Err(e)) => Err(format!(
                        "could not tell whether recording rules are loaded: {e}"
                    )),
                };
                match state {
                    Ok(()) => split.covered.push((slo, windows)),
                    Err(why) => split.uncovered.push((slo, windows, why)),
                }
            }
            split
        })
        .collect();

    let fetched = fetch_recorded(source, &splits, at).await;
    let mut by_key: HashMap<SloKey, SloStatus> = HashMap::new();
    let mut raw_work = Vec::new();
    for split in &splits {
        let name = &split.service.service;
        for (slo, windows) in &split.covered {
            let key = (name.clone(), slo.name.clone());
            let values = windows_of(&fetched, &key, slo, windows);
            by_key.insert(
                key.clone(),
                slo::status(name, slo, windows, &values, policy),
            );
            provenance.from_rules.insert(key);
        }
        let mut fallback = Vec::new();
        for (slo, windows, why) in &split.uncovered {
            let key = (name.clone(), slo.name.clone());
            provenance.without_rules.insert(key.clone(), why.clone());
            if mode == EvaluationMode::Rules {
                by_key.insert(key, without_rules(name, slo, windows, why, policy));
            } else {
                fallback.push((*slo, *windows));
            }
        }
        if !fallback.is_empty() {
            raw_work.push(async move {
                super::evaluate_slos(source, split.service, &fallback, at, policy).await
            });
        }
    }
    for status in futures::future::join_all(raw_work)
        .await
        .into_iter()
        .flatten()
    {
        by_key.insert((status.service.clone(), status.slo.clone()), status);
    }
    let statuses = catalog
        .services
        .iter()
        .flat_map(|s| {
            s.slos
                .iter()
                .map(move |slo| (s.service.clone(), slo.name.clone()))
        })
        .filter_map(|key| by_key.remove(&key))
        .collect();
    (statuses, provenance)
}

/// Every service from raw queries (the gates' way), all services at once.
pub async fn raw_catalog(
    source: &dyn QuerySource,
    catalog: &Catalog,
    policy: &GatePolicy,
    at: i64,
) -> Vec<SloStatus> {
    let services = catalog
        .services
        .iter()
        .map(|s| super::evaluate_service(source, catalog, s, None, at, policy));
    futures::future::join_all(services)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The recorded ratio (every needed window) and event rate (alert windows: the period's total
/// is not recorded) of the covered SLOs: two queries per distinct window at most.
async fn fetch_recorded(
    source: &dyn QuerySource,
    splits: &[Split<'_>],
    at: i64,
) -> BTreeMap<(PromDuration, Part), Recorded> {
    let mut wanted: BTreeSet<(PromDuration, Part)> = BTreeSet::new();
    for split in splits {
        for (slo, windows) in &split.covered {
            for w in slo::needed_windows(slo, windows) {
                wanted.insert((w, Part::Ratio));
            }
            if slo.sli.total_rate().is_some() {
                for w in windows.distinct_windows() {
                    wanted.insert((w, Part::Rate));
                }
            }
        }
    }
    let keys: Vec<(PromDuration, Part)> = wanted.into_iter().collect();
    // Only the two labels that say which SLO a row is: at 10,000 SLOs a recorded series
    // carries half a dozen labels, and the answer (and its parsing) shrinks by half without
    // them. Rows recorded twice were already refused by the meta query above.
    let queries: Vec<String> = keys
        .iter()
        .map(|(w, part)| {
            let metric = match part {
                Part::Ratio => sli_error_ratio_metric(&w.to_string()),
                Part::Rate => sli_total_rate_metric(&w.to_string()),
            };
            format!("max by ({LABEL_SERVICE}, {LABEL_SLO}) ({metric})")
        })
        .collect();
    let results = source.instant_all(&queries, at).await;
    keys.into_iter()
        .zip(results.into_iter().map(recorded))
        .collect()
}

/// Which recorded metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    /// The error ratio.
    Ratio,
    /// The rate of all events.
    Rate,
}

/// One SLO's windows as `slo::status` takes them, from the recorded series.
fn windows_of(
    fetched: &BTreeMap<(PromDuration, Part), Recorded>,
    key: &SloKey,
    slo: &Slo,
    windows: &AlertWindows,
) -> BTreeMap<PromDuration, WindowResult> {
    let mut out = BTreeMap::new();
    for w in slo::needed_windows(slo, windows) {
        let value = |part: Part| -> Result<Option<f64>, String> {
            match fetched.get(&(w, part)) {
                None => Ok(None),
                Some(Err(why)) => Err(why.clone()),
                Some(Ok(values)) => values.get(key).cloned().transpose(),
            }
        };
        let result = value(Part::Ratio).and_then(|error_ratio| {
            let event_rate = value(Part::Rate)?;
            Ok(HashMap::from([(
                slo.name.clone(),
                WindowValues {
                    error_ratio,
                    event_rate,
                },
            )]))
        });
        out.insert(w, result);
    }
    out
}

/// The status of an SLO that `rules` mode cannot read: inconclusive, with why.
fn without_rules(
    service: &str,
    slo: &Slo,
    windows: &AlertWindows,
    why: &str,
    policy: &GatePolicy,
) -> SloStatus {
    let fetched = slo::needed_windows(slo, windows)
        .into_iter()
        .map(|w| (w, Err(why.to_string())))
        .collect();
    let mut status = slo::status(service, slo, windows, &fetched, policy);
    status.reason = format!("not evaluated (evaluation: rules): {why}");
    status
}

impl Provenance {
    /// A line for the overview page: how many SLOs came from rules, and from raw queries with
    /// the commonest reason.
    pub fn summary(&self, total: usize) -> String {
        let rules = self.from_rules.len();
        match self.mode {
            EvaluationMode::Raw => "raw SLI queries (evaluation: raw)".to_string(),
            _ if self.without_rules.is_empty() => {
                format!("all {rules} SLOs from recording rules")
            }
            mode => {
                let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
                for why in self.without_rules.values() {
                    *reasons.entry(why.as_str()).or_default() += 1;
                }
                let (why, _) = reasons
                    .iter()
                    .max_by_key(|(_, n)| **n)
                    .map_or(("", 0), |(w, n)| (*w, *n));
                let others = total.saturating_sub(rules);
                let what = if mode == EvaluationMode::Rules {
                    "not evaluated"
                } else {
                    "from raw queries"
                };
                format!("{rules} SLOs from recording rules, {others} {what} (e.g. {why})")
            }
        }
    }

    /// Adds where each SLO came from to `GET /api/v1/slos`' body: `evaluation` at the top
    /// (mode and counts) and `evaluated_from` (with `rules_note` when rules were wanted but not
    /// usable) on each SLO.
    pub fn annotate(&self, body: &mut serde_json::Value) {
        use serde_json::json;
        if let Some(slos) = body.get_mut("slos").and_then(|s| s.as_array_mut()) {
            for slo in slos {
                let service = slo["service"].as_str().unwrap_or_default().to_string();
                let name = slo["slo"].as_str().unwrap_or_default().to_string();
                slo["evaluated_from"] = json!(self.source_of(&service, &name));
                if let Some(note) = self.note_of(&service, &name) {
                    slo["rules_note"] = json!(note);
                }
            }
        }
        body["evaluation"] = json!({
            "mode": self.mode.as_str(),
            "from_rules": self.from_rules.len(),
            "without_rules": self.without_rules.len(),
        });
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
