//! The `stats(...)` layer: counters and latency histograms.

use filters::stats::{Stats, StatsOptions};

use super::all_params;
use irp::DeviceRef;

use crate::{BuildContext, DriverFactory, LayerKind, LayerSpec, ParamDoc, ParamKind, SpecError};

/// `stats(file=stats.json,prometheus=irpstack.prom,interval=10s)`: counters and latency
/// histograms ([`Stats`]).
pub const STATS: DriverFactory = DriverFactory {
    name: "stats",
    summary: "counts requests, bytes, errors and latency per function (flush included); report at shutdown",
    params: &[
        ParamDoc {
            key: "file",
            kind: ParamKind::Path,
            default: None,
            help: "write the report (JSON) here, every interval and at shutdown",
        },
        ParamDoc {
            key: "prometheus",
            kind: ParamKind::Path,
            default: None,
            help: "also write the counters in the Prometheus text format here (for node_exporter's textfile collector: name it *.prom in its directory)",
        },
        ParamDoc {
            key: "interval",
            kind: ParamKind::Duration,
            default: Some("10s"),
            help: "how often the files are rewritten (1ms to 24h; 0 = only at shutdown)",
        },
    ],
    kind: LayerKind::Filter,
    build: build_stats,
};

fn build_stats(
    layer: &mut LayerSpec,
    lower: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    let params = all_params(layer, ctx, &["file", "prometheus"]);
    let options = StatsOptions::from_params(params).map_err(|e| SpecError::build_failed(layer, e))?;
    let lower = ctx.lower(lower)?;
    Stats::create(ctx.device_name(), options, lower).map_err(|e| SpecError::build_failed(layer, e))
}
