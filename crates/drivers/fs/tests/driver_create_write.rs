//! The read-write driver through IRPs, on a memory disk and on an image file: every create
//! disposition and the action it reports, the directory options, access against the mode
//! bits, writes at offsets, appends and write-through; after each test the stack is shut
//! down and `e2fsck -fn` must find the image clean, and `debugfs -R cat` reads the files
//! as written.

mod rw_support;

use irp::file::{
    CreateAction, CreateDisposition as D, CreateOptions as O, Credentials, WRITE_TO_END_OF_FILE,
};
use irp::{Access, RequestFlags, Status};
use rw_support::{Disk, assert_e2fsck_clean, debugfs_cat, pattern, read_handle, request, volume};

fn each_disk(test: impl Fn(Disk)) {
    test(Disk::Memory);
    test(Disk::File);
}

#[test]
fn every_disposition_reports_its_action() {
    each_disk(|disk| {
        let v = volume(disk);
        let rw = Access::READ_WRITE;
        let action = |path: &str, d: D| v.create(&request(path, rw, d, O::NONE)).map(|h| h.create_action());
        // Missing names.
        for (i, d) in [D::Supersede, D::Create, D::OpenIf, D::OverwriteIf].into_iter().enumerate() {
            assert_eq!(action(&format!("new{i}"), d), Ok(CreateAction::Created), "{d:?} of a missing name");
        }
        assert_eq!(action("missing", D::Open), Err(Status::OBJECT_NAME_NOT_FOUND));
        assert_eq!(action("missing", D::Overwrite), Err(Status::OBJECT_NAME_NOT_FOUND));
        assert_eq!(action("nodir/x", D::OpenIf), Err(Status::OBJECT_PATH_NOT_FOUND));
        // Existing names: opened, or replaced (the data goes, the inode stays).
        let data = pattern(1, 10_000);
        for (d, want, size) in [
            (D::Open, CreateAction::Opened, data.len()),
            (D::OpenIf, CreateAction::Opened, data.len()),
            (D::Overwrite, CreateAction::Overwritten, 0),
            (D::OverwriteIf, CreateAction::Overwritten, 0),
            (D::Supersede, CreateAction::Superseded, 0),
        ] {
            v.put("f", &data);
            let ino = v.open("f", Access::READ).unwrap().query_stat().unwrap().ino;
            let h = v.create(&request("f", rw, d, O::NONE)).unwrap();
            assert_eq!(h.create_action(), want, "{d:?} of an existing file");
            let st = h.query_stat().unwrap();
            assert_eq!((st.size, st.ino), (size as u64, ino), "{d:?}");
        }
        assert_eq!(action("f", D::Create), Err(Status::OBJECT_NAME_COLLISION));
        assert_eq!(v.read_all("new0"), b"");
        v.put("kept", b"kept\n");
        let f = v.shut_down();
        assert_e2fsck_clean(&f.image, &format!("after the dispositions ({disk:?})"));
        assert_eq!(debugfs_cat(&f.image, "/kept"), b"kept\n");
        assert_eq!(debugfs_cat(&f.image, "/f"), b"", "superseded last");
    });
}

#[test]
fn directory_options_make_and_refuse_directories() {
    each_disk(|disk| {
        let v = volume(disk);
        let dir = |path: &str, d: D| v.create(&request(path, Access::READ, d, O::DIRECTORY_FILE));
        let h = dir("d", D::Create).unwrap();
        assert_eq!(h.create_action(), CreateAction::Created);
        assert!(h.query_standard().unwrap().directory);
        assert_eq!(dir("d", D::OpenIf).unwrap().create_action(), CreateAction::Opened);
        assert_eq!(dir("d/e", D::OpenIf).unwrap().create_action(), CreateAction::Created);
        v.put("d/e/file", b"x");
        assert_eq!(dir("d/e/file", D::Open).err(), Some(Status::NOT_A_DIRECTORY));
        let file = |path: &str, d: D| v.create(&request(path, Access::READ, d, O::NON_DIRECTORY_FILE));
        assert_eq!(file("d", D::Open).err(), Some(Status::FILE_IS_A_DIRECTORY));
        assert_eq!(file("d/e/file", D::Open).unwrap().create_action(), CreateAction::Opened);
        assert_eq!(
            v.create(&request("d2", Access::READ, D::OverwriteIf, O::DIRECTORY_FILE)).err(),
            Some(Status::INVALID_PARAMETER),
            "FILE_DIRECTORY_FILE goes with CREATE, OPEN and OPEN_IF only"
        );
        let both = O::DIRECTORY_FILE | O::NON_DIRECTORY_FILE;
        assert_eq!(
            v.create(&request("z", Access::READ, D::OpenIf, both)).err(),
            Some(Status::INVALID_PARAMETER)
        );
        assert_eq!(
            v.create(&request("d", Access::READ, D::Overwrite, O::NONE)).err(),
            Some(Status::FILE_IS_A_DIRECTORY),
            "a directory cannot be overwritten"
        );
        let w = v.open("d", Access::READ_WRITE).unwrap();
        assert_eq!(w.write(0, b"x").err(), Some(Status::FILE_IS_A_DIRECTORY), "a directory holds no data");
        w.flush_buffers().unwrap();
        drop(w);
        let names: Vec<String> = v
            .open("d", Access::READ)
            .unwrap()
            .list_directory(None)
            .unwrap()
            .iter()
            .map(|e| e.name_lossy().into_owned())
            .collect();
        assert_eq!(names, [".", "..", "e"]);
        assert_eq!(v.open("d", Access::READ).unwrap().query_stat().unwrap().nlink, 3);
        let f = v.shut_down();
        assert_e2fsck_clean(&f.image, &format!("after making directories ({disk:?})"));
        assert_eq!(debugfs_cat(&f.image, "/d/e/file"), b"x");
    });
}

#[test]
fn access_is_checked_against_the_mode_bits() {
    let v = volume(Disk::Memory);
    let alice = Credentials::user(1000, 1000);
    let bob = Credentials::user(2000, 2000);
    let as_user = |who: &Credentials, path: &str, access: Access, d: D, mode: u32| {
        v.create(&request(path, access, d, O::NONE).credentials(who.clone()).mode(mode))
    };
    assert_eq!(
        as_user(&alice, "mine", Access::READ_WRITE, D::Create, 0o600).err(),
        Some(Status::ACCESS_DENIED),
        "the root directory is 0755 root's"
    );
    let pubdir = request("pub", Access::READ, D::Create, O::DIRECTORY_FILE).mode(0o777);
    v.create(&pubdir).unwrap();
    let sgid = request("team", Access::READ, D::Create, O::DIRECTORY_FILE).mode(0o2777);
    v.create(&sgid).unwrap();
    // A new file's creator gets what it asked for, whatever the mode.
    let h = as_user(&alice, "pub/ro", Access::READ_WRITE, D::Create, 0o444).unwrap();
    assert_eq!(h.write(0, b"written by its creator").unwrap(), 22);
    let st = h.query_stat().unwrap();
    assert_eq!((st.uid, st.gid, st.mode & 0o7777), (1000, 1000, 0o444));
    drop(h);
    assert_eq!(as_user(&alice, "pub/ro", Access::READ_WRITE, D::Open, 0).err(), Some(Status::ACCESS_DENIED));
    assert_eq!(as_user(&alice, "pub/ro", Access::READ, D::Overwrite, 0).err(), Some(Status::ACCESS_DENIED));
    as_user(&alice, "pub/private", Access::READ_WRITE, D::Create, 0o600).unwrap();
    assert_eq!(as_user(&bob, "pub/private", Access::READ, D::Open, 0).err(), Some(Status::ACCESS_DENIED));
    assert!(as_user(&bob, "pub/private", Access::READ_ATTRIBUTES, D::Open, 0).is_ok(), "stat needs no bit");
    assert!(as_user(&alice, "pub/private", Access::READ_WRITE, D::Open, 0).is_ok());
    // A set-group-id directory gives its group to what is made in it.
    let st = as_user(&bob, "team/x", Access::READ, D::Create, 0o640).unwrap().query_stat().unwrap();
    assert_eq!((st.uid, st.gid), (2000, 0), "the directory's group (root's 0), not bob's 2000");
    let f = v.shut_down();
    assert_e2fsck_clean(&f.image, "after opens as users");
}

#[test]
fn writes_at_offsets_appends_and_write_through() {
    each_disk(|disk| {
        let v = volume(disk);
        let h = v.create(&request("sparse", Access::READ_WRITE, D::Create, O::NONE)).unwrap();
        let a = pattern(2, 5000);
        let b = pattern(3, 70_000);
        assert_eq!(h.write(0, &a).unwrap(), a.len());
        assert_eq!(h.write(3 << 20, &b).unwrap(), b.len(), "past the end: a hole between");
        assert_eq!(h.write(100, b"overwritten").unwrap(), 11);
        let mut want = vec![0u8; (3 << 20) + b.len()];
        want[..a.len()].copy_from_slice(&a);
        want[100..111].copy_from_slice(b"overwritten");
        want[3 << 20..].copy_from_slice(&b);
        assert_eq!(read_handle(&h), want);
        assert_eq!(h.read_into(want.len() as u64, &mut [0u8; 16]).err(), Some(Status::END_OF_FILE));
        let st = h.query_stat().unwrap();
        assert!(st.blocks < (want.len() as u64) / 512, "the hole takes no blocks: {st:?}");
        drop(h);

        // An append-only handle writes at the end, whatever offset it names.
        v.put("log", b"one\n");
        let app = v.create(&request("log", Access::APPEND, D::Open, O::NONE)).unwrap();
        app.write(0, b"two\n").unwrap();
        app.write(0, b"three\n").unwrap();
        let rw = v.open("log", Access::READ_WRITE).unwrap();
        rw.write(WRITE_TO_END_OF_FILE, b"four\n").unwrap();
        assert_eq!(v.read_all("log"), b"one\ntwo\nthree\nfour\n");

        // Write-through: a FORCE_UNIT_ACCESS write, and every write of a FILE_WRITE_THROUGH open.
        let fua = v.create(&request("fua", Access::READ_WRITE, D::Create, O::NONE)).unwrap();
        fua.write_with(0, b"durable", RequestFlags::FORCE_UNIT_ACCESS).unwrap();
        let wt = v.create(&request("wt", Access::READ_WRITE, D::Create, O::WRITE_THROUGH)).unwrap();
        wt.write(0, b"through").unwrap();
        drop((app, rw, fua, wt));
        let f = v.shut_down();
        assert_e2fsck_clean(&f.image, &format!("after writes ({disk:?})"));
        assert_eq!(debugfs_cat(&f.image, "/sparse"), want);
        assert_eq!(debugfs_cat(&f.image, "/log"), b"one\ntwo\nthree\nfour\n");
        assert_eq!(debugfs_cat(&f.image, "/fua"), b"durable");
        assert_eq!(debugfs_cat(&f.image, "/wt"), b"through");
    });
}

#[test]
fn sizes_allocation_and_holes_through_set_information_and_controls() {
    let v = volume(Disk::Memory);
    let h = v.create(&request("f", Access::READ_WRITE, D::Create, O::NONE)).unwrap();
    h.write(0, &pattern(4, 20_000)).unwrap();
    h.set_end_of_file(100_000).unwrap();
    assert_eq!(h.query_stat().unwrap().size, 100_000);
    h.set_end_of_file(8192).unwrap();
    let data = read_handle(&h);
    assert_eq!(data, pattern(4, 8192));
    h.set_information(irp::file::SetFileInformation::Allocation(1 << 20)).unwrap();
    let st = h.query_stat().unwrap();
    assert_eq!(st.size, 8192, "allocation keeps the size");
    assert!(st.blocks >= (1 << 20) / 512, "preallocated: {st:?}");
    h.allocate(4096, 4096, irp::file::AllocateMode::PUNCH_HOLE | irp::file::AllocateMode::KEEP_SIZE).unwrap();
    let after = read_handle(&h);
    assert_eq!(&after[..4096], &pattern(4, 4096)[..]);
    assert!(after[4096..].iter().all(|&b| b == 0), "the punched block reads as zeros");
    assert_eq!(h.seek(0, irp::file::SeekWhence::Hole).unwrap(), 4096);
    assert_eq!(
        h.allocate(0, 10, irp::file::AllocateMode::PUNCH_HOLE).err(),
        Some(Status::NOT_SUPPORTED),
        "a hole keeps the size"
    );
    h.allocate(0, 50_000, irp::file::AllocateMode::DEFAULT).unwrap();
    assert_eq!(h.query_stat().unwrap().size, 50_000, "fallocate without KEEP_SIZE extends");
    let ro = v.open("f", Access::READ).unwrap();
    assert_eq!(ro.set_end_of_file(0).err(), Some(Status::ACCESS_DENIED));
    drop((h, ro));
    let f = v.shut_down();
    assert_e2fsck_clean(&f.image, "after sizes and holes");
}

#[test]
fn concurrent_opens_creates_and_appends() {
    let v = volume(Disk::Memory);
    v.mkdir("d");
    let threads = 4;
    let rounds = 50;
    std::thread::scope(|s| {
        for t in 0..threads {
            let v = &v;
            s.spawn(move || {
                for r in 0..rounds {
                    // All race to make "shared": every OPEN_IF opens or creates it, none collides.
                    let h = v.create(&request("d/shared", Access::APPEND, D::OpenIf, O::NONE)).unwrap();
                    h.write(0, format!("{t:02} {r:03}\n").as_bytes()).unwrap();
                    drop(h);
                    v.put(&format!("d/own-{t}-{r}"), &pattern((t * 1000 + r) as u64, 3000));
                }
            });
        }
    });
    let log = v.read_all("d/shared");
    assert_eq!(log.len(), threads * rounds * 7, "every append landed whole");
    let mut lines: Vec<&[u8]> = log.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    lines.sort();
    lines.dedup();
    assert_eq!(lines.len(), threads * rounds, "no append overwrote another");
    for t in 0..threads {
        for r in 0..rounds {
            assert_eq!(v.read_all(&format!("d/own-{t}-{r}")), pattern((t * 1000 + r) as u64, 3000));
        }
    }
    let f = v.shut_down();
    assert_e2fsck_clean(&f.image, "after concurrent creates and appends");
}
