//! Pretty JSON exactly as `serde_json::to_writer_pretty` writes it (two-space indent), with
//! each line break and its indentation written at once.
//!
//! serde_json's `PrettyFormatter` writes the indent one level at a time: a line ten levels
//! deep is ten writes. A service's dashboard has some 9,000 lines, mostly six to ten levels
//! deep, so that loop was a quarter of the time spent writing dashboards.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};

/// A comma, a line break and the indentation of the deepest line written at once; deeper
/// lines (none in a dashboard) take more writes.
const BREAK: &[u8] = b",\n                                                                ";

/// The most spaces [`BREAK`] holds.
const MAX_SPACES: usize = BREAK.len() - 2;

/// Writes `value` as pretty JSON into `out`; the bytes are those of
/// `serde_json::to_writer_pretty`.
pub(super) fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> serde_json::Result<()> {
    let mut serializer = Serializer::with_formatter(out, Pretty::default());
    value.serialize(&mut serializer)
}

/// `serde_json::ser::PrettyFormatter` with a two-space indent.
#[derive(Debug, Default)]
struct Pretty {
    /// Nesting depth of the value being written.
    depth: usize,
    /// Whether the innermost open array or object has an element (it then ends on its own
    /// line).
    has_value: bool,
}

impl Pretty {
    /// A line break (after a comma when `comma`) and the indentation of `self.depth`.
    fn line<W: ?Sized + Write>(&self, writer: &mut W, comma: bool) -> io::Result<()> {
        let mut spaces = self.depth * 2;
        let now = spaces.min(MAX_SPACES);
        writer.write_all(&BREAK[usize::from(!comma)..2 + now])?;
        spaces -= now;
        while spaces > 0 {
            let now = spaces.min(MAX_SPACES);
            writer.write_all(&BREAK[2..2 + now])?;
            spaces -= now;
        }
        Ok(())
    }
}

impl Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(writer, false)?;
        }
        writer.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.line(writer, !first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(writer, false)?;
        }
        writer.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.line(writer, !first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn writes_what_serde_json_writes_at_any_depth() {
        let mut deep = json!({"leaf": [1, {"a": [], "b": {}}, "x"]});
        for i in 0..40 {
            deep = json!({"level": i, "empty": [], "inner": deep, "list": [[i], null, {}]});
        }
        let mut ours = Vec::new();
        super::write(&mut ours, &deep).unwrap();
        let theirs = serde_json::to_vec_pretty(&deep).unwrap();
        assert_eq!(String::from_utf8(ours), String::from_utf8(theirs));
    }
}
