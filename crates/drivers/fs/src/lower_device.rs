//! The [`BlockDevice`] the driver reads its volume through: the device below it in the
//! stack, reached with the synchronous requests of [`irp::block::lower`] (a file system
//! reading its own metadata sends IRPs on its own behalf, without a file object).
//!
//! The on-disk code reads some structures smaller than a sector (a 256-byte inode, the
//! 1024-byte superblock on a 4 KiB-sector disk); requests are widened to the lower device's
//! sector size, so an `O_DIRECT` file disk below sees only aligned transfers (whose buffers
//! are page-aligned MDLs). A write narrower than a sector reads the sector, patches it, and
//! writes it back.

use irp::block::lower;
use irp::{DeviceRef, FlushFlags, Status};

use crate::device::{BlockDevice, DeviceIoError};

/// The device below the file system, as a [`BlockDevice`].
#[derive(Debug, Clone)]
pub struct LowerDevice {
    device: DeviceRef,
    size: u64,
    sector: u64,
}

fn io_error(op: &'static str, offset: u64, len: usize, status: Status) -> DeviceIoError {
    DeviceIoError { op, offset, len, reason: status.to_string() }
}

impl LowerDevice {
    /// The device `device` (the top of the stack the file system sits on), sized by a
    /// size query (`QueryInformation(Standard)`).
    pub fn new(device: &DeviceRef) -> Result<LowerDevice, DeviceIoError> {
        let size = lower::query_size(device).map_err(|s| io_error("size query", 0, 0, s))?;
        let sector = u64::from(device.sector_size().max(1));
        Ok(LowerDevice { device: device.clone(), size, sector })
    }

    /// The irp device below.
    pub fn device(&self) -> &DeviceRef {
        &self.device
    }

    /// The aligned range covering `offset..offset + len`, and `offset`'s place in it.
    fn widen(&self, offset: u64, len: usize) -> (u64, usize, usize) {
        let start = offset - offset % self.sector;
        let end = (offset + len as u64).div_ceil(self.sector) * self.sector;
        (start, (end - start) as usize, (offset - start) as usize)
    }

    fn check(&self, op: &'static str, offset: u64, len: usize) -> Result<(), DeviceIoError> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(DeviceIoError {
                op,
                offset,
                len,
                reason: format!("past the end of the {}-byte device {}", self.size, self.device.name()),
            }),
        }
    }
}

impl BlockDevice for LowerDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceIoError> {
        if buf.is_empty() {
            return Ok(());
        }
        self.check("read", offset, buf.len())?;
        let (start, len, skip) = self.widen(offset, buf.len());
        let data =
            lower::read(&self.device, start, len).map_err(|s| io_error("read", offset, buf.len(), s))?;
        buf.copy_from_slice(&data[skip..skip + buf.len()]);
        Ok(())
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceIoError> {
        if buf.is_empty() {
            return Ok(());
        }
        self.check("write", offset, buf.len())?;
        let (start, len, skip) = self.widen(offset, buf.len());
        let result = if start == offset && len == buf.len() {
            lower::write(&self.device, offset, buf)
        } else {
            let mut whole = lower::read(&self.device, start, len)
                .map_err(|s| io_error("read", start, len, s))?
                .into_vec();
            whole[skip..skip + buf.len()].copy_from_slice(buf);
            lower::write(&self.device, start, &whole)
        };
        result.map_err(|s| io_error("write", offset, buf.len(), s))
    }

    fn flush(&self) -> Result<(), DeviceIoError> {
        lower::flush(&self.device, FlushFlags::Full).ok().map_err(|s| io_error("flush", 0, 0, s))
    }
}
