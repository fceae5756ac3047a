//! Finds the line and column of a field path (`events[0].size.contacts`) in a TOML text, so
//! that validation errors, which are found on the deserialised structs, can point into the file.

use crate::error::{Location, line_col};
use toml_edit::{Document, Item, Table, Value};

enum Node<'a> {
    Item(&'a Item),
    Table(&'a Table),
    Value(&'a Value),
}

impl Node<'_> {
    fn span(&self) -> Option<std::ops::Range<usize>> {
        match self {
            Node::Item(i) => i.span(),
            Node::Table(t) => t.span(),
            Node::Value(v) => v.span(),
        }
    }
}

enum Segment<'p> {
    Key(&'p str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            out.push(Segment::Key(key));
        }
        for idx in rest.split('[') {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                out.push(Segment::Index(i));
            }
        }
    }
    out
}

fn child<'a>(node: &Node<'a>, seg: &Segment<'_>) -> Option<Node<'a>> {
    match (node, seg) {
        (Node::Item(Item::Table(t)), Segment::Key(k)) => t.get(k).map(Node::Item),
        (Node::Table(t), Segment::Key(k)) => t.get(k).map(Node::Item),
        (Node::Item(Item::Value(Value::InlineTable(t))), Segment::Key(k))
        | (Node::Value(Value::InlineTable(t)), Segment::Key(k)) => t.get(k).map(Node::Value),
        (Node::Item(Item::ArrayOfTables(a)), Segment::Index(i)) => a.get(*i).map(Node::Table),
        (Node::Item(Item::Value(Value::Array(a))), Segment::Index(i))
        | (Node::Value(Value::Array(a)), Segment::Index(i)) => a.get(*i).map(Node::Value),
        _ => None,
    }
}

/// The location of `path` in `text`: the deepest part of the path that exists, so a missing
/// field points at its parent table.
pub fn locate(file: &str, text: &str, path: &str) -> Location {
    let mut at = Location {
        file: file.to_string(),
        line: None,
        column: None,
        path: path.to_string(),
    };
    let Ok(doc) = Document::parse(text.to_string()) else {
        return at;
    };
    let mut node = Node::Table(doc.as_table());
    let mut span = None;
    for seg in segments(path) {
        match child(&node, &seg) {
            Some(next) => {
                span = next.span().or(span);
                node = next;
            }
            None => break,
        }
    }
    if let Some(span) = span {
        let (line, column) = line_col(text, span.start);
        at.line = Some(line);
        at.column = Some(column);
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_fields() {
        let text = "name = \"x\"\n[calendar]\ndays = 3\n\n[[events]]\nname = \"a\"\n\n[[events]]\nname = \"b\"\nsize = { peak_day = \"2012-05-29\", contacts = -5 }\nshocks = [ { time = \"t\", magnitude = 5 }, { time = \"u\", magnitude = 6 } ]\n";
        let at = locate("f.toml", text, "calendar.days");
        assert_eq!((at.line, at.column), (Some(3), Some(8)));
        let at = locate("f.toml", text, "events[1].size.contacts");
        assert_eq!(at.line, Some(10));
        assert_eq!(at.column, Some(46));
        let at = locate("f.toml", text, "events[1].shocks[1].magnitude");
        assert_eq!(at.line, Some(11));
        assert_eq!(
            at.to_string(),
            "f.toml:11:69: events[1].shocks[1].magnitude"
        );
        // A missing field points at its parent table's header.
        let at = locate("f.toml", text, "events[0].size");
        assert_eq!(at.line, Some(5));
    }
}
