//! The durable image of a crash disk: in memory, or in a file shared between processes.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::CrashDiskError;
use crate::locking::Locking;

/// Where the crash disk's durable data lives.
#[derive(Debug)]
pub enum DurableImage {
    /// In this process only.
    Memory(Vec<u8>),
    /// In a file: survives the process, so `mkfs` in one process and `serve` in the
    /// next share it.
    File {
        /// The open image.
        file: File,
        /// Its size.
        len: u64,
        /// Its path.
        path: PathBuf,
    },
}

impl DurableImage {
    /// A zeroed in-memory image.
    pub fn memory(size: u64) -> DurableImage {
        DurableImage::Memory(vec![0; usize::try_from(size).expect("image fits in memory")])
    }

    /// Opens `path`, creating it (sparse, `size` bytes) when missing, and locks it
    /// exclusively unless `locking` is off ([`crate::locking`]).
    pub fn open_file(
        path: &Path,
        size: Option<u64>,
        locking: Locking,
    ) -> Result<DurableImage, CrashDiskError> {
        let err = |source| CrashDiskError::Image { path: path.to_owned(), source };
        let exists = path.exists();
        if !exists && size.is_none() {
            return Err(CrashDiskError::NoSize { path: path.to_owned() });
        }
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(err)?;
        crate::locking::lock(&file, path, crate::locking::Mode::Write, locking)?;
        let mut len = file.metadata().map_err(err)?.len();
        if let Some(size) = size
            && (!exists || len < size)
        {
            file.set_len(size).map_err(err)?;
            len = size;
        }
        Ok(DurableImage::File { file, len, path: path.to_owned() })
    }

    /// The size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            DurableImage::Memory(v) => v.len() as u64,
            DurableImage::File { len, .. } => *len,
        }
    }

    /// Whether the image has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All of it.
    pub fn read_all(&self) -> std::io::Result<Vec<u8>> {
        match self {
            DurableImage::Memory(v) => Ok(v.clone()),
            DurableImage::File { file, len, .. } => {
                let mut buf = vec![0; usize::try_from(*len).map_err(std::io::Error::other)?];
                file.read_exact_at(&mut buf, 0)?;
                Ok(buf)
            }
        }
    }

    /// Writes `data` at `offset`.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        match self {
            DurableImage::Memory(v) => {
                let o = offset as usize;
                v[o..o + data.len()].copy_from_slice(data);
                Ok(())
            }
            DurableImage::File { file, .. } => file.write_all_at(data, offset),
        }
    }

    /// Makes what was written durable (fdatasync for a file).
    pub fn sync(&mut self) -> std::io::Result<()> {
        match self {
            DurableImage::Memory(_) => Ok(()),
            DurableImage::File { file, .. } => file.sync_data(),
        }
    }

    /// Drops the image lock: after a crash nothing writes the image any more, and the
    /// next "boot" (another disk, another process) may open it.
    pub fn unlock(&self) {
        if let DurableImage::File { file, .. } = self {
            crate::locking::unlock(file);
        }
    }

    /// Replaces the whole image (after a crash) and syncs it.
    pub fn replace(&mut self, image: &[u8]) -> std::io::Result<()> {
        self.write_at(0, image)?;
        self.sync()
    }
}
