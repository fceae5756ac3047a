//! The one error type of this crate's boundary: everything that can be wrong with a scenario.

use std::fmt;

/// Where in which file a problem sits: `file:line:column` and the dotted field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as the user named it (or `library/NAME.toml` for a shipped scenario).
    pub file: String,
    /// 1-based line, when the position is known.
    pub line: Option<usize>,
    /// 1-based column, when the position is known.
    pub column: Option<usize>,
    /// Field path such as `events[0].size.contacts`; empty for the whole file.
    pub path: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let (Some(line), Some(col)) = (self.line, self.column) {
            write!(f, ":{line}:{col}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        Ok(())
    }
}

/// Everything that can go wrong between a TOML file and a validated [`crate::Scenario`].
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read. Check the path and permissions.
    #[error("{file}: cannot read")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// No shipped scenario has this name and no file has this path.
    #[error("no scenario named `{name}` and no such file; shipped scenarios: {known}")]
    UnknownScenario { name: String, known: String },
    /// The file is not valid TOML, or a field is unknown, missing or of the wrong type.
    #[error("{at}: {message}")]
    Parse { at: Location, message: String },
    /// The file parses but a value is not allowed (a share sum, a negative count, a date outside
    /// the calendar, an unknown time zone...). The message says what is allowed.
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
    /// A generic event's CSV file of counts is malformed.
    #[error("{file}:{line}: {message}")]
    Csv {
        file: String,
        line: usize,
        message: String,
    },
}

impl ScenarioError {
    /// The location of a parse or validation error, if it has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ScenarioError::Parse { at, .. } | ScenarioError::Invalid { at, .. } => Some(at),
            _ => None,
        }
    }
}

/// 1-based line and column of a byte offset in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 11), (2, 6));
        assert_eq!(line_col(text, 999), (3, 1));
    }
}
