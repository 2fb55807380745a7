//! Seeded random histories over a few files and directories (Jepsen local-fs style):
//! writes, overwrites, appends, truncations, preallocation, links, renames, unlinks,
//! symlinks and attributes, with persistence calls in between.

use super::ace::starting_model;
use super::model::{Kind, Tree};
use super::workload::{Op, Persist, Step, Workload};
use crate::workload::Rng;

const DIRS: [&str; 3] = [".", "A", "B"];

fn pick<'a>(rng: &mut Rng, from: &'a [String]) -> &'a str {
    &from[(rng.next_u64() % from.len() as u64) as usize]
}

/// The model's paths, files and directories, walking down from the root.
fn paths(t: &Tree) -> (Vec<String>, Vec<String>) {
    let (mut files, mut dirs) = (Vec::new(), vec![".".to_string()]);
    let mut stack = vec![(super::model::ROOT, String::new())];
    while let Some((id, prefix)) = stack.pop() {
        for (name, &child) in t.entries(id).into_iter().flatten() {
            let path = format!("{prefix}{}", String::from_utf8_lossy(name));
            if name == b"lost+found" {
                continue;
            }
            match t.nodes[&child].kind {
                Kind::Dir(_) => {
                    dirs.push(path.clone());
                    stack.push((child, format!("{path}/")));
                }
                Kind::File { .. } => files.push(path),
                Kind::Symlink(_) => {}
            }
        }
    }
    (files, dirs)
}

/// A random history of `ops` steps from `seed` (persistence calls count as steps).
pub fn workload(seed: u64, ops: usize) -> Workload {
    let mut rng = Rng::new(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0xF5);
    let mut model = starting_model();
    let mut steps = Vec::with_capacity(ops);
    while steps.len() < ops {
        let (files, dirs) = paths(&model);
        let fresh = format!("{}/f{}", DIRS[(rng.next_u64() % 3) as usize], rng.next_u64() % 6)
            .trim_start_matches("./")
            .to_string();
        let file = if files.is_empty() || rng.next_u64().is_multiple_of(8) {
            fresh.clone()
        } else {
            pick(&mut rng, &files).to_string()
        };
        let dir = pick(&mut rng, &dirs).to_string();
        let off = (rng.next_u64() % 12) * 2048 + rng.next_u64() % 3 * 512;
        let len = 1 + rng.next_u64() % 12_000;
        let step = match rng.next_u64() % 20 {
            0..=1 => Step::Op(Op::Create(fresh)),
            2 => Step::Op(Op::Mkdir(
                format!("{}/d{}", dir, rng.next_u64() % 3).trim_start_matches("./").to_string(),
            )),
            3..=5 => Step::Op(Op::Write(file, off, len)),
            6 => Step::Op(Op::Overwrite(file, off / 2, len / 2 + 1)),
            7..=8 => Step::Op(Op::Append(file, len)),
            9 => Step::Op(Op::Truncate(file, rng.next_u64() % 20_000)),
            10 => Step::Op(Op::Fallocate(file, off, len, rng.next_u64().is_multiple_of(2))),
            11 => Step::Op(Op::Link(file, fresh)),
            12 => Step::Op(Op::Unlink(file)),
            13 => Step::Op(Op::Rename(file, fresh)),
            14 => Step::Op(Op::Symlink(fresh, "f0".into())),
            15 => {
                Step::Op(Op::SetXattr(file, format!("user.a{}", rng.next_u64() % 3), rng.next_u64() % 2000))
            }
            16 => Step::Op(Op::RemoveXattr(file, format!("user.a{}", rng.next_u64() % 3))),
            17 => Step::Persist(Persist::Fsync(file)),
            18 => Step::Persist(if rng.next_u64().is_multiple_of(2) {
                Persist::Fdatasync(file)
            } else {
                Persist::FsyncDir(dir)
            }),
            _ => Step::Persist(Persist::Sync),
        };
        if let Step::Op(op) = &step {
            let _ = model.apply(op, steps.len() as u32 + 1);
        }
        steps.push(step);
    }
    Workload { name: format!("random seed {seed}"), steps, random: Some((seed, ops)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histories_are_seeded_and_mostly_succeed() {
        assert_eq!(workload(3, 40), workload(3, 40));
        assert_ne!(workload(3, 40).steps, workload(4, 40).steps);
        let w = workload(5, 200);
        let h = super::super::history::History::new(starting_model(), &w.steps);
        let ok = h.expected.iter().filter(|e| e.is_none()).count();
        assert!(ok * 10 > w.steps.len() * 6, "{ok} of {} steps succeed in the model", w.steps.len());
        assert_eq!(Workload::parse("r", &w.text()).unwrap().steps, w.steps);
    }
}
