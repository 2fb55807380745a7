//! First checks of the write path: a few files and directories, read back before and after
//! a remount, and e2fsck finds nothing to say.

mod write_support;

use fs::ROOT;
use fs::filesystem::RenameMode;
use write_support::*;

#[test]
fn files_and_directories_survive_a_remount_and_fsck_is_quiet() {
    let dev = fresh_device(64 << 20, 1);
    let fs = mount(&dev);
    let d = fs.mkdir(ROOT, b"dir", 0o755, 1000, 1000).unwrap();
    let f = fs.create(d.ino, b"file", 0o644, 1000, 1000).unwrap();
    let data = pattern(1, 100_000);
    assert_eq!(fs.write(f.ino, 0, &data).unwrap(), data.len());
    assert_eq!(read_all(&fs, f.ino), data);
    fs.symlink(ROOT, b"fast", b"dir/file", 0, 0).unwrap();
    fs.symlink(ROOT, b"slow", &[b'x'; 100], 0, 0).unwrap();
    fs.link(f.ino, ROOT, b"hard").unwrap();
    fs.rename(ROOT, b"hard", ROOT, b"hard2", RenameMode::Replace).unwrap();
    fs.unmount().unwrap();
    assert_fsck(&dev, "after the first mount");

    let fs = mount(&dev);
    let d = fs.lookup(ROOT, b"dir").unwrap();
    let f = fs.lookup(d.ino, b"file").unwrap();
    assert_eq!(f.nlink, 2);
    assert_eq!(read_all(&fs, f.ino), data);
    assert_eq!(fs.readlink(fs.lookup(ROOT, b"fast").unwrap().ino).unwrap(), b"dir/file");
    assert_eq!(fs.readlink(fs.lookup(ROOT, b"slow").unwrap().ino).unwrap(), vec![b'x'; 100]);
    let mut names: Vec<_> = list(&fs, ROOT).into_iter().map(|(n, _)| String::from_utf8(n).unwrap()).collect();
    names.sort();
    assert_eq!(names, ["dir", "fast", "hard2", "lost+found", "slow"]);
    fs.unlink(ROOT, b"hard2").unwrap();
    fs.unlink(d.ino, b"file").unwrap();
    fs.rmdir(ROOT, b"dir").unwrap();
    fs.unmount().unwrap();
    assert_fsck(&dev, "after removing everything");
}
