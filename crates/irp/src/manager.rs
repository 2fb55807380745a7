//! The I/O manager: named devices, opening handles, and system shutdown.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::Status;
use crate::device::{Characteristics, DeviceRef};
use crate::file::{CreateAction, CreateRequest};
use crate::file_object::{Access, FileObject};
use crate::function::{MajorFunction, Parameters};
use crate::handle::Handle;
use crate::request::Irp;

/// Errors of the I/O manager.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// No device is registered under that name.
    #[error("no device named {name:?} (registered: {known})")]
    NoSuchDevice {
        /// The name asked for.
        name: String,
        /// The names that exist, comma separated.
        known: String,
    },
    /// A device is already registered under that name.
    #[error("a device named {name:?} is already registered")]
    NameCollision {
        /// The name.
        name: String,
    },
    /// The manager was shut down.
    #[error("the I/O manager is shut down")]
    ShutDown,
    /// A device failed a request.
    #[error("{major} on device {device:?} failed: {status}")]
    Request {
        /// The device (top of its stack).
        device: String,
        /// What was asked.
        major: MajorFunction,
        /// The status it completed with.
        #[source]
        status: Status,
    },
}

impl IoError {
    /// The status a device failed the request with, if that is what happened.
    pub fn status(&self) -> Option<Status> {
        match self {
            IoError::Request { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The I/O manager (`IoManager`): a namespace of device stacks, the handles opened on
/// them, and the shutdown notification list.
///
/// On [`IoManager::shutdown`] and on drop it sends `IRP_MJ_SHUTDOWN` to the top of
/// the stack of every device registered for it (NT's `IoShutdownSystem`).
#[derive(Debug, Default)]
pub struct IoManager {
    devices: RwLock<BTreeMap<String, DeviceRef>>,
    shutdown_list: Mutex<Vec<DeviceRef>>,
    shut_down: AtomicBool,
}

impl IoManager {
    /// An empty manager.
    pub fn new() -> IoManager {
        IoManager::default()
    }

    /// Registers the stack `device` belongs to under `name` (`IoCreateSymbolicLink`);
    /// opens go to the top of that stack. Devices of the stack with
    /// [`Characteristics::SHUTDOWN_NOTIFY`] are registered for shutdown.
    pub fn register(&self, name: impl Into<String>, device: &DeviceRef) -> Result<(), IoError> {
        let name = name.into();
        if self.shut_down.load(Ordering::Acquire) {
            return Err(IoError::ShutDown);
        }
        let top = device.attached_top();
        {
            let mut devices = self.devices.write().unwrap_or_else(PoisonError::into_inner);
            if devices.contains_key(&name) {
                return Err(IoError::NameCollision { name });
            }
            devices.insert(name, Arc::clone(&top));
        }
        if top.stack_has(Characteristics::SHUTDOWN_NOTIFY) {
            self.register_shutdown_notification(&top);
        }
        Ok(())
    }

    /// Asks for `IRP_MJ_SHUTDOWN` to be sent to `device`'s stack at shutdown
    /// (`IoRegisterShutdownNotification`).
    #[doc(alias = "IoRegisterShutdownNotification")]
    pub fn register_shutdown_notification(&self, device: &DeviceRef) {
        let top = device.attached_top();
        let mut list = self.shutdown_list.lock().unwrap_or_else(PoisonError::into_inner);
        if !list.iter().any(|d| Arc::ptr_eq(d, &top)) {
            list.push(top);
        }
    }

    /// The top device registered under `name`.
    pub fn device(&self, name: &str) -> Result<DeviceRef, IoError> {
        let devices = self.devices.read().unwrap_or_else(PoisonError::into_inner);
        devices.get(name).cloned().ok_or_else(|| IoError::NoSuchDevice {
            name: name.to_owned(),
            known: devices.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// The registered names.
    pub fn names(&self) -> Vec<String> {
        self.devices.read().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect()
    }

    /// Opens the device registered under `name` (`NtCreateFile` on `\Device\name`).
    pub fn open(&self, name: &str, access: Access) -> Result<Handle, IoError> {
        self.open_path(name, "", access)
    }

    /// Opens the existing `path` on the device registered under `name`, as the calling
    /// process: the file system on top of the stack resolves it; an empty path opens the
    /// volume itself. [`IoManager::create`] with [`CreateRequest::open`].
    ///
    /// A device without a create routine answers `STATUS_INVALID_DEVICE_REQUEST`;
    /// the manager treats that as a raw device that keeps no per-open state, and the
    /// open succeeds.
    pub fn open_path(&self, name: &str, path: &str, access: Access) -> Result<Handle, IoError> {
        self.create(name, &CreateRequest::open(path, access))
    }

    /// Opens or creates a file on the device registered under `name` (`NtCreateFile`): an
    /// `IRP_MJ_CREATE` with the request's disposition, options and mode, for a new file
    /// object holding its path and credentials. The handle knows what the open did
    /// ([`Handle::create_action`]).
    #[doc(alias = "NtCreateFile")]
    pub fn create(&self, name: &str, request: &CreateRequest) -> Result<Handle, IoError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(IoError::ShutDown);
        }
        let device = self.device(name)?;
        let file = Arc::new(FileObject::with_credentials(
            request.path.clone(),
            request.access,
            request.credentials.clone(),
        ));
        let irp = Irp::for_device(&device, MajorFunction::Create)
            .with_parameters(Parameters::Create {
                access: request.access,
                disposition: request.disposition,
                options: request.options,
                mode: request.mode,
            })
            .with_file_object(Arc::clone(&file));
        let done = device.call_and_wait(irp);
        let status = done.status();
        if !status.counted_for(MajorFunction::Create).is_success() {
            return Err(IoError::Request {
                device: device.name().to_owned(),
                major: MajorFunction::Create,
                status,
            });
        }
        // A raw device that does not handle creates (or says nothing) opened what exists.
        let action = if status == Status::INVALID_DEVICE_REQUEST {
            CreateAction::Opened
        } else {
            CreateAction::from_information(done.information()).unwrap_or(CreateAction::Opened)
        };
        Ok(Handle::new(device, file).with_create_action(action))
    }

    /// Sends `IRP_MJ_SHUTDOWN` to every device registered for it and waits; later
    /// opens fail. Returns the first failure; every device is told even after one
    /// fails. Calling it again does nothing.
    #[doc(alias = "IoShutdownSystem")]
    pub fn shutdown(&self) -> Result<(), IoError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let list = std::mem::take(&mut *self.shutdown_list.lock().unwrap_or_else(PoisonError::into_inner));
        let mut first_error = None;
        for device in list {
            let status = device.call_and_wait(Irp::for_device(&device, MajorFunction::Shutdown)).status();
            if status.counted_for(MajorFunction::Shutdown).is_success() {
                tracing::debug!(device = device.name(), "shutdown complete");
            } else {
                tracing::error!(device = device.name(), %status, "shutdown failed");
                first_error.get_or_insert(IoError::Request {
                    device: device.name().to_owned(),
                    major: MajorFunction::Shutdown,
                    status,
                });
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Whether [`IoManager::shutdown`] ran.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }
}

impl Drop for IoManager {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!("shutdown on drop: {e}");
        }
    }
}
