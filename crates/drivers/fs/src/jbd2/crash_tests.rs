//! Crash tests: random transaction sequences on the crash disk, which records every write
//! and flush; a crash keeps a prefix of the writes, where those since the last flush may be
//! lost in any combination. Recovery must give the state after the last transaction whose
//! commit block survived, and a crash during recovery must recover to the same image.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use disks::crash::{CrashDisk, DiskEvent};

use proptest::prelude::*;

use super::tests::{BS, DEV_BLOCKS, area, fixed_clock, home, image};
use super::*;
use crate::device::{BlockDevice, DeviceIoError, MemoryDevice};
use crate::lower_device::LowerDevice;

#[derive(Debug, Clone)]
enum Op {
    Write { offset: u64, data: Arc<[u8]> },
    Flush,
}

/// The crash disk (`disks::crash`, the recorder the crash checker uses too), recording,
/// as a [`BlockDevice`] through [`LowerDevice`].
struct Recording {
    disk: Arc<CrashDisk>,
    dev: LowerDevice,
    ops: Mutex<Vec<Op>>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording").field("ops", &self.ops.lock().unwrap().len()).finish()
    }
}

impl Recording {
    fn new(image: Vec<u8>) -> Recording {
        let disk = CrashDisk::with_image(image, 512).unwrap();
        disk.start_recording(Arc::new(AtomicU64::new(1)));
        let dev = LowerDevice::new(&CrashDisk::create("crash", Arc::clone(&disk)).unwrap()).unwrap();
        Recording { disk, dev, ops: Mutex::new(Vec::new()) }
    }

    /// Everything recorded so far.
    fn ops(&self) -> Vec<Op> {
        let mut ops = self.ops.lock().unwrap();
        ops.extend(self.disk.take_events().into_iter().map(|e| match e {
            DiskEvent::Write { offset, data, .. } => Op::Write { offset, data },
            DiskEvent::Flush { .. } => Op::Flush,
        }));
        ops.clone()
    }

    fn len(&self) -> usize {
        self.ops().len()
    }

    /// What reads see now.
    fn image(&self) -> Vec<u8> {
        self.disk.live_image()
    }
}

impl BlockDevice for Recording {
    fn size(&self) -> u64 {
        self.dev.size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceIoError> {
        self.dev.read_at(offset, buf)
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceIoError> {
        self.dev.write_at(offset, buf)
    }
    fn flush(&self) -> Result<(), DeviceIoError> {
        self.dev.flush()
    }
}

/// The image after a crash at op `cut`: every write before the last flush before `cut`,
/// and of the later ones those `keep` picks. Also says which ops reached the disk.
fn crash(base: &[u8], ops: &[Op], cut: usize, keep: u64) -> (Vec<u8>, Vec<bool>) {
    let last_flush = ops[..cut].iter().rposition(|o| matches!(o, Op::Flush)).map_or(0, |i| i + 1);
    let mut img = base.to_vec();
    let mut applied = vec![false; ops.len()];
    for (i, op) in ops[..cut].iter().enumerate() {
        if let Op::Write { offset, data } = op
            && (i < last_flush || keep >> ((i - last_flush) % 64) & 1 == 1)
        {
            img[*offset as usize..*offset as usize + data.len()].copy_from_slice(data);
            applied[i] = true;
        }
    }
    (img, applied)
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Logged(Vec<u8>),
    Data(Vec<u8>),
    Free,
}

#[derive(Debug, Clone)]
struct TxSpec {
    blocks: Vec<(u8, u8, bool)>,
    revokes: Vec<u8>,
    checkpoint_after: bool,
}

const HOMES: u64 = 24;
const HOME0: u64 = 100;

fn tx_spec() -> impl Strategy<Value = TxSpec> {
    (
        proptest::collection::vec((0..HOMES as u8, any::<u8>(), proptest::bool::weighted(0.2)), 0..7),
        proptest::collection::vec(0..HOMES as u8, 0..3),
        proptest::bool::weighted(0.15),
    )
        .prop_map(|(blocks, revokes, checkpoint_after)| TxSpec { blocks, revokes, checkpoint_after })
}

fn data_image(tid: u32, h: u64) -> Vec<u8> {
    let mut v = image(0xDA, h);
    v[16..20].copy_from_slice(&tid.to_le_bytes());
    v
}

struct Run {
    base: Vec<u8>,
    ops: Vec<Op>,
    /// Per transaction, in order: index of its commit-block write, the model's changes.
    commits: Vec<(usize, Vec<(u64, State)>)>,
    /// Data writes done in ordered-data steps: (op index, transaction index, home, image).
    data: Vec<(usize, usize, u64, Vec<u8>)>,
}

fn run(specs: &[TxSpec], features: Features) -> Run {
    let base_dev = Arc::new(MemoryDevice::new(DEV_BLOCKS * BS as u64));
    Journal::format(base_dev.clone(), area(), [0x33; 16], features).unwrap();
    let base = base_dev.image();
    let dev = Arc::new(Recording::new(base.clone()));
    let mut j = Journal::open(dev.clone(), area()).unwrap();
    j.set_clock(fixed_clock);
    let mut model: HashMap<u64, State> = HashMap::new();
    let mut out = Run { base, ops: Vec::new(), commits: Vec::new(), data: Vec::new() };
    for (ti, spec) in specs.iter().enumerate() {
        let tid = j.next_sequence();
        let mut t = j.begin();
        let mut changes = Vec::new();
        for &(h, fill, magic) in &spec.blocks {
            let h = HOME0 + u64::from(h);
            let mut img = image(fill, h);
            if magic {
                img[..4].copy_from_slice(&header::JBD2_MAGIC.to_be_bytes());
            }
            t.add_block(h, img.clone()).unwrap();
            changes.retain(|(x, _)| *x != h);
            changes.push((h, State::Logged(img)));
        }
        for &h in &spec.revokes {
            let h = HOME0 + u64::from(h);
            t.revoke(h);
            changes.retain(|(x, _)| *x != h);
            changes.push((h, State::Free));
        }
        // File data goes into blocks freed by earlier (committed) transactions.
        let reuse: Vec<u64> = (HOME0..HOME0 + HOMES)
            .filter(|h| model.get(h) == Some(&State::Free) && !changes.iter().any(|(x, _)| x == h))
            .collect();
        let mut data = Vec::new();
        j.commit_ordered(t, || {
            for &h in &reuse {
                let idx = dev.len();
                let d = data_image(tid, h);
                dev.write_at(h * BS as u64, &d)?;
                data.push((idx, ti, h, d.clone()));
            }
            Ok::<(), DeviceIoError>(())
        })
        .unwrap();
        for &h in &reuse {
            changes.push((h, State::Data(data_image(tid, h))));
        }
        let ops = dev.ops();
        assert!(matches!(ops[ops.len() - 1], Op::Flush) && matches!(ops[ops.len() - 2], Op::Write { .. }));
        out.commits.push((ops.len() - 2, changes.clone()));
        out.data.extend(data);
        for (h, s) in changes {
            model.insert(h, s);
        }
        if spec.checkpoint_after {
            j.checkpoint().unwrap();
        }
    }
    out.ops = dev.ops();
    out
}

/// What the home blocks must hold after recovering the crash image.
fn expected(run: &Run, applied: &[bool]) -> HashMap<u64, State> {
    let committed = run.commits.iter().take_while(|(i, _)| applied[*i]).count();
    let mut model = HashMap::new();
    for (_, changes) in &run.commits[..committed] {
        for (h, s) in changes {
            model.insert(*h, s.clone());
        }
    }
    for (i, ti, h, d) in &run.data {
        if *ti == committed && applied[*i] {
            model.insert(*h, State::Data(d.clone()));
        }
    }
    model
}

fn check(dev: &dyn BlockDevice, want: &HashMap<u64, State>) -> Result<(), TestCaseError> {
    for h in HOME0..HOME0 + HOMES {
        let got = home(dev, h);
        match want.get(&h) {
            Some(State::Logged(img) | State::Data(img)) => prop_assert!(&got == img, "home {h}"),
            Some(State::Free) => {}
            None => prop_assert!(got == vec![0; BS], "untouched home {h} changed"),
        }
    }
    Ok(())
}

fn crash_and_recover(
    run: &Run,
    cut: usize,
    keep: u64,
    replay_cut: usize,
    replay_keep: u64,
) -> Result<(), TestCaseError> {
    let (img, applied) = crash(&run.base, &run.ops, cut, keep);
    let want = expected(run, &applied);

    // Full recovery, recorded.
    let rec = Recording::new(img.clone());
    recover(&rec, &area()).unwrap();
    check(&rec, &want)?;
    let recovered = rec.image();
    // Recovering again changes nothing.
    let again = MemoryDevice::from_image(recovered.clone());
    prop_assert!(recover(&again, &area()).unwrap().was_clean);
    prop_assert!(again.image() == recovered);

    // A crash during recovery, then recovery again: the same image.
    let ops = rec.ops();
    let (partial, _) = crash(&img, &ops, replay_cut % (ops.len() + 1), replay_keep);
    let dev = MemoryDevice::from_image(partial);
    recover(&dev, &area()).unwrap();
    prop_assert!(dev.image() == recovered, "recovery interrupted at op {replay_cut} differs");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn recovery_after_any_crash_gives_the_last_committed_state(
        specs in proptest::collection::vec(tx_spec(), 1..14),
        csum in any::<bool>(),
        cut_frac in 0.0..=1.0f64,
        keep in any::<u64>(),
        replay_cut in any::<usize>(),
        replay_keep in any::<u64>(),
    ) {
        let features = if csum { Features::kernel_default() } else { Features::default() };
        let run = run(&specs, features);
        let cut = (cut_frac * run.ops.len() as f64) as usize;
        crash_and_recover(&run, cut, keep, replay_cut, replay_keep)?;
    }
}

#[test]
fn every_crash_point_of_one_long_sequence_recovers() {
    let specs: Vec<TxSpec> = (0..20u8)
        .map(|i| TxSpec {
            blocks: (0..5).map(|k| ((i * 3 + k) % HOMES as u8, i, k == 2)).collect(),
            revokes: if i % 4 == 3 { vec![(i * 3 + 7) % HOMES as u8] } else { vec![] },
            checkpoint_after: i == 9,
        })
        .collect();
    let run = run(&specs, Features::kernel_default());
    for cut in 0..=run.ops.len() {
        for keep in [0, u64::MAX, 0x5555_5555_5555_5555] {
            crash_and_recover(&run, cut, keep, cut * 7, !keep).unwrap();
        }
    }
}
