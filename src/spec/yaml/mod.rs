//! YAML with positions: splits a file into documents, indexes every node by its field path, and
//! decodes a document into a serde type with errors that carry a line and column.
//!
//! Why an index of paths rather than `Spanned<T>` on every field: semantic checks run on plain
//! format types and report a field path (`slos[1].objective`); the index turns that path into the
//! position the user needs. Serde's own errors (unknown field, wrong type) already carry a position,
//! and the index turns that position back into a path, so every message has both.

use serde::de::DeserializeOwned;

mod index;
mod messages;

use index::{IndexBuilder, parent_path};
pub use index::{PathIndex, join_index, join_key};
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
            let raw = messages::strip_location_suffix(&err.to_string());
            let path = if raw.starts_with("missing field") {
                // Reported at a key of the mapping that lacks the field: name the mapping,
                // and point at its start.
                self.index.path_at(pos, false).and_then(parent_path)
            } else {
                self.index.path_at(pos, false)
            };
            let pos = match (&path, raw.starts_with("missing field")) {
                (Some(p), true) => self.index.value_pos(p).unwrap_or(pos),
                _ => pos,
            };
            YamlError {
                pos,
                message: messages::explain(&raw, self.index.scalar_at(pos)),
                path: path.map(str::to_string),
            }
        })
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

    let lines = yaml_lines(text);
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
        let from = (first_line - 1).min(lines.len());
        let to = (end_line - 1).min(lines.len()).max(from);
        let text: String = lines[from..to].concat();
        documents.push(Document {
            text,
            line_offset: first_line - 1,
            index: std::mem::take(&mut found[i].1),
        });
    }
    Ok(documents)
}

/// The text's lines, each with its line break, as YAML counts them (YAML 1.2, 5.4): a line
/// ends at LF, at CRLF, or at a lone CR. The parser's positions count the same way; splitting at
/// LF only made a file with lone CRs hold fewer lines than the parser reported (found by
/// fuzzing: a slice past the end, a panic).
fn yaml_lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let ends = b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
        if ends {
            // CR and LF are ASCII: a byte index next to them is a char boundary.
            lines.push(&text[start..=i]);
            start = i + 1;
        }
    }
    if start < bytes.len() {
        lines.push(&text[start..]);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_at_lf_crlf_and_a_lone_cr_as_the_parser_counts_them() {
        assert_eq!(yaml_lines("a\nb\r\nc\rd"), ["a\n", "b\r\n", "c\r", "d"]);
        assert_eq!(yaml_lines(""), Vec::<&str>::new());
        // Lone CRs before a later document: the parser's line numbers run past the LF count.
        let text = "a: 1\r\r\r\r\n---\nb: 2\n";
        let docs = split_documents(text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].line_offset, 4);
        assert_eq!(docs[1].text, "---\nb: 2\n");
    }

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
