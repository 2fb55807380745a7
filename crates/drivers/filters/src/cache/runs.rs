//! The writes of a write-back pass: runs of adjacent dirty blocks, sent below together.
//! (The cache's other requests below are [`irp::block::lower`]'s.)

use std::sync::{Mutex, PoisonError, mpsc};

use irp::block::lower::write_irp;
use irp::{DeviceRef, Mdl, Status};

/// The largest write a write-back pass sends: adjacent dirty blocks are merged up to it.
const MAX_RUN: u64 = 1 << 20;

/// Runs longer than this are copied into a kept buffer of [`MAX_RUN`] bytes; shorter ones
/// into a new one (below the allocator's mapping threshold, so a cheap allocation).
const KEPT_FROM: usize = 64 << 10;

/// How many run buffers are kept between passes: a pass writes at most 1024 blocks
/// (`BATCH` in `mod.rs`), so a few megabytes' worth serve every pass.
const KEEP: usize = 4;

/// The buffers of finished runs, kept for the next pass. A fresh buffer of a megabyte is a
/// fresh mapping — 256 page faults and zeroed pages for every run written — which cost the
/// write-back of sequential writes a quarter of its time.
#[derive(Debug, Default)]
pub(super) struct RunBuffers {
    free: Mutex<Vec<Mdl>>,
}

impl RunBuffers {
    /// A buffer for a run of `len` bytes (at least `len` long).
    fn take(&self, len: usize) -> Result<Mdl, Status> {
        if len > KEPT_FROM
            && let Some(mdl) = self.free.lock().unwrap_or_else(PoisonError::into_inner).pop()
        {
            return Ok(mdl);
        }
        let size = if len > KEPT_FROM { MAX_RUN as usize } else { len };
        Mdl::with_len(size).map_err(|_| Status::INSUFFICIENT_RESOURCES)
    }

    /// Takes back the buffer of a finished run, if it is one worth keeping.
    fn put(&self, mdl: Option<Mdl>) {
        let Some(mut mdl) = mdl else { return };
        if mdl.byte_count() == MAX_RUN as usize && mdl.prepare_for_reuse() {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            if free.len() < KEEP {
                free.push(mdl);
            }
        }
    }
}

/// One write of a write-back pass: a run of adjacent blocks, copied into one buffer.
pub(super) struct RunWrite {
    /// Byte offset of the first block.
    pub(super) offset: u64,
    /// The blocks, with the generation each had when it was copied.
    pub(super) blocks: Vec<(u64, u64)>,
    /// The run's length in bytes (its buffer may be longer).
    length: u32,
    mdl: Option<Mdl>,
}

/// Groups `blocks` (sorted (block, generation) pairs) into runs of adjacent blocks of at
/// most [`MAX_RUN`] bytes and copies each run's data (`data(block)`) into one buffer.
pub(super) fn runs<'a>(
    blocks: &[(u64, u64)],
    block_size: u64,
    buffers: &RunBuffers,
    data: impl Fn(u64) -> Option<&'a [u8]>,
) -> Result<Vec<RunWrite>, Status> {
    let mut runs: Vec<Vec<(u64, u64)>> = Vec::new();
    for &(block, generation) in blocks {
        match runs.last_mut() {
            Some(run)
                if run.last().is_some_and(|&(last, _)| last + 1 == block)
                    && (run.len() as u64 + 1) * block_size <= MAX_RUN =>
            {
                run.push((block, generation));
            }
            _ => runs.push(vec![(block, generation)]),
        }
    }
    runs.into_iter()
        .map(|blocks| {
            let parts: Vec<&[u8]> = blocks
                .iter()
                .map(|&(b, _)| data(b).ok_or(Status::INTERNAL_ERROR))
                .collect::<Result<_, _>>()?;
            let len: usize = parts.iter().map(|p| p.len()).sum();
            let mut mdl = buffers.take(len)?;
            let buf = mdl.bytes_mut().ok_or(Status::INTERNAL_ERROR)?;
            let mut at = 0;
            for part in parts {
                buf[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            let length = u32::try_from(len).map_err(|_| Status::INTERNAL_ERROR)?;
            Ok(RunWrite { offset: blocks[0].0 * block_size, blocks, length, mdl: Some(mdl) })
        })
        .collect()
}

/// Writes every run at once (all in flight together) and returns, per run, the status
/// its write completed with, in the same order. A single run is sent with
/// `call_and_wait`: the device below may then write it in this thread (the caller
/// waits anyway), sparing a hand-off to its workers.
/// The runs' buffers go back to `buffers`.
pub(super) fn write_all(lower: &DeviceRef, writes: &mut [RunWrite], buffers: &RunBuffers) -> Vec<Status> {
    if let [only] = writes
        && let Some(mdl) = only.mdl.take()
    {
        let mut done = lower.call_and_wait(write_irp(lower, only.offset, mdl, only.length));
        buffers.put(done.take_mdl());
        return vec![done.status()];
    }
    let (tx, rx) = mpsc::channel();
    let mut statuses = vec![Status::INTERNAL_ERROR; writes.len()];
    let mut sent = 0;
    for (i, w) in writes.iter_mut().enumerate() {
        let Some(mdl) = w.mdl.take() else { continue };
        let _ =
            lower.submit_to(write_irp(lower, w.offset, mdl, w.length).with_user_data(i as u64), tx.clone());
        sent += 1;
    }
    drop(tx);
    for mut done in rx.iter().take(sent) {
        statuses[done.user_data() as usize] = done.status();
        buffers.put(done.take_mdl());
    }
    statuses
}
