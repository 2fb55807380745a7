//! A tree written through the read-write driver's IRPs (files of awkward sizes, sparse
//! files, nested directories, renames, hard links, fast and slow symbolic links, xattrs,
//! files removed), the stack shut down, then judged by independent tools: `e2fsck -fn` is
//! clean, `debugfs -R cat` reads each file back, and the Linux kernel (a read-only loop
//! mount) lists the same tree and reads every file back bit for bit (skipped, with the
//! reason, where loop mounts are refused).

mod rw_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use irp::Access;
use irp::file::{CreateDisposition as D, CreateOptions as O, XattrSetMode};
use rw_support::{Disk, Mounted, assert_e2fsck_clean, debugfs_cat, have, pattern, request, volume};

/// What the tree should hold: path → file bytes, or a symlink's target (prefixed "->").
type Model = BTreeMap<String, Vec<u8>>;

fn write_tree(v: &rw_support::Volume) -> (Model, Vec<String>) {
    let mut model = Model::new();
    let mut dirs = vec!["a".to_owned(), "a/b".to_owned(), "a/b/c".to_owned(), "gone".to_owned()];
    for d in &dirs {
        v.mkdir(d);
    }
    for (i, size) in [0usize, 1, 4095, 4096, 4097, 65_536, 1_048_579, 3_000_000].into_iter().enumerate() {
        let path = format!("a/b/size-{size}");
        let data = pattern(100 + i as u64, size);
        v.put(&path, &data);
        model.insert(path, data);
    }
    // A sparse file: data, a hole of 5 MiB, data past it.
    let sparse = v.create(&request("a/sparse", Access::READ_WRITE, D::Create, O::NONE)).unwrap();
    let mut want = pattern(200, 10_000);
    sparse.write(0, &want).unwrap();
    let tail = pattern(201, 20_000);
    sparse.write(5 << 20, &tail).unwrap();
    want.resize(5 << 20, 0);
    want.extend_from_slice(&tail);
    let refused = sparse.set_xattr(b"user.note", b"sparse on purpose", XattrSetMode::Create);
    assert_eq!(refused.err(), Some(irp::Status::ACCESS_DENIED), "xattrs need FILE_WRITE_EA");
    drop(sparse);
    let xh = v.create(&request("a/sparse", Access::READ_WRITE | Access::WRITE_EA, D::Open, O::NONE)).unwrap();
    xh.set_xattr(b"user.note", b"sparse on purpose", XattrSetMode::Create).unwrap();
    xh.set_xattr(b"user.big", &pattern(202, 3000), XattrSetMode::Create).unwrap();
    xh.set_xattr(b"user.gone", b"x", XattrSetMode::Create).unwrap();
    xh.remove_xattr(b"user.gone").unwrap();
    drop(xh);
    model.insert("a/sparse".into(), want);
    // Renames, links, and removals.
    v.put("gone/file", b"removed with its directory");
    v.put("tmpname", b"renamed into place");
    let h = v.create(&request("tmpname", Access::DELETE, D::Open, O::NONE)).unwrap();
    h.rename("a/b/c/final", true).unwrap();
    h.link("a/hardlink", false).unwrap();
    drop(h);
    model.insert("a/b/c/final".into(), b"renamed into place".to_vec());
    model.insert("a/hardlink".into(), b"renamed into place".to_vec());
    for victim in ["gone/file", "gone"] {
        let h = v.create(&request(victim, Access::DELETE, D::Open, O::NONE)).unwrap();
        h.set_posix_delete().unwrap();
        h.close().unwrap();
    }
    dirs.retain(|d| d != "gone");
    // Symbolic links: in the inode (short) and in a block (long).
    let a = v.open("a", Access::READ).unwrap();
    a.create_symlink("short", b"b/size-1").unwrap();
    let long = format!("{}/size-4096", "b/../b/./".repeat(9));
    a.create_symlink("long", long.as_bytes()).unwrap();
    model.insert("a/short".into(), b"->b/size-1".to_vec());
    model.insert("a/long".into(), [b"->", long.as_bytes()].concat());
    (model, dirs)
}

#[test]
fn the_kernel_and_debugfs_read_back_what_the_driver_wrote() {
    let v = volume(Disk::File);
    let (model, dirs) = write_tree(&v);
    let f = v.shut_down();
    assert_e2fsck_clean(&f.image, "after writing the tree");
    for (path, data) in &model {
        if !data.starts_with(b"->") {
            assert_eq!(&debugfs_cat(&f.image, &format!("/{path}")), data, "debugfs cat /{path}");
        }
    }
    let Some(mnt) = loop_mount(&f.image, f.dir.path()) else { return };
    let mut seen = Model::new();
    let mut found_dirs = Vec::new();
    walk(&mnt.mnt, &mnt.mnt, &mut seen, &mut found_dirs);
    found_dirs.sort();
    let mut want_dirs = dirs.clone();
    want_dirs.push("lost+found".into());
    want_dirs.sort();
    assert_eq!(found_dirs, want_dirs, "the kernel's directories");
    assert_eq!(seen.keys().collect::<Vec<_>>(), model.keys().collect::<Vec<_>>(), "the kernel's names");
    for (path, data) in &model {
        assert!(seen[path] == *data, "the kernel reads {path} differently");
    }
    let meta = |p: &str| std::fs::symlink_metadata(mnt.path(p)).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta("a/hardlink").ino(), meta("a/b/c/final").ino());
    assert_eq!(meta("a/hardlink").nlink(), 2);
    assert!(meta("a/sparse").blocks() < (5 << 20) / 512, "the kernel sees the hole");
    if have("getfattr") {
        let out = Command::new("getfattr")
            .args(["-d", "--absolute-names"])
            .arg(mnt.path("a/sparse"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("user.note=\"sparse on purpose\""), "{text}");
        assert!(text.contains("user.big=") && !text.contains("user.gone"), "{text}");
    }
    mnt.unmount();
}

/// Every file and symlink under `dir` (relative to `root`), and the directories.
fn walk(root: &Path, dir: &Path, out: &mut Model, dirs: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            dirs.push(rel);
            walk(root, &e.path(), out, dirs);
        } else if ft.is_symlink() {
            use std::os::unix::ffi::OsStrExt;
            let target = std::fs::read_link(e.path()).unwrap();
            out.insert(rel, [b"->", target.as_os_str().as_bytes()].concat());
        } else {
            out.insert(rel, std::fs::read(e.path()).unwrap());
        }
    }
}

/// A read-only loop mount of `image`, or `None` (the test skipped, saying why).
fn loop_mount(image: &Path, dir: &Path) -> Option<Mounted> {
    if !have("mount") {
        irp::testing::skip("mount is not installed");
        return None;
    }
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let out =
        Command::new("mount").args(["-t", "ext4", "-o", "loop,ro"]).arg(image).arg(&mnt).output().unwrap();
    if !out.status.success() {
        irp::testing::skip(format!("mount -o loop refused: {}", String::from_utf8_lossy(&out.stderr).trim()));
        return None;
    }
    Some(Mounted { mnt })
}
