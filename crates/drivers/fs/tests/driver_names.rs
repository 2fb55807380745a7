//! Names through the read-write driver's IRPs: rename over an existing file (still readable
//! through a handle open on it) and of directories (their `..` and link counts), the
//! refusals, hard links, NT's delete on close (the name stays until the last handle, new
//! opens see it delete-pending) and POSIX's (the name goes at once, open handles read on, the
//! inode is freed at the last close); after each, `e2fsck -fn` on the shut-down image.

mod rw_support;

use irp::file::{CreateDisposition as D, CreateOptions as O, Credentials};
use irp::{Access, Status};
use rw_support::{
    Disk, assert_e2fsck_clean, debugfs_cat, debugfs_stat, pattern, read_handle, request, volume,
};

fn names(v: &rw_support::Volume, dir: &str) -> Vec<String> {
    let h = v.open(dir, Access::READ).unwrap();
    let mut n: Vec<String> =
        h.list_directory(None).unwrap().iter().map(|e| e.name_lossy().into_owned()).collect();
    n.sort();
    n
}

fn nlink(v: &rw_support::Volume, path: &str) -> u32 {
    v.open(path, Access::READ_ATTRIBUTES).unwrap().query_stat().unwrap().nlink
}

#[test]
fn rename_over_a_file_and_of_directories() {
    for disk in [Disk::Memory, Disk::File] {
        let v = volume(disk);
        v.put("a", b"new contents");
        v.put("b", &pattern(5, 100_000));
        let old_b = v.open("b", Access::READ).unwrap();
        let a = v.create(&request("a", Access::DELETE, D::Open, O::NONE)).unwrap();
        assert_eq!(a.rename("b", false).err(), Some(Status::OBJECT_NAME_COLLISION), "no replace asked");
        a.rename("b", true).unwrap();
        assert_eq!(names(&v, "/"), [".", "..", "b", "lost+found"]);
        assert_eq!(v.read_all("b"), b"new contents");
        assert_eq!(read_handle(&old_b), pattern(5, 100_000), "the replaced file is still open");
        assert_eq!(old_b.query_stat().unwrap().nlink, 0);
        drop((a, old_b));

        // Directories: across parents ("..", both link counts), and the refusals.
        v.mkdir("p");
        v.mkdir("q");
        v.mkdir("p/d");
        v.put("p/d/f", b"inside");
        assert_eq!((nlink(&v, "p"), nlink(&v, "q")), (3, 2));
        let d = v.create(&request("p/d", Access::DELETE, D::Open, O::NONE)).unwrap();
        assert_eq!(d.rename("p/d/sub", false).err(), Some(Status::INVALID_PARAMETER), "into itself");
        v.put("q/file", b"x");
        assert_eq!(d.rename("q/file", true).err(), Some(Status::NOT_A_DIRECTORY));
        d.rename("q/moved", false).unwrap();
        assert_eq!((nlink(&v, "p"), nlink(&v, "q")), (2, 3));
        assert_eq!(v.read_all("q/moved/f"), b"inside");
        let parent = v.open("q/moved/..", Access::READ_ATTRIBUTES).unwrap().query_stat().unwrap().ino;
        assert_eq!(parent, v.open("q", Access::READ_ATTRIBUTES).unwrap().query_stat().unwrap().ino);
        // The handle follows its file's new name: a second rename moves it again.
        d.rename("moved-again", false).unwrap();
        drop(d);
        assert_eq!(v.read_all("moved-again/f"), b"inside");
        // An empty directory can be replaced by a directory; a full one cannot.
        v.mkdir("empty");
        let m = v.create(&request("moved-again", Access::DELETE, D::Open, O::NONE)).unwrap();
        m.rename("empty", true).unwrap();
        v.mkdir("other");
        let o = v.create(&request("other", Access::DELETE, D::Open, O::NONE)).unwrap();
        assert_eq!(o.rename("empty", true).err(), Some(Status::DIRECTORY_NOT_EMPTY));
        let plain = v.open("other", Access::READ).unwrap();
        assert_eq!(
            plain.rename("x", false).err(),
            Some(Status::ACCESS_DENIED),
            "renaming needs DELETE access"
        );
        drop((m, o, plain));
        let f = v.shut_down();
        assert_e2fsck_clean(&f.image, &format!("after renames ({disk:?})"));
        assert_eq!(debugfs_cat(&f.image, "/b"), b"new contents");
        assert_eq!(debugfs_cat(&f.image, "/empty/f"), b"inside");
    }
}

#[test]
fn hard_links_share_one_inode() {
    let v = volume(Disk::File);
    v.mkdir("d");
    v.put("d/orig", b"shared bytes");
    let h = v.open("d/orig", Access::READ_ATTRIBUTES).unwrap();
    h.link("other", false).unwrap();
    h.link("d/second", false).unwrap();
    assert_eq!(h.link("other", false).err(), Some(Status::OBJECT_NAME_COLLISION));
    assert_eq!(h.query_stat().unwrap().nlink, 3);
    let w = v.open("other", Access::READ_WRITE).unwrap();
    w.write(0, b"SHARED").unwrap();
    assert_eq!(v.read_all("d/second"), b"SHARED bytes");
    let dir = v.open("d", Access::READ_ATTRIBUTES).unwrap();
    assert_eq!(dir.link("dirlink", false).err(), Some(Status::FILE_IS_A_DIRECTORY));
    v.put("victim", b"replaced by a link");
    h.link("victim", true).unwrap();
    assert_eq!(v.read_all("victim"), b"SHARED bytes");
    assert_eq!(h.query_stat().unwrap().nlink, 4);
    let ino = h.query_stat().unwrap().ino;
    drop((h, w, dir));
    let f = v.shut_down();
    assert_e2fsck_clean(&f.image, "after hard links");
    let stat = debugfs_stat(&f.image, "/victim");
    assert!(stat.contains(&format!("Inode: {ino} ")) && stat.contains("Links: 4"), "{stat}");
}

#[test]
fn delete_on_close_waits_for_the_last_handle() {
    let v = volume(Disk::Memory);
    v.put("doomed", b"still here");
    let reader = v.open("doomed", Access::READ).unwrap();
    assert_eq!(
        v.create(&request("doomed", Access::READ, D::Open, O::DELETE_ON_CLOSE)).err(),
        Some(Status::INVALID_PARAMETER),
        "delete on close needs DELETE access"
    );
    let doc = v.create(&request("doomed", Access::DELETE, D::Open, O::DELETE_ON_CLOSE)).unwrap();
    doc.close().unwrap();
    assert_eq!(v.open("doomed", Access::READ).err(), Some(Status::DELETE_PENDING), "NT's delete pending");
    assert!(reader.query_standard().unwrap().delete_pending);
    assert!(names(&v, "/").contains(&"doomed".to_owned()), "the name stays until the last handle");
    assert_eq!(read_handle(&reader), b"still here");
    assert_eq!(reader.link("elsewhere", false).err(), Some(Status::DELETE_PENDING), "no new name for it");
    reader.close().unwrap();
    assert!(!names(&v, "/").contains(&"doomed".to_owned()));

    // A disposition set and cancelled leaves the file; set and kept deletes it.
    v.put("kept", b"k");
    let h = v.create(&request("kept", Access::DELETE, D::Open, O::NONE)).unwrap();
    h.set_delete_disposition(true).unwrap();
    h.set_delete_disposition(false).unwrap();
    drop(h);
    assert_eq!(v.read_all("kept"), b"k");
    // A new file deleted on close: a temporary file.
    let tmp = v
        .create(&request("tmp", Access::READ_WRITE | Access::DELETE, D::Create, O::DELETE_ON_CLOSE))
        .unwrap();
    tmp.write(0, &pattern(6, 50_000)).unwrap();
    drop(tmp);
    // A directory: only when empty.
    v.mkdir("dir");
    v.put("dir/x", b"x");
    assert_eq!(
        v.create(&request("dir", Access::DELETE, D::Open, O::DELETE_ON_CLOSE)).err(),
        Some(Status::DIRECTORY_NOT_EMPTY)
    );
    let x = v.create(&request("dir/x", Access::DELETE, D::Open, O::NONE)).unwrap();
    x.set_delete_disposition(true).unwrap();
    drop(x);
    v.create(&request("dir", Access::DELETE, D::Open, O::DELETE_ON_CLOSE)).unwrap().close().unwrap();
    assert_eq!(names(&v, "/"), [".", "..", "kept", "lost+found"]);
    // Permissions: deleting from root's directory as another user is refused.
    let other = request("kept", Access::DELETE, D::Open, O::NONE).credentials(Credentials::user(1000, 1000));
    assert_eq!(v.create(&other).unwrap().set_delete_disposition(true).err(), Some(Status::ACCESS_DENIED));
    let f = v.shut_down();
    assert_e2fsck_clean(&f.image, "after deletes on close");
}

#[test]
fn a_posix_delete_removes_the_name_now_and_the_file_at_its_last_close() {
    for disk in [Disk::Memory, Disk::File] {
        let v = volume(disk);
        let data = pattern(7, 300_000);
        v.put("f", &data);
        let free_before = v.open("", Access::READ).unwrap().query_volume_stat().unwrap();
        let reader = v.open("f", Access::READ_WRITE).unwrap();
        let unlinker = v.create(&request("f", Access::DELETE, D::Open, O::OPEN_REPARSE_POINT)).unwrap();
        unlinker.set_posix_delete().unwrap();
        unlinker.close().unwrap();
        assert_eq!(v.open("f", Access::READ).err(), Some(Status::OBJECT_NAME_NOT_FOUND), "the name is gone");
        assert!(!names(&v, "/").contains(&"f".to_owned()));
        // The open handle reads and writes the unlinked file.
        assert_eq!(read_handle(&reader), data);
        reader.write(0, b"after unlink").unwrap();
        assert_eq!(&read_handle(&reader)[..12], b"after unlink");
        assert_eq!(reader.query_stat().unwrap().nlink, 0);
        // A new file of the same name is another inode.
        v.put("f", b"another");
        assert_eq!(v.read_all("f"), b"another");
        reader.flush_buffers().unwrap();
        reader.close().unwrap();
        let free_after = v.open("", Access::READ).unwrap().query_volume_stat().unwrap();
        assert_eq!(
            free_after.files_free, free_before.files_free,
            "the old f's inode was freed, the new f took one"
        );
        let f = v.shut_down();
        assert_e2fsck_clean(&f.image, &format!("after an unlink while open ({disk:?})"));
        assert_eq!(debugfs_cat(&f.image, "/f"), b"another");
    }
}

#[test]
fn an_unlinked_file_open_at_shutdown_is_freed_and_later_requests_are_refused() {
    let v = volume(Disk::File);
    v.put("open-at-shutdown", &pattern(8, 10_000));
    let h = v.open("open-at-shutdown", Access::READ_WRITE).unwrap();
    let u = v.create(&request("open-at-shutdown", Access::DELETE, D::Open, O::NONE)).unwrap();
    u.set_posix_delete().unwrap();
    u.close().unwrap();
    let w = v.open("/", Access::READ).unwrap();
    v.io.shutdown().unwrap();
    assert_eq!(h.write(0, b"late").err(), Some(Status::VOLUME_DISMOUNTED));
    assert_eq!(h.flush_buffers().err(), Some(Status::VOLUME_DISMOUNTED));
    assert_eq!(h.read(0, 10).err(), Some(Status::VOLUME_DISMOUNTED));
    assert_eq!(w.query_stat().err(), Some(Status::VOLUME_DISMOUNTED));
    let created = irp::Irp::for_device(&v.top, irp::MajorFunction::Create)
        .with_parameters(irp::Parameters::Create {
            access: Access::READ,
            disposition: D::OpenIf,
            options: O::NONE,
            mode: 0o644,
        })
        .with_file_object(std::sync::Arc::new(irp::FileObject::new("late", Access::READ)));
    assert_eq!(v.top.call_and_wait(created).status(), Status::VOLUME_DISMOUNTED);
    drop((h, w));
    let f = v.shut_down();
    assert_e2fsck_clean(&f.image, "after a shutdown with an unlinked file open");
}
