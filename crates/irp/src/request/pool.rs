//! A per-thread lookaside list of IRP bodies (`ExAllocateFromNPagedLookasideList`),
//! so a steady stream of requests allocates nothing.

use std::cell::RefCell;
use std::sync::Arc;

use super::{IoStatus, IrpBody, IrpShared, Sink, StackLocation};

/// Bodies kept per thread; more are freed.
const DEPTH: usize = 256;

thread_local! {
    // Boxed on purpose: the IRP hands out the Box itself, so moving bodies in and out
    // of the list moves a pointer, not the body.
    #[allow(clippy::vec_box)]
    static LOOKASIDE: RefCell<Vec<Box<IrpBody>>> = const { RefCell::new(Vec::new()) };
}

fn fresh(stack_size: usize) -> Box<IrpBody> {
    let mut stack = Vec::with_capacity(stack_size.max(4) + 1);
    stack.resize_with(stack_size + 1, StackLocation::default);
    Box::new(IrpBody {
        stack,
        stack_count: stack_size,
        pos: 0,
        io_status: IoStatus::default(),
        mdl: None,
        system_buffer: Vec::new(),
        pending_returned: false,
        lower_failure: None,
        reached_bottom: false,
        flush_waived: false,
        shared: Arc::new(IrpShared::new()),
        verifier: None,
        sink: Sink::Wait,
        user_data: 0,
        synchronous: false,
    })
}

/// An IRP body with `stack_size` fresh locations.
pub(crate) fn allocate(stack_size: usize) -> Box<IrpBody> {
    let reused = LOOKASIDE
        .try_with(|l| {
            let mut l = l.borrow_mut();
            let i = l.iter().rposition(|b| b.stack.capacity() > stack_size)?;
            Some(l.swap_remove(i))
        })
        .ok()
        .flatten();
    let Some(mut body) = reused else { return fresh(stack_size) };
    body.stack.resize_with(stack_size + 1, StackLocation::default);
    body.stack_count = stack_size;
    match Arc::get_mut(&mut body.shared) {
        Some(shared) => shared.reset(),
        // Someone (a cancel handle, a verifier check in progress) still looks at the
        // old shared block: give this IRP a new one.
        None => body.shared = Arc::new(IrpShared::new()),
    }
    body
}

/// Returns a completed body to this thread's lookaside list.
pub(crate) fn free(mut body: Box<IrpBody>) {
    for location in &mut body.stack {
        location.reset();
    }
    body.stack.clear();
    body.pos = 0;
    body.io_status = IoStatus::default();
    body.mdl = None;
    body.system_buffer = Vec::new();
    body.pending_returned = false;
    body.lower_failure = None;
    body.reached_bottom = false;
    body.flush_waived = false;
    body.sink = Sink::Wait;
    body.user_data = 0;
    body.synchronous = false;
    body.verifier = None;
    let _ = LOOKASIDE.try_with(|l| {
        let mut l = l.borrow_mut();
        if l.len() < DEPTH {
            l.push(body);
        }
    });
}
