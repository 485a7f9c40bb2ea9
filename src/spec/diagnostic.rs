//! Problems found in SLO definitions, first by field path, then placed in the file.

use std::fmt;
use std::path::PathBuf;

use super::yaml::Pos;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The definition is refused.
    Error,
    /// The definition is accepted, but probably not as meant.
    Warning,
}

/// A problem at a field path of one document, not yet placed in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// Field path as the user wrote it (`slos[1].sli.events.total`).
    pub path: String,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

/// Issues collected while mapping one document (checks go on after the first error, so a user
/// sees every problem of a file at once).
#[derive(Debug, Default)]
pub struct Issues(Vec<Issue>);

impl Issues {
    /// Records an error at `path`.
    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(path.into(), message.into(), Severity::Error);
    }

    /// Records a warning at `path`.
    pub fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(path.into(), message.into(), Severity::Warning);
    }

    /// Records an issue once: a shared part (an OpenSLO indicator used by several objectives)
    /// is checked once per use, but its problem is one problem.
    fn push(&mut self, path: String, message: String, severity: Severity) {
        let issue = Issue {
            path,
            message,
            severity,
        };
        if !self.0.contains(&issue) {
            self.0.push(issue);
        }
    }

    /// Whether any error (not warning) was recorded.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|i| i.severity == Severity::Error)
    }

    /// The issues, in the order found.
    pub fn into_vec(self) -> Vec<Issue> {
        self.0
    }
}

/// A problem placed in a file: what `slogate validate` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// Line and column in the file.
    pub pos: Pos,
    /// The field path, when known.
    pub path: Option<String>,
    /// What is wrong.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl fmt::Display for Diagnostic {
    /// `FILE:LINE:COL: [warning: ]PATH: MESSAGE`, the form editors and CI annotate.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: ",
            self.file.display(),
            self.pos.line,
            self.pos.col
        )?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        match &self.path {
            Some(path) if !path.is_empty() => write!(f, "{path}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}
