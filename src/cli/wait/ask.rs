//! One ask of a gate, through a running `slogate serve` or judged in this process on
//! Prometheus, each answered as a [`Verdict`] or as an error that says whether asking again
//! can help.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use slogate::analysis::slo::GatePolicy;
use slogate::causes::causes;
use slogate::evaluate::canary::{
    BaselineSpan, CanaryRequest, CanarySources, canary_verdict, judge_canary,
};
use slogate::evaluate::{evaluate_service, slo_gate_verdict};
use slogate::source::prometheus::PrometheusSource;
use slogate::spec::{Catalog, PromDuration};
use slogate::store::Store;
use slogate::verdict::Verdict;

/// The canary gate's question: the canary version against the baseline over the lookback.
#[derive(Debug, Clone)]
pub struct CanaryAsk {
    pub service: String,
    pub baseline: String,
    pub canary: String,
    /// Default: the profile's lookback.
    pub lookback: Option<PromDuration>,
}

/// Which gate, and about what.
#[derive(Debug, Clone)]
pub enum Gate {
    /// The canary gate.
    Canary(CanaryAsk),
    /// The error-budget gate of the service (or of one SLO).
    Slo {
        service: String,
        slo: Option<String>,
    },
}

/// Why an ask brought no verdict.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The server could not be reached, timed out, or answered 429 or 5xx: a restart or a
    /// blip, worth asking again.
    #[error("{0}")]
    Transport(String),
    /// The server refused the request (bad arguments, unknown service, the token refused):
    /// asking again gives the same answer.
    #[error("{0}")]
    Refused(String),
}

/// Where the asks go.
pub enum Asker {
    /// A running `slogate serve`.
    Server {
        client: reqwest::Client,
        /// Base URL, without a trailing slash.
        url: String,
        /// Sent as `Authorization: Bearer`; never printed.
        token: Option<String>,
    },
    /// Judged here, through the gates' own evaluation on Prometheus.
    Direct {
        source: PrometheusSource,
        catalog: Box<Catalog>,
        /// The sequential test's state across this run's asks (in memory: the asks of one
        /// `slogate wait` are the looks of one test).
        store: Arc<Store>,
        confidence: f64,
        budget_floor: f64,
    },
}

impl Asker {
    /// A client for `url` whose every request gives up after `timeout`.
    pub fn server(url: &str, token: Option<String>, timeout: Duration) -> anyhow::Result<Asker> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("--server: cannot build the HTTP client: {e}"))?;
        Ok(Asker::Server {
            client,
            url: url.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// Asks once; `last`: no ask follows before the timeout (`"final"` for the canary gate).
    pub async fn ask(&self, gate: &Gate, last: bool) -> Result<Verdict, AskError> {
        match self {
            Asker::Server { client, url, token } => {
                let (path, body) = request(gate, last);
                let mut request = client.post(format!("{url}{path}")).json(&body);
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.map_err(|e| {
                    AskError::Transport(format!("{url} did not answer: {}", causes(&e)))
                })?;
                answer(response).await
            }
            Asker::Direct {
                source,
                catalog,
                store,
                confidence,
                budget_floor,
            } => Ok(direct(
                source,
                catalog,
                store,
                *confidence,
                *budget_floor,
                gate,
                last,
            )
            .await?),
        }
    }
}

/// The gate's path and body, as the server documents them.
fn request(gate: &Gate, last: bool) -> (&'static str, Value) {
    match gate {
        Gate::Canary(ask) => {
            let mut body = json!({
                "service": ask.service,
                "baseline": {"version": ask.baseline},
                "canary": {"version": ask.canary},
                "final": last,
            });
            if let Some(lookback) = ask.lookback {
                body["lookback"] = json!(lookback.to_string());
            }
            ("/api/v1/gates/canary", body)
        }
        Gate::Slo { service, slo } => {
            let mut body = json!({"service": service});
            if let Some(slo) = slo {
                body["slo"] = json!(slo);
            }
            ("/api/v1/gates/slo", body)
        }
    }
}

/// A verdict from a 200; the server's own words otherwise.
async fn answer(response: reqwest::Response) -> Result<Verdict, AskError> {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if status.is_success() {
        return serde_json::from_str(&text).map_err(|e| {
            AskError::Refused(format!(
                "the answer is not a slogate verdict ({e}); is --server a slogate serve?"
            ))
        });
    }
    let said = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            let error = v.get("error")?;
            let message = error.get("message")?.as_str()?.to_string();
            Some(match error.get("field").and_then(Value::as_str) {
                Some(field) => format!("{field}: {message}"),
                None => message,
            })
        })
        .unwrap_or_else(|| text.chars().take(300).collect());
    let code = status.as_u16();
    if code == 429 || status.is_server_error() {
        return Err(AskError::Transport(format!(
            "the server answered {code}: {said}"
        )));
    }
    if code == 401 || code == 403 {
        return Err(AskError::Refused(format!(
            "the server refused the token ({code}: {said}); give it with --token-file or \
             SLOGATE_TOKEN"
        )));
    }
    Err(AskError::Refused(format!(
        "the server answered {code}: {said}"
    )))
}

/// The gate judged here, through the same evaluation calls as the server's gates.
async fn direct(
    source: &PrometheusSource,
    catalog: &Catalog,
    store: &Arc<Store>,
    confidence: f64,
    budget_floor: f64,
    gate: &Gate,
    last: bool,
) -> Result<Verdict, AskError> {
    let now = Utc::now();
    match gate {
        Gate::Canary(CanaryAsk {
            service,
            baseline,
            canary,
            lookback,
        }) => {
            let definitions = known(catalog, service)?;
            let profile = definitions.canary.as_ref().ok_or_else(|| {
                AskError::Refused(format!(
                    "--service: {service} has no canary profile in its definitions"
                ))
            })?;
            let lookback = lookback.unwrap_or(profile.lookback);
            let end = now.timestamp();
            let request = CanaryRequest {
                baseline: baseline.clone(),
                canary: canary.clone(),
                start: end - lookback.as_secs() as i64,
                end,
                last,
                baseline_span: BaselineSpan::Same,
            };
            let sources = CanarySources {
                service: service.clone(),
                prometheus: source,
                // Spans live in a serve's memory: traces metrics have no data here.
                spans: None,
            };
            // No calibration job runs here: the default noise prior.
            let judgement =
                judge_canary(store, &sources, profile, &request, confidence, false).await;
            Ok(canary_verdict(service, &judgement, request.start, end))
        }
        Gate::Slo { service, slo } => {
            let definitions = known(catalog, service)?;
            if let Some(name) = slo
                && !definitions.slos.iter().any(|s| &s.name == name)
            {
                return Err(AskError::Refused(format!(
                    "--slo: service {service} has no SLO {name:?}"
                )));
            }
            let policy = GatePolicy { budget_floor };
            let statuses = evaluate_service(
                source,
                catalog,
                definitions,
                slo.as_deref(),
                now.timestamp(),
                &policy,
            )
            .await;
            Ok(slo_gate_verdict(service, &statuses, now))
        }
    }
}

fn known<'a>(
    catalog: &'a Catalog,
    service: &str,
) -> Result<&'a slogate::spec::ServiceLevels, AskError> {
    catalog
        .service(service)
        .ok_or_else(|| AskError::Refused(format!("--service: no service {service:?} in --slos")))
}
