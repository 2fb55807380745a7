//! A full volume: writes come back short and then fail with ENOSPC, every operation that
//! needs a block fails with ENOSPC and changes nothing, what needs no block still works,
//! freeing space makes writes work again (in the same transaction, after the commit that
//! frees the blocks), running out of inodes is ENOSPC too, and e2fsck -fn stays silent.

mod write_support;

use fs::filesystem::XattrMode;
use fs::{FsError, ROOT, errno};
use write_support::*;

fn is_enospc<T: std::fmt::Debug>(r: Result<T, FsError>) -> bool {
    match r {
        Err(e) => e.errno() == errno::ENOSPC,
        Ok(v) => panic!("expected ENOSPC, got {v:?}"),
    }
}

#[test]
fn a_full_volume_fails_cleanly_and_recovers_when_space_is_freed() {
    let dev = fresh_device(16 << 20, 21);
    let fs = mount(&dev);
    let chunk = pattern(3, 1 << 20);
    let mut files = Vec::new();
    let mut short = false;
    for i in 0.. {
        let f = fs.create(ROOT, format!("fill{i}").as_bytes(), 0o644, 0, 0).unwrap();
        match fs.write(f.ino, 0, &chunk) {
            Ok(n) if n == chunk.len() => files.push((f.ino, n)),
            Ok(n) => {
                short = true;
                files.push((f.ino, n));
                break;
            }
            Err(e) => {
                assert_eq!(e.errno(), errno::ENOSPC, "{e}");
                files.push((f.ino, 0));
                break;
            }
        }
        assert!(i < 100, "a 16 MiB volume never filled");
    }
    // Top up: block by block until not even one is left.
    let (last, mut len) = *files.last().unwrap();
    while let Ok(n) = fs.write(last, len as u64, &chunk[..4096]) {
        assert_eq!(n, 4096);
        len += n;
    }
    let st = fs.statfs();
    assert_eq!(st.free_blocks, 0, "{st:?}");
    assert!(short, "the write that filled the volume came back short");
    for &(ino, n) in &files[..files.len() - 1] {
        assert_eq!(fs.getattr(ino).unwrap().size, n as u64);
    }

    let before = list(&fs, ROOT);
    let free_inodes = fs.statfs().free_files;
    let (f0, _) = files[0];
    assert!(is_enospc(fs.write(f0, 50 << 20, b"into a hole")));
    assert!(is_enospc(fs.fallocate(f0, 40 << 20, 1 << 20, false)));
    assert!(is_enospc(fs.mkdir(ROOT, b"newdir", 0o755, 0, 0)));
    assert!(is_enospc(fs.symlink(ROOT, b"slow", &[b's'; 300], 0, 0)));
    assert!(is_enospc(fs.setxattr(f0, b"user.big", &[1; 3000], XattrMode::Set)));
    assert_eq!(list(&fs, ROOT), before, "failed operations leave the directory as it was");
    assert_eq!(fs.statfs().free_files, free_inodes, "and the inodes");
    assert_eq!(fs.getattr(f0).unwrap().size, 1 << 20, "and the file");
    // What needs no new block still works.
    assert_eq!(fs.write(f0, 100, b"overwrite in place").unwrap(), 18);
    fs.symlink(ROOT, b"fast", b"fill0", 0, 0).unwrap();
    fs.setxattr(f0, b"user.small", b"fits in the inode", XattrMode::Set).unwrap();
    fs.unmount().unwrap();
    assert_fsck(&dev, "a full volume");

    // Freeing space: the next write, in the same transaction, gets the blocks back.
    let fs = mount(&dev);
    fs.unlink(ROOT, b"fill0").unwrap();
    let f = fs.create(ROOT, b"after", 0o644, 0, 0).unwrap();
    assert_eq!(fs.write(f.ino, 0, &chunk[..512 * 1024]).unwrap(), 512 * 1024);
    fs.mkdir(ROOT, b"newdir", 0o755, 0, 0).unwrap();
    fs.unmount().unwrap();
    assert_fsck(&dev, "after space was freed and used again");
}

#[test]
fn running_out_of_inodes_is_enospc() {
    let dev = fresh_device(16 << 20, 22);
    let fs = mount(&dev);
    let d = fs.mkdir(ROOT, b"many", 0o755, 0, 0).unwrap();
    let mut made = 0;
    loop {
        match fs.create(d.ino, format!("f{made}").as_bytes(), 0o644, 0, 0) {
            Ok(_) => made += 1,
            Err(e) => {
                assert_eq!(e.errno(), errno::ENOSPC, "{e}");
                break;
            }
        }
    }
    assert_eq!(fs.statfs().free_files, 0);
    assert!(made > 900, "{made}");
    assert!(is_enospc(fs.mkdir(ROOT, b"more", 0o755, 0, 0)));
    fs.unlink(d.ino, b"f7").unwrap();
    fs.create(ROOT, b"reuses-f7s-inode", 0o644, 0, 0).unwrap();
    fs.unmount().unwrap();
    assert_fsck(&dev, "out of inodes");
}
