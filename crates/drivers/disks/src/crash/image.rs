//! The durable image of a crash disk: in memory, optionally written through to a file
//! shared between processes.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::CrashDiskError;
use super::overlay::{Layer, OverlayImage, Sectors};
use crate::locking::Locking;

/// The file a durable image is written through to.
#[derive(Debug)]
struct Backing {
    file: File,
    path: PathBuf,
}

/// Where the crash disk's durable data lives: an [`OverlayImage`] in memory and, for a
/// file image, the file every durable change is also written to (so `mkfs` in one
/// process and `serve` in the next share it).
#[derive(Debug)]
pub struct DurableImage {
    image: OverlayImage,
    file: Option<Backing>,
}

impl DurableImage {
    /// A zeroed in-memory image (allocates nothing per sector).
    pub fn memory(size: u64, sector: u32) -> Result<DurableImage, CrashDiskError> {
        Ok(DurableImage { image: OverlayImage::zeroed(size, sector)?, file: None })
    }

    /// An in-memory image starting as `image` (shared, not copied).
    pub fn from_image(image: OverlayImage) -> DurableImage {
        DurableImage { image, file: None }
    }

    /// Opens `path`, creating it (sparse, `size` bytes) when missing, locks it exclusively
    /// unless `locking` is off ([`crate::locking`]), and reads it in.
    pub fn open_file(
        path: &Path,
        size: Option<u64>,
        sector: u32,
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
        let mut bytes = vec![0; usize::try_from(len).map_err(|e| err(std::io::Error::other(e)))?];
        file.read_exact_at(&mut bytes, 0).map_err(err)?;
        let image = OverlayImage::over(Arc::from(bytes), sector)?;
        Ok(DurableImage { image, file: Some(Backing { file, path: path.to_owned() }) })
    }

    /// The size in bytes.
    pub fn len(&self) -> u64 {
        self.image.size()
    }

    /// Whether the image has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The image file, if there is one.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|b| b.path.as_path())
    }

    /// The durable data, as an overlay (clone it to keep it: that copies no data).
    pub fn image(&self) -> &OverlayImage {
        &self.image
    }

    /// All of it, as one buffer (costs the image's size).
    pub fn read_all(&self) -> Vec<u8> {
        self.image.to_vec()
    }

    /// Writes `data` at `offset` (sharing its bytes in memory).
    pub fn write(&mut self, offset: u64, data: &Arc<[u8]>) -> std::io::Result<()> {
        if let Some(b) = &self.file {
            b.file.write_all_at(data, offset)?;
        }
        self.image.write(offset, data);
        Ok(())
    }

    /// Puts `layer` (made over this image) into it: what a crash kept.
    pub fn apply(&mut self, layer: &Layer) -> std::io::Result<()> {
        if let Some(b) = &self.file {
            let view = self.image.stacked(layer);
            for s in layer.sectors() {
                b.file.write_all_at(view.sector(s), s * layer.sector_size() as u64)?;
            }
        }
        self.image.apply(layer);
        Ok(())
    }

    /// Makes what was written durable (fdatasync for a file).
    pub fn sync(&mut self) -> std::io::Result<()> {
        match &self.file {
            None => Ok(()),
            Some(b) => b.file.sync_data(),
        }
    }

    /// Drops the image lock: after a crash nothing writes the image any more, and the
    /// next "boot" (another disk, another process) may open it.
    pub fn unlock(&self) {
        if let Some(b) = &self.file {
            crate::locking::unlock(&b.file);
        }
    }
}
