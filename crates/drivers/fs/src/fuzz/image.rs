//! Whole images: a small volume with a bit of everything (files of one and of many blocks,
//! a sparse file, directories of one and of several blocks, fast and slow symlinks, a hard
//! link, xattrs in the inode and in a block), made once by our mkfs and write path, then
//! patched with the fuzzer's bytes and opened every way the file system opens a volume.

use std::sync::{Arc, OnceLock};

use crate::device::MemoryDevice;
use crate::filesystem::{Filesystem, MountOptions, ROOT, Timestamp, XattrMode};
use crate::mkfs::{MkfsOptions, mkfs};
use crate::volume::{OpenOptions, Volume};

/// The base image's size: 2048 blocks of 4 KiB, 1024 of them the journal.
const IMAGE_BYTES: u64 = 8 << 20;
const BLOCK: usize = 4096;

fn fixed_clock() -> Timestamp {
    Timestamp { secs: 1_700_000_000, nanos: 0 }
}

/// The clean base image the patches apply to.
pub(crate) fn base_image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| build_base().expect("the fuzzing base image builds"))
}

fn build_base() -> crate::error::Result<Vec<u8>> {
    let dev = Arc::new(MemoryDevice::new(IMAGE_BYTES));
    let mut opts = MkfsOptions::from_seed(1);
    opts.time = 1_700_000_000;
    mkfs(&*dev, &opts).expect("mkfs of the fuzzing base image");
    let fs = Filesystem::mount(dev.clone(), MountOptions { clock: fixed_clock, ..MountOptions::default() })?;
    let small = fs.create(ROOT, b"small", 0o644, 0, 0)?;
    fs.write(small.ino, 0, b"hello, fuzzer\n")?;
    let big = fs.create(ROOT, b"big", 0o600, 1000, 1000)?;
    fs.write(big.ino, 0, &(0..5 * BLOCK).map(|i| (i % 251) as u8).collect::<Vec<_>>())?;
    let sparse = fs.create(ROOT, b"sparse", 0o644, 0, 0)?;
    fs.write(sparse.ino, 64 * BLOCK as u64, b"far out")?;
    let dir = fs.mkdir(ROOT, b"dir", 0o755, 0, 0)?;
    for i in 0..150u32 {
        let name = format!("entry-with-a-longish-name-{i:04}");
        fs.create(dir.ino, name.as_bytes(), 0o644, 0, 0)?;
    }
    fs.symlink(ROOT, b"fast", b"small", 0, 0)?;
    fs.symlink(ROOT, b"slow", &[b'x'; 200], 0, 0)?;
    fs.link(small.ino, dir.ino, b"hard")?;
    fs.setxattr(small.ino, b"user.short", b"v", XattrMode::Set)?;
    fs.setxattr(big.ino, b"user.long", &[7u8; 600], XattrMode::Set)?;
    fs.unmount()?;
    Ok(Arc::try_unwrap(dev).map(|d| d.image()).unwrap_or_else(|d| d.image()))
}

/// Applies `data` to the base image as patches — each `[block u16 LE][offset u16 LE]
/// [len u8][len bytes]`, block and offset taken modulo the image — then opens the result:
/// the read path with and without checksum verification, walking the whole tree; the
/// structural check; and a read-write mount that looks around, creates a file and
/// unmounts. Every step may fail; none may panic.
pub fn image(data: &[u8]) {
    let mut img = base_image().to_vec();
    patch(&mut img, data);
    for verify in [true, false] {
        if let Ok(vol) =
            Volume::open_with(MemoryDevice::from_image(img.clone()), OpenOptions { verify_checksums: verify })
        {
            walk(&vol);
        }
    }
    let _ = crate::fsck::check(&MemoryDevice::from_image(img.clone()));
    let dev = Arc::new(MemoryDevice::from_image(img));
    if let Ok(fs) = Filesystem::mount(dev, MountOptions { clock: fixed_clock, ..MountOptions::default() }) {
        let _ = fs.statfs();
        if let Ok(entries) = fs.readdir(ROOT, 0) {
            for e in entries.iter().take(16) {
                let _ = fs.getattr(e.ino);
                let _ = fs.lookup(ROOT, &e.name);
            }
        }
        if let Ok(a) = fs.lookup(ROOT, b"big") {
            let mut buf = vec![0u8; 2 * BLOCK];
            let _ = fs.read(a.ino, BLOCK as u64 - 10, &mut buf);
            let _ = fs.truncate(a.ino, 3);
        }
        if let Ok(a) = fs.create(ROOT, b"new", 0o644, 0, 0) {
            let _ = fs.write(a.ino, 0, b"new data");
            let _ = fs.fsync(a.ino, false);
        }
        let _ = fs.unlink(ROOT, b"small");
        let _ = fs.unmount();
    }
}

fn patch(img: &mut [u8], mut data: &[u8]) {
    let blocks = img.len() / BLOCK;
    while let Some((head, rest)) = data.split_first_chunk::<5>() {
        let block = usize::from(u16::from_le_bytes([head[0], head[1]])) % blocks;
        let offset = usize::from(u16::from_le_bytes([head[2], head[3]])) % BLOCK;
        let len = usize::from(head[4]).min(rest.len()).min(BLOCK - offset);
        let at = block * BLOCK + offset;
        img[at..at + len].copy_from_slice(&rest[..len]);
        data = &rest[len..];
    }
}

/// Reads everything reachable from the root, a bounded amount of it.
fn walk(vol: &Volume<MemoryDevice>) {
    let mut todo = vec![ROOT];
    let mut seen = std::collections::HashSet::new();
    let mut budget = 2000usize;
    while let Some(dir) = todo.pop() {
        if !seen.insert(dir) {
            continue;
        }
        let Ok(entries) = vol.read_dir(dir) else { continue };
        for e in entries {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                return;
            }
            if e.name == b"." || e.name == b".." {
                continue;
            }
            let _ = vol.lookup(dir, &e.name);
            let Ok(inode) = vol.read_inode(e.inode) else { continue };
            let _ = vol.xattrs(e.inode, &inode);
            if inode.is_dir() {
                todo.push(e.inode);
            } else if inode.is_symlink() {
                let _ = vol.read_link_inode(e.inode, &inode);
            } else if inode.is_regular() {
                let _ = vol.read_all(e.inode, &inode, 1 << 20);
            }
        }
    }
}
