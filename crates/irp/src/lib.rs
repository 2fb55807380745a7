//! # irp — the irpstack core
//!
//! An NT-style I/O manager in Rust: requests travel as owned [`Irp`]s down a stack
//! of [`Device`]s, each run by a [`Driver`] with one dispatch routine per
//! [`MajorFunction`]. Completion runs bottom-up through completion routines; a
//! FlushBuffers IRP is the promise that everything written before it is durable.
//! [`Mdl`]s describe the memory of a transfer and [`cpu_cache::flush_io_buffers`] does the
//! processor-cache maintenance DMA, PIO and persistent memory need. The
//! [`Verifier`] checks the IRP rules at run time.
//!
//! Every type has one path: the core's types at the crate root, and five sub-vocabularies
//! as modules — [`block`] (what a disk is: block requests, `BlockDisk`, the disk adapter, the
//! requests a driver sends below), [`file`](mod@file) (what a file system is asked and answers: create
//! dispositions, information classes, directory queries, irpstack's file-system controls),
//! [`cpu_cache`] (processor-cache maintenance), [`dma`] (the simulated non-coherent DMA
//! device) and [`units`] (the text of sizes and durations).
//! [`testing`] holds what the workspace's test suites share (reporting a skipped test).
//!
//! | NT | irpstack |
//! |---|---|
//! | `IRP`, `IO_STACK_LOCATION` | [`Irp`], [`StackLocation`] |
//! | `IoCallDriver` | [`Device::call`] |
//! | `IoCompleteRequest` | [`Irp::complete`] |
//! | `IoSkipCurrentIrpStackLocation` / `IoCopyCurrentIrpStackLocationToNext` | [`Irp::skip_current_location`] / [`Irp::copy_current_location_to_next`] |
//! | `IoSetCompletionRoutine`, `STATUS_MORE_PROCESSING_REQUIRED` | [`Irp::set_completion_routine`], [`Completion::MoreProcessingRequired`] |
//! | `IoMarkIrpPending` | [`Irp::mark_pending`] |
//! | `IoForwardIrpSynchronously`, `IoBuildSynchronousFsdRequest` | [`Irp::forward_synchronously`], [`Device::call_and_wait`] |
//! | `IoAttachDeviceToDeviceStack` | [`DeviceBuilder::attach`] |
//! | `NtFlushBuffersFile(Ex)` | [`Handle::flush_buffers`], [`Handle::flush_buffers_ex`] |
//! | `NtCreateFile` | [`IoManager::create`] with a [`file::CreateRequest`] |
//! | `NtQueryInformationFile`, `NtQueryDirectoryFile`, `NtFsControlFile` | [`Handle::query_stat`], [`Handle::list_directory`], [`Handle::fs_control`] |
//! | `KeFlushIoBuffers` | [`cpu_cache::flush_io_buffers`] |
//!
//! Source layout: `request/` (the IRP, its stack locations, completion, the lookaside
//! pool), `device.rs`, `call.rs`, `driver.rs` (devices, `IoCallDriver`, the dispatch
//! table), `manager.rs`, `handle.rs`, `file_object.rs` (the I/O manager, handles and file
//! objects), `mdl/`, `cpu_cache/`, `dma.rs`, `verifier.rs`, `block/`, `condvar.rs` (the
//! wait primitive the core's rendezvous use).

#![warn(missing_docs)]

pub mod block;
mod call;
mod condvar;
pub mod cpu_cache;
mod device;
mod device_names;
pub mod dma;
mod driver;
pub mod file;
mod file_object;
mod function;
mod handle;
mod manager;
mod mdl;
mod request;
mod status;
pub mod testing;
pub mod units;
mod verifier;

pub use condvar::Condvar;
pub use device::{Characteristics, Device, DeviceBuilder, DeviceError, DeviceRef};
pub use driver::{Driver, default_dispatch};
pub use file_object::{Access, FileObject};
pub use function::{FlushFlags, InformationClass, MajorFunction, Parameters, RequestFlags};
pub use handle::Handle;
pub use manager::{IoError, IoManager};
pub use mdl::{Chain, IoBuffer, LockOperation, Mdl, MdlError, MdlFlags, PartialMdl, page_size};
pub use request::{
    CancelHandle, CompletedIrp, Completion, InvokeOn, IoStatus, Irp, MAX_STACK_SIZE, StackLocation,
};
pub use status::Status;
pub use verifier::{Rule, Verifier, VerifierMode, Violation};
