//! The `fault(...)` layer: error and latency injection.

use filters::fault::{Fault, FaultOptions};

use super::all_params;
use irp::DeviceRef;

use crate::{BuildContext, DriverFactory, LayerKind, LayerSpec, ParamDoc, ParamKind, SpecError};

/// `fault(op=write,error=EIO,rate=0.1,...)`: error and latency injection ([`Fault`]).
pub const FAULT: DriverFactory = DriverFactory {
    name: "fault",
    summary: "injects errors, latency, or a lying flush (flush=drop) into requests passing through",
    params: &[
        ParamDoc {
            key: "op",
            kind: ParamKind::Str,
            default: Some("all"),
            help: "read|write|flush|discard|zero|all, joined by + (alias: ops)",
        },
        ParamDoc { key: "ops", kind: ParamKind::Str, default: None, help: "same as op" },
        ParamDoc {
            key: "error",
            kind: ParamKind::Str,
            default: Some("EIO"),
            help: "errno name to fail with (EIO, ENOSPC, EPERM, EROFS, ...)",
        },
        ParamDoc {
            key: "delay",
            kind: ParamKind::Duration,
            default: None,
            help: "delay matching requests instead of failing them (at most 1h)",
        },
        ParamDoc {
            key: "flush",
            kind: ParamKind::Enum(&["drop"]),
            default: None,
            help: "drop: complete flushes without forwarding them (a lie, for testing applications)",
        },
        ParamDoc {
            key: "flushes",
            kind: ParamKind::Enum(&["sync", "all"]),
            default: Some("sync"),
            help: "which flushes op=flush sees: sync (those that sync the device: client flushes), \
                   all (also a cache's own NoSync write-behind flushes)",
        },
        ParamDoc { key: "rate", kind: ParamKind::Str, default: Some("1"), help: "probability (0.1 or 10%)" },
        ParamDoc { key: "nth", kind: ParamKind::U64, default: None, help: "only the Nth matching request" },
        ParamDoc {
            key: "after",
            kind: ParamKind::U64,
            default: None,
            help: "only requests after the first N",
        },
        ParamDoc {
            key: "trigger",
            kind: ParamKind::Path,
            default: None,
            help: "active only while this file exists",
        },
        ParamDoc { key: "seed", kind: ParamKind::U64, default: Some("0"), help: "seed of the rate draws" },
    ],
    kind: LayerKind::Filter,
    build: build_fault,
};

fn build_fault(
    layer: &mut LayerSpec,
    lower: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    let params = all_params(layer, ctx, &["trigger"]);
    let options = FaultOptions::from_params(params).map_err(|e| SpecError::build_failed(layer, e))?;
    let lower = ctx.lower(lower)?;
    Fault::create(ctx.device_name(), options, lower).map_err(|e| SpecError::build_failed(layer, e))
}
