//! Sparse disk images: a shared base image and the sectors that differ from it.
//!
//! A crash state differs from the durable image only in the sectors the volatile
//! cache covers, and the durable image differs from the disk's first image only in
//! the sectors written since. An [`OverlayImage`] keeps just those: an immutable,
//! shared base (zeroes, or an image such as a freshly made file system) and a
//! [`Layer`] of changed sectors. A layer's sector is a window into a shared buffer —
//! usually the data of the write that put it there — so applying a sector-aligned
//! write copies no bytes, and cloning an image copies its map, not its bytes.
//!
//! A layer over an image ([`Stacked`]) is a crash state: it is read through, sector by
//! sector ([`Sectors`]), and turned into a flat image only by a consumer that needs
//! one ([`Sectors::to_vec`]).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use super::CrashDiskError;

/// Read access to a disk image, a sector at a time.
pub trait Sectors {
    /// Sector size in bytes.
    fn sector_size(&self) -> usize;

    /// Size in bytes (a multiple of the sector size).
    fn size(&self) -> u64;

    /// Sector `s`; panics when it lies outside the image.
    fn sector(&self, s: u64) -> &[u8];

    /// Copies `buf.len()` bytes starting at byte `offset` (which may be unaligned).
    fn read(&self, offset: u64, buf: &mut [u8]) {
        let sector = self.sector_size();
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            let within = (at % sector as u64) as usize;
            let n = (sector - within).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&self.sector(at / sector as u64)[within..within + n]);
            done += n;
        }
    }

    /// The whole image as one buffer, for a consumer that needs a flat image (writing
    /// a failing crash state out as an image file, say). Costs the image's size.
    fn to_vec(&self) -> Vec<u8> {
        let mut image = vec![0; usize::try_from(self.size()).expect("image fits in memory")];
        self.read(0, &mut image);
        image
    }
}

/// One sector's bytes: `buf[at..at + sector size]`.
#[derive(Clone)]
struct Piece {
    buf: Arc<[u8]>,
    at: usize,
}

impl Piece {
    fn bytes(&self, sector: usize) -> &[u8] {
        &self.buf[self.at..self.at + sector]
    }

    /// Same buffer, same place: the same bytes, known without comparing them.
    fn is(&self, other: &Piece) -> bool {
        Arc::ptr_eq(&self.buf, &other.buf) && self.at == other.at
    }
}

/// A sparse set of sectors that replace those of an image below it.
#[derive(Clone)]
pub struct Layer {
    sector: usize,
    sectors: BTreeMap<u64, Piece>,
    copied: u64,
}

impl fmt::Debug for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layer").field("sector", &self.sector).field("sectors", &self.sectors.len()).finish()
    }
}

impl Layer {
    /// An empty layer of `sector`-byte sectors.
    pub fn new(sector: usize) -> Layer {
        Layer { sector, sectors: BTreeMap::new(), copied: 0 }
    }

    /// Sector size in bytes.
    pub fn sector_size(&self) -> usize {
        self.sector
    }

    /// How many sectors the layer holds.
    pub fn len(&self) -> usize {
        self.sectors.len()
    }

    /// Whether the layer holds no sector.
    pub fn is_empty(&self) -> bool {
        self.sectors.is_empty()
    }

    /// The sectors it holds, in ascending order.
    pub fn sectors(&self) -> impl Iterator<Item = u64> + '_ {
        self.sectors.keys().copied()
    }

    /// Sector `s`, if the layer holds it.
    pub fn get(&self, s: u64) -> Option<&[u8]> {
        self.sectors.get(&s).map(|p| p.bytes(self.sector))
    }

    /// Whether `self` and `other` are known to give sector `s` the same bytes without
    /// comparing them: neither holds it, or both hold the same window of the same
    /// buffer. `false` does not mean the bytes differ.
    pub fn same(&self, other: &Layer, s: u64) -> bool {
        match (self.sectors.get(&s), other.sectors.get(&s)) {
            (None, None) => true,
            (Some(a), Some(b)) => a.is(b),
            _ => false,
        }
    }

    /// Bytes this layer copied so far: only sectors a write covered partly are copied
    /// (the rest of such a sector comes from the layer or from `below`).
    pub fn copied(&self) -> u64 {
        self.copied
    }

    /// Writes `data[range]` at byte `offset` over the image `below`. Whole sectors are
    /// shared with `data`; a sector the range covers partly is copied and patched.
    pub fn write(&mut self, below: &dyn Sectors, offset: u64, data: &Arc<[u8]>, range: Range<usize>) {
        let sector = self.sector as u64;
        let end = offset + range.len() as u64;
        assert!(end <= below.size(), "write up to byte {end} is outside the {}-byte image", below.size());
        let mut at = offset;
        while at < end {
            let s = at / sector;
            let start = s * sector;
            let stop = (start + sector).min(end);
            let from = range.start + (at - offset) as usize;
            let piece = if at == start && stop == start + sector {
                Piece { buf: Arc::clone(data), at: from }
            } else {
                let mut bytes = match self.get(s) {
                    Some(b) => b.to_vec(),
                    None => below.sector(s).to_vec(),
                };
                let within = (at - start) as usize;
                bytes[within..within + (stop - at) as usize]
                    .copy_from_slice(&data[from..from + (stop - at) as usize]);
                self.copied += sector;
                Piece { buf: bytes.into(), at: 0 }
            };
            self.sectors.insert(s, piece);
            at = stop;
        }
    }

    /// Puts every sector of `top` over this layer's (shares their bytes).
    fn absorb(&mut self, top: &Layer) {
        for (&s, piece) in &top.sectors {
            self.sectors.insert(s, piece.clone());
        }
    }
}

/// The image below every layer: zeroes, or a shared buffer.
#[derive(Clone)]
enum Base {
    /// All zeroes; holds one zero sector to hand out.
    Zero(Arc<[u8]>),
    /// A whole image.
    Image(Arc<[u8]>),
}

/// The base alone, as an image (what a layer of the overlay is written over).
struct BaseView<'a> {
    base: &'a Base,
    size: u64,
    sector: usize,
}

impl Sectors for BaseView<'_> {
    fn sector_size(&self) -> usize {
        self.sector
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn sector(&self, s: u64) -> &[u8] {
        self.base.sector(s, self.sector, self.size)
    }
}

impl Base {
    fn sector(&self, s: u64, sector: usize, size: u64) -> &[u8] {
        assert!(s < size / sector as u64, "sector {s} is outside the {size}-byte image");
        match self {
            Base::Zero(zero) => zero,
            Base::Image(image) => &image[s as usize * sector..(s as usize + 1) * sector],
        }
    }
}

/// A disk image kept as a base image and the sectors that differ from it.
#[derive(Clone)]
pub struct OverlayImage {
    base: Base,
    size: u64,
    changes: Layer,
}

impl fmt::Debug for OverlayImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = match self.base {
            Base::Zero(_) => "zeroes",
            Base::Image(_) => "image",
        };
        f.debug_struct("OverlayImage")
            .field("size", &self.size)
            .field("sector", &self.changes.sector)
            .field("base", &base)
            .field("changed_sectors", &self.changes.len())
            .finish()
    }
}

fn check_size(size: u64, sector: u32) -> Result<(), CrashDiskError> {
    if size == 0 || !sector.is_power_of_two() || !size.is_multiple_of(u64::from(sector)) {
        return Err(CrashDiskError::BadSize { size, sector });
    }
    Ok(())
}

impl OverlayImage {
    /// An image of `size` zero bytes in `sector`-byte sectors (allocates one sector).
    pub fn zeroed(size: u64, sector: u32) -> Result<OverlayImage, CrashDiskError> {
        check_size(size, sector)?;
        let zero: Arc<[u8]> = vec![0; sector as usize].into();
        Ok(OverlayImage { base: Base::Zero(zero), size, changes: Layer::new(sector as usize) })
    }

    /// An image whose base is `base` (shared, never copied).
    pub fn over(base: Arc<[u8]>, sector: u32) -> Result<OverlayImage, CrashDiskError> {
        check_size(base.len() as u64, sector)?;
        Ok(OverlayImage {
            size: base.len() as u64,
            base: Base::Image(base),
            changes: Layer::new(sector as usize),
        })
    }

    /// The sectors that differ from the base (by the writes they took; a sector written
    /// back to its base value still counts).
    pub fn changes(&self) -> &Layer {
        &self.changes
    }

    /// Writes `data` at byte `offset`, sharing its whole sectors (see [`Layer::write`]).
    pub fn write(&mut self, offset: u64, data: &Arc<[u8]>) {
        self.check_range(offset, data.len());
        let below = BaseView { base: &self.base, size: self.size, sector: self.changes.sector };
        self.changes.write(&below, offset, data, 0..data.len());
    }

    /// Writes a copy of `data` at byte `offset`.
    pub fn write_bytes(&mut self, offset: u64, data: &[u8]) {
        self.changes.copied += data.len() as u64;
        self.write(offset, &Arc::from(data));
    }

    /// Puts `layer` (made over this image: see [`OverlayImage::stacked`]) into the image.
    pub fn apply(&mut self, layer: &Layer) {
        assert_eq!(layer.sector, self.changes.sector, "a layer of another sector size");
        self.changes.absorb(layer);
    }

    /// This image with `layer` over it, read through without being built.
    pub fn stacked<'a>(&'a self, layer: &'a Layer) -> Stacked<'a> {
        Stacked { below: self, top: layer }
    }

    /// Bytes copied into the image so far (partly written sectors only).
    pub fn copied(&self) -> u64 {
        self.changes.copied
    }

    fn check_range(&self, offset: u64, len: usize) {
        assert!(
            offset.checked_add(len as u64).is_some_and(|end| end <= self.size),
            "write of {len} bytes at {offset} is outside the {}-byte image",
            self.size
        );
    }
}

impl Sectors for OverlayImage {
    fn sector_size(&self) -> usize {
        self.changes.sector
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn sector(&self, s: u64) -> &[u8] {
        match self.changes.get(s) {
            Some(bytes) => bytes,
            None => self.base.sector(s, self.changes.sector, self.size),
        }
    }
}

/// An image with a layer over it: a crash state, read through.
#[derive(Clone, Copy)]
pub struct Stacked<'a> {
    below: &'a OverlayImage,
    top: &'a Layer,
}

impl fmt::Debug for Stacked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stacked").field("below", self.below).field("top", self.top).finish()
    }
}

impl Stacked<'_> {
    /// The state as an image of its own (shares every byte; costs the changed sectors).
    pub fn to_image(&self) -> OverlayImage {
        let mut image = self.below.clone();
        image.apply(self.top);
        image
    }
}

impl Sectors for Stacked<'_> {
    fn sector_size(&self) -> usize {
        self.below.sector_size()
    }
    fn size(&self) -> u64 {
        self.below.size
    }
    fn sector(&self, s: u64) -> &[u8] {
        match self.top.get(s) {
            Some(bytes) => bytes,
            None => self.below.sector(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_writes_share_and_partial_ones_patch() {
        let mut image = OverlayImage::zeroed(8 * 512, 512).unwrap();
        let data: Arc<[u8]> = vec![7; 1024].into();
        image.write(512, &data);
        assert_eq!(image.copied(), 0, "whole sectors are shared, not copied");
        assert_eq!(image.changes().sectors().collect::<Vec<_>>(), [1, 2]);
        image.write_bytes(1024 + 100, &[9; 10]);
        assert_eq!(image.copied(), 10 + 512, "the copy of write_bytes' data, then the patched sector");
        let flat = image.to_vec();
        assert!(flat[..512].iter().all(|&b| b == 0));
        assert!(flat[512..1024].iter().all(|&b| b == 7));
        assert_eq!(flat[1024 + 99..1024 + 111], [7, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 7]);
        assert!(flat[1536..].iter().all(|&b| b == 0));
    }

    #[test]
    fn an_unaligned_write_spanning_sectors_reads_back() {
        let base: Arc<[u8]> = (0..4096u32).map(|i| i as u8).collect::<Vec<_>>().into();
        let mut image = OverlayImage::over(Arc::clone(&base), 512).unwrap();
        image.write_bytes(300, &[0xEE; 1000]);
        let mut expected = base.to_vec();
        expected[300..1300].fill(0xEE);
        assert_eq!(image.to_vec(), expected);
        let mut buf = [0; 20];
        image.read(1290, &mut buf);
        assert_eq!(buf, expected[1290..1310]);
    }

    #[test]
    fn a_layer_reads_through_and_leaves_the_image_alone() {
        let mut image = OverlayImage::zeroed(4 * 512, 512).unwrap();
        image.write_bytes(0, &[1; 512]);
        let data: Arc<[u8]> = vec![2; 512].into();
        let mut layer = Layer::new(512);
        layer.write(&image, 512, &data, 0..512);
        layer.write(&image, 10, &data, 0..5);
        let state = image.stacked(&layer);
        assert_eq!(state.sector(0)[..16], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 1]);
        assert_eq!(state.sector(1), &[2; 512][..]);
        assert_eq!(image.sector(1), &[0; 512][..], "the image below is untouched");
        let built = state.to_image();
        assert_eq!(built.to_vec(), state.to_vec());
        assert_eq!(built.changes().len(), 2);
    }

    #[test]
    fn same_knows_shared_pieces_only() {
        let image = OverlayImage::zeroed(4 * 512, 512).unwrap();
        let data: Arc<[u8]> = vec![3; 1024].into();
        let (mut a, mut b) = (Layer::new(512), Layer::new(512));
        a.write(&image, 0, &data, 0..1024);
        b.write(&image, 0, &data, 0..512);
        b.write(&image, 512, &Arc::from(&data[..512]), 0..512);
        assert!(a.same(&b, 0), "same buffer, same place");
        assert!(!a.same(&b, 1), "equal bytes, other buffer: not known");
        assert!(a.same(&b, 2), "neither holds it");
        assert!(!a.same(&Layer::new(512), 0));
    }

    #[test]
    fn sizes_are_checked() {
        assert!(OverlayImage::zeroed(1000, 512).is_err());
        assert!(OverlayImage::zeroed(0, 512).is_err());
        assert!(OverlayImage::over(vec![0; 1024].into(), 300).is_err());
    }
}
