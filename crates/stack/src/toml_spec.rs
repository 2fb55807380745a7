//! Stack specs in TOML files, in either of two forms:
//!
//! ```toml
//! stack = "cache(size=1G) / file(path=x.img)"
//! ```
//!
//! ```toml
//! [[layer]]            # top first
//! driver = "cache"
//! size = "256M"
//! mode = "writeback"
//!
//! [[layer]]
//! driver = "file"
//! path = "x.img"
//! direct = true
//! ```
//!
//! In tables, strings, integers and booleans become the same [`Params`] values as in a
//! spec string (`4096` → `"4096"`, `true` → `"true"`), in the order written.

use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{SpecError, SpecErrorKind, did_you_mean};
use super::{LayerSpec, Params, Span, StackSpec, is_valid_name};

type Value<'i> = Spanned<DeValue<'i>>;

fn span_of<T>(v: &Spanned<T>) -> Span {
    (v.span().start, v.span().end)
}

fn toml_error(message: impl Into<String>) -> SpecError {
    SpecError::toml(message)
}

impl StackSpec {
    /// Reads a spec from a TOML document (`stack = "..."` or `[[layer]]` tables).
    pub fn from_toml(text: &str) -> Result<StackSpec, SpecError> {
        from_toml(text).map_err(|e| e.with_text(text))
    }

    /// Reads a spec from a TOML file. Relative paths in it are the caller's to resolve
    /// (see [`BuildContext::with_base_dir`](super::BuildContext::with_base_dir)).
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<StackSpec, SpecError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| SpecError::new(SpecErrorKind::Io { path: path.to_owned(), source }))?;
        StackSpec::from_toml(&text).map_err(|e| e.with_origin(path.display().to_string()))
    }
}

fn from_toml(text: &str) -> Result<StackSpec, SpecError> {
    let document = DeTable::parse(text).map_err(|e| {
        let error = toml_error(format!("invalid TOML: {}", e.message().trim()));
        error.maybe_at(e.span().map(|r| (r.start, r.end)))
    })?;
    let (mut stack, mut layers) = (None, None);
    for (key, value) in document.get_ref().iter() {
        match key.get_ref().as_ref() {
            "stack" => stack = Some(value),
            "layer" => layers = Some(value),
            other => {
                let error =
                    toml_error(format!("unknown top-level key `{other}`: expected `stack` or `layer`"))
                        .at(span_of(key));
                return Err(match did_you_mean(other, ["stack", "layer"]) {
                    Some(help) => error.with_help(help),
                    None => error,
                });
            }
        }
    }
    match (stack, layers) {
        (Some(_), Some(layers)) => {
            Err(toml_error("use either `stack = \"...\"` or `[[layer]]` tables, not both")
                .at(span_of(layers)))
        }
        (Some(stack), None) => match stack.get_ref() {
            DeValue::String(s) => s.parse(),
            other => Err(toml_error(format!("`stack` must be a string, found {}", other.type_str()))
                .at(span_of(stack))),
        },
        (None, Some(layers)) => layer_tables(layers, text),
        (None, None) => Err(toml_error("expected `stack = \"...\"` or `[[layer]]` tables")
            .with_help("e.g. stack = \"memory(size=1G)\"")),
    }
}

fn layer_tables(layers: &Value<'_>, text: &str) -> Result<StackSpec, SpecError> {
    let DeValue::Array(items) = layers.get_ref() else {
        return Err(toml_error(format!(
            "`layer` must be an array of tables, found {}",
            layers.get_ref().type_str()
        ))
        .at(span_of(layers))
        .with_help("write each layer as a `[[layer]]` table"));
    };
    if items.is_empty() {
        return Err(SpecError::new(SpecErrorKind::Empty).at(span_of(layers)));
    }
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let DeValue::Table(table) = item.get_ref() else {
            return Err(toml_error(format!(
                "layer {index} must be a table, found {}",
                item.get_ref().type_str()
            ))
            .at(span_of(item)));
        };
        out.push(layer_table(index, table, span_of(item))?);
    }
    Ok(StackSpec::with_source(out, text))
}

fn layer_table(index: usize, table: &DeTable<'_>, span: Span) -> Result<LayerSpec, SpecError> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    let Some(&(_, driver)) = entries.iter().find(|(key, _)| key.get_ref() == "driver") else {
        return Err(toml_error(format!("layer {index} has no `driver`"))
            .at(span)
            .with_help("add e.g. `driver = \"memory\"` to the table"));
    };
    let DeValue::String(name) = driver.get_ref() else {
        return Err(toml_error(format!("`driver` must be a string, found {}", driver.get_ref().type_str()))
            .at(span_of(driver)));
    };
    if !is_valid_name(name) {
        return Err(SpecError::syntax(format!(
            "invalid driver name `{name}`: use lowercase letters, digits, `_` and `-`"
        ))
        .at(span_of(driver)));
    }
    let mut params = Params::new();
    params.set_layer(name);
    for &(key, value) in &entries {
        if key.get_ref() == "driver" {
            continue;
        }
        let text = match value.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Boolean(b) => b.to_string(),
            DeValue::Integer(i) => match i128::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => n.to_string(),
                Err(_) => return Err(toml_error("integer out of range").at(span_of(value))),
            },
            other => {
                let error = toml_error(format!(
                    "wrong type for `{}` in layer `{name}`: expected a string, integer or boolean, found {}",
                    key.get_ref(),
                    other.type_str()
                ))
                .at(span_of(value));
                return Err(error.with_help(format!("write it as a string: {} = \"...\"", key.get_ref())));
            }
        };
        params.insert_at(key.get_ref(), text, Some(span_of(key)), Some(span_of(value)))?;
    }
    Ok(LayerSpec::parsed(name, params, span, span_of(driver)))
}
