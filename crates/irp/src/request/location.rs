//! One stack location (`IO_STACK_LOCATION`): what one device is asked to do.

use std::sync::Arc;

use super::completion::{CompletionRoutine, InvokeOn};
use crate::file_object::FileObject;
use crate::function::{FlushFlags, MajorFunction, Parameters, RequestFlags};

/// `SL_PENDING_RETURNED`.
const PENDING_RETURNED: u8 = 0x01;

/// What one device in the stack is asked to do (`IO_STACK_LOCATION`).
#[doc(alias = "IO_STACK_LOCATION")]
pub struct StackLocation {
    /// The major function (`MajorFunction`).
    pub major: MajorFunction,
    /// The minor function (`MinorFunction`); for flushes the `IRP_MN_FLUSH_*` code.
    pub minor: u8,
    /// Request flags (`Flags`, e.g. `SL_WRITE_THROUGH`).
    pub flags: RequestFlags,
    /// The parameters (`Parameters`).
    pub parameters: Parameters,
    /// The file object the request is for (`FileObject`).
    pub file_object: Option<Arc<FileObject>>,
    /// `Control`: pending-returned and invoke-on bits.
    pub(crate) control: u8,
    /// The completion routine registered here by the driver above.
    pub(crate) completion: Option<CompletionRoutine>,
    /// The device this location was sent to (its id, for diagnostics).
    pub(crate) device_id: Option<u32>,
}

impl Default for StackLocation {
    fn default() -> Self {
        StackLocation {
            major: MajorFunction::Create,
            minor: 0,
            flags: RequestFlags::NONE,
            parameters: Parameters::None,
            file_object: None,
            control: 0,
            completion: None,
            device_id: None,
        }
    }
}

impl std::fmt::Debug for StackLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackLocation")
            .field("major", &self.major)
            .field("minor", &self.minor)
            .field("flags", &self.flags)
            .field("parameters", &self.parameters)
            .field("pending", &self.is_pending())
            .field("has_completion", &self.completion.is_some())
            .finish()
    }
}

impl StackLocation {
    /// The flush flags carried by the minor function.
    pub fn flush_flags(&self) -> FlushFlags {
        match self.minor {
            2 => FlushFlags::FileDataOnly,
            3 => FlushFlags::NoSync,
            4 => FlushFlags::FileDataSyncOnly,
            _ => FlushFlags::Full,
        }
    }

    /// Whether `SL_PENDING_RETURNED` is set.
    pub fn is_pending(&self) -> bool {
        self.control & PENDING_RETURNED != 0
    }

    pub(crate) fn set_pending(&mut self) {
        self.control |= PENDING_RETURNED;
    }

    pub(crate) fn set_completion(&mut self, routine: CompletionRoutine, on: InvokeOn) {
        self.completion = Some(routine);
        self.control = (self.control & PENDING_RETURNED) | on.bits();
    }

    /// `IoCopyCurrentIrpStackLocationToNext`: everything up to the completion routine,
    /// with `Control` zeroed.
    pub(crate) fn copy_from(&mut self, upper: &StackLocation) {
        self.major = upper.major;
        self.minor = upper.minor;
        self.flags = upper.flags;
        self.parameters.clone_from(&upper.parameters);
        self.file_object.clone_from(&upper.file_object);
        self.control = 0;
        self.completion = None;
    }

    /// Resets for reuse from the lookaside list.
    pub(crate) fn reset(&mut self) {
        *self = StackLocation::default();
    }
}
