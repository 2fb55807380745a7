//! [`SpecError`]: what went wrong, where, and what to do about it, rendered like a
//! compiler diagnostic.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::{LayerSpec, Span};

/// What went wrong with a stack spec.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecErrorKind {
    /// The spec has no layer at all.
    #[error("empty stack spec: expected at least one layer, e.g. `memory(size=1G)`")]
    Empty,
    /// The text does not follow the grammar.
    #[error("{0}")]
    Syntax(String),
    /// No driver is registered under this name.
    #[error("unknown driver {name:?}")]
    UnknownDriver {
        /// The name written.
        name: String,
        /// The registered names.
        known: Vec<String>,
    },
    /// A key was given twice in one layer.
    #[error("duplicate parameter `{key}` in layer `{layer}`")]
    DuplicateParam {
        /// The layer's driver.
        layer: String,
        /// The key.
        key: String,
    },
    /// The driver does not take this parameter.
    #[error("unknown parameter `{key}` for layer `{layer}`")]
    UnknownParam {
        /// The layer's driver.
        layer: String,
        /// The key written.
        key: String,
        /// The keys the driver accepts.
        accepted: Vec<String>,
    },
    /// A parameter the driver needs is absent.
    #[error("layer `{layer}` needs parameter `{key}`")]
    MissingParam {
        /// The layer's driver.
        layer: String,
        /// The key.
        key: String,
    },
    /// A value does not have the form its parameter needs.
    #[error("invalid value {value:?} for `{key}` of layer `{layer}`: {reason}")]
    InvalidValue {
        /// The layer's driver.
        layer: String,
        /// The key.
        key: String,
        /// The value written.
        value: String,
        /// Why it is wrong.
        reason: String,
    },
    /// A filter is the last layer.
    #[error("`{driver}` is a filter and cannot be the bottom of a stack")]
    FilterAtBottom {
        /// The driver.
        driver: String,
    },
    /// A disk is above another layer.
    #[error("`{driver}` is a disk and must be the last layer")]
    DiskNotLast {
        /// The driver.
        driver: String,
    },
    /// A TOML document is malformed or has the wrong shape.
    #[error("{0}")]
    Toml(String),
    /// A spec file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A driver failed to create its device.
    #[error("cannot build layer `{layer}`: {source}")]
    Build {
        /// The layer's driver.
        layer: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// An error reading or building a stack spec: a [`SpecErrorKind`], the span it
/// concerns, the text the span points into, and a hint.
///
/// Its `Display` is a compiler-style diagnostic:
///
/// ```text
/// error: unknown driver "cahce" at 0..5
///    | cahce(size=1G) / memory
///    | ^^^^^
///    = note: known drivers: cache, file, memory, null, passthrough
///    = help: did you mean `cache`?
/// ```
#[derive(Debug)]
pub struct SpecError(Box<Inner>);

/// Boxed so that `Result<_, SpecError>` stays one pointer wide.
#[derive(Debug)]
struct Inner {
    kind: SpecErrorKind,
    span: Option<Span>,
    text: Option<Arc<str>>,
    origin: Option<String>,
    help: Option<String>,
    /// More errors found in the same check, reported with this one.
    also: Vec<SpecError>,
}

impl SpecError {
    /// An error of `kind`, with no position yet.
    pub fn new(kind: SpecErrorKind) -> SpecError {
        SpecError(Box::new(Inner {
            kind,
            span: None,
            text: None,
            origin: None,
            help: None,
            also: Vec::new(),
        }))
    }

    /// A [`SpecErrorKind::Syntax`] error.
    pub fn syntax(message: impl Into<String>) -> SpecError {
        SpecError::new(SpecErrorKind::Syntax(message.into()))
    }

    /// A [`SpecErrorKind::Toml`] error: the TOML form of a stack is wrong.
    pub fn toml(message: impl Into<String>) -> SpecError {
        SpecError::new(SpecErrorKind::Toml(message.into()))
    }

    /// A driver failed to create its device for `layer` (e.g. a [`irp::DeviceError`]
    /// or an I/O error opening its file).
    pub fn build_failed(
        layer: &LayerSpec,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> SpecError {
        SpecError::new(SpecErrorKind::Build { layer: layer.driver.clone(), source: source.into() })
            .at(layer.driver_span())
    }

    /// Sets the span (replacing any).
    pub fn at(mut self, span: Span) -> SpecError {
        self.0.span = Some(span);
        self
    }

    /// Sets the span if `span` is `Some`.
    pub(crate) fn maybe_at(mut self, span: Option<Span>) -> SpecError {
        if span.is_some() {
            self.0.span = span;
        }
        self
    }

    /// Sets the span unless one is set.
    pub fn or_at(mut self, span: Span) -> SpecError {
        self.0.span.get_or_insert(span);
        self
    }

    /// Adds a hint (replacing any).
    pub fn with_help(mut self, help: impl Into<String>) -> SpecError {
        self.0.help = Some(help.into());
        self
    }

    /// Attaches the text the span points into, unless some is attached already.
    pub fn with_text(mut self, text: impl Into<Arc<str>>) -> SpecError {
        let text = text.into();
        self.0.also =
            std::mem::take(&mut self.0.also).into_iter().map(|e| e.with_text(Arc::clone(&text))).collect();
        if self.0.text.is_none() {
            self.0.text = Some(text);
        }
        self
    }

    /// Adds the other errors found by the same check, reported after this one.
    pub fn with_also(mut self, also: Vec<SpecError>) -> SpecError {
        self.0.also.extend(also);
        self
    }

    /// The other errors found by the same check (a spec's errors are reported together).
    pub fn also(&self) -> &[SpecError] {
        &self.0.also
    }

    /// Names where the text came from (a file), shown before the line.
    pub fn with_origin(mut self, origin: impl Into<String>) -> SpecError {
        self.0.origin.get_or_insert_with(|| origin.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &SpecErrorKind {
        &self.0.kind
    }

    /// The byte range concerned, if known.
    pub fn span(&self) -> Option<Span> {
        self.0.span
    }

    /// The hint, if any.
    pub fn help(&self) -> Option<&str> {
        self.0.help.as_deref()
    }

    /// The text the span points into, if attached.
    pub fn text(&self) -> Option<&str> {
        self.0.text.as_deref()
    }

    fn note(&self) -> Option<String> {
        match &self.0.kind {
            SpecErrorKind::UnknownDriver { known, .. } => {
                Some(format!("known drivers: {}", known.join(", ")))
            }
            SpecErrorKind::UnknownParam { layer, accepted, .. } if accepted.is_empty() => {
                Some(format!("`{layer}` takes no parameters"))
            }
            SpecErrorKind::UnknownParam { accepted, .. } => {
                Some(format!("accepted parameters: {}", accepted.join(", ")))
            }
            _ => None,
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.0.kind)?;
        if let Some((start, end)) = self.0.span {
            write!(f, " at {start}..{end}")?;
        }
        if let (Some(text), Some(span)) = (&self.0.text, self.0.span) {
            snippet(f, text, span, self.0.origin.as_deref())?;
        } else if let Some(origin) = &self.0.origin {
            write!(f, "\n  --> {origin}")?;
        }
        if let Some(note) = self.note() {
            write!(f, "\n   = note: {note}")?;
        }
        if let Some(help) = &self.0.help {
            write!(f, "\n   = help: {help}")?;
        }
        for other in &self.0.also {
            write!(f, "\n\n{other}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0.kind)
    }
}

/// The largest char boundary of `text` not after `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Writes the line holding `span` with carets under the span.
fn snippet(f: &mut fmt::Formatter<'_>, text: &str, span: Span, origin: Option<&str>) -> fmt::Result {
    let start = floor_boundary(text, span.0);
    let end = floor_boundary(text, span.1.max(span.0));
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let column = text[line_start..start].chars().count();
    if origin.is_some() || text.contains('\n') {
        let line = text[..start].matches('\n').count() + 1;
        write!(
            f,
            "\n  --> {}line {line}, column {}",
            origin.map(|o| format!("{o}: ")).unwrap_or_default(),
            column + 1
        )?;
    }
    let shown: String =
        text[line_start..line_end].chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let width = text[start..end.min(line_end)].chars().count().max(1);
    write!(f, "\n   | {shown}\n   | {}{}", " ".repeat(column), "^".repeat(width))
}

/// The candidate closest to `word` by edit distance, if close enough to be a likely typo.
pub(crate) fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let original = word;
    let word = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != original)
        .map(|c| (distance(&word, c), c))
        .filter(|&(d, c)| d <= limit || (word.len() >= 3 && c.starts_with(&word)))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// "Did you mean `x`?" for the closest candidate.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    suggest(word, candidates).map(|s| format!("did you mean `{s}`?"))
}

/// Optimal string alignment distance: edits, counting a swap of neighbours as one.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}
