//! Writes generated files, and tells which committed files are stale.

use std::io;
use std::path::{Path, PathBuf};

use super::HEADER;

/// One generated file: a path relative to the output directory and its full contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Relative path (`alert-rules/financy-api.yaml`).
    pub path: PathBuf,
    /// The file's text.
    pub contents: String,
}

impl GeneratedFile {
    /// A file at `path` (relative) with `contents`.
    pub fn new(path: impl Into<PathBuf>, contents: String) -> Self {
        GeneratedFile {
            path: path.into(),
            contents,
        }
    }
}

/// How the files on disk differ from what would be generated.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Staleness {
    /// Files that would be created or changed.
    pub changed: Vec<PathBuf>,
    /// Generated files on disk that nothing generates any more.
    pub orphaned: Vec<PathBuf>,
}

impl Staleness {
    /// Whether the tree is up to date.
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.orphaned.is_empty()
    }
}

/// The folders generation owns: a file in them carrying slogate's header and not generated
/// any more is removed (a deleted service must not leave its alerts behind).
const OWNED_DIRS: &[&str] = &["alert-rules", "dashboards", "alertmanager", "rollouts"];

/// Compares `files` with the tree under `out`.
pub fn check_tree(out: &Path, files: &[GeneratedFile]) -> io::Result<Staleness> {
    let mut staleness = Staleness::default();
    for file in files {
        let target = out.join(&file.path);
        match std::fs::read_to_string(&target) {
            Ok(existing) if existing == file.contents => {}
            Ok(_) => staleness.changed.push(file.path.clone()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                staleness.changed.push(file.path.clone())
            }
            Err(err) => return Err(err),
        }
    }
    for existing in generated_files_on_disk(out)? {
        if !files.iter().any(|f| out.join(&f.path) == existing) {
            let relative = existing
                .strip_prefix(out)
                .unwrap_or(&existing)
                .to_path_buf();
            staleness.orphaned.push(relative);
        }
    }
    Ok(staleness)
}

/// Writes `files` under `out` (only those whose contents change) and removes orphaned
/// generated files. Returns what changed.
pub fn write_tree(out: &Path, files: &[GeneratedFile]) -> io::Result<Staleness> {
    let staleness = check_tree(out, files)?;
    for file in files.iter().filter(|f| staleness.changed.contains(&f.path)) {
        let target = out.join(&file.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Write then rename, so a reader (or a crash) never sees half a rule file.
        let tmp = target.with_extension("tmp~");
        std::fs::write(&tmp, &file.contents)?;
        std::fs::rename(&tmp, &target)?;
    }
    for orphan in &staleness.orphaned {
        std::fs::remove_file(out.join(orphan))?;
    }
    Ok(staleness)
}

fn generated_files_on_disk(out: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for dir in OWNED_DIRS {
        let dir = out.join(dir);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_file() && is_generated(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// A file slogate wrote: YAML starts with [`HEADER`]; JSON dashboards, which cannot hold a
/// comment, carry the mark in their description.
fn is_generated(path: &Path) -> bool {
    let first_line = HEADER.lines().next().unwrap_or_default();
    match std::fs::read_to_string(path) {
        Ok(text) => text.starts_with(first_line) || text.contains(super::grafana::GENERATED_MARK),
        Err(_) => false,
    }
}
