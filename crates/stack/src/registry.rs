//! [`DriverRegistry`]: driver names to factories, and building a device stack from a
//! [`StackSpec`], bottom first.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use irp::DeviceRef;

use super::error::{SpecError, SpecErrorKind, did_you_mean};
use super::{LayerSpec, StackSpec};

/// Where a driver sits in a stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// A disk: the last layer, with nothing below it.
    Bottom,
    /// A filter: above another layer, to which it forwards.
    Filter,
}

/// The type of a parameter, for help text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Any text.
    Str,
    /// A file path; relative paths are resolved by [`BuildContext::resolve_path`].
    Path,
    /// A size in bytes ([`Params::get_size`](super::Params::get_size)).
    Size,
    /// An unsigned integer.
    U64,
    /// A boolean.
    Bool,
    /// A duration with its unit.
    Duration,
    /// One of these words.
    Enum(&'static [&'static str]),
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamKind::Str => f.write_str("TEXT"),
            ParamKind::Path => f.write_str("PATH"),
            ParamKind::Size => f.write_str("SIZE"),
            ParamKind::U64 => f.write_str("N"),
            ParamKind::Bool => f.write_str("BOOL"),
            ParamKind::Duration => f.write_str("DURATION"),
            ParamKind::Enum(choices) => f.write_str(&choices.join("|")),
        }
    }
}

/// One parameter a driver accepts. The registry refuses any other key before building.
#[derive(Clone, Copy, Debug)]
pub struct ParamDoc {
    /// The key.
    pub key: &'static str,
    /// Its type.
    pub kind: ParamKind,
    /// The default, as written in a spec; `None` when required or when it has none.
    pub default: Option<&'static str>,
    /// One line of help.
    pub help: &'static str,
}

/// Creates a layer's device. It reads its parameters from `layer.params`, gets the
/// device below (`None` exactly for a [`LayerKind::Bottom`] driver) and names its
/// device [`BuildContext::device_name`].
pub type BuildFn =
    fn(layer: &mut LayerSpec, lower: Option<&DeviceRef>, ctx: &BuildContext) -> Result<DeviceRef, SpecError>;

/// A driver as the registry knows it: its name, documentation and constructor.
#[derive(Clone, Copy, Debug)]
pub struct DriverFactory {
    /// The name used in specs.
    pub name: &'static str,
    /// One line saying what it does.
    pub summary: &'static str,
    /// The parameters it accepts.
    pub params: &'static [ParamDoc],
    /// Disk or filter.
    pub kind: LayerKind,
    /// The constructor.
    pub build: BuildFn,
}

/// What drivers may need besides their parameters.
#[derive(Clone, Debug, Default)]
pub struct BuildContext {
    base_dir: Option<PathBuf>,
    default_size: Option<u64>,
    name_prefix: String,
    device_name: String,
    layer_index: usize,
}

impl BuildContext {
    /// Defaults: paths relative to the working directory, drivers' own default sizes.
    pub fn new() -> BuildContext {
        BuildContext::default()
    }

    /// Resolves relative paths against `dir` (e.g. the directory of a TOML spec file).
    pub fn with_base_dir(mut self, dir: impl Into<PathBuf>) -> BuildContext {
        self.base_dir = Some(dir.into());
        self
    }

    /// The size of disks and images created without a `size` parameter.
    pub fn with_default_size(mut self, size: u64) -> BuildContext {
        self.default_size = Some(size);
        self
    }

    /// Prefixes every device name (to tell several stacks apart).
    pub fn with_name_prefix(mut self, prefix: impl Into<String>) -> BuildContext {
        self.name_prefix = prefix.into();
        self
    }

    /// The base directory, if set.
    pub fn base_dir(&self) -> Option<&Path> {
        self.base_dir.as_deref()
    }

    /// The default size, if set.
    pub fn default_size(&self) -> Option<u64> {
        self.default_size
    }

    /// `path`, joined to the base directory when relative.
    pub fn resolve_path(&self, path: impl AsRef<Path>) -> PathBuf {
        match &self.base_dir {
            Some(base) if path.as_ref().is_relative() => base.join(path),
            _ => path.as_ref().to_owned(),
        }
    }

    /// The image path (`path=`, resolved against the base directory) and size
    /// (`size=`, or the build's default size when the file does not exist yet) of a
    /// disk that keeps its data in a file.
    pub fn image(&self, params: &mut super::Params) -> Result<(PathBuf, Option<u64>), SpecError> {
        let path = self.resolve_path(params.require_str("path")?);
        let size = params.get_size("size")?.or(if path.exists() { None } else { self.default_size() });
        Ok((path, size))
    }

    /// The name for the device being built: prefix, driver, layer index (top = 0).
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    /// The index of the layer being built (top = 0).
    pub fn layer_index(&self) -> usize {
        self.layer_index
    }

    /// The device below a filter; an error if there is none (a registry bug).
    pub fn lower<'a>(&self, lower: Option<&'a DeviceRef>) -> Result<&'a DeviceRef, SpecError> {
        lower.ok_or_else(|| {
            let source = format!("filter `{}` has no device below it", self.device_name);
            SpecError::new(SpecErrorKind::Build { layer: self.device_name.clone(), source: source.into() })
        })
    }

    fn for_layer(&self, index: usize, driver: &str) -> BuildContext {
        BuildContext {
            device_name: format!("{}{driver}{index}", self.name_prefix),
            layer_index: index,
            ..self.clone()
        }
    }
}

/// Driver names to factories.
#[derive(Clone, Debug, Default)]
pub struct DriverRegistry {
    factories: BTreeMap<&'static str, DriverFactory>,
}

impl DriverRegistry {
    /// No drivers.
    pub fn new() -> DriverRegistry {
        DriverRegistry::default()
    }

    /// Every driver of this crate.
    pub fn builtin() -> DriverRegistry {
        let mut registry = DriverRegistry::new();
        for factory in crate::factories::ALL {
            registry.register(*factory);
        }
        registry
    }

    /// Adds a driver; returns the one it replaces under the same name, if any.
    pub fn register(&mut self, factory: DriverFactory) -> Option<DriverFactory> {
        self.factories.insert(factory.name, factory)
    }

    /// The driver called `name`.
    pub fn get(&self, name: &str) -> Option<&DriverFactory> {
        self.factories.get(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.factories.keys().copied()
    }

    fn factory(&self, layer: &LayerSpec) -> Result<&DriverFactory, SpecError> {
        self.get(&layer.driver).ok_or_else(|| {
            let kind = SpecErrorKind::UnknownDriver {
                name: layer.driver.clone(),
                known: self.names().map(str::to_owned).collect(),
            };
            let error = SpecError::new(kind).at(layer.driver_span());
            match did_you_mean(&layer.driver, self.names()) {
                Some(help) => error.with_help(help),
                None => error,
            }
        })
    }

    /// Checks `spec` without building anything: every driver exists, only the last
    /// layer is a disk, every key is one its driver accepts, and every value reads as its
    /// parameter's kind (a size, a duration, one of the words...). Every problem found is
    /// reported at once: the first is the error, the others come with it
    /// ([`SpecError::also`]).
    pub fn check(&self, spec: &StackSpec) -> Result<(), SpecError> {
        let mut errors = self.check_layers(spec).into_iter();
        match errors.next() {
            None => Ok(()),
            Some(first) => Err(attach_text(first.with_also(errors.collect()), spec)),
        }
    }

    fn check_layers(&self, spec: &StackSpec) -> Vec<SpecError> {
        let Some(last) = spec.layers.len().checked_sub(1) else {
            return vec![SpecError::new(SpecErrorKind::Empty)];
        };
        // Unknown drivers first: nothing else about a layer means much without its driver.
        let (mut errors, mut known) = (Vec::new(), Vec::new());
        for (index, layer) in spec.layers.iter().enumerate() {
            match self.factory(layer) {
                Ok(factory) => known.push((index, layer, factory)),
                Err(e) => errors.push(e),
            }
        }
        for (index, layer, factory) in known {
            let driver = layer.driver.clone();
            match (factory.kind, index == last) {
                (LayerKind::Filter, true) => {
                    let disks: Vec<_> = self.of_kind(LayerKind::Bottom).collect();
                    errors.push(
                        SpecError::new(SpecErrorKind::FilterAtBottom { driver: driver.clone() })
                            .at(layer.driver_span())
                            .with_help(format!("end the stack with a disk ({})", disks.join(", "))),
                    );
                }
                (LayerKind::Bottom, false) => errors.push(
                    SpecError::new(SpecErrorKind::DiskNotLast { driver: driver.clone() })
                        .at(layer.driver_span())
                        .with_help("a disk has nothing below it: put filters above it"),
                ),
                _ => {}
            }
            for (key, _) in layer.params.iter() {
                if factory.params.iter().any(|p| p.key == key) {
                    continue;
                }
                let accepted = factory.params.iter().map(|p| p.key.to_owned()).collect();
                let kind =
                    SpecErrorKind::UnknownParam { layer: driver.clone(), key: key.to_owned(), accepted };
                let mut error = SpecError::new(kind).or_at(layer.params.key_span(key).unwrap_or(layer.span));
                if let Some(help) = did_you_mean(key, factory.params.iter().map(|p| p.key)) {
                    error = error.with_help(help);
                }
                errors.push(error);
            }
            errors.extend(check_values(layer, factory));
        }
        errors
    }

    fn of_kind(&self, kind: LayerKind) -> impl Iterator<Item = &'static str> + '_ {
        self.factories.values().filter(move |f| f.kind == kind).map(|f| f.name)
    }

    /// Builds the stack `spec` describes, bottom first, and returns its top device.
    /// Device names are `{prefix}{driver}{index}`, the top layer having index 0.
    /// Nothing is built unless [`DriverRegistry::check`] passes.
    pub fn build(&self, spec: &StackSpec, ctx: &BuildContext) -> Result<DeviceRef, SpecError> {
        self.check(spec)?;
        let mut lower: Option<DeviceRef> = None;
        for (index, layer) in spec.layers.iter().enumerate().rev() {
            let factory = self.factory(layer)?;
            let mut layer = layer.clone();
            layer.params.reset();
            layer.params.set_layer(&layer.driver);
            let ctx = ctx.for_layer(index, &layer.driver);
            let device = (factory.build)(&mut layer, lower.as_ref(), &ctx)
                .and_then(|device| layer.params.finish().map(|()| device))
                .map_err(|e| attach_text(e.or_at(layer.span), spec))?;
            tracing::debug!(device = device.name(), stack_size = device.stack_size(), "built layer");
            lower = Some(device);
        }
        lower.ok_or_else(|| SpecError::new(SpecErrorKind::Empty))
    }

    /// Builds the filters of `spec` (every layer but the last) on top of `bottom`, a
    /// device the caller made for the last layer itself (the crash checker records its
    /// crash disk this way). The whole spec is checked first.
    pub fn build_over(
        &self,
        spec: &StackSpec,
        bottom: &DeviceRef,
        ctx: &BuildContext,
    ) -> Result<DeviceRef, SpecError> {
        self.check(spec)?;
        let mut lower = std::sync::Arc::clone(bottom);
        let filters = spec.layers.len().saturating_sub(1);
        for (index, layer) in spec.layers[..filters].iter().enumerate().rev() {
            let factory = self.factory(layer)?;
            let mut layer = layer.clone();
            layer.params.reset();
            layer.params.set_layer(&layer.driver);
            let ctx = ctx.for_layer(index, &layer.driver);
            lower = (factory.build)(&mut layer, Some(&lower), &ctx)
                .and_then(|device| layer.params.finish().map(|()| device))
                .map_err(|e| attach_text(e.or_at(layer.span), spec))?;
        }
        Ok(lower)
    }

    /// Parses `text` and builds it.
    pub fn build_str(&self, text: &str, ctx: &BuildContext) -> Result<DeviceRef, SpecError> {
        self.build(&text.parse()?, ctx)
    }

    /// A description of the spec syntax and of every driver with its parameters.
    pub fn help(&self) -> String {
        let mut out = String::from(
            "A stack is written top to bottom, layers separated by `/`; the last layer is a disk:\n\
             \x20   cache(size=256M,mode=writeback) / stats / file(path=disk.img)\n",
        );
        for (title, kind) in [("Disks", LayerKind::Bottom), ("Filters", LayerKind::Filter)] {
            let _ = write!(out, "\n{title}:\n");
            for factory in self.factories.values().filter(|f| f.kind == kind) {
                let _ = writeln!(out, "  {:<14}{}", factory.name, factory.summary);
                for p in factory.params {
                    let usage = format!("{}={}", p.key, p.kind);
                    let default = p.default.map(|d| format!(" [default: {d}]")).unwrap_or_default();
                    // A usage longer than its column goes on a line of its own.
                    if usage.len() < 24 {
                        let _ = writeln!(out, "      {usage:<24}{}{default}", p.help);
                    } else {
                        let _ = writeln!(out, "      {usage}\n      {:<24}{}{default}", "", p.help);
                    }
                }
            }
        }
        out.push_str(
            "\nSIZE: bytes or K, M, G, T (powers of 1024; also KiB, MiB, ...), e.g. 4096, 256M, 1.5G.\n\
             BOOL: true/false, yes/no, on/off, 1/0. DURATION: a number and ns, us, ms, s, m or h.\n\
             Quote values holding `,` or `)`: path=\"a,b.img\" (escapes: \\\" and \\\\).\n",
        );
        out
    }
}

fn attach_text(error: SpecError, spec: &StackSpec) -> SpecError {
    match spec.source_arc() {
        Some(text) => error.with_text(text.clone()),
        None => error,
    }
}

/// Reads every value of `layer` as its parameter's kind, the way the factory will, on a copy
/// of the parameters: the errors a build would meet one at a time, before anything is built.
fn check_values(layer: &LayerSpec, factory: &DriverFactory) -> Vec<SpecError> {
    let mut params = layer.params.clone();
    params.set_layer(&layer.driver);
    let mut errors = Vec::new();
    for doc in factory.params {
        let result = match doc.kind {
            ParamKind::Str | ParamKind::Path => Ok(()),
            ParamKind::Size => params.get_size(doc.key).map(drop),
            ParamKind::U64 => params.get_u64(doc.key).map(drop),
            ParamKind::Bool => params.get_bool(doc.key).map(drop),
            ParamKind::Duration => params.get_duration(doc.key).map(drop),
            ParamKind::Enum(words) => params.get_enum(doc.key, words).map(drop),
        };
        errors.extend(result.err());
    }
    errors
}
