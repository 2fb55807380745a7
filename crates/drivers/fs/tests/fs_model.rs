//! The file system against the model: random sequences of creates, mkdirs, writes,
//! overwrites, appends, truncates, punches, preallocations, links, unlinks, renames,
//! symlinks, xattrs, opens and releases, remounts and crash-remounts (commit, drop, replay)
//! give the same results on both; then e2fsck -fn says nothing, and after another mount the
//! whole tree equals the model.

mod model;
mod write_support;

use std::sync::Arc;

use fs::filesystem::MountOptions;
use fs::filesystem::{RenameMode, XattrMode};
use fs::{BlockDevice, Filesystem, FsError, MemoryDevice, ROOT};
use model::{Kind, Model, R, compare};
use proptest::prelude::*;
use write_support::*;

const NAMES: [&str; 6] = ["a", "b", "c", "dd", "e", "a-longer-name-that-takes-more-room-in-the-block"];

#[derive(Debug, Clone)]
enum Op {
    Create { dir: u8, name: u8 },
    Mkdir { dir: u8, name: u8 },
    Symlink { dir: u8, name: u8, len: u16 },
    Write { file: u8, off: u32, len: u16, seed: u8 },
    Append { file: u8, len: u16, seed: u8 },
    Truncate { file: u8, size: u32 },
    Punch { file: u8, off: u32, len: u32 },
    Fallocate { file: u8, off: u32, len: u32, keep: bool },
    Link { file: u8, dir: u8, name: u8 },
    Unlink { dir: u8, name: u8 },
    Rmdir { dir: u8, name: u8 },
    Rename { sd: u8, sn: u8, dd: u8, dn: u8, how: u8 },
    SetXattr { node: u8, key: u8, len: u16 },
    RemoveXattr { node: u8, key: u8 },
    Open { file: u8 },
    Release { file: u8 },
    Remount,
    CrashAfterCommit,
}

fn op() -> impl Strategy<Value = Op> {
    let n = 0u8..6;
    prop_oneof![
        3 => (any::<u8>(), n.clone()).prop_map(|(dir, name)| Op::Create { dir, name }),
        2 => (any::<u8>(), n.clone()).prop_map(|(dir, name)| Op::Mkdir { dir, name }),
        1 => (any::<u8>(), n.clone(), 1u16..200).prop_map(|(dir, name, len)| Op::Symlink { dir, name, len }),
        4 => (any::<u8>(), 0u32..300_000, 0u16..20_000, any::<u8>())
            .prop_map(|(file, off, len, seed)| Op::Write { file, off, len, seed }),
        2 => (any::<u8>(), 1u16..9000, any::<u8>()).prop_map(|(file, len, seed)| Op::Append { file, len, seed }),
        2 => (any::<u8>(), 0u32..400_000).prop_map(|(file, size)| Op::Truncate { file, size }),
        1 => (any::<u8>(), 0u32..300_000, 0u32..100_000).prop_map(|(file, off, len)| Op::Punch { file, off, len }),
        1 => (any::<u8>(), 0u32..300_000, 1u32..100_000, any::<bool>())
            .prop_map(|(file, off, len, keep)| Op::Fallocate { file, off, len, keep }),
        1 => (any::<u8>(), any::<u8>(), n.clone()).prop_map(|(file, dir, name)| Op::Link { file, dir, name }),
        2 => (any::<u8>(), n.clone()).prop_map(|(dir, name)| Op::Unlink { dir, name }),
        1 => (any::<u8>(), n.clone()).prop_map(|(dir, name)| Op::Rmdir { dir, name }),
        2 => (any::<u8>(), n.clone(), any::<u8>(), n.clone(), 0u8..4)
            .prop_map(|(sd, sn, dd, dn, how)| Op::Rename { sd, sn, dd, dn, how }),
        2 => (any::<u8>(), 0u8..5, 0u16..400).prop_map(|(node, key, len)| Op::SetXattr { node, key, len }),
        1 => (any::<u8>(), 0u8..5).prop_map(|(node, key)| Op::RemoveXattr { node, key }),
        1 => any::<u8>().prop_map(|file| Op::Open { file }),
        1 => any::<u8>().prop_map(|file| Op::Release { file }),
        1 => Just(Op::Remount),
        1 => Just(Op::CrashAfterCommit),
    ]
}

fn pick(v: &[u32], i: u8) -> Option<u32> {
    if v.is_empty() { None } else { Some(v[usize::from(i) % v.len()]) }
}

fn errno<T>(r: Result<T, FsError>) -> R {
    r.map(|_| ()).map_err(|e| {
        let n = e.errno();
        assert!(n != fs::errno::EIO && n != fs::errno::EUCLEAN, "unexpected error: {e}");
        n
    })
}

struct World {
    dev: Arc<MemoryDevice>,
    fs: Option<Filesystem>,
    m: Model,
    opts: MountOptions,
}

impl World {
    fn fs(&self) -> &Filesystem {
        self.fs.as_ref().unwrap()
    }

    fn remount(&mut self, crash: bool) {
        let fs = self.fs.take().unwrap();
        if crash {
            fs.commit().unwrap();
            drop(fs);
        } else {
            fs.unmount().unwrap();
        }
        self.fs = Some(
            Filesystem::mount(Arc::clone(&self.dev) as Arc<dyn BlockDevice>, self.opts.clone()).unwrap(),
        );
        self.m.close_all();
    }

    fn apply(&mut self, op: &Op) {
        let dirs = self.m.dirs();
        let files = self.m.files();
        let nodes: Vec<u32> = self.m.reachable().into_iter().collect();
        let nm = |i: u8| NAMES[usize::from(i) % NAMES.len()].as_bytes();
        match *op {
            Op::Create { dir, name } => {
                let d = pick(&dirs, dir).unwrap();
                let want = self.m.create_check(d, nm(name));
                let got = self.fs().create(d, nm(name), 0o644, 0, 0);
                if let Ok(a) = &got {
                    self.m.add(d, nm(name), a.ino, Kind::File(Vec::new()));
                }
                assert_eq!(errno(got), want, "{op:?}");
            }
            Op::Mkdir { dir, name } => {
                let d = pick(&dirs, dir).unwrap();
                let want = self.m.create_check(d, nm(name));
                let got = self.fs().mkdir(d, nm(name), 0o755, 0, 0);
                if let Ok(a) = &got {
                    let kind = Kind::Dir { entries: Default::default(), parent: d };
                    self.m.add(d, nm(name), a.ino, kind);
                }
                assert_eq!(errno(got), want, "{op:?}");
            }
            Op::Symlink { dir, name, len } => {
                let d = pick(&dirs, dir).unwrap();
                let target: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                let want = self.m.create_check(d, nm(name));
                let got = self.fs().symlink(d, nm(name), &target, 0, 0);
                if let Ok(a) = &got {
                    self.m.add(d, nm(name), a.ino, Kind::Link(target));
                }
                assert_eq!(errno(got), want, "{op:?}");
            }
            Op::Write { file, off, len, seed } => {
                let Some(f) = pick(&files, file) else { return };
                let data = pattern(u64::from(seed), usize::from(len));
                assert_eq!(self.fs().write(f, u64::from(off), &data).unwrap(), data.len());
                if !data.is_empty() {
                    let d = self.m.file_mut(f);
                    let end = off as usize + data.len();
                    if d.len() < end {
                        d.resize(end, 0);
                    }
                    d[off as usize..end].copy_from_slice(&data);
                }
            }
            Op::Append { file, len, seed } => {
                let Some(f) = pick(&files, file) else { return };
                let data = pattern(u64::from(seed) + 1000, usize::from(len));
                let off = self.m.file_mut(f).len() as u64;
                assert_eq!(self.fs().write(f, off, &data).unwrap(), data.len());
                self.m.file_mut(f).extend_from_slice(&data);
            }
            Op::Truncate { file, size } => {
                let Some(f) = pick(&files, file) else { return };
                self.fs().truncate(f, u64::from(size)).unwrap();
                self.m.file_mut(f).resize(size as usize, 0);
            }
            Op::Punch { file, off, len } => {
                let Some(f) = pick(&files, file) else { return };
                self.fs().punch_hole(f, u64::from(off), u64::from(len)).unwrap();
                let d = self.m.file_mut(f);
                let end = (off as usize + len as usize).min(d.len());
                if (off as usize) < end {
                    d[off as usize..end].fill(0);
                }
            }
            Op::Fallocate { file, off, len, keep } => {
                let Some(f) = pick(&files, file) else { return };
                self.fs().fallocate(f, u64::from(off), u64::from(len), keep).unwrap();
                let d = self.m.file_mut(f);
                let end = off as usize + len as usize;
                if !keep && d.len() < end {
                    d.resize(end, 0);
                }
            }
            Op::Link { file, dir, name } => {
                let (Some(f), Some(d)) = (pick(&files, file), pick(&dirs, dir)) else { return };
                if self.m.inodes[&f].nlink == 0 {
                    return; // unlinked but open: not reachable by name
                }
                let want = self.m.link(f, d, nm(name));
                assert_eq!(errno(self.fs().link(f, d, nm(name))), want, "{op:?}");
            }
            Op::Unlink { dir, name } => {
                let d = pick(&dirs, dir).unwrap();
                let want = self.m.unlink(d, nm(name));
                assert_eq!(errno(self.fs().unlink(d, nm(name))), want, "{op:?}");
            }
            Op::Rmdir { dir, name } => {
                let d = pick(&dirs, dir).unwrap();
                let want = self.m.rmdir(d, nm(name));
                assert_eq!(errno(self.fs().rmdir(d, nm(name))), want, "{op:?}");
            }
            Op::Rename { sd, sn, dd, dn, how } => {
                let (s, d) = (pick(&dirs, sd).unwrap(), pick(&dirs, dd).unwrap());
                let how = match how {
                    0 | 1 => RenameMode::Replace,
                    2 => RenameMode::NoReplace,
                    _ => RenameMode::Exchange,
                };
                let want = self.m.rename(s, nm(sn), d, nm(dn), how);
                assert_eq!(errno(self.fs().rename(s, nm(sn), d, nm(dn), how)), want, "{op:?}");
            }
            Op::SetXattr { node, key, len } => {
                let n = pick(&nodes, node).unwrap();
                let k = format!("user.k{key}").into_bytes();
                let v = pattern(u64::from(len), usize::from(len));
                self.fs().setxattr(n, &k, &v, XattrMode::Set).unwrap();
                self.m.inodes.get_mut(&n).unwrap().xattrs.insert(k, v);
            }
            Op::RemoveXattr { node, key } => {
                let n = pick(&nodes, node).unwrap();
                let k = format!("user.k{key}").into_bytes();
                let want = if self.m.inodes.get_mut(&n).unwrap().xattrs.remove(&k).is_some() {
                    Ok(())
                } else {
                    Err(fs::errno::ENODATA)
                };
                assert_eq!(errno(self.fs().removexattr(n, &k)), want, "{op:?}");
            }
            Op::Open { file } => {
                let Some(f) = pick(&files, file) else { return };
                self.fs().open(f).unwrap();
                *self.m.open.entry(f).or_insert(0) += 1;
            }
            Op::Release { file } => {
                let open: Vec<u32> = self.m.open.keys().copied().collect();
                let Some(f) = pick(&open, file) else { return };
                self.fs().release(f).unwrap();
                self.m.release(f);
            }
            Op::Remount => self.remount(false),
            Op::CrashAfterCommit => self.remount(true),
        }
    }
}

/// Options that make the cache evict, transactions commit and checkpoints run all the time.
fn tiny() -> MountOptions {
    MountOptions { cache_blocks: 16, pinned_blocks: 24, max_transaction_blocks: 8, ..opts() }
}

fn run(ops: &[Op], small_limits: bool) {
    let dev = fresh_device(64 << 20, 7);
    let opts = if small_limits { tiny() } else { opts() };
    let fs = Filesystem::mount(Arc::clone(&dev) as Arc<dyn BlockDevice>, opts.clone()).unwrap();
    let lpf = fs.lookup(ROOT, b"lost+found").unwrap().ino;
    let mut w = World { dev, fs: Some(fs), m: Model::new(lpf), opts };
    for op in ops {
        w.apply(op);
    }
    compare(w.fs(), &w.m);
    w.fs.take().unwrap().unmount().unwrap();
    w.m.close_all();
    assert_fsck(&w.dev, &format!("after {} operations", ops.len()));
    let fs = mount(&w.dev);
    compare(&fs, &w.m);
    fs.unmount().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_file_system_behaves_like_the_model(ops in proptest::collection::vec(op(), 1..80), small_limits in any::<bool>()) {
        run(&ops, small_limits);
    }
}
