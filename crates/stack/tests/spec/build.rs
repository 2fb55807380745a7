//! Building device stacks from specs with a registry.

use irp::{Access, DeviceBuilder, DeviceRef, IoManager};
use stack::{
    BuildContext, DriverFactory, DriverRegistry, LayerKind, LayerSpec, ParamDoc, ParamKind, SpecError,
    SpecErrorKind, StackSpec,
};

use crate::assert_contains;

fn build_error(text: &str) -> SpecError {
    DriverRegistry::builtin().build_str(text, &BuildContext::new()).unwrap_err()
}

#[test]
fn passthrough_over_memory_is_a_working_stack() {
    let registry = DriverRegistry::builtin();
    let top = registry.build_str("passthrough / memory(size=1M)", &BuildContext::new()).unwrap();
    assert_eq!(top.stack_size(), 2);
    assert_eq!(top.stack_names(), ["passthrough0", "memory1"]);
    let io = IoManager::new();
    io.register("disk", &top).unwrap();
    let handle = io.open("disk", Access::READ_WRITE).unwrap();
    let data: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(handle.write(4096, &data), Ok(data.len()));
    assert_eq!(handle.read(4096, data.len()).unwrap().bytes(), &data[..]);
    assert_eq!(handle.query_size(), Ok(1 << 20));
    handle.flush_buffers().unwrap();
}

#[test]
fn defaults_context_and_names() {
    let registry = DriverRegistry::builtin();
    let ctx = BuildContext::new().with_default_size(64 << 10).with_name_prefix("vol-");
    let top = registry.build_str("passthrough / passthrough / memory(sector=4K)", &ctx).unwrap();
    assert_eq!(top.stack_names(), ["vol-passthrough0", "vol-passthrough1", "vol-memory2"]);
    assert_eq!(top.sector_size(), 4096);
    let io = IoManager::new();
    io.register("d", &top).unwrap();
    assert_eq!(io.open("d", Access::READ).unwrap().query_size(), Ok(64 << 10));
    let null = registry.build_str("null", &BuildContext::new()).unwrap();
    assert_eq!(null.stack_size(), 1);
    assert_eq!(
        BuildContext::new().with_base_dir("/srv").resolve_path("x.img"),
        std::path::Path::new("/srv/x.img")
    );
    assert_eq!(
        BuildContext::new().with_base_dir("/srv").resolve_path("/x.img"),
        std::path::Path::new("/x.img")
    );
}

#[test]
fn unknown_drivers_are_named_with_suggestions() {
    let e = build_error("passthrough / memroy(size=1M)");
    assert!(matches!(e.kind(), SpecErrorKind::UnknownDriver { .. }));
    assert_eq!(e.span(), Some((14, 20)));
    assert_contains(
        &e.to_string(),
        &[
            "unknown driver \"memroy\" at 14..20",
            "known drivers: cache, crash, fault, file, fs, memory, nbd, null, passthrough, pmem, stats",
            "did you mean `memory`?",
        ],
    );
}

#[test]
fn layer_kinds_are_checked() {
    let e = build_error("memory / passthrough");
    assert!(matches!(e.kind(), SpecErrorKind::DiskNotLast { .. }));
    assert_contains(&e.to_string(), &["`memory` is a disk and must be the last layer", "at 0..6"]);
    let e = build_error("null / passthrough");
    assert_contains(&e.to_string(), &["`null` is a disk and must be the last layer"]);
    let e = build_error("passthrough / passthrough");
    assert!(matches!(e.kind(), SpecErrorKind::FilterAtBottom { .. }));
    assert_contains(
        &e.to_string(),
        &["`passthrough` is a filter and cannot be the bottom of a stack", "at 14..25"],
    );
    assert!(matches!(
        DriverRegistry::builtin().check(&StackSpec::new(vec![])).unwrap_err().kind(),
        SpecErrorKind::Empty
    ));
}

#[test]
fn unknown_and_invalid_parameters() {
    let e = build_error("passthrough / memory(sise=1M)");
    assert_contains(
        &e.to_string(),
        &[
            "unknown parameter `sise` for layer `memory`",
            "accepted parameters: size, sector",
            "did you mean `size`?",
        ],
    );
    assert_contains(
        &build_error("passthrough(x=1) / null").to_string(),
        &["`passthrough` takes no parameters"],
    );
    assert_contains(
        &build_error("memory(size=1000)").to_string(),
        &[r#"invalid value "1000" for `size` of layer `memory`"#, "multiple of the sector size (512)"],
    );
    assert_contains(&build_error("memory(sector=1000)").to_string(), &["power of two"]);
    assert_contains(&build_error("memory(size=lots)").to_string(), &[r#""lots" for `size`"#, "at 12..16"]);
}

/// A driver written outside this crate: a few lines to register.
const COUNTED: DriverFactory = DriverFactory {
    name: "counted",
    summary: "a test filter",
    params: &[
        ParamDoc { key: "label", kind: ParamKind::Str, default: None, help: "a label" },
        ParamDoc { key: "forgotten", kind: ParamKind::Bool, default: Some("false"), help: "never read" },
    ],
    kind: LayerKind::Filter,
    build: build_counted,
};

fn build_counted(
    layer: &mut LayerSpec,
    lower: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    let label = layer.params.require_str("label")?.to_owned();
    DeviceBuilder::new(format!("{}-{label}", ctx.device_name()))
        .attach(filters::passthrough::Passthrough, ctx.lower(lower)?)
        .map_err(|e| SpecError::build_failed(layer, e))
}

#[test]
fn custom_drivers_register_and_are_checked() {
    let mut registry = DriverRegistry::builtin();
    assert!(registry.register(COUNTED).is_none());
    let top = registry.build_str("counted(label=a) / null", &BuildContext::new()).unwrap();
    assert_eq!(top.name(), "counted0-a");
    let e = registry.build_str("counted / null", &BuildContext::new()).unwrap_err();
    assert_contains(&e.to_string(), &["layer `counted` needs parameter `label`", "at 0..7"]);
    let e = registry.build_str("counted(label=a,forgotten=1) / null", &BuildContext::new()).unwrap_err();
    assert_contains(
        &e.to_string(),
        &["unknown parameter `forgotten` for layer `counted`", "accepted parameters: label"],
    );
    assert_contains(&registry.help(), &["counted", "label=TEXT", "forgotten=BOOL", "[default: false]"]);
    assert!(DriverRegistry::new().build_str("null", &BuildContext::new()).is_err());
}

#[test]
fn help_lists_drivers_and_parameters() {
    let help = DriverRegistry::builtin().help();
    assert_contains(
        &help,
        &["Disks:", "Filters:", "memory", "size=SIZE", "[default: 1G]", "sector=SIZE", "null", "passthrough"],
    );
}
