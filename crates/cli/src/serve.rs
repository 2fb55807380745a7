//! `irpstack serve`: serve device stacks over NBD.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use irp::{IoManager, units};
use nbd_server::{ExportConfig, FileConfig, Listen, Server, ServerConfig, ServerError};
use stack::{DriverRegistry, ParamKind, StackSpec};

/// The stack served when none is given.
pub const DEFAULT_STACK: &str = "cache(size=256M) / file(path=default.img,size=1G)";
/// The TCP address used when no listener is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:10809";

const AFTER_HELP: &str = "\
With no arguments, serves a sparse 1 GiB image ./irpstack-data/default.img (created if
missing) through `cache(size=256M) / file(path=default.img,size=1G)` on 127.0.0.1:10809.

Every connection to an export shares its one stack, so a flush on any connection covers the
writes acknowledged on all of them (NBD_FLAG_CAN_MULTI_CONN). NBD FLUSH is an
IRP_MJ_FLUSH_BUFFERS down the stack; FUA is ForceUnitAccess. SIGINT or SIGTERM stops the
server gracefully: requests in flight are answered (for up to 2 s: clients that do not read
their replies are then cut off), then IRP_MJ_SHUTDOWN writes every cache back; exit status 0.
A second signal exits at once (status 130), saying what it abandons.

Examples:
  irpstack serve
  irpstack serve --stack 'memory(size=1G)' --socket /tmp/nbd.sock
  irpstack serve --stack 'cache(size=1G) / file(path=disk.img,size=20G)' --export disk
  irpstack serve --stack 'file(path=/srv/base.img)' --read-only --listen 0.0.0.0:10809
  irpstack serve --config exports.toml

Clients:
  qemu-io -f raw nbd://127.0.0.1:10809/          nbdinfo nbd://127.0.0.1:10809
  nbdcopy nbd://127.0.0.1:10809 copy.img          nbdinfo --list nbd://127.0.0.1:10809
  nbdinfo --map nbd://127.0.0.1:10809             qemu-img map -f raw nbd://127.0.0.1:10809
  qemu-io -f raw 'nbd+unix:///?socket=/tmp/nbd.sock'

A --config file (TOML):
  listen = \"127.0.0.1:10809\"      # optional; --listen overrides it
  socket = \"/tmp/nbd.sock\"        # optional; --socket overrides it
  default = \"a\"                   # the export \"\" means (default: the first)
  [[export]]
  name = \"a\"
  stack = \"cache(size=256M) / file(path=a.img,size=1G)\"
  read_only = false

Relative image paths are resolved in --data-dir. Logging: -v shows connections (RUST_LOG overrides).
More examples (a config with [[export.layer]] tables, a stack file, a systemd unit): examples/.";

/// Arguments of `serve`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ServeArgs {
    /// The stack to serve, top first, or a TOML stack file (`*.toml`: `stack = "..."` or
    /// `[[layer]]` tables) [default: cache(size=256M) / file(path=default.img,size=1G)].
    #[arg(long, value_name = "SPEC", conflicts_with = "config")]
    stack: Option<String>,
    /// Listen on this TCP address [default: 127.0.0.1:10809, unless --socket is given].
    /// Port 0 picks a free port; the address is printed.
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Listen on this Unix socket.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Serve the stack under this export name too; it is always the default export "".
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    export: Option<String>,
    /// Read exports (and optionally listen/socket) from a TOML file; see below.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Refuse writes, trims and write-zeroes (every export, with --config).
    #[arg(long)]
    read_only: bool,
    /// Size of images the stack creates without a size= parameter.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    size: Option<u64>,
    /// Directory for relative image paths (created if missing).
    #[arg(long, value_name = "DIR", default_value = "irpstack-data")]
    data_dir: PathBuf,
    /// Close connections idle this long (nothing in flight, nothing received), and those
    /// stopped in the middle of a request [default: never].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    idle_timeout: Option<std::time::Duration>,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    match units::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be longer than zero (leave it out for no idle timeout)".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_size(text: &str) -> Result<u64, String> {
    units::parse_size(text).map_err(|e| e.to_string())
}

pub fn run(args: &ServeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let registry = DriverRegistry::builtin();
    let (exports, default_export, file_listen) = exports(args)?;
    let mut config = ServerConfig::new();
    config.listen = listeners(args, file_listen);
    config.default_export = default_export.clone();
    prepare_data_dir(args, &exports, &registry)?;
    config.build = config.build.with_base_dir(&args.data_dir);
    if let Some(size) = args.size {
        config.build = config.build.with_default_size(size);
    }
    config.exports = exports;
    config.registry = registry;
    config.limits.idle_timeout = args.idle_timeout;
    // The process's one I/O manager: every front end registers its stacks with it, and its
    // shutdown list writes every cache back when they have all stopped.
    let manager = Arc::new(IoManager::new());
    let server = Server::bind(config, Arc::clone(&manager)).map_err(|e| match e {
        ServerError::Stack { name, source } => {
            anyhow!("export {name:?}: its stack cannot be built:\n{source}")
        }
        e => anyhow!("{e}"),
    })?;
    // Before anything is printed: whoever reads "listening on" may signal at once.
    let handle = server.handle();
    handle.stop_on_signals().context("installing the SIGINT/SIGTERM handler")?;
    let data_dir = std::path::absolute(&args.data_dir).unwrap_or_else(|_| args.data_dir.clone());
    writeln!(out, "data directory: {} (relative paths in stack specs are there)", data_dir.display())?;
    for export in server.exports() {
        let mode = if export.read_only { ", read-only" } else { "" };
        let stack = export.spec.clone().unwrap_or_else(|| export.devices.join(" / "));
        writeln!(out, "export {:?}: {} bytes{mode} ({stack})", export.name, export.size)?;
    }
    let uris = server.uris();
    for uri in &uris {
        writeln!(out, "listening on {uri}")?;
    }
    if let Some(uri) = uris.first() {
        let slash = if uri.starts_with("nbd://") { "/" } else { "" };
        // The URIs name the default export; qemu-io opens read-write unless told `-r`, and a
        // read-only export refuses that ("Permission denied").
        let exports = server.exports();
        let default = exports
            .iter()
            .find(|e| e.name.is_empty())
            .or_else(|| exports.iter().find(|e| default_export.as_deref() == Some(e.name.as_str())));
        let read_only = if default.is_some_and(|e| e.read_only) { "-r " } else { "" };
        writeln!(out, "connect with:")?;
        writeln!(out, "  qemu-io {read_only}-f raw '{uri}{slash}'")?;
        writeln!(out, "  nbdinfo '{uri}'")?;
        writeln!(out, "  nbdinfo --map '{uri}'     (data and holes)")?;
        writeln!(out, "  nbdcopy '{uri}' copy.img")?;
        writeln!(out, "stop with Ctrl-C or SIGTERM (caches are written back)")?;
    }
    out.flush()?;
    let served = server.run().map_err(|e| anyhow!("{e}"));
    tracing::info!("shutting the stacks down");
    nbd_server::set_stopping("writing every cache back (IRP_MJ_SHUTDOWN down every stack)");
    let progress = crate::progress::WriteBack::watch(&manager);
    let shut = manager.shutdown();
    drop(progress);
    shut.map_err(|e| anyhow!("shutdown of the exports failed (data may not all be written): {e}"))?;
    served?;
    writeln!(out, "stopped: every stack shut down")?;
    Ok(())
}

type Exports = (Vec<ExportConfig>, Option<String>, Vec<Listen>);

/// The exports, the default export and the file's listeners, from --config or --stack.
fn exports(args: &ServeArgs) -> anyhow::Result<Exports> {
    if let Some(path) = &args.config {
        let file = FileConfig::from_path(path).map_err(|e| anyhow!("{e}"))?;
        let mut exports = file.exports().map_err(|e| anyhow!("{e}"))?;
        if args.read_only {
            exports.iter_mut().for_each(|e| e.read_only = true);
        }
        let default = file.default.clone().or_else(|| exports.first().map(|e| e.name.clone()));
        return Ok((exports, default, file.listeners()));
    }
    let text = args.stack.as_deref().unwrap_or(DEFAULT_STACK);
    let spec = StackSpec::from_arg(text).map_err(|e| anyhow!("the stack is not valid:\n{e}"))?;
    let name = args.export.clone().unwrap_or_default();
    let export = ExportConfig::new(&name, spec).read_only(args.read_only);
    Ok((vec![export], Some(name), Vec::new()))
}

/// Flags replace the file's listener of the same kind; with neither, the default address.
fn listeners(args: &ServeArgs, file: Vec<Listen>) -> Vec<Listen> {
    let mut listen: Vec<Listen> = file
        .into_iter()
        .filter(|l| match l {
            Listen::Tcp(_) => args.listen.is_none(),
            Listen::Unix(_) => args.socket.is_none(),
        })
        .collect();
    listen.extend(args.listen.iter().map(|a| Listen::Tcp(a.clone())));
    listen.extend(args.socket.iter().map(|p| Listen::Unix(p.clone())));
    if listen.is_empty() {
        listen.push(Listen::Tcp(DEFAULT_LISTEN.to_owned()));
    }
    listen
}

/// Creates the data directory when a spec has a relative path, and checks that it is
/// writable when an export is.
fn prepare_data_dir(
    args: &ServeArgs,
    exports: &[ExportConfig],
    registry: &DriverRegistry,
) -> anyhow::Result<()> {
    let needed: Vec<&ExportConfig> = exports.iter().filter(|e| has_relative_path(e, registry)).collect();
    if needed.is_empty() {
        return Ok(());
    }
    let dir = &args.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    if needed.iter().any(|e| !e.read_only) {
        check_writable(dir)?;
    }
    Ok(())
}

fn has_relative_path(export: &ExportConfig, registry: &DriverRegistry) -> bool {
    let nbd_server::ExportStack::Spec(spec) = &export.stack else { return false };
    spec.layers.iter().any(|layer| {
        let Some(factory) = registry.get(&layer.driver) else { return false };
        layer.params.iter().any(|(key, value)| {
            factory.params.iter().any(|p| p.key == key && p.kind == ParamKind::Path)
                && Path::new(value).is_relative()
        })
    })
}

fn check_writable(dir: &Path) -> anyhow::Result<()> {
    let probe = dir.join(format!(".irpstack-write-test-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!("the data directory {} is not writable: {e} (use --data-dir DIR)", dir.display()),
    }
}
