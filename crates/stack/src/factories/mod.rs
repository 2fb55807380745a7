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

use crate::{BuildContext, DriverFactory, LayerSpec};

/// Every driver [`DriverRegistry::builtin`](crate::DriverRegistry::builtin) registers:
/// in the order `--help` lists them.
pub(crate) const ALL: &[DriverFactory] =
    &[MEMORY, NULL, PASSTHROUGH, CRASH, FILE, NBD, PMEM, FS, CACHE, FAULT, STATS];

/// Takes every parameter of a layer as (key, value) text, marking each one used; the
/// value of `path_key` is resolved against the build's base directory.
pub(crate) fn all_params(layer: &mut LayerSpec, ctx: &BuildContext, path_key: &str) -> Vec<(String, String)> {
    let keys: Vec<String> = layer.params.iter().map(|(k, _)| k.to_owned()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let v = layer.params.get_str(&k)?.to_owned();
            let v = if k == path_key { ctx.resolve_path(&v).display().to_string() } else { v };
            Some((k, v))
        })
        .collect()
}
