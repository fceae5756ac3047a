//! The one error type of the crate's boundary: setup errors only. Failed requests are data.

/// What can stop a load run before it starts (or a merge before it combines).
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// The scenario could not be loaded: fix the file or the name (see `cclab scenarios list`).
    #[error(transparent)]
    Scenario(#[from] cclab_scenarios::ScenarioError),
    /// The target profile is malformed or inconsistent; the message names the file, the step
    /// and the key, and what is allowed.
    #[error("{file}: {message}")]
    Profile { file: String, message: String },
    /// A command-line option is out of range or inconsistent (e.g. `--shard 3/2`).
    #[error("{0}")]
    Options(String),
    /// The target URL is not an absolute `http://host:port` URL.
    #[error("invalid target {url:?}: {reason}")]
    Target { url: String, reason: String },
    /// A threshold expression does not parse; the message shows the grammar.
    #[error("invalid threshold {expr:?}: {reason}")]
    Threshold { expr: String, reason: String },
    /// A report file cannot be read, parsed or merged with the others.
    #[error("{file}: {message}")]
    Report { file: String, message: String },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
