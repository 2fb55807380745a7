//! Attributes through the read-write driver: times (nanoseconds, creation time, ctime set
//! to now), `FILE_ATTRIBUTE_READONLY`, mode and owner under POSIX's rules (owner or root,
//! groups, set-id bits cleared on chown), the handle rights they need, xattrs (namespaces,
//! create/replace), symbolic links and device nodes; checked afterwards by `debugfs` and
//! `e2fsck -fn` on the shut-down image.

mod rw_support;

use irp::file::{
    BasicChanges, CreateDisposition as D, CreateOptions as O, Credentials, FileAttributes, FileKind,
    FileTime, PosixChanges, TimeChange, XattrSetMode,
};
use irp::{Access, Status};
use rw_support::{Disk, assert_e2fsck_clean, debugfs_stat, request, volume};

const ATTRS: Access = Access::from_bits(Access::READ_ATTRIBUTES.bits() | Access::WRITE_ATTRIBUTES.bits());

#[test]
fn times_and_the_readonly_attribute() {
    let v = volume(Disk::Memory);
    v.put("f", b"x");
    let h = v.open("f", ATTRS).unwrap();
    let before = h.query_stat().unwrap();
    let when = FileTime::new(1_500_000_000, 123_456_789);
    let born = FileTime::new(1_400_000_000, 5);
    h.set_basic(BasicChanges {
        last_write_time: TimeChange::Set(when),
        last_access_time: TimeChange::Set(when),
        creation_time: TimeChange::Set(born),
        ..BasicChanges::default()
    })
    .unwrap();
    let st = h.query_stat().unwrap();
    assert_eq!((st.mtime, st.atime, st.btime), (when, when, born));
    assert!(st.ctime >= before.ctime, "ctime becomes now");
    let b = h.query_basic().unwrap();
    assert_eq!((b.last_write_time, b.creation_time), (when, born));
    h.set_basic(BasicChanges { file_attributes: Some(FileAttributes::READONLY), ..BasicChanges::default() })
        .unwrap();
    assert_eq!(h.query_stat().unwrap().mode & 0o777, 0o444, "READONLY clears every write bit");
    assert!(h.query_basic().unwrap().file_attributes.0 & FileAttributes::READONLY.0 != 0);
    h.set_basic(BasicChanges { file_attributes: Some(FileAttributes::NORMAL), ..BasicChanges::default() })
        .unwrap();
    assert_eq!(h.query_stat().unwrap().mode & 0o777, 0o644, "clearing it gives the owner write back");
    let no_right = v.open("f", Access::READ).unwrap();
    let now = BasicChanges { last_write_time: TimeChange::Now, ..BasicChanges::default() };
    assert_eq!(no_right.set_basic(now).err(), Some(Status::ACCESS_DENIED), "needs FILE_WRITE_ATTRIBUTES");
    drop((h, no_right));
    let f = v.shut_down();
    assert_e2fsck_clean(&f.image, "after setting times");
    let stat = debugfs_stat(&f.image, "/f");
    assert!(stat.contains("mtime: 0x59682f00:"), "{stat}");
    assert!(stat.contains("crtime: 0x53724e00:"), "{stat}");
}

#[test]
fn mode_and_owner_follow_posix_rules() {
    let v = volume(Disk::File);
    let alice = Credentials { uid: 1000, gid: 1000, groups: vec![50] };
    let bob = Credentials::user(2000, 2000);
    v.create(&request("pub", Access::READ, D::Create, O::DIRECTORY_FILE).mode(0o777)).unwrap();
    let mine =
        request("pub/mine", Access::READ_WRITE, D::Create, O::NONE).credentials(alice.clone()).mode(0o644);
    v.create(&mine).unwrap();
    let as_user = |who: &Credentials| {
        v.create(&request("pub/mine", ATTRS, D::Open, O::NONE).credentials(who.clone())).unwrap()
    };
    let a = as_user(&alice);
    a.set_posix(PosixChanges { mode: Some(0o4755), ..Default::default() }).unwrap();
    assert_eq!(a.query_stat().unwrap().mode & 0o7777, 0o4755);
    assert_eq!(
        as_user(&bob).set_posix(PosixChanges { mode: Some(0o777), ..Default::default() }).err(),
        Some(Status::ACCESS_DENIED),
        "not bob's file"
    );
    assert_eq!(
        a.set_posix(PosixChanges { uid: Some(2000), ..Default::default() }).err(),
        Some(Status::ACCESS_DENIED),
        "only root gives files away"
    );
    assert_eq!(
        a.set_posix(PosixChanges { gid: Some(60), ..Default::default() }).err(),
        Some(Status::ACCESS_DENIED),
        "alice is not in group 60"
    );
    a.set_posix(PosixChanges { gid: Some(50), ..Default::default() }).unwrap();
    let st = a.query_stat().unwrap();
    assert_eq!((st.gid, st.mode & 0o7777), (50, 0o755), "a chgrp clears set-user-id");
    let root = as_user(&Credentials::ROOT);
    root.set_posix(PosixChanges { uid: Some(3000), gid: Some(3000), mode: Some(0o2710) }).unwrap();
    let st = root.query_stat().unwrap();
    assert_eq!((st.uid, st.gid, st.mode & 0o7777), (3000, 3000, 0o2710));
    drop((a, root));
    let f = v.shut_down();
    assert_e2fsck_clean(&f.image, "after chmod and chown");
    let stat = debugfs_stat(&f.image, "/pub/mine");
    assert!(
        stat.contains("User:  3000") && stat.contains("Group:  3000") && stat.contains("Mode:  02710"),
        "{stat}"
    );
}

#[test]
fn xattrs_symlinks_and_nodes() {
    let v = volume(Disk::Memory);
    v.put("f", b"x");
    let ea = v.create(&request("f", Access::READ | Access::WRITE_EA, D::Open, O::NONE)).unwrap();
    ea.set_xattr(b"user.a", b"1", XattrSetMode::Create).unwrap();
    assert_eq!(
        ea.set_xattr(b"user.a", b"2", XattrSetMode::Create).err(),
        Some(Status::OBJECT_NAME_COLLISION)
    );
    assert_eq!(
        ea.set_xattr(b"user.b", b"2", XattrSetMode::Replace).err(),
        Some(Status::NONEXISTENT_EA_ENTRY)
    );
    ea.set_xattr(b"user.a", b"22", XattrSetMode::Replace).unwrap();
    ea.set_xattr(b"trusted.t", b"root's", XattrSetMode::Either).unwrap();
    assert_eq!(ea.get_xattr(b"user.a").unwrap(), b"22");
    let mut names = ea.list_xattrs().unwrap();
    names.sort();
    assert_eq!(names, [b"trusted.t".to_vec(), b"user.a".to_vec()]);
    ea.remove_xattr(b"user.a").unwrap();
    assert_eq!(ea.remove_xattr(b"user.a").err(), Some(Status::NONEXISTENT_EA_ENTRY));
    let user =
        request("f", Access::READ | Access::WRITE_EA, D::Open, O::NONE).credentials(Credentials::user(7, 7));
    let u = v.create(&user).unwrap();
    assert_eq!(u.set_xattr(b"trusted.x", b"1", XattrSetMode::Either).err(), Some(Status::ACCESS_DENIED));
    assert_eq!(
        u.set_xattr(b"user.x", b"1", XattrSetMode::Either).err(),
        Some(Status::ACCESS_DENIED),
        "0644 root's"
    );
    drop((ea, u));

    let root = v.open("/", Access::READ).unwrap();
    root.create_symlink("link", b"f").unwrap();
    assert_eq!(root.create_symlink("link", b"g").err(), Some(Status::OBJECT_NAME_COLLISION));
    let l = v.create(&request("link", Access::READ, D::Open, O::OPEN_REPARSE_POINT)).unwrap();
    assert_eq!(l.read_link().unwrap(), b"f");
    assert_eq!(l.query_stat().unwrap().kind(), FileKind::Symlink);
    assert_eq!(v.read_all("link"), b"x", "followed when opened normally");
    root.make_node("fifo", FileKind::Fifo, 0o600, (0, 0)).unwrap();
    root.make_node("null", FileKind::CharDevice, 0o666, (1, 3)).unwrap();
    root.make_node("big", FileKind::BlockDevice, 0o600, (259, 70_000)).unwrap();
    let st = v.open("null", Access::READ_ATTRIBUTES).unwrap().query_stat().unwrap();
    assert_eq!((st.kind(), st.rdev_major, st.rdev_minor), (FileKind::CharDevice, 1, 3));
    let st = v.open("big", Access::READ_ATTRIBUTES).unwrap().query_stat().unwrap();
    assert_eq!((st.rdev_major, st.rdev_minor), (259, 70_000));
    let nobody = request("/", Access::READ, D::Open, O::NONE).credentials(Credentials::user(7, 7));
    let n = v.create(&nobody).unwrap();
    assert_eq!(n.make_node("dev", FileKind::BlockDevice, 0o600, (8, 0)).err(), Some(Status::ACCESS_DENIED));
    assert_eq!(n.create_symlink("l2", b"f").err(), Some(Status::ACCESS_DENIED), "root's 0755 directory");
    let f = v.open("f", Access::READ).unwrap();
    assert_eq!(f.create_symlink("l3", b"f").err(), Some(Status::NOT_A_DIRECTORY));
    drop((root, l, n, f));
    let img = v.shut_down();
    assert_e2fsck_clean(&img.image, "after xattrs, links and nodes");
    let stat = debugfs_stat(&img.image, "/null");
    assert!(
        stat.contains("character special") && stat.contains("Device major/minor number: 01:03"),
        "{stat}"
    );
    assert!(debugfs_stat(&img.image, "/link").contains("Fast link dest: \"f\""));
}
