//! CrashMonkey/ACE's bounded workloads: every sequence of one or two operations of the ACE
//! set over a small fixed starting tree, followed by each persistence call on what the last
//! operation touched (ACE limits persistence calls to touched files and their parents).

use super::model::Tree;
use super::workload::{Op, Persist, Step, Workload};

/// The steps that build the starting tree on a freshly made volume (run, then unmounted,
/// before any workload): two directories, files with data, an empty file, an attribute.
pub fn starting_tree() -> Vec<Step> {
    [
        Op::Mkdir("A".into()),
        Op::Mkdir("B".into()),
        Op::Create("A/foo".into()),
        Op::Write("A/foo".into(), 0, 8192),
        Op::Create("A/bar".into()),
        Op::Write("A/bar".into(), 0, 100),
        Op::Create("B/baz".into()),
        Op::SetXattr("A/foo".into(), "user.old".into(), 16),
    ]
    .into_iter()
    .map(Step::Op)
    .collect()
}

/// One operation of the ACE set, with the file and the directory a persistence call after
/// it should name.
struct AceOp {
    name: &'static str,
    op: Op,
    file: &'static str,
    dir: &'static str,
}

fn ace_ops() -> Vec<AceOp> {
    let o = |name, op, file, dir| AceOp { name, op, file, dir };
    vec![
        o("create", Op::Create("A/new".into()), "A/new", "A"),
        o("mkdir", Op::Mkdir("A/sub".into()), "A/sub", "A"),
        o("write", Op::Write("A/bar".into(), 4096, 8192), "A/bar", "A"),
        o("overwrite", Op::Overwrite("A/foo".into(), 1000, 3000), "A/foo", "A"),
        o("append", Op::Append("A/foo".into(), 5000), "A/foo", "A"),
        o("truncate", Op::Truncate("A/foo".into(), 3000), "A/foo", "A"),
        o("fallocate", Op::Fallocate("A/foo".into(), 8192, 16384, false), "A/foo", "A"),
        o("link", Op::Link("A/foo".into(), "B/link".into()), "A/foo", "B"),
        o("unlink", Op::Unlink("A/bar".into()), "A", "A"),
        o("rename", Op::Rename("A/foo".into(), "B/moved".into()), "B/moved", "B"),
        o("symlink", Op::Symlink("A/sym".into(), "foo".into()), "A/sym", "A"),
        o("setxattr", Op::SetXattr("A/foo".into(), "user.new".into(), 32), "A/foo", "A"),
        o("removexattr", Op::RemoveXattr("A/foo".into(), "user.old".into()), "A/foo", "A"),
    ]
}

fn persists(file: &str, dir: &str) -> [(&'static str, Persist); 4] {
    [
        ("fsync", Persist::Fsync(file.into())),
        ("fdatasync", Persist::Fdatasync(file.into())),
        ("fsyncdir", Persist::FsyncDir(dir.into())),
        ("sync", Persist::Sync),
    ]
}

/// The model of the starting tree.
pub fn starting_model() -> Tree {
    let mut t = Tree::new();
    for (i, s) in starting_tree().iter().enumerate() {
        if let Step::Op(op) = s {
            t.apply(op, tag_of_setup(i)).expect("the starting tree builds");
        }
    }
    t
}

/// The data tag of setup step `i` (workload steps use their own index from 1).
pub fn tag_of_setup(i: usize) -> u32 {
    1000 + i as u32
}

/// Every ACE workload of `len` operations (1 or 2): 52 of one, 676 of two.
pub fn workloads(len: usize) -> Vec<Workload> {
    let ops = ace_ops();
    let mut out = Vec::new();
    let mut seqs: Vec<Vec<&AceOp>> = ops.iter().map(|o| vec![o]).collect();
    if len == 2 {
        seqs = ops.iter().flat_map(|a| ops.iter().map(move |b| vec![a, b])).collect();
    }
    for seq in seqs {
        // The persistence call names what the last operation touched if that still
        // exists, else what the one before touched, else its directory.
        let mut model = starting_model();
        for (i, a) in seq.iter().enumerate() {
            let _ = model.apply(&a.op, i as u32 + 1);
        }
        let last = seq.last().expect("a sequence has operations");
        let file = seq.iter().rev().map(|a| a.file).find(|f| model.resolve(f).is_ok()).unwrap_or(last.dir);
        let dir = seq.iter().rev().map(|a| a.dir).find(|d| model.resolve(d).is_ok()).unwrap_or(".");
        let names: Vec<&str> = seq.iter().map(|a| a.name).collect();
        for (pname, p) in persists(file, dir) {
            let mut steps: Vec<Step> = seq.iter().map(|a| Step::Op(a.op.clone())).collect();
            steps.push(Step::Persist(p));
            out.push(Workload { name: format!("ace{len}/{}+{pname}", names.join("+")), steps, random: None });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sets_have_aces_sizes() {
        assert_eq!(workloads(1).len(), 13 * 4);
        assert_eq!(workloads(2).len(), 13 * 13 * 4);
        let w = workloads(2);
        let r = w.iter().find(|w| w.name == "ace2/rename+overwrite+fsync").unwrap();
        assert_eq!(r.text(), "rename A/foo B/moved; overwrite A/foo 1000 3000; fsync B/moved");
    }
}
