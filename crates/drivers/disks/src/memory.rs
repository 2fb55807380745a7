//! `memory`: a RAM disk. Fast, sparse (64 KiB chunks allocated on first write), and
//! honest: it reports no durable storage (`Characteristics::NOT_DURABLE`), so nothing
//! above it can claim its data survives the process. Its allocation query
//! (`FSCTL_QUERY_ALLOCATED_RANGES`) reports the allocated chunks: a chunk never written,
//! or zeroed whole, is a hole.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use irp::{Characteristics, DeviceBuilder, DeviceError, DeviceRef, Irp, Status};

use irp::block::{AllocatedRange, Allocation, BlockDisk, BlockRequest, DiskDriver, DiskInfo};

const CHUNK: u64 = 64 * 1024;
const SHARDS: usize = 64;
/// An allocation query over at most this many chunks looks each up; a longer one walks
/// every allocated chunk instead.
const PROBED_CHUNKS: u64 = 1 << 16;

/// The RAM disk driver.
pub struct MemoryDisk {
    info: DiskInfo,
    shards: Vec<Mutex<HashMap<u64, Box<[u8]>>>>,
}

impl std::fmt::Debug for MemoryDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryDisk").field("info", &self.info).finish_non_exhaustive()
    }
}

impl MemoryDisk {
    /// A zeroed RAM disk of `size` bytes with `sector_size`-byte sectors.
    pub fn new(size: u64, sector_size: u32) -> MemoryDisk {
        MemoryDisk {
            info: DiskInfo { size, sector_size, volatile_cache: false, durable: false },
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Creates the device (bottom of a new stack) called `name`.
    pub fn create(name: &str, size: u64, sector_size: u32) -> Result<DeviceRef, DeviceError> {
        DeviceBuilder::new(name)
            .sector_size(sector_size)
            .characteristics(Characteristics::NOT_DURABLE)
            .build(DiskDriver::new(MemoryDisk::new(size, sector_size)))
    }

    /// What the disk reports.
    pub fn info(&self) -> DiskInfo {
        self.info
    }

    fn shard(&self, chunk: u64) -> MutexGuard<'_, HashMap<u64, Box<[u8]>>> {
        self.shards[(chunk as usize) % SHARDS].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls `f(chunk, offset_in_chunk, range_in_buffer)` for each chunk piece of
    /// `[offset, offset + len)`.
    fn pieces(offset: u64, len: u64, mut f: impl FnMut(u64, usize, std::ops::Range<usize>)) {
        let mut done = 0u64;
        while done < len {
            let at = offset + done;
            let (chunk, within) = (at / CHUNK, (at % CHUNK) as usize);
            let n = (CHUNK - within as u64).min(len - done);
            f(chunk, within, done as usize..(done + n) as usize);
            done += n;
        }
    }

    /// Copies `out.len()` bytes at `offset` into `out` (holes read as zeroes).
    pub fn read_at(&self, offset: u64, out: &mut [u8]) {
        MemoryDisk::pieces(offset, out.len() as u64, |chunk, within, range| {
            let shard = self.shard(chunk);
            let dst = &mut out[range.clone()];
            match shard.get(&chunk) {
                Some(data) => dst.copy_from_slice(&data[within..within + range.len()]),
                None => dst.fill(0),
            }
        });
    }

    /// Writes `data` at `offset`.
    pub fn write_at(&self, offset: u64, data: &[u8]) {
        MemoryDisk::pieces(offset, data.len() as u64, |chunk, within, range| {
            let mut shard = self.shard(chunk);
            let buf = shard.entry(chunk).or_insert_with(|| vec![0u8; CHUNK as usize].into_boxed_slice());
            buf[within..within + range.len()].copy_from_slice(&data[range]);
        });
    }

    /// Zeroes `[offset, offset + len)`, freeing whole chunks.
    pub fn zero_range(&self, offset: u64, len: u64) {
        MemoryDisk::pieces(offset, len, |chunk, within, range| {
            let mut shard = self.shard(chunk);
            if range.len() as u64 == CHUNK {
                shard.remove(&chunk);
            } else if let Some(buf) = shard.get_mut(&chunk) {
                buf[within..within + range.len()].fill(0);
            }
        });
    }

    /// Bytes of memory holding data (allocated chunks).
    pub fn allocated_bytes(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len() as u64 * CHUNK)
            .sum()
    }

    /// The allocated chunks among `first..=last`, ascending; probing chunk by chunk stops
    /// once they make more than `max_ranges` runs.
    fn allocated_chunks(&self, first: u64, last: u64, max_ranges: usize) -> Vec<u64> {
        if last - first < PROBED_CHUNKS {
            let mut chunks: Vec<u64> = Vec::new();
            let mut runs = 0;
            for chunk in first..=last {
                if self.shard(chunk).contains_key(&chunk) {
                    if chunks.last().is_none_or(|&c| c + 1 != chunk) {
                        runs += 1;
                        if runs > max_ranges + 1 {
                            break;
                        }
                    }
                    chunks.push(chunk);
                }
            }
            return chunks;
        }
        let mut chunks: Vec<u64> = Vec::new();
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            chunks.extend(shard.keys().filter(|c| (first..=last).contains(*c)));
        }
        chunks.sort_unstable();
        chunks
    }

    fn serve(&self, mut irp: Irp) -> Status {
        let request = match BlockRequest::decode(&irp, &self.info) {
            Ok(r) => r,
            Err(status) => return irp.complete(status),
        };
        match request {
            BlockRequest::Read { offset, length } => {
                let Some(buf) = irp.mdl_mut().and_then(irp::Mdl::bytes_mut) else {
                    return irp.complete(Status::INVALID_PARAMETER);
                };
                self.read_at(offset, &mut buf[..length]);
                irp.complete_with(Status::SUCCESS, length as u64)
            }
            BlockRequest::Write { offset, length, .. } => {
                let Some(mdl) = irp.mdl() else { return irp.complete(Status::INVALID_PARAMETER) };
                self.write_at(offset, &mdl.bytes()[..length]);
                irp.complete_with(Status::SUCCESS, length as u64)
            }
            BlockRequest::Discard { offset, length } | BlockRequest::WriteZeroes { offset, length, .. } => {
                self.zero_range(offset, length);
                irp.complete(Status::SUCCESS)
            }
        }
    }
}

impl BlockDisk for MemoryDisk {
    fn disk_info(&self) -> DiskInfo {
        self.info
    }
    fn serve(&self, irp: Irp) -> Status {
        MemoryDisk::serve(self, irp)
    }
    /// Nothing is cached and nothing is durable: a flush has nothing to do. The device
    /// says so with `NOT_DURABLE` rather than by failing every flush.
    fn flush(&self, irp: Irp, _syncs_device: bool) -> Status {
        irp.complete(Status::SUCCESS)
    }
    /// The allocated 64 KiB chunks (a chunk partly zeroed stays allocated: data).
    fn allocated_ranges(&self, query: AllocatedRange, max_ranges: usize) -> Result<Allocation, Status> {
        let end = query.end().ok_or(Status::INVALID_PARAMETER)?;
        let chunks = self.allocated_chunks(query.offset / CHUNK, (end - 1) / CHUNK, max_ranges);
        Ok(Allocation::from_ranges(query, chunks.into_iter().map(|c| AllocatedRange::new(c * CHUNK, CHUNK))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use irp::{Access, IoManager, RequestFlags};

    #[test]
    fn read_write_discard_across_chunks() {
        let io = IoManager::new();
        let dev = MemoryDisk::create("mem", 1 << 20, 512).unwrap();
        io.register("mem", &dev).unwrap();
        let h = io.open("mem", Access::READ_WRITE).unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        h.write(CHUNK - 100, &data).unwrap();
        assert_eq!(h.read(CHUNK - 100, data.len()).unwrap().bytes(), &data[..]);
        h.discard(CHUNK, CHUNK).unwrap();
        let back = h.read(CHUNK - 100, data.len()).unwrap();
        assert_eq!(&back.bytes()[..100], &data[..100]);
        assert!(back.bytes()[100..100 + CHUNK as usize].iter().all(|&b| b == 0));
        h.write_zeroes(0, 10, RequestFlags::NONE).unwrap();
        assert_eq!(h.query_size().unwrap(), 1 << 20);
        assert!(dev.stack_has(Characteristics::NOT_DURABLE));
        h.flush_buffers().unwrap();
    }

    #[test]
    fn written_chunks_are_allocated_and_the_rest_are_holes() {
        let dev = MemoryDisk::create("mem", 4 << 20, 512).unwrap();
        let disk = dev.disk::<MemoryDisk>().unwrap();
        let query = |offset, length, max| {
            irp::block::lower::query_allocated_ranges(&dev, AllocatedRange::new(offset, length), max).unwrap()
        };
        assert!(query(0, 4 << 20, 8).ranges().is_empty(), "a fresh disk is one hole");
        disk.write_at(CHUNK + 10, &[1; 10]);
        disk.write_at(3 * CHUNK - 1, &[2; 2]);
        disk.write_at(40 * CHUNK, &[3]);
        let all = query(0, 4 << 20, 8);
        let want = [AllocatedRange::new(CHUNK, 3 * CHUNK), AllocatedRange::new(40 * CHUNK, CHUNK)];
        assert_eq!(all.ranges(), want);
        assert!(all.is_complete());
        let cut = query(0, 4 << 20, 1);
        assert_eq!((cut.ranges(), cut.end()), (&want[..1], 4 * CHUNK), "cut after the first run");
        assert_eq!(query(100, 1000, 8).ranges(), [], "inside the first hole");
        assert_eq!(query(2 * CHUNK + 5, 10, 8).ranges(), [AllocatedRange::new(2 * CHUNK + 5, 10)]);
        disk.zero_range(CHUNK, CHUNK);
        assert_eq!(query(0, 4 << 20, 8).ranges()[0], AllocatedRange::new(2 * CHUNK, 2 * CHUNK), "freed");
        // A large disk walks its chunks instead of probing every one.
        let big = MemoryDisk::new(1 << 40, 512);
        big.write_at((1 << 39) + 7, &[9]);
        let answer = BlockDisk::allocated_ranges(&big, AllocatedRange::new(0, 1 << 40), 4).unwrap();
        assert_eq!(answer.ranges(), [AllocatedRange::new(1 << 39, CHUNK)]);
    }

    #[test]
    fn out_of_range_requests_fail_cleanly() {
        let io = IoManager::new();
        let dev = MemoryDisk::create("mem", 4096, 512).unwrap();
        io.register("mem", &dev).unwrap();
        let h = io.open("mem", Access::READ_WRITE).unwrap();
        assert_eq!(h.write(4000, &[1; 200]), Err(Status::INVALID_PARAMETER));
        assert_eq!(h.read(4000, 200).unwrap_err(), Status::END_OF_FILE);
        assert_eq!(h.discard(u64::MAX - 1, 10), Err(Status::INVALID_PARAMETER));
    }
}
