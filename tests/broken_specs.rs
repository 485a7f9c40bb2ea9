//! Broken SLO definitions, one per case: each names the mistake in a sentence and pins the
//! first error `slogate validate` prints for it (file, line, column, field path and message),
//! and that nothing of the broken definition reaches the catalog.
//!
//! Every expected position was checked by hand against the YAML of its case: it points at the
//! offending key (or value, for a wrong type), counting lines of the whole file.

use std::collections::HashSet;
use std::path::PathBuf;

use slogate::spec::load_texts;

/// One broken definition.
struct Case {
    /// The mistake, in a sentence.
    name: &'static str,
    /// The files read together by one `load_texts` call, in order.
    files: &'static [(&'static str, &'static str)],
    /// The first error diagnostic, exactly as displayed: `FILE:LINE:COL: PATH: MESSAGE`.
    first_error: &'static str,
    /// Every SLO in the catalog afterwards, as `service/slo` (empty: nothing was accepted).
    catalog: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "a key indented less than its siblings is a YAML syntax error",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
   period: 30d
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:7:4: YAML syntax error: while parsing a block collection, did not find expected '-' indicator",
        catalog: &[],
    },
    Case {
        name: "a flow sequence left open in a later document is a YAML syntax error at its bracket",
        files: &[("spec.yaml", "---
apiVersion: slogate/v1
kind: ServiceLevels
service: checkout
slos:
  - name: availability
    objective: 99.9
    sli:
      raw:
        error_ratio: sum(rate(errors_total[{{window}}])) / sum(rate(requests_total[{{window}}]))
---
apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: [99.9
")],
        first_error: "spec.yaml:17:16: YAML syntax error: unclosed bracket '['",
        catalog: &[],
    },
    Case {
        name: "a misspelt native SLO field is an unknown field",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objectve: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:6:5: slos[0].objectve: unknown field `objectve`, expected one of name, description, objective, period, labels, sli, alerting",
        catalog: &[],
    },
    Case {
        name: "a misspelt Sloth query field is an unknown field",
        files: &[("spec.yaml", r##"version: "prometheus/v1"
service: svc01
slos:
  - name: slo1
    objective: 99.9
    sli:
      events:
        error_querry: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
"##)],
        first_error: "spec.yaml:8:9: slos[0].sli.events.error_querry: unknown field `error_querry`, expected one of errorQuery, error_query, totalQuery, total_query",
        catalog: &[],
    },
    Case {
        name: "a misspelt field of a Sloth custom resource is an unknown field",
        files: &[("spec.yaml", r##"apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata:
  name: svc01
spec:
  service: svc01
  slos:
    - name: slo1
      objective: 99.9
      sli:
        events:
          errorQuery: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
          totalQuery: sum(rate(http_requests_total[{{.window}}]))
      alerting:
        pageAlerts:
          disable: true
"##)],
        first_error: "spec.yaml:15:9: spec.slos[0].alerting.pageAlerts: unknown field `pageAlerts`, expected one of name, labels, annotations, pageAlert, page_alert, ticketAlert, ticket_alert",
        catalog: &[],
    },
    Case {
        name: "a misspelt OpenSLO spec field is an unknown field",
        files: &[("spec.yaml", "apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
spec:
  service: web-shop
  budgetMethod: Occurrences
  indicatorRef: requests
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - target: 0.999
")],
        first_error: "spec.yaml:7:3: spec.budgetMethod: unknown field `budgetMethod`, expected one of description, service, indicator, indicatorRef, timeWindow, budgetingMethod, objectives, alertPolicies",
        catalog: &[],
    },
    Case {
        name: "an unknown field in a flow mapping of a second document is placed on the file's line and column",
        files: &[("spec.yaml", "apiVersion: slogate/v1
kind: ServiceLevels
service: checkout
slos:
  - name: availability
    objective: 99.9
    sli:
      raw:
        error_ratio: sum(rate(errors_total[{{window}}])) / sum(rate(requests_total[{{window}}]))
---
# the second service

apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli: {raw: {error_ratio: 'sum(rate(e[{{window}}]))', extra: 1}}
")],
        first_error: "spec.yaml:19:58: slos[0].sli.raw.extra: unknown field `extra`, expected one of error_ratio",
        catalog: &["checkout/availability"],
    },
    Case {
        name: "an objective that is not a number is a wrong type",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: abc
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:6:16: slos[0].objective: expected a number, found `abc`",
        catalog: &[],
    },
    Case {
        name: "a tier's disabled flag that is not a boolean is a wrong type",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
    alerting:
      page: {disabled: maybe}
"##)],
        first_error: "spec.yaml:12:24: slos[0].alerting.page.disabled: expected true or false, found `maybe`",
        catalog: &[],
    },
    Case {
        name: "an events SLI without a total query misses a required field",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
"##)],
        first_error: "spec.yaml:9:9: slos[0].sli.events: missing field `total`",
        catalog: &[],
    },
    Case {
        name: "an objective of 0 is out of range",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 0
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:6:5: slos[0].objective: objective 0 is out of range: it is a percentage above 0 and below 100",
        catalog: &[],
    },
    Case {
        name: "an objective of 100 leaves no budget",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 100
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:6:5: slos[0].objective: objective 100 is out of range: it is a percentage above 0 and below 100 (100% leaves no error budget)",
        catalog: &[],
    },
    Case {
        name: "an objective of 150 is out of range",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 150
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:6:5: slos[0].objective: objective 150 is out of range: it is a percentage above 0 and below 100 (100% leaves no error budget)",
        catalog: &[],
    },
    Case {
        name: "an objective of -1 is out of range",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: -1
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:6:5: slos[0].objective: objective -1 is out of range: it is a percentage above 0 and below 100",
        catalog: &[],
    },
    Case {
        name: "an objective out of range inside a flow mapping is placed at its key",
        files: &[("spec.yaml", "apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos: [{name: availability, objective: 100, sli: {raw: {error_ratio: 'sum(rate(e[{{window}}]))'}}}]
")],
        first_error: "spec.yaml:4:29: slos[0].objective: objective 100 is out of range: it is a percentage above 0 and below 100 (100% leaves no error budget)",
        catalog: &[],
    },
    Case {
        name: "an OpenSLO target written as a percentage is out of range, with a hint",
        files: &[("spec.yaml", r##"apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
spec:
  service: web-shop
  indicator:
    metadata:
      name: requests
    spec:
      ratioMetric:
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total{code=~"5.."}
        total:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - target: 99
"##)],
        first_error: "spec.yaml:26:7: spec.objectives[0].target: target 99 is out of range: it is a ratio above 0 and below 1 (did you mean 0.99?)",
        catalog: &[],
    },
    Case {
        name: "an errors query that is not PromQL is invalid",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}])
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:9:9: slos[0].sli.events.errors: invalid PromQL: unclosed left parenthesis",
        catalog: &[],
    },
    Case {
        name: "a total query calling an unknown function is invalid PromQL",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rat(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:10:9: slos[0].sli.events.total: invalid PromQL: unknown function with name 'rat'",
        catalog: &[],
    },
    Case {
        name: "a raw error ratio with an unquoted label value is invalid PromQL",
        files: &[("spec.yaml", "apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      raw:
        error_ratio: sum(rate(http_requests_total{code=~5..}[{{window}}])) / sum(rate(http_requests_total[{{window}}]))
")],
        first_error: "spec.yaml:9:9: slos[0].sli.raw.error_ratio: invalid PromQL: unexpected character inside braces: '5'",
        catalog: &[],
    },
    Case {
        name: "an OpenSLO metric source query that is not PromQL is invalid",
        files: &[("spec.yaml", "apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
spec:
  service: web-shop
  indicator:
    metadata:
      name: requests
    spec:
      ratioMetric:
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total{code=~5..}
        total:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - target: 0.99
")],
        first_error: "spec.yaml:16:15: spec.indicator.spec.ratioMetric.bad.metricSource.spec.query: invalid PromQL: unexpected character inside braces: '5'",
        catalog: &[],
    },
    Case {
        name: "a query without the window placeholder cannot be evaluated per window",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[5m]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:9:9: slos[0].sli.events.errors: the query has no {{window}} placeholder; slogate fills it with each window it evaluates (write e.g. rate(metric[{{window}}]))",
        catalog: &[],
    },
    Case {
        name: "a query with an unknown placeholder is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{interval}}]))
"##)],
        first_error: "spec.yaml:10:9: slos[0].sli.events.total: unknown placeholder `{{interval}}`; the only placeholder is {{window}}",
        catalog: &[],
    },
    Case {
        name: "an errors query equal to the total query up to spaces measures nothing",
        files: &[("spec.yaml", "apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total[{{window}}]))
        total: sum( rate(http_requests_total[{{window}}]) )
")],
        first_error: r##"spec.yaml:9:9: slos[0].sli.events.errors: the errors query is the same as the total query, so the ratio is constant; select only the errors events (e.g. code=~"5..")"##,
        catalog: &[],
    },
    Case {
        name: "a Sloth error query equal to the total query up to the placeholder's spelling measures nothing",
        files: &[("spec.yaml", r##"version: "prometheus/v1"
service: svc01
slos:
  - name: slo1
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{ .window }}]))
"##)],
        first_error: r##"spec.yaml:8:9: slos[0].sli.events.error_query: the error query is the same as the total query, so the ratio is constant; select only the error events (e.g. code=~"5..")"##,
        catalog: &[],
    },
    Case {
        name: "an SLO name taken in another file by the same service is a duplicate",
        files: &[("first.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##), ("spec.yaml", r##"apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
spec:
  service: financy-api
  indicator:
    metadata:
      name: requests
    spec:
      ratioMetric:
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total{code=~"5.."}
        total:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - target: 0.999
"##)],
        first_error: "spec.yaml:4:3: metadata.name: duplicate SLO name `availability` in service `financy-api`; first defined at first.yaml:5:5",
        catalog: &["financy-api/availability"],
    },
    Case {
        name: "a service defined again in another file is refused",
        files: &[("first.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##), ("spec.yaml", "apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: latency
    objective: 99.9
    sli:
      raw:
        error_ratio: sum(rate(errors_total[{{window}}])) / sum(rate(requests_total[{{window}}]))
")],
        first_error: "spec.yaml:3:1: service: service `financy-api` is already defined at first.yaml:3:1; keep one definition per service",
        catalog: &["financy-api/availability"],
    },
    Case {
        name: "a period without a unit is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    period: 30
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:7:5: slos[0].period: period: `30` has no unit; write it as a Prometheus duration such as `30d`, `30h` or `30m`",
        catalog: &[],
    },
    Case {
        name: "a period with an unknown unit is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    period: 30x
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:7:5: slos[0].period: period: `30x` is not a Prometheus duration (expected e.g. 5m, 1h30m, 28d; units y w d h m s ms)",
        catalog: &[],
    },
    Case {
        name: "a negative period is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    period: -1d
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:7:5: slos[0].period: period: `-1d` is not a Prometheus duration (expected e.g. 5m, 1h30m, 28d)",
        catalog: &[],
    },
    Case {
        name: "a latency threshold that is not a duration is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99
    sli:
      latency:
        histogram: http_request_duration_seconds
        selector: '{route="/pay"}'
        threshold: fast
"##)],
        first_error: "spec.yaml:11:9: slos[0].sli.latency.threshold: threshold: `fast` is not a Prometheus duration (expected e.g. 5m, 1h30m, 28d; units y w d h m s ms)",
        catalog: &[],
    },
    Case {
        name: "a histogram given with its _bucket suffix is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99
    sli:
      latency:
        histogram: http_request_duration_seconds_bucket
        selector: '{route="/pay"}'
        threshold: 300ms
"##)],
        first_error: "spec.yaml:9:9: slos[0].sli.latency.histogram: give the histogram's base name, without `_bucket` or `_count` (`http_request_duration_seconds`)",
        catalog: &[],
    },
    Case {
        name: "a latency selector without braces is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99
    sli:
      latency:
        histogram: http_request_duration_seconds
        selector: 'route="/pay"'
        threshold: 300ms
"##)],
        first_error: r##"spec.yaml:10:9: slos[0].sli.latency.selector: `route="/pay"` is not a label selector; write it in braces, e.g. {service="api"}"##,
        catalog: &[],
    },
    Case {
        name: "an SLI with two kinds at once is ambiguous",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
      raw:
        error_ratio: sum(rate(errors_total[{{window}}])) / sum(rate(requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:7:5: slos[0].sli: give exactly one SLI kind: `events` (errors or good, and total), `raw` (error_ratio) or `latency` (histogram and threshold)",
        catalog: &[],
    },
    Case {
        name: "an events SLI with both errors and good is ambiguous",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        good: sum(rate(http_requests_total{code!~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:8:7: slos[0].sli.events: give either `errors` or `good` (not both) next to `total`",
        catalog: &[],
    },
    Case {
        name: "a Sloth SLI plugin is not supported",
        files: &[("spec.yaml", r##"version: "prometheus/v1"
service: svc01
slos:
  - name: slo1
    objective: 99.9
    sli:
      plugin:
        id: sloth-common/kubernetes/apiserver/availability
        options:
          filter: verb="GET"
"##)],
        first_error: "spec.yaml:7:7: slos[0].sli.plugin: Sloth SLI plugins are not supported by slogate; write the SLI as `events` or `raw` queries",
        catalog: &[],
    },
    Case {
        name: "an OpenSLO indicatorRef naming no SLI document is refused",
        files: &[("spec.yaml", "apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
spec:
  service: web-shop
  indicatorRef: requests
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - target: 0.999
")],
        first_error: "spec.yaml:7:3: spec.indicatorRef: no `kind: SLI` document named `requests` among the files read",
        catalog: &[],
    },
    Case {
        name: "an alert route slogate does not know is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
    alerting:
      page: {route: opsgenie}
"##)],
        first_error: "spec.yaml:12:14: slos[0].alerting.page.route: unknown route `opsgenie`; expected `pagerduty`, `slack` or `email`",
        catalog: &[],
    },
    Case {
        name: "a Slack channel on a PagerDuty route is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
    alerting:
      page: {route: pagerduty, channel: "#payments-alerts"}
"##)],
        first_error: "spec.yaml:12:32: slos[0].alerting.page.channel: `channel` is for Slack; PagerDuty routes by routing key in the service configuration",
        catalog: &[],
    },
    Case {
        name: "a label name with a dash is not a Prometheus label name",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
labels:
  cost-center: fin
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:5:3: labels.cost-center: `cost-center` is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)",
        catalog: &[],
    },
    Case {
        name: "the label slo_service is reserved by slogate",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    labels:
      slo_service: other
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:8:7: slos[0].labels.slo_service: `slo_service` is set by slogate on every series; choose another label name",
        catalog: &[],
    },
    Case {
        name: "a service name with a space is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:3:1: service: service `financy api` must start with an ASCII letter or digit and contain only ASCII letters, digits, `-`, `_` and `.`",
        catalog: &[],
    },
    Case {
        name: "a canary metric with an unknown direction is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
canary:
  metrics:
    - name: error-rate
      errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
      total: sum(rate(http_requests_total[{{window}}]))
      direction: up
"##)],
        first_error: "spec.yaml:9:7: canary.metrics[0].direction: unknown direction `up`; expected `increase`, `decrease` or `either`",
        catalog: &[],
    },
    Case {
        name: "a canary critical_increase below allowed_increase is refused",
        files: &[("spec.yaml", "apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
canary:
  metrics:
    - name: latency-p99
      query: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[{{window}}])))
      allowed_increase: 1.2
      critical_increase: 1.1
")],
        first_error: "spec.yaml:9:7: canary.metrics[0].critical_increase: critical_increase must be at least allowed_increase",
        catalog: &[],
    },
    Case {
        name: "two canary metrics with the same name are duplicates",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
canary:
  metrics:
    - name: error-rate
      errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
      total: sum(rate(http_requests_total[{{window}}]))
    - name: error-rate
      query: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
"##)],
        first_error: "spec.yaml:9:7: canary.metrics[1].name: duplicate canary metric name `error-rate`",
        catalog: &[],
    },
    Case {
        name: "a canary lookback without a unit is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
canary:
  lookback: 10
  metrics:
    - name: error-rate
      query: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
"##)],
        first_error: "spec.yaml:5:3: canary.lookback: lookback: `10` has no unit; write it as a Prometheus duration such as `10d`, `10h` or `10m`",
        catalog: &[],
    },
    Case {
        name: "an unknown apiVersion is refused",
        files: &[("spec.yaml", "apiVersion: slogate/v2
kind: ServiceLevels
service: financy-api
")],
        first_error: "spec.yaml:1:1: apiVersion: unknown apiVersion `slogate/v2` with kind `ServiceLevels`; slogate reads slogate/v1 ServiceLevels, sloth.slok.dev/v1 PrometheusServiceLevel, openslo/v1 SLO and SLI, openslo/v1alpha SLO",
        catalog: &[],
    },
    Case {
        name: "a document without apiVersion is refused",
        files: &[("spec.yaml", "kind: ServiceLevels
service: financy-api
slos: []
")],
        first_error: "spec.yaml:1:1: no `apiVersion` (or Sloth's `version`): start the document with `apiVersion: slogate/v1` and `kind: ServiceLevels`",
        catalog: &[],
    },
    Case {
        name: "a native document of another kind is refused",
        files: &[("spec.yaml", "apiVersion: slogate/v1
kind: ServiceLevel
service: financy-api
slos: []
")],
        first_error: "spec.yaml:2:1: kind: kind `ServiceLevel` is not known for slogate/v1; expected `ServiceLevels`",
        catalog: &[],
    },
    Case {
        name: "an unknown Sloth version is refused",
        files: &[("spec.yaml", r##"version: "prometheus/v2"
service: svc01
"##)],
        first_error: "spec.yaml:1:1: version: unknown version `prometheus/v2`; Sloth's format is `version: prometheus/v1`",
        catalog: &[],
    },
    Case {
        name: "an error in the second document of a file is placed on the file's line",
        files: &[("spec.yaml", "apiVersion: slogate/v1
kind: ServiceLevels
service: checkout
slos:
  - name: availability
    objective: 99.9
    sli:
      raw:
        error_ratio: sum(rate(errors_total[{{window}}])) / sum(rate(requests_total[{{window}}]))
---
# the second service
apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    period: 4 weeks
    sli:
      raw:
        error_ratio: sum(rate(errors_total[{{window}}])) / sum(rate(requests_total[{{window}}]))
")],
        first_error: "spec.yaml:18:5: slos[0].period: period: `4 weeks` is not a Prometheus duration (expected e.g. 5m, 1h30m, 28d)",
        catalog: &["checkout/availability"],
    },
    Case {
        name: "a duplicate SLO name in one file keeps the whole file out of the catalog",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
  - name: availability
    objective: 99
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:11:5: slos[1].name: duplicate SLO name `availability` in service `financy-api`; first defined at spec.yaml:5:5",
        catalog: &[],
    },
    Case {
        name: "an OpenSLO target written as a percentage suggests the ratio",
        files: &[("spec.yaml", r##"apiVersion: openslo/v1alpha
kind: SLO
metadata:
  name: slo1
spec:
  service: svc01
  objectives:
    - ratioMetrics:
        good:
          query: sum(rate(ok_total[{{.window}}]))
        total:
          query: sum(rate(all_total[{{.window}}]))
      target: 99.9
"##)],
        first_error: "spec.yaml:13:7: spec.objectives[0].target: target 99.9 is out of range: it is a ratio above 0 and below 1 (did you mean 0.999?)",
        catalog: &[],
    },
    Case {
        name: "a missing objective is reported at the start of its SLO",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:5:5: slos[0]: missing field `objective`",
        catalog: &[],
    },
    Case {
        name: "a missing service is reported at the start of the document without a path",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:1:1: missing field `service`",
        catalog: &[],
    },
    Case {
        name: "a key given twice is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    objective: 99
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:7:5: slos[0].objective: duplicate key `objective`: a field may appear only once",
        catalog: &[],
    },
    Case {
        name: "an unknown apiVersion is reported on its own line when it is not the first key",
        files: &[("spec.yaml", r##"kind: ServiceLevels
apiVersion: slogate/v2
service: x
"##)],
        first_error: "spec.yaml:2:1: apiVersion: unknown apiVersion `slogate/v2` with kind `ServiceLevels`; slogate reads slogate/v1 ServiceLevels, sloth.slok.dev/v1 PrometheusServiceLevel, openslo/v1 SLO and SLI, openslo/v1alpha SLO",
        catalog: &[],
    },
    Case {
        name: "a query nested too deeply to parse safely is refused, not crashed on",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      raw:
        error_ratio: sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(sum(rate(e[{{window}}])))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))
"##)],
        first_error: "spec.yaml:9:9: slos[0].sli.raw.error_ratio: the query is too complex to check: it nests brackets 72 deep (at most 64)",
        catalog: &[],
    },
    Case {
        name: "a period of zero is refused",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    period: 0d
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"##)],
        first_error: "spec.yaml:7:5: slos[0].period: period: duration must be greater than zero",
        catalog: &[],
    },
    Case {
        name: "a negative low-traffic guard says what was expected",
        files: &[("spec.yaml", r##"apiVersion: slogate/v1
kind: ServiceLevels
service: financy-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
    alerting:
      min_events: -5
"##)],
        first_error: "spec.yaml:12:19: slos[0].alerting.min_events: expected a whole number, 0 or more, found `-5`",
        catalog: &[],
    },
];

#[test]
fn each_broken_spec_reports_its_first_error_exactly_and_is_kept_out_of_the_catalog() {
    assert!(CASES.len() >= 24, "the table has {} cases", CASES.len());
    let mut names = HashSet::new();
    for case in CASES {
        assert!(names.insert(case.name), "two cases named {:?}", case.name);
        let files: Vec<(PathBuf, String)> = case
            .files
            .iter()
            .map(|(file, text)| (PathBuf::from(file), text.to_string()))
            .collect();
        let report = load_texts(&files);

        assert!(report.has_errors(), "{}: no error reported", case.name);
        let first_error = report.first_error().map(ToString::to_string);
        assert_eq!(
            first_error.as_deref(),
            Some(case.first_error),
            "{}: first error differs; every diagnostic: {:#?}",
            case.name,
            report.diagnostics
        );

        let catalog: Vec<String> = report
            .catalog
            .services
            .iter()
            .flat_map(|s| {
                s.slos
                    .iter()
                    .map(move |slo| format!("{}/{}", s.service, slo.name))
            })
            .collect();
        assert_eq!(catalog, case.catalog, "{}: catalog differs", case.name);
        for service in &report.catalog.services {
            assert!(
                !service.slos.is_empty() || service.canary.is_some(),
                "{}: service `{}` is in the catalog with nothing in it",
                case.name,
                service.service
            );
        }
    }
}
