//! The path index: every node of a document by field path, with its position.

use std::collections::HashMap;

use serde_saphyr::granit_parser::Event;

use super::Pos;

/// Where a node sits: the position of its key (for mapping values) and of its value.
#[derive(Debug, Clone)]
struct NodePos {
    key: Pos,
    value: Pos,
    /// The scalar's text (shortened), to quote what was found in type errors.
    scalar: Option<String>,
}

/// Every node of one document by field path (`slos[0].sli.events.errors`).
#[derive(Debug, Default)]
pub struct PathIndex {
    by_path: HashMap<String, NodePos>,
    /// Every node in document order, duplicate keys included (the map keeps the first).
    all: Vec<(String, NodePos)>,
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
            .all
            .iter()
            .filter(|(_, n)| n.key == pos || n.value == pos)
            .map(|(p, _)| p.as_str());
        if container {
            matching.min_by_key(|p| (p.len(), *p))
        } else {
            matching.max_by_key(|p| (p.len(), *p))
        }
    }

    /// The scalar text at `pos`, if a scalar value starts there.
    pub fn scalar_at(&self, pos: Pos) -> Option<&str> {
        self.all
            .iter()
            .find(|(_, n)| n.value == pos && n.scalar.is_some())
            .and_then(|(_, n)| n.scalar.as_deref())
    }

    fn insert(&mut self, path: String, node: NodePos) {
        self.all.push((path.clone(), node.clone()));
        self.by_path.entry(path).or_insert(node);
    }
}

/// The path one level up: `a.b[2]` -> `a.b`, `a.b` -> `a`, `a` -> `` (the root), root -> none.
pub fn parent_path(path: &str) -> Option<&str> {
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

/// Builds a [`PathIndex`] from parser events.
#[derive(Default)]
pub(super) struct IndexBuilder {
    /// The index built so far.
    pub(super) index: PathIndex,
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
    pub(super) fn is_empty_document(&self) -> bool {
        self.root_is_null.unwrap_or(true)
    }

    pub(super) fn event(&mut self, event: &Event<'_>, pos: Pos) {
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
        let scalar = scalar.map(|text| {
            let mut short: String = text.chars().take(40).collect();
            if short.len() < text.len() {
                short.push('…');
            }
            short
        });
        self.index.insert(
            path.clone(),
            NodePos {
                key: key_pos,
                value: pos,
                scalar,
            },
        );
        Some(path)
    }
}
