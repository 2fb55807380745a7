//! The driver over a volume our mkfs made in a memory disk, mounted read-only (`ro=true`):
//! the tree mkfs leaves, the dispositions and options of a read-only mount, and the
//! refusals.

use disks::memory::MemoryDisk;
use fs::driver::{FsDriver, MountOptions};
use fs::lower_device::LowerDevice;
use fs::mkfs::{MkfsOptions, mkfs};
use irp::file::{CreateDisposition, CreateOptions, CreateRequest, Credentials, FileKind};
use irp::{Access, Characteristics, FlushFlags, IoManager, Irp, MajorFunction, Status};

fn mounted() -> (IoManager, irp::DeviceRef) {
    let disk = MemoryDisk::create("mem", 64 << 20, 512).unwrap();
    mkfs(&LowerDevice::new(&disk).unwrap(), &MkfsOptions::from_seed(7)).unwrap();
    let top =
        FsDriver::attach("fs0", &disk, MountOptions { read_only: true, ..MountOptions::default() }).unwrap();
    let io = IoManager::new();
    io.register("vol", &top).unwrap();
    (io, top)
}

fn status(r: Result<irp::Handle, irp::IoError>) -> Status {
    r.map(drop).err().and_then(|e| e.status()).unwrap_or(Status::SUCCESS)
}

#[test]
fn a_fresh_volume_lists_root_and_lost_found() {
    let (io, top) = mounted();
    assert!(top.characteristics().contains(Characteristics::READ_ONLY));
    let root = io.open_path("vol", "/", Access::READ).unwrap();
    let names: Vec<String> =
        root.list_directory(None).unwrap().iter().map(|e| e.name_lossy().into_owned()).collect();
    assert_eq!(names, [".", "..", "lost+found"]);
    let stat = root.query_stat().unwrap();
    assert_eq!((stat.ino, stat.kind(), stat.nlink), (2, FileKind::Directory, 3));
    let lpf = io.open_path("vol", "lost+found", Access::READ).unwrap();
    assert_eq!(lpf.query_stat().unwrap().ino, 11);
    assert!(lpf.query_standard().unwrap().directory);
    let vs = root.query_volume_stat().unwrap();
    assert!(vs.read_only && vs.fs_name == "ext4" && vs.block_size == 4096, "{vs:?}");
    assert_eq!(lpf.list_directory(Some("x*")).unwrap(), vec![]);
    drop(lpf);
    drop(root);
    let fsd = top.driver_as::<FsDriver>().unwrap();
    assert!(fsd.vcb().fcbs().is_empty(), "every FCB left with its last close");
}

#[test]
fn read_only_dispositions_and_refusals() {
    let (io, _top) = mounted();
    let open = |path: &str, access: Access, d: CreateDisposition, o: CreateOptions| {
        status(io.create("vol", &CreateRequest::open(path, access).disposition(d).options(o)))
    };
    use CreateDisposition as D;
    let none = CreateOptions::NONE;
    assert_eq!(open("lost+found", Access::READ, D::Open, none), Status::SUCCESS);
    assert_eq!(open("lost+found", Access::READ, D::OpenIf, none), Status::SUCCESS);
    assert_eq!(open("lost+found", Access::READ, D::Create, none), Status::OBJECT_NAME_COLLISION);
    assert_eq!(open("lost+found", Access::READ, D::Overwrite, none), Status::MEDIA_WRITE_PROTECTED);
    assert_eq!(open("lost+found", Access::READ, D::Supersede, none), Status::MEDIA_WRITE_PROTECTED);
    assert_eq!(open("missing", Access::READ, D::Open, none), Status::OBJECT_NAME_NOT_FOUND);
    assert_eq!(open("missing", Access::READ, D::Overwrite, none), Status::OBJECT_NAME_NOT_FOUND);
    assert_eq!(open("missing", Access::READ, D::Create, none), Status::MEDIA_WRITE_PROTECTED);
    assert_eq!(open("missing", Access::READ, D::OpenIf, none), Status::MEDIA_WRITE_PROTECTED);
    assert_eq!(open("missing/x", Access::READ, D::Open, none), Status::OBJECT_PATH_NOT_FOUND);
    assert_eq!(open("lost+found", Access::READ_WRITE, D::Open, none), Status::MEDIA_WRITE_PROTECTED);
    assert_eq!(
        open("lost+found", Access::READ, D::Open, CreateOptions::NON_DIRECTORY_FILE),
        Status::FILE_IS_A_DIRECTORY
    );
    assert_eq!(
        open("lost+found", Access::READ, D::Open, CreateOptions::DELETE_ON_CLOSE),
        Status::MEDIA_WRITE_PROTECTED
    );
    assert_eq!(open("lost+found", Access::READ, D::Open, CreateOptions::DIRECTORY_FILE), Status::SUCCESS);
    assert_eq!(open("", Access::READ_WRITE, D::Open, none), Status::MEDIA_WRITE_PROTECTED);
    assert_eq!(open(&"n".repeat(256), Access::READ, D::Open, none), Status::NAME_TOO_LONG);
    // By file id: the inode number instead of a path.
    let by_id = CreateOptions::OPEN_BY_FILE_ID;
    assert_eq!(open("11", Access::READ, D::Open, by_id), Status::SUCCESS);
    assert_eq!(open("12", Access::READ, D::Open, by_id), Status::OBJECT_NAME_NOT_FOUND, "not in use");
    assert_eq!(open("0", Access::READ, D::Open, by_id), Status::INVALID_PARAMETER);
    assert_eq!(open("99999999", Access::READ, D::Open, by_id), Status::INVALID_PARAMETER);
    let lpf = io.create("vol", &CreateRequest::open("11", Access::READ).options(by_id)).unwrap();
    assert_eq!(lpf.query_stat().unwrap().ino, 11);
    // lost+found is 0700 root: another user may not search it.
    let user = Credentials::user(1000, 1000);
    let as_user = CreateRequest::open("lost+found", Access::READ).credentials(user.clone());
    assert_eq!(status(io.create("vol", &as_user)), Status::ACCESS_DENIED);
    let attributes_only = CreateRequest::open("lost+found", Access::READ_ATTRIBUTES).credentials(user);
    assert_eq!(
        status(io.create("vol", &attributes_only)),
        Status::SUCCESS,
        "stat needs no permission on the file"
    );

    let h = io.open_path("vol", "lost+found", Access::READ).unwrap();
    assert_eq!(h.flush_buffers(), Err(Status::ACCESS_DENIED), "flushing needs write access, as NT");
    assert_eq!(h.set_delete_disposition(true), Err(Status::MEDIA_WRITE_PROTECTED));
    assert_eq!(h.rename("elsewhere", false), Err(Status::MEDIA_WRITE_PROTECTED));
    assert_eq!(h.create_symlink("l", b"target"), Err(Status::MEDIA_WRITE_PROTECTED));
    assert_eq!(
        h.set_xattr(b"user.a", b"1", irp::file::XattrSetMode::Either),
        Err(Status::MEDIA_WRITE_PROTECTED)
    );
    assert_eq!(h.read_link(), Err(Status::NOT_A_REPARSE_POINT));
    assert_eq!(h.read(0, 10).err(), Some(Status::FILE_IS_A_DIRECTORY));
    assert_eq!(h.write(0, b"x"), Err(Status::ACCESS_DENIED), "the handle has no write access");

    // A volume open reads the device below (the superblock magic at 1080).
    let v = io.open("vol", Access::READ).unwrap();
    assert_eq!(&v.read(1024, 512).unwrap().bytes()[56..58], &[0x53, 0xEF]);
    assert_eq!(v.query_size().unwrap(), 64 << 20);
}

#[test]
fn flushes_and_shutdowns_follow_the_flush_contract() {
    let (io, top) = mounted();
    // A flush of its own by a driver above (no file object) flushes the volume: nothing to
    // write on a read-only mount, then it goes to the device (the verifier checks it got
    // there).
    let flush = Irp::for_device(&top, MajorFunction::FlushBuffers);
    assert_eq!(top.call_and_wait(flush).status(), Status::SUCCESS);
    // FileDataOnly and NoSync ask for no device sync: completed here, as fastfat does.
    for flags in [FlushFlags::FileDataOnly, FlushFlags::NoSync] {
        let flush = Irp::for_device(&top, MajorFunction::FlushBuffers).with_flush_flags(flags);
        assert_eq!(top.call_and_wait(flush).status(), Status::SUCCESS, "{flags:?}");
    }
    // A flush for a file object opened without write access is refused, as NT refuses it.
    let h = io.open_path("vol", "lost+found", Access::READ).unwrap();
    let flush = h.new_irp(MajorFunction::FlushBuffers);
    assert_eq!(h.call(flush).status(), Status::ACCESS_DENIED);
    // A write to the volume or a file is refused with the read-only status.
    let w = irp::block::lower::write_irp(&top, 0, irp::Mdl::from_slice(&[0u8; 512]).unwrap(), 512);
    assert_eq!(top.call_and_wait(w).status(), Status::MEDIA_WRITE_PROTECTED);
    drop(h);
    // Shutdown goes down the stack; later opens find the volume dismounted.
    assert_eq!(top.call_and_wait(Irp::for_device(&top, MajorFunction::Shutdown)).status(), Status::SUCCESS);
    let e = io.open_path("vol", "/", Access::READ).unwrap_err();
    assert_eq!(e.status(), Some(Status::VOLUME_DISMOUNTED));
    assert_eq!(top.verifier().violations(), vec![]);
}
