//! # stack — irpstack's composition root
//!
//! Stack specs: the text that says which drivers make up a stack, top to bottom, and
//! how a spec becomes a device stack. This crate is the only one that knows every driver:
//! [`factories`] holds one factory per driver, [`DriverRegistry`] finds them by name. A
//! driver crate never depends on another driver crate, nor on this one.
//!
//! ```text
//! cache(size=256M,mode=writeback) / stats / file(path=/var/lib/x.img,direct=true)
//! ```
//!
//! # Syntax
//!
//! ```text
//! spec   := layer ( "/" layer )*           top first; the last layer is a disk
//! layer  := name [ "(" [ param ( "," param )* ] ")" ]
//! param  := key "=" value
//! value  := bare | quoted
//! ```
//!
//! - Names and keys are `[a-z0-9_-]+`. Whitespace around tokens is ignored.
//! - Layers are split by `/` only outside parentheses, so `path=/var/lib/x.img` keeps its
//!   slashes. A bare value runs to the next `,` or `)` outside nested parentheses
//!   (`when=or(a,b)` is one value) and may contain `/`, `.`, `:` and `=`; surrounding
//!   whitespace is trimmed. It may not contain `"`.
//! - A quoted value `"..."` may contain anything; `\"` and `\\` are its only escapes.
//!   `key=""` is the empty string; `key=` is an error.
//! - Duplicate keys, empty layers (`a//b`), unbalanced parentheses, trailing input and an
//!   empty spec are errors, reported with their byte span and a caret under the text.
//!
//! The [`Display`](std::fmt::Display) form is canonical (` / ` between layers, no spaces
//! inside parentheses, values quoted only when they must be) and parses back to an equal
//! [`StackSpec`]. Spans are positions in the source and are not part of equality.
//!
//! Values are typed when a driver reads them, with [`Params`]: see [`irp::units`] for sizes
//! (`4096`, `256M`, `1GiB`, `1.5G`), durations (`500ms`, `2s`), booleans and integers.
//! Specs also come from TOML files ([`StackSpec::from_toml`]). A [`DriverRegistry`]
//! turns a spec into a device stack.

#![warn(missing_docs)]

mod error;
pub mod factories;
mod params;
mod parse;
mod registry;
mod toml_spec;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

pub use error::{SpecError, SpecErrorKind};
pub use params::Params;
pub use registry::{BuildContext, BuildFn, DriverFactory, DriverRegistry, LayerKind, ParamDoc, ParamKind};

/// A byte range `(start, end)` in the text a spec was read from.
pub type Span = (usize, usize);

/// A parsed stack: its layers, top first.
#[derive(Clone, Debug, Default)]
pub struct StackSpec {
    /// The layers, top first; the last one is the disk.
    pub layers: Vec<LayerSpec>,
    /// The text the spans point into (the spec string or the TOML document).
    source: Option<Arc<str>>,
}

/// One layer of a stack: a driver and its parameters.
#[derive(Clone, Debug)]
pub struct LayerSpec {
    /// The driver's name, e.g. `cache`.
    pub driver: String,
    /// The parameters, in the order written.
    pub params: Params,
    /// Where the layer was written (`(0, 0)` for layers built in code).
    pub span: Span,
    driver_span: Span,
}

impl StackSpec {
    /// A spec of `layers` (top first) built in code.
    pub fn new(layers: Vec<LayerSpec>) -> StackSpec {
        StackSpec { layers, source: None }
    }

    /// A spec given on a command line: the path of a TOML stack file (a name ending in
    /// `.toml`: `stack = "..."` or `[[layer]]` tables), or the spec itself.
    pub fn from_arg(arg: &str) -> Result<StackSpec, SpecError> {
        if arg.trim_end().ends_with(".toml") && !arg.contains('(') {
            StackSpec::from_toml_file(arg.trim())
        } else {
            StackSpec::parse(arg)
        }
    }

    /// Parses a spec string (the same as [`str::parse`]).
    pub fn parse(text: &str) -> Result<StackSpec, SpecError> {
        parse::parse(text)
    }

    /// The text the spans point into, if the spec was parsed.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    pub(crate) fn source_arc(&self) -> Option<&Arc<str>> {
        self.source.as_ref()
    }

    pub(crate) fn with_source(layers: Vec<LayerSpec>, source: &str) -> StackSpec {
        StackSpec { layers, source: Some(Arc::from(source)) }
    }
}

impl LayerSpec {
    /// A layer built in code.
    pub fn new(driver: impl Into<String>, mut params: Params) -> LayerSpec {
        let driver = driver.into();
        params.set_layer(&driver);
        LayerSpec { driver, params, span: (0, 0), driver_span: (0, 0) }
    }

    pub(crate) fn parsed(driver: &str, mut params: Params, span: Span, driver_span: Span) -> LayerSpec {
        params.set_layer(driver);
        LayerSpec { driver: driver.to_owned(), params, span, driver_span }
    }

    /// Where the driver's name was written.
    pub fn driver_span(&self) -> Span {
        self.driver_span
    }
}

impl PartialEq for StackSpec {
    fn eq(&self, other: &StackSpec) -> bool {
        self.layers == other.layers
    }
}

impl Eq for StackSpec {}

impl PartialEq for LayerSpec {
    fn eq(&self, other: &LayerSpec) -> bool {
        self.driver == other.driver && self.params == other.params
    }
}

impl Eq for LayerSpec {}

impl FromStr for StackSpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<StackSpec, SpecError> {
        parse::parse(text)
    }
}

impl fmt::Display for StackSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, layer) in self.layers.iter().enumerate() {
            if i > 0 {
                f.write_str(" / ")?;
            }
            write!(f, "{layer}")?;
        }
        Ok(())
    }
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.driver)?;
        if self.params.is_empty() {
            return Ok(());
        }
        f.write_str("(")?;
        for (i, (key, value)) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{key}=")?;
            write_value(f, value)?;
        }
        f.write_str(")")
    }
}

/// Writes a value bare when it reads back unchanged, else quoted.
fn write_value(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let bare = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_graphic() && !matches!(c, ',' | '(' | ')' | '"' | '\\'));
    if bare {
        return f.write_str(value);
    }
    f.write_str("\"")?;
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

/// Whether `name` is a valid driver name or parameter key: `[a-z0-9_-]+`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}
