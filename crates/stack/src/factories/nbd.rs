//! The `nbd(...)` layer: an export on an NBD server.

use std::time::Duration;

use disks::nbd::{NbdDisk, NbdOptions, NbdUri, Transport};
use irp::DeviceRef;

use crate::{BuildContext, DriverFactory, LayerKind, LayerSpec, ParamDoc, ParamKind, SpecError};

/// `nbd(uri=nbd://host:port/export,timeout=5s)` or
/// `nbd(uri=nbd+unix:///export?socket=PATH)`: an export on an NBD server
/// ([`NbdDisk`]); over TLS with `nbds://`, `nbds+unix://` and `tls-certificates=DIR` (in
/// the URI or as `tls_certificates=DIR`).
pub const NBD: DriverFactory = DriverFactory {
    name: "nbd",
    summary: "an export on an NBD server (qemu-nbd, nbdkit): flush = NBD_CMD_FLUSH; reconnects after a lost connection",
    params: &[
        ParamDoc {
            key: "uri",
            kind: ParamKind::Str,
            default: None,
            help: "nbd://host[:port][/export] or nbd+unix:///export?socket=PATH; TLS: nbds://, nbds+unix:// \
                   (with ?tls-certificates=DIR or the tls_certificates parameter) (required)",
        },
        ParamDoc {
            key: "tls_certificates",
            kind: ParamKind::Path,
            default: None,
            help: "TLS certificates directory for nbds:// URIs: ca-cert.pem verifies the server; client-cert.pem \
                   and client-key.pem, if there, are shown to a server that asks",
        },
        ParamDoc {
            key: "timeout",
            kind: ParamKind::Duration,
            default: Some("5s"),
            help: "bounds connecting and the handshake (also on reconnection); 1ms to 1h",
        },
        ParamDoc {
            key: "request_timeout",
            kind: ParamKind::Duration,
            default: Some("2m"),
            help: "a connection with requests in flight on which nothing arrives for this long is lost: they fail \
                   with STATUS_IO_TIMEOUT and the next request reconnects (10ms to 1 day; 0: wait forever)",
        },
    ],
    kind: LayerKind::Bottom,
    build: build_nbd,
};

fn build_nbd(
    layer: &mut LayerSpec,
    _: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    let p = &mut layer.params;
    let text = p.require_str("uri")?.to_owned();
    let mut uri = NbdUri::parse(&text).map_err(|e| p.invalid("uri", e.kind.to_string()))?;
    if let Transport::Unix { socket } = &mut uri.transport
        && socket.is_relative()
        && !socket.as_os_str().as_encoded_bytes().starts_with(b"\0")
    {
        *socket = ctx.resolve_path(&*socket);
    }
    if let Some(dir) = &mut uri.tls_certificates
        && dir.is_relative()
    {
        *dir = ctx.resolve_path(&*dir);
    }
    let mut options = NbdOptions::new(uri);
    options.tls_certificates = p.get_str("tls_certificates").map(|dir| ctx.resolve_path(dir));
    if let Some(timeout) =
        p.get_duration_in("timeout", Duration::from_millis(1)..=Duration::from_secs(3600), false)?
    {
        options.timeout = timeout;
    }
    let day = Duration::from_secs(24 * 3600);
    if let Some(limit) = p.get_duration_in("request_timeout", Duration::from_millis(10)..=day, true)? {
        options.request_timeout = (!limit.is_zero()).then_some(limit);
    }
    NbdDisk::create(ctx.device_name(), options).map_err(|e| SpecError::build_failed(layer, e))
}
