//! The `fs(...)` layer: `fs / cache(size=64M) / file(path=x.img)` builds over a volume our
//! mkfs wrote, mounts it read-write and serves its files; once shut down and dropped the
//! stack lets go of its image (a second stack opens it, locked); `ro=true` and a read-only
//! device mount read-only and say why; a bad commit interval, an unknown INCOMPAT feature
//! and a non-ext4 device are refused with clear errors; an unknown RO_COMPAT feature mounts
//! read-only and says why.

use std::path::Path;

use fs::driver::FsDriver;
use fs::lower_device::LowerDevice;
use fs::mkfs::{MkfsOptions, mkfs};
use irp::file::{CreateDisposition, CreateRequest};
use irp::{Access, IoManager};
use stack::{BuildContext, DriverRegistry};

fn make_image(dir: &Path) -> std::path::PathBuf {
    let img = dir.join("x.img");
    let registry = DriverRegistry::builtin();
    let disk =
        registry.build_str(&format!("file(path={},size=64M)", img.display()), &BuildContext::new()).unwrap();
    mkfs(&LowerDevice::new(&disk).unwrap(), &MkfsOptions::from_seed(1)).unwrap();
    irp::block::lower::flush(&disk, irp::FlushFlags::Full).ok().unwrap();
    img
}

fn build(spec: &str) -> Result<irp::DeviceRef, String> {
    DriverRegistry::builtin().build_str(spec, &BuildContext::new()).map_err(|e| e.to_string())
}

/// Sets bits in the superblock's feature word at `offset` (0x5C compat, 0x60 incompat,
/// 0x64 ro_compat) and fixes its checksum.
fn set_feature(img: &Path, offset: usize, bits: u32) {
    let mut image = std::fs::read(img).unwrap();
    let sb = &mut image[1024..2048];
    let v = u32::from_le_bytes(sb[offset..offset + 4].try_into().unwrap()) | bits;
    sb[offset..offset + 4].copy_from_slice(&v.to_le_bytes());
    let c = fs::csum::crc32c_raw(!0, &sb[..1020]);
    sb[1020..1024].copy_from_slice(&c.to_le_bytes());
    std::fs::write(img, image).unwrap();
}

#[test]
fn fs_over_cache_over_file_serves_the_volume() {
    let dir = tempfile::tempdir().unwrap();
    let img = make_image(dir.path());
    let top = build(&format!("fs / cache(size=64M) / file(path={})", img.display())).unwrap();
    assert_eq!(top.stack_names(), ["fs0", "cache1", "file2"]);
    assert_eq!(top.driver_as::<FsDriver>().unwrap().vcb().read_only_reason(), None, "read-write by default");
    let io = IoManager::new();
    io.register("vol", &top).unwrap();
    let volume = io.open_path("vol", "", Access::READ).unwrap();
    assert_eq!(volume.query_size().unwrap(), 64 << 20, "a volume open asks the device below");
    let root = io.open_path("vol", "/", Access::READ).unwrap();
    let names: Vec<_> = root.list_directory(None).unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, [b".".to_vec(), b"..".to_vec(), b"lost+found".to_vec()]);
    let new = CreateRequest::open("hello", Access::READ_WRITE).disposition(CreateDisposition::Create);
    let f = io.create("vol", &new).unwrap();
    assert_eq!(f.write(0, b"through the cache\n").unwrap(), 18);
    drop((volume, root, f));
    io.shutdown().unwrap();
    drop((io, top));

    // Shut down and dropped, the stack holds nothing of the image: a second stack opens it
    // with its lock, and reads what the first wrote (the cache wrote it back at shutdown).
    let again = build(&format!("fs(commit=10s) / file(path={},read-only=true)", img.display())).unwrap();
    let reason = again.driver_as::<FsDriver>().unwrap().vcb().read_only_reason().unwrap().to_owned();
    assert!(reason.contains("file1 is read-only"), "{reason}");
    let io = IoManager::new();
    io.register("vol", &again).unwrap();
    let h = io.open_path("vol", "hello", Access::READ).unwrap();
    assert_eq!(&h.read(0, 18).unwrap().bytes()[..18], b"through the cache\n");
    drop(h);
    drop((io, again));
    let ro = build(&format!("fs(ro=true) / file(path={})", img.display())).unwrap();
    let reason = ro.driver_as::<FsDriver>().unwrap().vcb().read_only_reason().unwrap().to_owned();
    assert_eq!(reason, "mounted with ro=true");
}

#[test]
fn refusals_name_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let img = make_image(dir.path());
    let p = img.display();
    let e = build(&format!("fs(commit=0s) / file(path={p})")).unwrap_err();
    assert!(e.contains("commit"), "{e}");
    let e = build(&format!("fs(bogus=1) / file(path={p})")).unwrap_err();
    assert!(e.contains("bogus"), "{e}");

    let blank = dir.path().join("blank.img");
    let e = build(&format!("fs / file(path={},size=8M)", blank.display())).unwrap_err();
    assert!(e.contains("not a valid ext4 volume"), "{e}");

    set_feature(&img, 0x64, 1 << 20);
    let top = build(&format!("fs / file(path={p})")).unwrap();
    let reason = top.driver_as::<FsDriver>().unwrap().vcb().read_only_reason().unwrap().to_owned();
    assert!(reason.contains("unsupported ro_compat features: FEATURE_R20"), "{reason}");
    drop(top);

    set_feature(&img, 0x60, 1 << 30);
    let e = build(&format!("fs / file(path={p})")).unwrap_err();
    assert!(e.contains("refusing to mount: unsupported incompat feature FEATURE_I30"), "{e}");
}
