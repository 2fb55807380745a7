//! Exports: stacks built and registered with the I/O manager, with what the handshake
//! tells clients about them.

use std::sync::Arc;

use irp::{Access, Characteristics, DeviceRef, Handle, IoError, IoManager};
use nbd::consts::{
    DEFAULT_MAX_PAYLOAD, FLAG_CAN_MULTI_CONN, FLAG_HAS_FLAGS, FLAG_READ_ONLY, FLAG_SEND_FLUSH, FLAG_SEND_FUA,
    FLAG_SEND_TRIM, FLAG_SEND_WRITE_ZEROES, MAX_STRING_LEN,
};
use nbd::handshake::BlockSize;
use nbd::transmission::ExportLimits;

use crate::config::{ExportConfig, ExportStack, ServerConfig};
use crate::error::ServerError;

/// One export, ready to serve.
#[derive(Debug)]
pub(crate) struct Export {
    /// The name clients ask for.
    pub(crate) name: String,
    /// For `NBD_OPT_LIST` and `NBD_INFO_DESCRIPTION`.
    pub(crate) description: Option<String>,
    /// The devices of the stack, top first (for messages).
    pub(crate) devices: Vec<String>,
    /// The spec the stack was built from, in canonical form.
    pub(crate) spec: Option<String>,
    /// The name under which the stack is registered with the I/O manager.
    manager_name: String,
    /// Size in bytes, a multiple of `min_block`.
    pub(crate) size: u64,
    /// Writes are refused.
    pub(crate) read_only: bool,
    /// Offsets and lengths must be multiples of it: 1, or the sector size when the
    /// stack needs aligned requests (`O_DIRECT`).
    pub(crate) min_block: u32,
}

impl Export {
    /// The transmission flags sent in the handshake.
    pub(crate) fn transmission_flags(&self) -> u16 {
        let common = FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_CAN_MULTI_CONN;
        if self.read_only {
            common | FLAG_READ_ONLY
        } else {
            common | FLAG_SEND_FUA | FLAG_SEND_TRIM | FLAG_SEND_WRITE_ZEROES
        }
    }

    /// What requests are checked against.
    pub(crate) fn limits(&self) -> ExportLimits {
        ExportLimits {
            size: self.size,
            transmission_flags: self.transmission_flags(),
            max_payload: DEFAULT_MAX_PAYLOAD,
            min_block: self.min_block,
        }
    }

    /// `NBD_INFO_BLOCK_SIZE`.
    pub(crate) fn block_size(&self) -> BlockSize {
        BlockSize {
            minimum: self.min_block,
            preferred: self.min_block.max(4096),
            maximum: DEFAULT_MAX_PAYLOAD,
        }
    }

    /// Opens a handle for one connection (`IRP_MJ_CREATE`); dropping it sends
    /// `IRP_MJ_CLEANUP` and `IRP_MJ_CLOSE`.
    pub(crate) fn open(&self, manager: &IoManager) -> Result<Handle, IoError> {
        let access = if self.read_only { Access::READ } else { Access::READ_WRITE };
        manager.open(&self.manager_name, access)
    }
}

/// Every export of a server, and which one `""` means.
#[derive(Debug)]
pub(crate) struct Exports {
    list: Vec<Arc<Export>>,
    default: Option<Arc<Export>>,
}

impl Exports {
    /// Builds every stack of `config`, registers it with `manager` and reads its size.
    pub(crate) fn build(config: &ServerConfig, manager: &IoManager) -> Result<Exports, ServerError> {
        if config.exports.is_empty() {
            return Err(ServerError::NoExports);
        }
        let mut list: Vec<Arc<Export>> = Vec::new();
        for (index, export) in config.exports.iter().enumerate() {
            check_name(&export.name)?;
            if list.iter().any(|e| e.name == export.name) {
                return Err(ServerError::DuplicateExport { name: export.name.clone() });
            }
            list.push(Arc::new(build_one(config, export, index, manager)?));
        }
        let default = match (&config.default_export, list.iter().find(|e| e.name.is_empty())) {
            (_, Some(unnamed)) => Some(Arc::clone(unnamed)),
            (Some(name), None) => Some(Arc::clone(
                list.iter()
                    .find(|e| e.name == *name)
                    .ok_or_else(|| ServerError::UnknownDefault { name: name.clone() })?,
            )),
            (None, None) => None,
        };
        Ok(Exports { list, default })
    }

    /// The export called `name`; `""` is the default export.
    pub(crate) fn find(&self, name: &str) -> Option<&Arc<Export>> {
        let named = self.list.iter().find(|e| e.name == name);
        if name.is_empty() { named.or(self.default.as_ref()) } else { named }
    }

    /// Every export, in configuration order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Export>> {
        self.list.iter()
    }

    /// The names, for messages.
    pub(crate) fn names(&self) -> String {
        let names: Vec<String> = self.list.iter().map(|e| format!("{:?}", e.name)).collect();
        names.join(", ")
    }
}

fn check_name(name: &str) -> Result<(), ServerError> {
    let invalid = |reason| Err(ServerError::InvalidExportName { name: name.to_owned(), reason });
    if name.len() > MAX_STRING_LEN {
        return invalid("longer than 4096 bytes");
    }
    if name.contains('\0') {
        return invalid("contains NUL");
    }
    Ok(())
}

fn build_one(
    config: &ServerConfig,
    export: &ExportConfig,
    index: usize,
    manager: &IoManager,
) -> Result<Export, ServerError> {
    let name = &export.name;
    let device: DeviceRef = match &export.stack {
        ExportStack::Device(device) => device.attached_top(),
        ExportStack::Spec(spec) => {
            let ctx = config.build.clone().with_name_prefix(format!("nbd{index}-"));
            config
                .registry
                .build(spec, &ctx)
                .map_err(|source| ServerError::Stack { name: name.clone(), source })?
        }
    };
    let manager_name = format!("nbd-export-{index}");
    let open_error = |source| ServerError::Open { name: name.clone(), source };
    manager.register(&manager_name, &device).map_err(open_error)?;
    let read_only = export.read_only || device.stack_has(Characteristics::READ_ONLY);
    let min_block = if device.alignment() > 1 { device.sector_size().clamp(1, 65536) } else { 1 };
    let handle = manager.open(&manager_name, Access::READ).map_err(open_error)?;
    let size = handle.query_size().map_err(|status| ServerError::Size { name: name.clone(), status })?;
    drop(handle);
    let size = size - size % u64::from(min_block);
    tracing::info!(
        export = %name, stack = ?device.stack_names(), size, read_only, min_block,
        "export ready"
    );
    Ok(Export {
        name: name.clone(),
        description: export.description.clone(),
        manager_name,
        devices: device.stack_names(),
        spec: match &export.stack {
            ExportStack::Spec(spec) => Some(spec.to_string()),
            ExportStack::Device(_) => None,
        },
        size,
        read_only,
        min_block,
    })
}
