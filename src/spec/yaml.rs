//! YAML with positions: splits a file into documents, indexes every node by its field path, and
//! decodes a document into a serde type with errors that carry a line and column.
//!
//! Why an index of paths rather than `Spanned<T>` on every field: semantic checks run on plain
//! format types and report a field path (`slos[1].objective`); the index turns that path into the
//! position the user needs. Serde's own errors (unknown field, wrong type) already carry a position,
//! and the index turns that position back into a path, so every message has both.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde_saphyr::granit_parser::{Event, Parser};

/// A 1-based line and column in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// Line, counting from 1.
    pub line: usize,
    /// Column, counting from 1.
    pub col: usize,
}

/// A problem found while reading YAML, before any meaning is given to it.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    /// Where in the file.
    pub pos: Pos,
    /// The field path, when the position falls on a known node.
    pub path: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// Where a node sits: the position of its key (for mapping values) and of its value.
#[derive(Debug, Clone, Copy)]
struct NodePos {
    key: Pos,
    value: Pos,
}

/// Every node of one document by field path (`slos[0].sli.events.errors`).
#[derive(Debug, Default)]
pub struct PathIndex {
    by_path: HashMap<String, NodePos>,
}

impl PathIndex {
    /// Position of the value at `path`, if that node exists.
    pub fn value_pos(&self, path: &str) -> Option<Pos> {
        self.by_path.get(path).map(|n| n.value)
    }

    /// Position at which to report a problem with `path`: the key for a mapping entry (that is
    /// where an editor's eye goes), falling back to the nearest existing ancestor for a missing
    /// field.
    pub fn report_pos(&self, path: &str) -> Pos {
        let mut candidate = path;
        loop {
            if let Some(node) = self.by_path.get(candidate) {
                return if candidate == path {
                    node.key
                } else {
                    node.value
                };
            }
            match parent_path(candidate) {
                Some(parent) => candidate = parent,
                None => return Pos { line: 1, col: 1 },
            }
        }
    }

    /// The path of the node whose key or value starts at `pos` (used to name the field of a
    /// serde error, which knows only the position). A block mapping starts where its first key
    /// does, so both match: `container` picks the mapping (for "missing field"), otherwise the
    /// deepest node (the key) wins.
    pub fn path_at(&self, pos: Pos, container: bool) -> Option<&str> {
        let matching = self
            .by_path
            .iter()
            .filter(|(_, n)| n.key == pos || n.value == pos)
            .map(|(p, _)| p.as_str());
        if container {
            matching.min_by_key(|p| (p.len(), *p))
        } else {
            matching.max_by_key(|p| (p.len(), *p))
        }
    }

    fn insert(&mut self, path: String, node: NodePos) {
        self.by_path.entry(path).or_insert(node);
    }
}

/// The path one level up: `a.b[2]` -> `a.b`, `a.b` -> `a`, `a` -> `` (the root), root -> none.
fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    match path.rfind(['.', '[']) {
        Some(i) => Some(&path[..i]),
        None => Some(""),
    }
}

/// Appends a mapping key to a path.
pub fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Appends a sequence index to a path.
pub fn join_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// One YAML document of a file: its own text (so serde reads it alone) and where it starts.
#[derive(Debug)]
pub struct Document {
    /// The document's lines, as a standalone YAML text.
    pub text: String,
    /// Lines of the file before this document's first line.
    pub line_offset: usize,
    /// Every node of the document by path, in file positions.
    pub index: PathIndex,
}

impl Document {
    /// Decodes the document into `T`, with any error placed in the file and named by path.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, YamlError> {
        let mut options = serde_saphyr::Options::default();
        options.with_snippet = false;
        serde_saphyr::from_str_with_options::<T>(&self.text, options).map_err(|err| {
            let pos = err
                .location()
                .map(|loc| Pos {
                    line: loc.line() as usize + self.line_offset,
                    col: loc.column() as usize,
                })
                .unwrap_or(Pos {
                    line: self.line_offset + 1,
                    col: 1,
                });
            let message = strip_location_suffix(&err.to_string());
            let container = message.starts_with("missing field");
            YamlError {
                pos,
                path: self.index.path_at(pos, container).map(str::to_string),
                message,
            }
        })
    }
}

/// serde-saphyr appends " at line L, column C" to its messages; the diagnostic prints the
/// position itself, in front.
fn strip_location_suffix(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(", column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

/// Splits a YAML text into its documents, skipping empty ones (a trailing `---`, a file of
/// comments). A syntax error anywhere stops the file: nothing after it can be trusted.
pub fn split_documents(text: &str) -> Result<Vec<Document>, YamlError> {
    // (first line, index, is empty) per document, in order.
    let mut found: Vec<(usize, PathIndex, bool)> = Vec::new();
    let mut builder = IndexBuilder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|err| {
            let marker = err.marker();
            YamlError {
                pos: Pos {
                    line: marker.line().max(1),
                    col: marker.col() + 1,
                },
                path: None,
                message: format!("YAML syntax error: {}", err.kind()),
            }
        })?;
        let pos = Pos {
            line: span.start.line().max(1),
            col: span.start.col() + 1,
        };
        match event {
            Event::DocumentStart(..) => {
                // The first document owns everything above it (comments, directives).
                let line = if found.is_empty() { 1 } else { pos.line };
                builder = IndexBuilder::default();
                found.push((line, PathIndex::default(), true));
            }
            Event::DocumentEnd => {
                if let Some(last) = found.last_mut() {
                    let finished = std::mem::take(&mut builder);
                    last.2 = finished.is_empty_document();
                    last.1 = finished.index;
                }
            }
            other => builder.event(&other, pos),
        }
    }

    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut documents = Vec::new();
    for i in 0..found.len() {
        let first_line = found[i].0;
        let end_line = found.get(i + 1).map_or(lines.len() + 1, |next| next.0);
        if found[i].2 {
            continue;
        }
        if end_line <= first_line {
            return Err(YamlError {
                pos: Pos {
                    line: first_line,
                    col: 1,
                },
                path: None,
                message: "two documents start on one line; put each `---` on its own line"
                    .to_string(),
            });
        }
        let text: String = lines[first_line - 1..(end_line - 1).min(lines.len())].concat();
        documents.push(Document {
            text,
            line_offset: first_line - 1,
            index: std::mem::take(&mut found[i].1),
        });
    }
    Ok(documents)
}

/// Builds a [`PathIndex`] from parser events.
#[derive(Default)]
struct IndexBuilder {
    index: PathIndex,
    stack: Vec<Frame>,
    /// The root node, once seen: a document whose root is a null scalar is empty.
    root_is_null: Option<bool>,
}

enum Frame {
    Mapping {
        path: String,
        /// The key read and waiting for its value, with the key's position.
        pending_key: Option<(String, Pos)>,
    },
    Sequence {
        path: String,
        next: usize,
    },
    /// A mapping or sequence used as a mapping key: indexed under `?`, rarely meaningful.
    ComplexKey {
        path: String,
        pos: Pos,
    },
}

impl IndexBuilder {
    fn is_empty_document(&self) -> bool {
        self.root_is_null.unwrap_or(true)
    }

    fn event(&mut self, event: &Event<'_>, pos: Pos) {
        match event {
            Event::Scalar(value, ..) => {
                let is_root = self.stack.is_empty();
                if self.node_path(pos, Some(value)).is_some() && is_root {
                    self.root_is_null = Some(matches!(value.as_ref(), "" | "~" | "null"));
                }
            }
            Event::Alias(..) | Event::UnresolvedAlias(..) => {
                let _ = self.node_path(pos, Some("*alias"));
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_mapping = matches!(event, Event::MappingStart(..));
                if self.stack.is_empty() {
                    self.root_is_null = Some(false);
                }
                match self.node_path(pos, None) {
                    Some(path) if is_mapping => self.stack.push(Frame::Mapping {
                        path,
                        pending_key: None,
                    }),
                    Some(path) => self.stack.push(Frame::Sequence { path, next: 0 }),
                    None => {
                        let path = match self.stack.last() {
                            Some(Frame::Mapping { path, .. }) => join_key(path, "?"),
                            _ => "?".to_string(),
                        };
                        self.stack.push(Frame::ComplexKey { path, pos });
                    }
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(Frame::ComplexKey { pos, .. }) = self.stack.pop()
                    && let Some(Frame::Mapping { pending_key, .. }) = self.stack.last_mut()
                {
                    *pending_key = Some(("?".to_string(), pos));
                }
            }
            _ => {}
        }
    }

    /// Records a node starting at `pos` and returns its path, or `None` when the node is a
    /// mapping key (a scalar key is remembered for the value that follows).
    fn node_path(&mut self, pos: Pos, scalar: Option<&str>) -> Option<String> {
        let (path, key_pos) = match self.stack.last_mut() {
            None => (String::new(), pos),
            Some(Frame::Mapping { path, pending_key }) => match pending_key.take() {
                None => {
                    if let Some(key) = scalar {
                        *pending_key = Some((key.to_string(), pos));
                    }
                    return None;
                }
                Some((key, key_pos)) => (join_key(path, &key), key_pos),
            },
            Some(Frame::Sequence { path, next }) => {
                let path = join_index(path, *next);
                *next += 1;
                (path, pos)
            }
            Some(Frame::ComplexKey { path, .. }) => (path.clone(), pos),
        };
        self.index.insert(
            path.clone(),
            NodePos {
                key: key_pos,
                value: pos,
            },
        );
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_keys_and_values_by_path() {
        let docs =
            split_documents("service: a\nslos:\n  - name: x\n    sli: {events: {total: t}}\n")
                .unwrap();
        assert_eq!(docs.len(), 1);
        let index = &docs[0].index;
        assert_eq!(index.report_pos("slos[0].name"), Pos { line: 3, col: 5 });
        assert_eq!(
            index.value_pos("slos[0].name"),
            Some(Pos { line: 3, col: 11 })
        );
        assert_eq!(
            index.report_pos("slos[0].sli.events.total"),
            Pos { line: 4, col: 20 }
        );
        // A missing field is reported at its nearest existing ancestor's value.
        assert_eq!(
            index.report_pos("slos[0].sli.events.errors"),
            Pos { line: 4, col: 19 }
        );
        let first_key = Pos { line: 3, col: 5 };
        assert_eq!(index.path_at(first_key, false), Some("slos[0].name"));
        assert_eq!(index.path_at(first_key, true), Some("slos[0]"));
    }

    #[test]
    fn splits_documents_keeping_file_lines() {
        let text = "# lead\na: 1\n---\nb:\n  c: 2\n---\n# nothing\n";
        let docs = split_documents(text).unwrap();
        assert_eq!(docs.len(), 2, "the trailing empty document is skipped");
        assert_eq!(docs[1].line_offset, 2);
        assert_eq!(docs[1].index.report_pos("b.c"), Pos { line: 5, col: 3 });
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct B {
            #[allow(dead_code)]
            c: u32,
        }
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            #[allow(dead_code)]
            b: B,
        }
        let err = split_documents("a: 1\n---\nb:\n  d: 2\n").unwrap()[1]
            .decode::<Doc>()
            .unwrap_err();
        assert_eq!(err.pos, Pos { line: 4, col: 3 });
        assert_eq!(err.path.as_deref(), Some("b.d"));
        assert!(
            err.message.starts_with("unknown field `d`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = split_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(
            err.message.starts_with("YAML syntax error"),
            "{}",
            err.message
        );
        assert!(err.pos.line >= 1);
    }
}
