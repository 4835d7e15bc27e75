//! The user-facing error type: a message, optional cause, hints, and the exit code it maps to.
//!
//! Every failure a user can reach ends up here so that the binary can print
//! `error: …` / `  caused by: …` / `hint: …` and exit with the documented code.

use std::fmt;

/// Exit codes, documented in README.md ("Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitKind {
    /// 1: a general error.
    Failure,
    /// 2: bad usage or an invalid manifest.
    Usage,
    /// 3: a merge conflict.
    Conflict,
    /// 4: an ownership violation.
    Violation,
    /// 5: verification failed.
    Verify,
    /// 130: interrupted (Ctrl-C, SIGTERM) and cleaned up.
    Interrupted,
}

impl ExitKind {
    pub fn code(self) -> i32 {
        match self {
            ExitKind::Failure => 1,
            ExitKind::Usage => 2,
            ExitKind::Conflict => 3,
            ExitKind::Violation => 4,
            ExitKind::Verify => 5,
            ExitKind::Interrupted => 130,
        }
    }
}

/// An error with enough context for a user to act on it.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    pub kind: ExitKind,
    pub message: String,
    pub hints: Vec<String>,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ExitKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hints: Vec::new(),
            source: None,
        }
    }

    /// A general failure (exit code 1).
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(ExitKind::Failure, message)
    }

    /// Bad usage or invalid manifest (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitKind::Usage, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// A module's typed error as the user-facing error: its `Display` is the message, its
    /// [`Typed::exit_kind`] the exit code, and it stays the source so that the binary can find
    /// it again ([`Error::find`]) to add hints that name commands.
    pub fn typed(err: impl Typed) -> Self {
        Error {
            kind: err.exit_kind(),
            message: err.to_string(),
            hints: Vec::new(),
            source: Some(Box::new(err)),
        }
    }

    /// The first error of type `E` in the chain (this error's sources, outermost first).
    pub fn find<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.sources().find_map(|cause| cause.downcast_ref::<E>())
    }

    /// The chain of causes below the message, outermost first.
    pub fn causes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for cause in self.sources() {
            let text = cause.to_string();
            // A typed error made with [`Error::typed`] is its own message: not a cause.
            let repeats = out.last().unwrap_or(&self.message) == &text;
            if !text.is_empty() && !repeats {
                out.push(text);
            }
        }
        out
    }

    /// This error's sources, outermost first.
    fn sources(&self) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
        std::iter::successors(std::error::Error::source(self), |cause| cause.source())
    }

    /// The message and its causes on one line (`message: cause: cause`), for reports that
    /// keep an error as text.
    pub fn full_message(&self) -> String {
        let mut text = self.message.clone();
        for cause in self.causes() {
            text.push_str(": ");
            text.push_str(&cause);
        }
        text
    }
}

/// Attach a message to any error, keeping it as the cause.
pub trait Context<T> {
    fn context(self, message: impl Into<String>) -> Result<T>;
    fn with_context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T>;
}

impl<T, E> Context<T> for std::result::Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn context(self, message: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::failure(message).with_source(e))
    }

    fn with_context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T> {
        self.map_err(|e| Error::failure(message()).with_source(e))
    }
}

/// Add a hint to an already-built error result.
pub trait Hint<T> {
    fn hint(self, hint: impl Into<String>) -> Result<T>;
}

impl<T> Hint<T> for Result<T> {
    fn hint(self, hint: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.hint(hint))
    }
}

/// A module's error enum: each variant says what went wrong in the module's own terms, and
/// which exit code that is. Hints that name droidforge commands are added by the binary.
pub trait Typed: std::error::Error + Send + Sync + 'static {
    fn exit_kind(&self) -> ExitKind;
}

impl<E: Typed> From<E> for Error {
    fn from(err: E) -> Self {
        Error::typed(err)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::failure("I/O error").with_source(e)
    }
}

/// Suggest a known name close to `given` ("a droid with a similar name exists").
pub fn similar_name<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (edit_distance(given, k), k))
        .filter(|(d, k)| *d <= (k.len().max(given.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_names_are_suggested() {
        let known = ["core-droid", "infra-droid"];
        assert_eq!(similar_name("core-droit", known), Some("core-droid"));
        assert_eq!(similar_name("xyz", known), None);
    }
}
