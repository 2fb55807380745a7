//! Every driver's factory: how a layer of a stack spec becomes a device. One file per
//! driver, named after it; a new driver is one more file and one more entry in `ALL`.

mod cache;
mod crash;
mod fault;
mod file;
mod fs;
mod memory;
mod nbd;
mod null;
mod passthrough;
mod pmem;
mod stats;

pub use cache::CACHE;
pub use crash::{CRASH, crash_options};
pub use fault::FAULT;
pub use file::FILE;
pub use fs::FS;
pub use memory::MEMORY;
pub use nbd::NBD;
pub use null::NULL;
pub use passthrough::PASSTHROUGH;
pub use pmem::PMEM;
pub use stats::STATS;

use disks::locking::Locking;

use crate::{BuildContext, DriverFactory, LayerSpec, ParamDoc, ParamKind, Params, SpecError};

/// The `locking` parameter of the disks over an image file (`file`, `pmem`, `crash`).
pub(crate) const LOCKING: ParamDoc = ParamDoc {
    key: "locking",
    kind: ParamKind::Enum(&["on", "off"]),
    default: Some("on"),
    help: "on: lock the image as QEMU does (exclusive when writable, shared when read-only), so a \
           second irpstack, stack, qemu-nbd or VM is refused; off: no lock (loudly warned: two writers \
           destroy data)",
};

/// The machine's memory (`MemTotal` of `/proc/meminfo`), the bound of what a layer may
/// keep in RAM; 1 TiB when it cannot be read.
pub(crate) fn physical_memory() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    });
    total.unwrap_or(1 << 40)
}

/// Reads the `locking` parameter.
pub(crate) fn locking(params: &mut Params) -> Result<Locking, SpecError> {
    Ok(match params.get_enum("locking", &["on", "off"])? {
        Some("off") => Locking::Off,
        _ => Locking::On,
    })
}

/// Every driver [`DriverRegistry::builtin`](crate::DriverRegistry::builtin) registers:
/// in the order `--help` lists them.
pub(crate) const ALL: &[DriverFactory] =
    &[MEMORY, NULL, PASSTHROUGH, CRASH, FILE, NBD, PMEM, FS, CACHE, FAULT, STATS];

/// Takes every parameter of a layer as (key, value) text, marking each one used; the
/// value of `path_key` is resolved against the build's base directory.
pub(crate) fn all_params(
    layer: &mut LayerSpec,
    ctx: &BuildContext,
    path_keys: &[&str],
) -> Vec<(String, String)> {
    let keys: Vec<String> = layer.params.iter().map(|(k, _)| k.to_owned()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let v = layer.params.get_str(&k)?.to_owned();
            let v =
                if path_keys.contains(&k.as_str()) { ctx.resolve_path(&v).display().to_string() } else { v };
            Some((k, v))
        })
        .collect()
}
