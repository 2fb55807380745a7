//! [`Params`]: a layer's `key=value` pairs, read with typed getters that remember what
//! the driver asked for.

use std::time::Duration;

use super::error::{SpecError, SpecErrorKind, did_you_mean};
use super::{Span, is_valid_name};
use irp::units::{self, ValueError};

/// The parameters of one layer, in the order written.
///
/// A driver reads them with the typed getters (`get_size`, `get_bool`, ...), which
/// return `Ok(None)` for an absent key and an error naming the layer, the key and the
/// value for a malformed one; [`Params::finish`] then refuses any key nobody read.
/// Equality compares keys and values in order, not spans or what was read.
#[derive(Clone, Debug, Default)]
pub struct Params {
    layer: String,
    entries: Vec<Entry>,
    asked: Vec<String>,
}

#[derive(Clone, Debug)]
struct Entry {
    key: String,
    value: String,
    key_span: Option<Span>,
    value_span: Option<Span>,
    used: bool,
}

impl PartialEq for Params {
    fn eq(&self, other: &Params) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Params {}

impl Params {
    /// No parameters.
    pub fn new() -> Params {
        Params::default()
    }

    /// Adds `key=value`. Fails if the key is not `[a-z0-9_-]+` or is already present.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) -> Result<(), SpecError> {
        self.insert_at(key, value.into(), None, None)
    }

    pub(crate) fn insert_at(
        &mut self,
        key: &str,
        value: String,
        key_span: Option<Span>,
        value_span: Option<Span>,
    ) -> Result<(), SpecError> {
        let mut error = None;
        if !is_valid_name(key) {
            error = Some(SpecError::syntax(format!(
                "invalid parameter name `{key}`: use lowercase letters, digits, `_` and `-`"
            )));
        } else if self.contains(key) {
            let kind = SpecErrorKind::DuplicateParam { layer: self.layer.clone(), key: key.to_owned() };
            error = Some(SpecError::new(kind).with_help("give each parameter once"));
        }
        if let Some(error) = error {
            return Err(error.maybe_at(key_span));
        }
        self.entries.push(Entry { key: key.to_owned(), value, key_span, value_span, used: false });
        Ok(())
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(key, value)` pairs in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|e| (e.key.as_str(), e.value.as_str()))
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.key == key)
    }

    /// The raw value of `key`, without marking it read.
    pub fn peek(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|e| e.key == key).map(|e| e.value.as_str())
    }

    /// The driver these parameters belong to (used in messages).
    pub fn layer(&self) -> &str {
        &self.layer
    }

    /// Where `key` was written, if it was parsed.
    pub fn key_span(&self, key: &str) -> Option<Span> {
        self.entries.iter().find(|e| e.key == key).and_then(|e| e.key_span)
    }

    pub(crate) fn set_layer(&mut self, layer: &str) {
        layer.clone_into(&mut self.layer);
    }

    /// Forgets what was read (before building the layer again).
    pub(crate) fn reset(&mut self) {
        self.asked.clear();
        self.entries.iter_mut().for_each(|e| e.used = false);
    }

    /// Marks `key` read and returns its value and span.
    fn take(&mut self, key: &str) -> Option<(&str, Option<Span>)> {
        if !self.asked.iter().any(|k| k == key) {
            self.asked.push(key.to_owned());
        }
        let entry = self.entries.iter_mut().find(|e| e.key == key)?;
        entry.used = true;
        Some((entry.value.as_str(), entry.value_span))
    }

    /// The string value of `key`.
    pub fn get_str(&mut self, key: &str) -> Option<&str> {
        self.take(key).map(|(value, _)| value)
    }

    /// The string value of `key`, which must be present.
    pub fn require_str(&mut self, key: &str) -> Result<&str, SpecError> {
        if self.contains(key) {
            return Ok(self.get_str(key).unwrap_or_default());
        }
        self.asked.push(key.to_owned());
        Err(self.missing(key))
    }

    fn typed<T>(
        &mut self,
        key: &str,
        parse: fn(&str) -> Result<T, ValueError>,
    ) -> Result<Option<T>, SpecError> {
        let Some((value, span)) = self.take(key) else { return Ok(None) };
        match parse(value) {
            Ok(v) => Ok(Some(v)),
            Err(ValueError(reason)) => {
                let value = value.to_owned();
                let error = self.invalid_value(key, &value, reason);
                Err(error.maybe_at(span))
            }
        }
    }

    /// A size in bytes (`4096`, `256M`, `1GiB`, `1.5G`; see [`units::parse_size`]).
    pub fn get_size(&mut self, key: &str) -> Result<Option<u64>, SpecError> {
        self.typed(key, units::parse_size)
    }

    /// An unsigned integer (decimal or `0x` hexadecimal).
    pub fn get_u64(&mut self, key: &str) -> Result<Option<u64>, SpecError> {
        self.typed(key, units::parse_u64)
    }

    /// A boolean (`true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`).
    pub fn get_bool(&mut self, key: &str) -> Result<Option<bool>, SpecError> {
        self.typed(key, units::parse_bool)
    }

    /// A duration with its unit (`500ms`, `2s`, `1m`; see [`units::parse_duration`]).
    pub fn get_duration(&mut self, key: &str) -> Result<Option<Duration>, SpecError> {
        self.typed(key, units::parse_duration)
    }

    /// A size within `range` (an error naming the bounds otherwise).
    pub fn get_size_in(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, SpecError> {
        let value = self.get_size(key)?;
        match value {
            Some(v) if !range.contains(&v) => Err(self.invalid(
                key,
                format!("must be from {} to {}", show_size(*range.start()), show_size(*range.end())),
            )),
            _ => Ok(value),
        }
    }

    /// An integer within `range`.
    pub fn get_u64_in(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, SpecError> {
        let value = self.get_u64(key)?;
        match value {
            Some(v) if !range.contains(&v) => {
                Err(self.invalid(key, format!("must be from {} to {}", range.start(), range.end())))
            }
            _ => Ok(value),
        }
    }

    /// A duration within `range`, or zero when `zero_ok` (where 0 means "never" or
    /// "only at the end").
    pub fn get_duration_in(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<Duration>,
        zero_ok: bool,
    ) -> Result<Option<Duration>, SpecError> {
        let value = self.get_duration(key)?;
        match value {
            Some(d) if d.is_zero() && zero_ok => Ok(value),
            Some(d) if !range.contains(&d) => {
                let zero = if zero_ok { ", or 0" } else { "" };
                Err(self.invalid(key, format!("must be from {:?} to {:?}{zero}", range.start(), range.end())))
            }
            _ => Ok(value),
        }
    }

    /// One of `choices`, exactly as written there.
    pub fn get_enum<'c>(&mut self, key: &str, choices: &[&'c str]) -> Result<Option<&'c str>, SpecError> {
        let Some((value, span)) = self.take(key) else { return Ok(None) };
        if let Some(choice) = choices.iter().find(|c| **c == value) {
            return Ok(Some(choice));
        }
        let value = value.to_owned();
        let reason = format!("expected one of {}", choices.join(", "));
        let mut error = self.invalid_value(key, &value, reason);
        if let Some(help) = did_you_mean(&value, choices.iter().copied()) {
            error = error.with_help(help);
        }
        Err(error.maybe_at(span))
    }

    /// Fails on the first parameter no getter asked for, listing the ones asked for.
    pub fn finish(&self) -> Result<(), SpecError> {
        let Some(unused) = self.entries.iter().find(|e| !e.used) else { return Ok(()) };
        let kind = SpecErrorKind::UnknownParam {
            layer: self.layer.clone(),
            key: unused.key.clone(),
            accepted: self.asked.clone(),
        };
        let mut error = SpecError::new(kind);
        if let Some(help) = did_you_mean(&unused.key, self.asked.iter().map(String::as_str)) {
            error = error.with_help(help);
        }
        Err(error.maybe_at(unused.key_span))
    }

    /// The error for a required `key` that is absent.
    pub fn missing(&self, key: &str) -> SpecError {
        SpecError::new(SpecErrorKind::MissingParam { layer: self.layer.clone(), key: key.to_owned() })
            .with_help(format!("add `{key}=...` to the `{}` layer", self.layer))
    }

    /// The error for a `key` whose value a driver refuses for its own reasons (e.g. a
    /// sector size that is not a power of two), pointing at the value.
    pub fn invalid(&self, key: &str, reason: impl Into<String>) -> SpecError {
        let entry = self.entries.iter().find(|e| e.key == key);
        let value = entry.map(|e| e.value.clone()).unwrap_or_default();
        let error = self.invalid_value(key, &value, reason.into());
        error.maybe_at(entry.and_then(|e| e.value_span))
    }

    fn invalid_value(&self, key: &str, value: &str, reason: String) -> SpecError {
        SpecError::new(SpecErrorKind::InvalidValue {
            layer: self.layer.clone(),
            key: key.to_owned(),
            value: value.to_owned(),
            reason,
        })
    }
}

/// `bytes` in the largest unit that divides it (`64K`, `1G`, `4096`).
fn show_size(bytes: u64) -> String {
    for (shift, unit) in [(60, "E"), (50, "P"), (40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}
