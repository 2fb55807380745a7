//! # irp — the irpstack core
//!
//! An NT-style I/O manager in Rust: requests travel as owned [`Irp`]s down a stack
//! of [`Device`]s, each run by a [`Driver`] with one dispatch routine per
//! [`MajorFunction`]. Completion runs bottom-up through completion routines; a
//! FlushBuffers IRP is the promise that everything written before it is durable.
//! [`Mdl`]s describe the memory of a transfer and [`flush_io_buffers`] does the
//! processor-cache maintenance DMA, PIO and persistent memory need. The
//! [`verifier`] checks the IRP rules at run time.
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
//! | `KeFlushIoBuffers` | [`flush_io_buffers`] |

#![warn(missing_docs)]

pub mod cache;
mod call;
pub mod device;
pub mod dma;
mod driver;
pub mod file;
pub mod function;
mod handle;
pub mod irp;
mod manager;
pub mod mdl;
pub mod null;
mod status;
pub mod sync;
pub mod verifier;

pub use cache::{Direction, FlushMethod, Transfer, flush_io_buffers, persist};
pub use device::{Characteristics, Device, DeviceBuilder, DeviceError, DeviceRef};
pub use driver::{Driver, default_dispatch};
pub use file::{Access, FileObject};
pub use function::{FlushFlags, InformationClass, MajorFunction, Parameters, RequestFlags};
pub use handle::Handle;
pub use irp::{CancelHandle, CompletedIrp, Completion, InvokeOn, IoStatus, Irp, StackLocation};
pub use manager::{IoError, IoManager};
pub use mdl::{IoBuffer, LockOperation, Mdl, MdlError, MdlFlags};
pub use status::Status;
pub use verifier::{Rule, Verifier, VerifierMode, Violation};
