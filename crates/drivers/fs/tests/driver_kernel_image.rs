//! The driver over a tree the Linux kernel wrote: mkfs.ext4, a loop mount to create files of
//! every kind (sizes around the block size, sparse and fallocated files, an htree directory,
//! fast and slow symlinks, hard links, a FIFO, device nodes, owners and modes, xattrs), then
//! our stack `fs / file(path=img,read-only=true)` through `IoManager` handles: every file
//! reads back bit for bit, every directory lists what `ls -a` lists, every `stat` field
//! equals the kernel's `lstat`, SEEK_DATA / SEEK_HOLE answer what the kernel's `lseek` did,
//! and errors map to the right statuses. The verifier watches the stack throughout.

mod driver_support;

use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::process::Command;

use driver_support::*;
use irp::file::{
    CreateOptions, CreateRequest, Credentials, FileKind, FileTime, QueryDirectory, QueryDirectoryFlags,
    SeekWhence,
};
use irp::{Access, Handle, IoManager, Status};

const BS: u64 = 4096;
const BIG_DIR: usize = 3000;

struct Populated {
    /// (path, offset, whence) → what the kernel's lseek answered (None: ENXIO).
    seeks: BTreeMap<(String, u64, bool), Option<u64>>,
    xattrs: bool,
}

fn sh(args: &[&str]) {
    run(Command::new(args[0]).args(&args[1..]));
}

fn populate(m: &Mounted) -> Populated {
    let w = |p: &str, data: &[u8]| std::fs::write(m.path(p), data).unwrap();
    for (i, (name, len)) in [
        ("empty", 0usize),
        ("one", 1),
        ("odd", 4095),
        ("page", 4096),
        ("page_plus", 4097),
        ("medium", 100_000),
        ("large", (3 << 20) + 5),
    ]
    .into_iter()
    .enumerate()
    {
        w(name, &pattern(i as u64 + 1, len));
    }
    {
        let mut f = std::fs::File::create(m.path("sparse")).unwrap();
        f.seek(SeekFrom::Start(3 * BS + 100)).unwrap();
        f.write_all(&pattern(77, 5000)).unwrap();
        f.set_len(40 * BS).unwrap();
    }
    run(Command::new("fallocate").arg("-l").arg("1M").arg(m.path("prealloc")));
    {
        let mut f = std::fs::OpenOptions::new().write(true).open(m.path("prealloc")).unwrap();
        f.seek(SeekFrom::Start(10 * BS)).unwrap();
        f.write_all(&pattern(5, 100)).unwrap();
    }
    std::fs::create_dir_all(m.path("dir/sub")).unwrap();
    w("dir/sub/deep.txt", b"deep\n");
    w("dir/a.txt", b"a\n");
    w("dir/b.txt", b"b\n");
    w("dir/c.log", b"c\n");
    std::fs::hard_link(m.path("medium"), m.path("dir/hard")).unwrap();
    std::fs::create_dir(m.path("big")).unwrap();
    for i in 0..BIG_DIR {
        w(&format!("big/entry-{i:05}"), &[]);
    }
    let slow = format!("dir/{}sub/deep.txt", "./".repeat(40));
    for (name, target) in [
        ("fast", "page"),
        ("slow", slow.as_str()),
        ("abs", "/dir/a.txt"),
        ("dangling", "nowhere"),
        ("loop1", "loop2"),
        ("loop2", "loop1"),
        ("dirlink", "dir"),
    ] {
        symlink(target, m.path(name)).unwrap();
    }
    sh(&["mkfifo", m.path("fifo").to_str().unwrap()]);
    sh(&["mknod", m.path("null").to_str().unwrap(), "c", "1", "3"]);
    sh(&["mknod", m.path("blk").to_str().unwrap(), "b", "259", "300"]);
    w("private", b"secret\n");
    std::fs::set_permissions(m.path("private"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::create_dir(m.path("locked")).unwrap();
    w("locked/inside", b"inside\n");
    std::fs::set_permissions(m.path("locked"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::create_dir(m.path("shared")).unwrap();
    w("shared/f", b"group readable\n");
    std::fs::set_permissions(m.path("shared/f"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::set_permissions(m.path("shared"), std::fs::Permissions::from_mode(0o750)).unwrap();
    w("suid", b"#!/bin/sh\n");
    std::fs::set_permissions(m.path("suid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    for (p, owner) in [
        ("private", "1000:1000"),
        ("locked", "1000:1000"),
        ("locked/inside", "1000:1000"),
        ("shared", "1000:2000"),
        ("shared/f", "1000:2000"),
    ] {
        sh(&["chown", owner, m.path(p).to_str().unwrap()]);
    }
    let xattrs = have("setfattr");
    if xattrs {
        sh(&["setfattr", "-n", "user.small", "-v", "tiny", m.path("one").to_str().unwrap()]);
        let big = "v".repeat(2000);
        sh(&["setfattr", "-n", "user.big", "-v", &big, m.path("one").to_str().unwrap()]);
        sh(&["setfattr", "-n", "trusted.t", "-v", "root only", m.path("one").to_str().unwrap()]);
    }
    sh(&["sync", "-f", m.path("one").to_str().unwrap()]);
    // The kernel's SEEK_DATA / SEEK_HOLE, before anything reads the files (reading an
    // unwritten extent caches zero pages, which the kernel then reports as data).
    let mut seeks = BTreeMap::new();
    for name in ["sparse", "prealloc", "page", "empty"] {
        let f = std::fs::File::open(m.path(name)).unwrap();
        let size = f.metadata().unwrap().len();
        for offset in
            [0, 100, 3 * BS, 3 * BS + 200, 5 * BS, 10 * BS, 11 * BS, 39 * BS, size.saturating_sub(1), size]
        {
            for data in [true, false] {
                use std::os::fd::AsRawFd;
                let whence = if data { libc::SEEK_DATA } else { libc::SEEK_HOLE };
                // SAFETY: lseek on an open descriptor; it only moves the file offset.
                let r = unsafe { libc::lseek(f.as_raw_fd(), offset as libc::off_t, whence) };
                let answer = if r < 0 {
                    assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::ENXIO));
                    None
                } else {
                    Some(r as u64)
                };
                seeks.insert((name.to_owned(), offset, data), answer);
            }
        }
    }
    Populated { seeks, xattrs }
}

fn open(io: &IoManager, path: &str, access: Access, options: CreateOptions) -> Result<Handle, Status> {
    io.create("vol", &CreateRequest::open(path, access).options(options).credentials(Credentials::ROOT))
        .map_err(|e| e.status().expect("a device status"))
}

fn open_as(io: &IoManager, path: &str, access: Access, who: Credentials) -> Result<Handle, Status> {
    io.create("vol", &CreateRequest::open(path, access).credentials(who)).map_err(|e| e.status().unwrap())
}

fn time(secs: i64, nanos: i64) -> FileTime {
    FileTime::new(secs, nanos as u32)
}

/// Reads the whole file through `h` in `chunk`-byte reads.
fn read_all(h: &Handle, size: u64, chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    while (out.len() as u64) < size {
        let n = h.read_into(out.len() as u64, &mut buf).unwrap();
        assert!(n > 0);
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(h.read_into(size, &mut buf), Err(Status::END_OF_FILE), "a read at the end");
    out
}

fn check_against_kernel(io: &IoManager, tree: &BTreeMap<String, KernelView>) {
    for (rel, view) in tree {
        let path = if rel.is_empty() { "/" } else { rel.as_str() };
        let h = open(io, path, Access::READ_ATTRIBUTES, CreateOptions::OPEN_REPARSE_POINT).unwrap();
        let st = h.query_stat().unwrap();
        let m = &view.meta;
        assert_eq!(
            (st.mode, u64::from(st.nlink), st.uid, st.gid, st.size, st.blocks, st.ino),
            stat_fields(m),
            "stat of {path}"
        );
        assert_eq!(st.atime, time(m.atime(), m.atime_nsec()), "atime of {path}");
        assert_eq!(st.mtime, time(m.mtime(), m.mtime_nsec()), "mtime of {path}");
        assert_eq!(st.ctime, time(m.ctime(), m.ctime_nsec()), "ctime of {path}");
        if let Ok(created) = m.created() {
            let d = created.duration_since(std::time::UNIX_EPOCH).unwrap();
            assert_eq!(st.btime, FileTime::new(d.as_secs() as i64, d.subsec_nanos()), "btime of {path}");
        }
        let rdev = m.rdev();
        let (major, minor) =
            (((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff), (rdev & 0xff) | ((rdev >> 12) & !0xff));
        assert_eq!((u64::from(st.rdev_major), u64::from(st.rdev_minor)), (major, minor), "rdev of {path}");
        assert_eq!(st.block_size, 4096);
        let std = h.query_standard().unwrap();
        assert_eq!(
            (std.end_of_file, std.directory, u64::from(std.number_of_links)),
            (m.size(), m.is_dir(), m.nlink())
        );
        assert_eq!(h.query_basic().unwrap().last_write_time, st.mtime);
        if let Some(data) = &view.data {
            let f = open(io, path, Access::READ, CreateOptions::NONE).unwrap();
            for chunk in [65536, 3000] {
                let got = read_all(&f, data.len() as u64, chunk);
                assert!(&got == data, "{path} differs when read {chunk} bytes at a time");
            }
        }
        if let Some(target) = &view.target {
            assert_eq!(&h.read_link().unwrap(), target, "link {path}");
        }
        if let Some(ls) = &view.ls {
            let d = open(io, path, Access::READ, CreateOptions::DIRECTORY_FILE).unwrap();
            let entries = d.list_directory(None).unwrap();
            let mut names: Vec<Vec<u8>> = entries.iter().map(|e| e.name.clone()).collect();
            names.sort();
            assert_eq!(&names, ls, "ls -a of {path}");
            for e in &entries {
                let child = match e.name.as_slice() {
                    b"." => rel.clone(),
                    b".." => rel.rsplit_once('/').map_or(String::new(), |(p, _)| p.to_owned()),
                    n => {
                        let n = String::from_utf8(n.to_vec()).unwrap();
                        if rel.is_empty() { n } else { format!("{rel}/{n}") }
                    }
                };
                let cm = &tree[&child].meta;
                assert_eq!(e.ino, cm.ino(), "{path}: entry {}", e.name_lossy());
                assert_eq!(e.kind, FileKind::from_mode(cm.mode()), "{path}: entry {}", e.name_lossy());
            }
        }
    }
}

fn check_reads(io: &IoManager, tree: &BTreeMap<String, KernelView>) {
    let data = tree["large"].data.as_ref().unwrap();
    let h = open(io, "large", Access::READ, CreateOptions::NONE).unwrap();
    let size = data.len() as u64;
    for offset in [0u64, 1, 4095, 4096, 12345, 1 << 20, size - 1] {
        for len in [1usize, 511, 4096, 65543, 200_000] {
            let mut buf = vec![0u8; len];
            let n = h.read_into(offset, &mut buf).unwrap();
            let end = (offset as usize + len).min(data.len());
            assert_eq!(n, end - offset as usize, "read of {len} at {offset}");
            assert!(buf[..n] == data[offset as usize..end], "read of {len} at {offset}");
        }
    }
    // Direct I/O into a page-aligned MDL.
    let (mdl, r) = h.read_mdl(8192, irp::Mdl::with_len(16384).unwrap());
    assert_eq!(r, Ok(16384));
    assert!(mdl.bytes() == &data[8192..8192 + 16384]);
    assert_eq!(h.read(size + 1, 10).err(), Some(Status::END_OF_FILE));
    // Holes and unwritten extents read as zeroes (compared whole above); a zero-length read
    // succeeds anywhere.
    assert_eq!(h.read_into(size + 100, &mut []), Ok(0));
}

fn check_errors(io: &IoManager) {
    let none = CreateOptions::NONE;
    let st = |p: &str| open(io, p, Access::READ, none).map(drop).err().unwrap_or(Status::SUCCESS);
    assert_eq!(st("missing"), Status::OBJECT_NAME_NOT_FOUND);
    assert_eq!(st("missing/x"), Status::OBJECT_PATH_NOT_FOUND);
    assert_eq!(st("page/x"), Status::NOT_A_DIRECTORY);
    assert_eq!(st("page/"), Status::NOT_A_DIRECTORY);
    assert_eq!(st("dir/"), Status::SUCCESS);
    assert_eq!(st("dangling"), Status::OBJECT_NAME_NOT_FOUND);
    assert_eq!(st("loop1"), Status::REPARSE_POINT_NOT_RESOLVED);
    assert_eq!(st("loop1/x"), Status::REPARSE_POINT_NOT_RESOLVED);
    let ino = |p: &str, o| open(io, p, Access::READ, o).unwrap().query_stat().unwrap().ino;
    assert_eq!(ino("fast", none), ino("page", none), "a final symlink is followed");
    assert_ne!(ino("fast", CreateOptions::OPEN_REPARSE_POINT), ino("page", none));
    assert_eq!(ino("slow", none), ino("dir/sub/deep.txt", none));
    assert_eq!(ino("abs", none), ino("dir/a.txt", none));
    assert_eq!(ino("dirlink/sub/../a.txt", none), ino("dir/a.txt", none));
    assert_eq!(ino("dir/hard", none), ino("medium", none));
    assert_eq!(
        open(io, "dir", Access::READ, CreateOptions::NON_DIRECTORY_FILE).err(),
        Some(Status::FILE_IS_A_DIRECTORY)
    );
    assert_eq!(
        open(io, "page", Access::READ, CreateOptions::DIRECTORY_FILE).err(),
        Some(Status::NOT_A_DIRECTORY)
    );
    assert_eq!(open(io, "page", Access::READ_WRITE, none).err(), Some(Status::MEDIA_WRITE_PROTECTED));

    // Owners and modes.
    let owner = Credentials::user(1000, 1000);
    let stranger = Credentials::user(1001, 1001);
    let member = Credentials { uid: 1002, gid: 1002, groups: vec![2000] };
    assert_eq!(open_as(io, "private", Access::READ, stranger.clone()).err(), Some(Status::ACCESS_DENIED));
    let h = open_as(io, "private", Access::READ, owner.clone()).unwrap();
    assert_eq!(h.read(0, 7).unwrap().bytes(), b"secret\n");
    assert_eq!(
        open_as(io, "locked/inside", Access::READ_ATTRIBUTES, stranger.clone()).err(),
        Some(Status::ACCESS_DENIED)
    );
    assert!(open_as(io, "locked/inside", Access::READ, owner).is_ok());
    assert!(open_as(io, "shared/f", Access::READ, member.clone()).is_ok());
    assert_eq!(open_as(io, "shared/f", Access::READ, stranger.clone()).err(), Some(Status::ACCESS_DENIED));
    assert_eq!(
        open_as(io, "shared/f", Access::READ_WRITE, member).err(),
        Some(Status::MEDIA_WRITE_PROTECTED)
    );
    // Listing needs read permission on the directory (and the handle's read access).
    assert_eq!(open_as(io, "locked", Access::READ, stranger).err(), Some(Status::ACCESS_DENIED));
    let attrs_only = open(io, "dir", Access::READ_ATTRIBUTES, none).unwrap();
    assert_eq!(attrs_only.list_directory(None), Err(Status::ACCESS_DENIED));

    // Things that hold no data to read.
    let fifo = open(io, "fifo", Access::READ, none).unwrap();
    assert_eq!(fifo.query_stat().unwrap().kind(), FileKind::Fifo);
    assert_eq!(fifo.read(0, 1).err(), Some(Status::INVALID_PARAMETER));
    let link = open(io, "fast", Access::READ, CreateOptions::OPEN_REPARSE_POINT).unwrap();
    assert_eq!(link.read(0, 1).err(), Some(Status::INVALID_PARAMETER));
    assert_eq!(open(io, "page", Access::READ, none).unwrap().read_link(), Err(Status::NOT_A_REPARSE_POINT));
}

fn check_directory_queries(io: &IoManager) {
    let d = open(io, "dir", Access::READ, CreateOptions::NONE).unwrap();
    let mut txt: Vec<String> =
        d.list_directory(Some("*.txt")).unwrap().iter().map(|e| e.name_lossy().into_owned()).collect();
    txt.sort();
    assert_eq!(txt, ["a.txt", "b.txt"]);
    assert_eq!(d.list_directory(Some("?.log")).unwrap().len(), 1);
    assert_eq!(d.query_directory(&QueryDirectory::restart(Some("*.none"))), Err(Status::NO_SUCH_FILE));
    // One entry at a time, then resume after the second one from another open.
    let mut single = QueryDirectory::restart(None);
    single.flags = single.flags | QueryDirectoryFlags::RETURN_SINGLE_ENTRY;
    let mut one_by_one = Vec::new();
    loop {
        match d.query_directory(&single) {
            Ok(batch) => {
                assert_eq!(batch.len(), 1);
                one_by_one.extend(batch);
            }
            Err(Status::NO_MORE_FILES) => break,
            Err(e) => panic!("{e}"),
        }
        single.flags = QueryDirectoryFlags::RETURN_SINGLE_ENTRY;
    }
    assert_eq!(one_by_one, d.list_directory(None).unwrap());
    let other = open(io, "dir", Access::READ, CreateOptions::NONE).unwrap();
    let rest = other.query_directory(&QueryDirectory::resume_after(one_by_one[1].index)).unwrap();
    assert_eq!(rest, one_by_one[2..]);
    let mut tiny = QueryDirectory::restart(None);
    tiny.output_length = 8;
    assert_eq!(other.query_directory(&tiny), Err(Status::BUFFER_TOO_SMALL));
    // The big (htree) directory pages through many queries.
    let big = open(io, "big", Access::READ, CreateOptions::NONE).unwrap();
    let mut q = QueryDirectory::restart(None);
    q.output_length = 4096;
    let mut count = 0;
    let mut batches = 0;
    loop {
        match big.query_directory(&q) {
            Ok(b) => {
                count += b.len();
                batches += 1;
            }
            Err(Status::NO_MORE_FILES) => break,
            Err(e) => panic!("{e}"),
        }
        q.flags = QueryDirectoryFlags::NONE;
    }
    assert_eq!(count, BIG_DIR + 2);
    assert!(batches > 10, "{batches} batches");
}

fn check_seeks_and_xattrs(io: &IoManager, p: &Populated) {
    for ((name, offset, data), expect) in &p.seeks {
        let h = open(io, name, Access::READ, CreateOptions::NONE).unwrap();
        let whence = if *data { SeekWhence::Data } else { SeekWhence::Hole };
        let got = match h.seek(*offset, whence) {
            Ok(o) => Some(o),
            Err(Status::END_OF_FILE) => None,
            Err(e) => panic!("{name}: {e}"),
        };
        assert_eq!(got, *expect, "lseek({name}, {offset}, {whence:?})");
    }
    if !p.xattrs {
        irp::testing::skip("setfattr is not installed: xattrs not checked");
        return;
    }
    let h = open(io, "one", Access::READ, CreateOptions::NONE).unwrap();
    let mut names = h.list_xattrs().unwrap();
    names.sort();
    assert_eq!(names, [b"trusted.t".to_vec(), b"user.big".to_vec(), b"user.small".to_vec()]);
    assert_eq!(h.get_xattr(b"user.small").unwrap(), b"tiny");
    assert_eq!(h.get_xattr(b"user.big").unwrap(), vec![b'v'; 2000]);
    assert_eq!(h.get_xattr(b"user.none"), Err(Status::NONEXISTENT_EA_ENTRY));
    let user = open_as(io, "one", Access::READ_ATTRIBUTES, Credentials::user(1001, 1001)).unwrap();
    assert_eq!(user.list_xattrs().unwrap().len(), 2, "trusted. names are root's only");
    assert_eq!(user.get_xattr(b"trusted.t"), Err(Status::NONEXISTENT_EA_ENTRY));
    assert_eq!(h.remove_xattr(b"user.small"), Err(Status::MEDIA_WRITE_PROTECTED));
}

#[test]
fn the_driver_serves_a_kernel_written_tree_as_the_kernel_does() {
    let img = match mkfs_ext4("64M", &["-b", "4096"]) {
        Ok(img) => img,
        Err(why) => return irp::testing::skip(why),
    };
    let m = match img.mount() {
        Ok(m) => m,
        Err(why) => return irp::testing::skip(why),
    };
    let populated = populate(&m);
    let tree = kernel_tree(&m.mnt);
    m.unmount();
    let (code, text) = img.e2fsck();
    assert_eq!(code, 0, "{text}");

    let (io, top) = mount_driver(&img.path).expect("mount");
    check_against_kernel(&io, &tree);
    check_reads(&io, &tree);
    check_errors(&io);
    check_directory_queries(&io);
    check_seeks_and_xattrs(&io, &populated);
    let fsd = top.driver_as::<fs::driver::FsDriver>().unwrap();
    assert!(fsd.vcb().fcbs().is_empty(), "every FCB left with its last close");
    assert!(fsd.vcb().recovery().is_none(), "a cleanly unmounted volume needs no recovery");
    io.shutdown().unwrap();
    assert_eq!(
        io.open_path("vol", "/", Access::READ).err().map(|e| e.to_string()),
        Some("the I/O manager is shut down".into())
    );
    assert_eq!(top.verifier().violations(), vec![], "the verifier saw the stack break a rule");
}
