//! Reusing transfer buffers within a connection: a buffer freshly allocated for every
//! request costs a zeroing (and, above the allocator's mmap threshold, a page fault per
//! page); clients use a few sizes over and over, so buffers of exactly the same size are
//! kept for the next request. Per connection, so data never crosses between clients.

use std::sync::{Mutex, PoisonError};

use irp::{IoBuffer, Mdl, MdlError};

/// Free buffers of one connection, at most `max_bytes` of them.
#[derive(Debug)]
pub(crate) struct BufferPool {
    free: Mutex<Free>,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Free {
    buffers: Vec<IoBuffer>,
    bytes: usize,
}

/// At most this many free buffers are kept (the search is linear).
const MAX_BUFFERS: usize = 32;

impl BufferPool {
    pub(crate) fn new(max_bytes: usize) -> BufferPool {
        BufferPool { free: Mutex::new(Free::default()), max_bytes }
    }

    /// An MDL over `len` bytes: a kept buffer of that size, or a new zeroed one. A kept
    /// buffer holds an earlier request's bytes: a read overwrites all of them (its reply
    /// is sent only when the IRP reports every byte read), a write's payload too.
    pub(crate) fn take(&self, len: usize) -> Result<Mdl, MdlError> {
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            let found = free.buffers.iter().rposition(|b| b.len() == len);
            found.map(|i| {
                let buffer = free.buffers.swap_remove(i);
                free.bytes -= buffer.len();
                buffer
            })
        };
        match reused {
            Some(buffer) => Ok(Mdl::new(buffer)),
            None => Mdl::with_len(len),
        }
    }

    /// Keeps the buffer of a finished request, if there is room.
    pub(crate) fn give(&self, mdl: Mdl) {
        let Ok(buffer) = mdl.into_buffer() else { return };
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.buffers.len() < MAX_BUFFERS && free.bytes + buffer.len() <= self.max_bytes {
            free.bytes += buffer.len();
            free.buffers.push(buffer);
        }
    }
}
