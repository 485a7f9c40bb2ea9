//! Reads SLO definition files of any supported format into one validated [`Catalog`].
//!
//! Every file and document is read even after errors, so one run shows every problem; a
//! document with errors contributes nothing to the catalog.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::diagnostic::{Diagnostic, Issue, Issues, Severity};
use super::model::{AlertWindowsSpec, Origin, ServiceLevels, SourceFormat};
use super::routing::AlertRouting;
use super::yaml::{Document, Pos, YamlError, join_key, split_documents};
use super::{alert_windows, load_alerts, native, openslo, sloth};

/// The validated definitions of every service read.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Catalog {
    /// One entry per service, in the order first seen.
    pub services: Vec<ServiceLevels>,
    /// Custom burn-rate windows (Sloth `AlertWindows` documents), at most one per period.
    pub alert_windows: Vec<AlertWindowsSpec>,
    /// How alerts are delivered (the `AlertRouting` document; the defaults without one).
    pub routing: AlertRouting,
}

impl Catalog {
    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceLevels> {
        self.services.iter().find(|s| s.service == name)
    }
}

/// The outcome of reading definitions: what was accepted and every problem found.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// The definitions that passed every check.
    pub catalog: Catalog,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// How many files were read.
    pub files: usize,
}

impl LoadReport {
    /// The first error (not warning), in file order: what a user fixes first.
    pub fn first_error(&self) -> Option<&Diagnostic> {
        self.diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
    }

    /// Whether any error (not warning) was found.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// The fields that tell the formats apart.
#[derive(Debug, Deserialize)]
struct Header {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// The format of one document, from its header.
#[derive(Debug, Clone, PartialEq)]
enum DocKind {
    Native,
    NativeRouting,
    SlothPlain,
    SlothKubernetes,
    SlothAlertWindows,
    OpenSloV1Slo,
    OpenSloV1Sli,
    OpenSloV1Other(String),
    OpenSloV1Alpha,
    Unknown(String),
}

fn classify(header: &Header) -> DocKind {
    let kind = header.kind.as_deref().unwrap_or("");
    match (header.api_version.as_deref(), header.version.as_deref()) {
        (Some(native::API_VERSION), _) if kind == native::routing::KIND => DocKind::NativeRouting,
        (Some(native::API_VERSION), _) => DocKind::Native,
        (Some(sloth::K8S_API_VERSION), _) if kind == sloth::K8S_KIND => DocKind::SlothKubernetes,
        (Some(sloth::K8S_API_VERSION), _) if kind == alert_windows::KIND => {
            DocKind::SlothAlertWindows
        }
        (Some("openslo/v1"), _) if kind == "SLO" => DocKind::OpenSloV1Slo,
        (Some("openslo/v1"), _) if kind == "SLI" => DocKind::OpenSloV1Sli,
        (Some("openslo/v1"), _) => DocKind::OpenSloV1Other(kind.to_string()),
        (Some("openslo/v1alpha"), _) if kind == "SLO" => DocKind::OpenSloV1Alpha,
        (None, Some(sloth::VERSION)) => DocKind::SlothPlain,
        (Some(api), _) => DocKind::Unknown(format!(
            "unknown apiVersion `{api}` with kind `{kind}`; slogate reads {} ServiceLevels, {} {}, openslo/v1 SLO and SLI, openslo/v1alpha SLO",
            native::API_VERSION,
            sloth::K8S_API_VERSION,
            sloth::K8S_KIND
        )),
        (None, Some(v)) => DocKind::Unknown(format!(
            "unknown version `{v}`; Sloth's format is `version: {}`",
            sloth::VERSION
        )),
        (None, None) => DocKind::Unknown(format!(
            "no `apiVersion` (or Sloth's `version`): start the document with `apiVersion: {}` and `kind: {}`",
            native::API_VERSION,
            native::KIND
        )),
    }
}

/// One document, read and classified, waiting to be mapped.
struct Pending {
    file: usize,
    document: Document,
    kind: DocKind,
}

/// A service being assembled from one or more documents.
struct ServiceEntry {
    service: ServiceLevels,
    /// Where its native or Sloth definition is (OpenSLO SLOs may only join a service).
    defined_at: Option<(PathBuf, Pos)>,
    /// Where each SLO name was defined, to report duplicates.
    slo_at: HashMap<String, (PathBuf, Pos)>,
}

/// Reads files and directories (recursively: every `.yaml` and `.yml` file, in name order).
pub fn load_paths(paths: &[PathBuf]) -> LoadReport {
    let mut report = LoadReport::default();
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for path in paths {
        for file in expand(path, &mut report) {
            match std::fs::read(&file) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => files.push((file, text)),
                    Err(_) => report
                        .diagnostics
                        .push(file_error(&file, "the file is not UTF-8 text")),
                },
                Err(err) => report
                    .diagnostics
                    .push(file_error(&file, &format!("cannot read the file: {err}"))),
            }
        }
    }
    let loaded = load_texts(&files);
    report.files = files.len();
    report.diagnostics.extend(loaded.diagnostics);
    report.catalog = loaded.catalog;
    report
}

/// Reads definitions from texts already in memory (file name, content).
pub fn load_texts(files: &[(PathBuf, String)]) -> LoadReport {
    let mut report = LoadReport {
        files: files.len(),
        ..LoadReport::default()
    };
    let mut pending = Vec::new();
    for (i, (file, text)) in files.iter().enumerate() {
        match split_documents(text) {
            Ok(documents) => {
                for document in documents {
                    match document.decode::<Header>() {
                        Ok(header) => pending.push(Pending {
                            file: i,
                            kind: classify(&header),
                            document,
                        }),
                        Err(err) => report.diagnostics.push(yaml_diagnostic(file, err)),
                    }
                }
            }
            Err(err) => report.diagnostics.push(yaml_diagnostic(file, err)),
        }
    }

    // OpenSLO SLOs may name an SLI document of any file: read those first.
    let mut indicators: HashMap<String, openslo::SliDoc> = HashMap::new();
    for p in pending.iter().filter(|p| p.kind == DocKind::OpenSloV1Sli) {
        if let Some(sli) = decode(&files[p.file].0, &p.document, &mut report) {
            let sli: openslo::SliDoc = sli;
            indicators.insert(sli.metadata.name.clone(), sli);
        }
    }

    // Services name severities and teams the routing document defines: read it first.
    let routing_docs = pending
        .iter()
        .filter(|p| p.kind == DocKind::NativeRouting)
        .map(|p| (&files[p.file].0, &p.document));
    load_alerts::read_routing(routing_docs, &mut report);
    let routing = report.catalog.routing.clone();
    let mut services: Vec<ServiceEntry> = Vec::new();
    for p in &pending {
        let file = &files[p.file].0;
        let origin = |format| Origin {
            file: file.clone(),
            format,
        };
        let mut issues = Issues::default();
        match &p.kind {
            DocKind::Native => {
                if let Some(doc) = decode(file, &p.document, &mut report) {
                    let loaded =
                        native::load(doc, origin(SourceFormat::Native), &routing, &mut issues);
                    define_service(&mut services, loaded, file, &p.document, "", &mut issues);
                }
            }
            DocKind::SlothPlain => {
                if let Some(doc) = decode(file, &p.document, &mut report) {
                    let loaded = sloth::load_prometheus_v1(
                        doc,
                        origin(SourceFormat::SlothPrometheusV1),
                        &mut issues,
                    );
                    define_service(&mut services, loaded, file, &p.document, "", &mut issues);
                }
            }
            DocKind::SlothKubernetes => {
                if let Some(doc) = decode(file, &p.document, &mut report) {
                    let loaded = sloth::load_kubernetes(
                        doc,
                        origin(SourceFormat::SlothKubernetes),
                        &mut issues,
                    );
                    define_service(
                        &mut services,
                        loaded,
                        file,
                        &p.document,
                        "spec",
                        &mut issues,
                    );
                }
            }
            DocKind::OpenSloV1Slo => {
                if let Some(doc) = decode(file, &p.document, &mut report) {
                    let slos = openslo::load_v1(doc, &indicators, &mut issues);
                    join_openslo(
                        &mut services,
                        slos,
                        origin(SourceFormat::OpenSloV1),
                        &p.document,
                        &mut issues,
                    );
                }
            }
            DocKind::OpenSloV1Alpha => {
                if let Some(doc) = decode(file, &p.document, &mut report) {
                    let slos = openslo::load_v1alpha(doc, &mut issues);
                    join_openslo(
                        &mut services,
                        slos,
                        origin(SourceFormat::OpenSloV1Alpha),
                        &p.document,
                        &mut issues,
                    );
                }
            }
            DocKind::SlothAlertWindows => {
                if let Some(doc) = decode(file, &p.document, &mut report)
                    && let Some(windows) = alert_windows::load(doc, &mut issues)
                {
                    let taken = report
                        .catalog
                        .alert_windows
                        .iter()
                        .any(|w| w.period == windows.period);
                    if taken {
                        issues.error(
                            "spec.sloPeriod",
                            format!(
                                "alert windows for a {} period are already defined",
                                windows.period
                            ),
                        );
                    } else {
                        report.catalog.alert_windows.push(windows);
                    }
                }
            }
            DocKind::OpenSloV1Sli | DocKind::NativeRouting => {}
            DocKind::OpenSloV1Other(kind) => issues.warn(
                "kind",
                format!("OpenSLO `{kind}` documents are not used by slogate; skipped"),
            ),
            DocKind::Unknown(message) => {
                let path = if p.document.index.value_pos("apiVersion").is_some() {
                    "apiVersion"
                } else if p.document.index.value_pos("version").is_some() {
                    "version"
                } else {
                    ""
                };
                issues.error(path, message.clone())
            }
        }
        report
            .diagnostics
            .extend(locate(file, &p.document, issues.into_vec()));
    }
    report.catalog.services = services.into_iter().map(|e| e.service).collect();
    report
}

/// Adds a native or Sloth service definition; refuses a second definition of a service and
/// SLO names already taken.
fn define_service(
    services: &mut Vec<ServiceEntry>,
    loaded: Option<ServiceLevels>,
    file: &Path,
    document: &Document,
    base: &str,
    issues: &mut Issues,
) {
    let Some(loaded) = loaded else { return };
    let service_path = join_key(base, "service");
    let here = (file.to_path_buf(), document.index.report_pos(&service_path));
    let existing = services
        .iter()
        .position(|e| e.service.service == loaded.service);
    if let Some((other_file, pos)) = existing.and_then(|i| services[i].defined_at.as_ref()) {
        issues.error(
            service_path,
            format!(
                "service `{}` is already defined at {}:{}:{}; keep one definition per service",
                loaded.service,
                other_file.display(),
                pos.line,
                pos.col
            ),
        );
        return;
    }
    // Check every SLO name before adding anything: a document with an error adds nothing.
    let name_paths: Vec<String> = (0..loaded.slos.len())
        .map(|i| join_key(&format!("{}[{i}]", join_key(base, "slos")), "name"))
        .collect();
    let mut seen: HashMap<&str, (PathBuf, Pos)> = existing
        .map(|i| {
            services[i]
                .slo_at
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut clean = true;
    for (slo, path) in loaded.slos.iter().zip(&name_paths) {
        let pos = document.index.report_pos(path);
        if let Some(first) = seen.get(slo.name.as_str()) {
            issues.error(path, duplicate_message(&slo.name, &loaded.service, first));
            clean = false;
        } else {
            seen.insert(&slo.name, (file.to_path_buf(), pos));
        }
    }
    if !clean || !load_alerts::unique_alert_names(&loaded, file, document, base, issues) {
        return;
    }
    let entry = match existing {
        Some(i) => {
            let entry = &mut services[i];
            entry.defined_at = Some(here);
            entry.service.team = loaded.team.clone();
            entry.service.labels = loaded.labels.clone();
            entry.service.canary = loaded.canary.clone();
            entry.service.alerts = loaded.alerts.clone();
            entry.service.dashboard = loaded.dashboard.clone();
            entry.service.origin = loaded.origin.clone();
            entry
        }
        None => {
            services.push(ServiceEntry {
                service: ServiceLevels {
                    slos: Vec::new(),
                    ..loaded.clone()
                },
                defined_at: Some(here),
                slo_at: HashMap::new(),
            });
            services.last_mut().expect("just pushed")
        }
    };
    for (slo, path) in loaded.slos.into_iter().zip(&name_paths) {
        add_slo(entry, slo, file, document, path, issues);
    }
}

fn duplicate_message(slo: &str, service: &str, first: &(PathBuf, Pos)) -> String {
    format!(
        "duplicate SLO name `{slo}` in service `{service}`; first defined at {}:{}:{}",
        first.0.display(),
        first.1.line,
        first.1.col
    )
}

/// Adds OpenSLO SLOs to their services (creating a service when none is defined).
fn join_openslo(
    services: &mut Vec<ServiceEntry>,
    slos: Vec<openslo::OpenSloSlo>,
    origin: Origin,
    document: &Document,
    issues: &mut Issues,
) {
    // All of a document's SLOs or none: check every name before adding any.
    let mut clean = true;
    for item in &slos {
        let taken = services
            .iter()
            .find(|e| e.service.service == item.service)
            .and_then(|e| e.slo_at.get(&item.slo.name));
        if let Some(first) = taken {
            issues.error(
                "metadata.name",
                duplicate_message(&item.slo.name, &item.service, first),
            );
            clean = false;
        }
    }
    if !clean {
        return;
    }
    for item in slos {
        let i = match services
            .iter()
            .position(|e| e.service.service == item.service)
        {
            Some(i) => i,
            None => {
                services.push(ServiceEntry {
                    service: ServiceLevels {
                        service: item.service.clone(),
                        team: None,
                        labels: Default::default(),
                        slos: Vec::new(),
                        alerts: Vec::new(),
                        dashboard: Default::default(),
                        canary: None,
                        origin: origin.clone(),
                    },
                    defined_at: None,
                    slo_at: HashMap::new(),
                });
                services.len() - 1
            }
        };
        add_slo(
            &mut services[i],
            item.slo,
            &origin.file,
            document,
            "metadata.name",
            issues,
        );
    }
}

fn add_slo(
    entry: &mut ServiceEntry,
    slo: super::model::Slo,
    file: &Path,
    document: &Document,
    name_path: &str,
    issues: &mut Issues,
) {
    if let Some(first) = entry.slo_at.get(&slo.name) {
        issues.error(
            name_path,
            duplicate_message(&slo.name, &entry.service.service, first),
        );
        return;
    }
    let pos = document.index.report_pos(name_path);
    entry
        .slo_at
        .insert(slo.name.clone(), (file.to_path_buf(), pos));
    entry.service.slos.push(slo);
}

/// Decodes a document into its format type, reporting a failure as a diagnostic.
pub(super) fn decode<T: serde::de::DeserializeOwned>(
    file: &Path,
    document: &Document,
    report: &mut LoadReport,
) -> Option<T> {
    match document.decode::<T>() {
        Ok(doc) => Some(doc),
        Err(err) => {
            report.diagnostics.push(yaml_diagnostic(file, err));
            None
        }
    }
}

pub(super) fn locate(file: &Path, document: &Document, issues: Vec<Issue>) -> Vec<Diagnostic> {
    issues
        .into_iter()
        .map(|issue| Diagnostic {
            file: file.to_path_buf(),
            pos: document.index.report_pos(&issue.path),
            path: Some(issue.path),
            message: issue.message,
            severity: issue.severity,
        })
        .collect()
}

fn yaml_diagnostic(file: &Path, err: YamlError) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        pos: err.pos,
        path: err.path,
        message: err.message,
        severity: Severity::Error,
    }
}

fn file_error(file: &Path, message: &str) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        pos: Pos { line: 1, col: 1 },
        path: None,
        message: message.to_string(),
        severity: Severity::Error,
    }
}

/// The YAML files under `path` (the path itself when it is a file), sorted.
fn expand(path: &Path, report: &mut LoadReport) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut found = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) => {
                report.diagnostics.push(file_error(
                    &dir,
                    &format!("cannot read the directory: {err}"),
                ));
                continue;
            }
        };
        for entry in entries.flatten() {
            // Hidden entries are skipped: a ConfigMap mounted as a directory holds its files
            // again under `..data/` and `..<timestamp>/`, and editors leave `.swp` files.
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}
