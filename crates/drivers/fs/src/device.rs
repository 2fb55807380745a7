//! The block device below the on-disk code: byte-addressed reads and writes of whole
//! blocks, and a flush. The driver implements it over the lower device's `irp::Handle`;
//! tests and tools use [`MemoryDevice`] or a file.

use std::sync::Mutex;

/// A failed device operation, with the errno-style reason below.
#[derive(Debug, thiserror::Error)]
#[error("{op} of {len} bytes at {offset}: {reason}")]
pub struct DeviceIoError {
    /// "read", "write" or "flush".
    pub op: &'static str,
    /// Byte offset of the request.
    pub offset: u64,
    /// Length of the request.
    pub len: usize,
    /// What went wrong.
    pub reason: String,
}

/// A device the file system reads and writes. Offsets and lengths are multiples of the
/// device's sector size (512) in every call the on-disk code makes.
pub trait BlockDevice: Send + Sync {
    /// Size in bytes.
    fn size(&self) -> u64;
    /// Reads `buf.len()` bytes at `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceIoError>;
    /// Writes `buf` at `offset` (not durable until [`BlockDevice::flush`]).
    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceIoError>;
    /// Makes every completed write durable (IRP_MJ_FLUSH_BUFFERS below).
    fn flush(&self) -> Result<(), DeviceIoError>;
}

/// A RAM-backed device, for tests and for checking images in memory.
#[derive(Debug)]
pub struct MemoryDevice {
    bytes: Mutex<Vec<u8>>,
}

impl MemoryDevice {
    /// A zero-filled device of `size` bytes.
    pub fn new(size: u64) -> MemoryDevice {
        MemoryDevice { bytes: Mutex::new(vec![0; size as usize]) }
    }

    /// A device holding `image`.
    pub fn from_image(image: Vec<u8>) -> MemoryDevice {
        MemoryDevice { bytes: Mutex::new(image) }
    }

    /// A copy of the whole image.
    pub fn image(&self) -> Vec<u8> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.bytes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn range(
        &self,
        op: &'static str,
        offset: u64,
        len: usize,
    ) -> Result<std::ops::Range<usize>, DeviceIoError> {
        let size = self.lock().len() as u64;
        match offset.checked_add(len as u64) {
            Some(end) if end <= size => Ok(offset as usize..end as usize),
            _ => Err(DeviceIoError {
                op,
                offset,
                len,
                reason: format!("past the end of a {size}-byte device"),
            }),
        }
    }
}

impl BlockDevice for MemoryDevice {
    fn size(&self) -> u64 {
        self.lock().len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceIoError> {
        let range = self.range("read", offset, buf.len())?;
        buf.copy_from_slice(&self.lock()[range]);
        Ok(())
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceIoError> {
        let range = self.range("write", offset, buf.len())?;
        self.lock()[range].copy_from_slice(buf);
        Ok(())
    }

    fn flush(&self) -> Result<(), DeviceIoError> {
        Ok(())
    }
}

/// A device backed by a file (an image, or a block device node): positioned reads and
/// writes, and `fdatasync` as the flush.
#[derive(Debug)]
pub struct FileDevice {
    file: std::fs::File,
    size: u64,
}

impl FileDevice {
    /// Opens `path` for reading and writing.
    pub fn open(path: impl AsRef<std::path::Path>) -> std::io::Result<FileDevice> {
        use std::io::Seek;
        let mut file = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
        // The end, not the metadata's length: a block device node has length 0.
        let size = file.seek(std::io::SeekFrom::End(0))?;
        Ok(FileDevice { file, size })
    }

    fn err(op: &'static str, offset: u64, len: usize, e: std::io::Error) -> DeviceIoError {
        DeviceIoError { op, offset, len, reason: e.to_string() }
    }
}

impl BlockDevice for FileDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceIoError> {
        use std::os::unix::fs::FileExt;
        if offset.checked_add(buf.len() as u64).is_none_or(|e| e > self.size) {
            return Err(DeviceIoError { op: "read", offset, len: buf.len(), reason: "past the end".into() });
        }
        self.file.read_exact_at(buf, offset).map_err(|e| Self::err("read", offset, buf.len(), e))
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceIoError> {
        use std::os::unix::fs::FileExt;
        if offset.checked_add(buf.len() as u64).is_none_or(|e| e > self.size) {
            return Err(DeviceIoError { op: "write", offset, len: buf.len(), reason: "past the end".into() });
        }
        self.file.write_all_at(buf, offset).map_err(|e| Self::err("write", offset, buf.len(), e))
    }

    fn flush(&self) -> Result<(), DeviceIoError> {
        self.file.sync_data().map_err(|e| Self::err("flush", 0, 0, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_was_written_and_refuses_past_the_end() {
        let dev = MemoryDevice::new(8192);
        dev.write_at(4096, &[7; 512]).unwrap();
        let mut buf = [0; 512];
        dev.read_at(4096, &mut buf).unwrap();
        assert_eq!(buf, [7; 512]);
        assert!(dev.read_at(8000, &mut buf).is_err());
    }
}
