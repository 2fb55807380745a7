//! The tree against a model (logical block -> physical block, unwritten), with nodes small
//! enough that random operations build trees four and five levels deep.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::ondisk::extent::{set_extent_block_csum, verify_extent_block};

/// Nodes in memory, block numbers handed out from 1_000_000 up.
struct MemStore {
    size: usize,
    nodes: HashMap<u64, Vec<u8>>,
    next_node: u64,
    freed_data: BTreeMap<u64, u64>,
}

impl MemStore {
    fn new(size: usize) -> MemStore {
        MemStore { size, nodes: HashMap::new(), next_node: 1_000_000, freed_data: BTreeMap::new() }
    }
}

impl NodeStore for MemStore {
    fn node_size(&self) -> usize {
        self.size
    }
    fn read_node(&mut self, block: u64) -> Result<Arc<Vec<u8>>> {
        let b = self.nodes.get(&block).unwrap_or_else(|| panic!("read of free node {block}"));
        verify_extent_block(b, 5).unwrap();
        Ok(Arc::new(b.clone()))
    }
    fn write_node(&mut self, block: u64, mut image: Vec<u8>) -> Result<()> {
        assert!(self.nodes.contains_key(&block), "write of unallocated node {block}");
        set_extent_block_csum(&mut image, 5).unwrap();
        self.nodes.insert(block, image);
        Ok(())
    }
    fn alloc_node(&mut self) -> Result<u64> {
        self.next_node += 1;
        self.nodes.insert(self.next_node, vec![0; self.size]);
        Ok(self.next_node)
    }
    fn free_node(&mut self, block: u64) -> Result<()> {
        assert!(self.nodes.remove(&block).is_some(), "double free of node {block}");
        Ok(())
    }
    fn free_data(&mut self, start: u64, len: u64) -> Result<()> {
        for b in start..start + len {
            assert!(self.freed_data.insert(b, 1).is_none(), "data block {b} freed twice");
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert { lblk: u32, len: u16, contiguous: bool, unwritten: bool },
    Remove { from: u32, len: u32 },
    MarkWritten { from: u32, len: u32 },
}

fn op(span: u32) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..span, 1u16..12, any::<bool>(), any::<bool>())
            .prop_map(|(lblk, len, contiguous, unwritten)| Op::Insert { lblk, len, contiguous, unwritten }),
        1 => (0..span, 1u32..200).prop_map(|(from, len)| Op::Remove { from, len }),
        1 => (0..span, 1u32..50).prop_map(|(from, len)| Op::MarkWritten { from, len }),
    ]
}

/// Runs `ops`, checking the tree against the model after each.
fn run(node_size: usize, ops: &[Op]) -> (usize, u16) {
    let mut root = [0u8; 60];
    init_root(&mut root);
    let mut store = MemStore::new(node_size);
    let mut model: BTreeMap<u32, (u64, bool)> = BTreeMap::new();
    let mut next_phys = 10u64;
    let mut removed: BTreeSet<u64> = BTreeSet::new();
    let mut max_depth = 0;
    for op in ops {
        let mut t = Tree::new(&mut root, &mut store);
        match *op {
            Op::Insert { lblk, len, contiguous, unwritten } => {
                // The unmapped run at lblk, up to len.
                let n = (lblk..lblk + u32::from(len)).take_while(|b| !model.contains_key(b)).count() as u32;
                if n == 0 {
                    continue;
                }
                if !contiguous {
                    next_phys += 3;
                }
                let ext = Extent { block: lblk, len: n as u16, unwritten, start: next_phys };
                t.insert(ext).unwrap();
                for i in 0..n {
                    model.insert(lblk + i, (next_phys + u64::from(i), unwritten));
                }
                next_phys += u64::from(n);
            }
            Op::Remove { from, len } => {
                t.remove(u64::from(from), u64::from(from) + u64::from(len), true).unwrap();
                let gone: Vec<u32> = model.range(from..from.saturating_add(len)).map(|(&k, _)| k).collect();
                for k in gone {
                    removed.insert(model.remove(&k).unwrap().0);
                }
            }
            Op::MarkWritten { from, len } => {
                t.mark_written(u64::from(from), u64::from(from) + u64::from(len)).unwrap();
                for (_, v) in model.range_mut(from..from.saturating_add(len)) {
                    v.1 = false;
                }
            }
        }
        t.finish().unwrap();
        max_depth = max_depth.max(t.depth().unwrap());
        assert!(t.shape_ok().unwrap(), "shape rules broken after {op:?}");
        // Extents expand to the model; no two adjacent extents could have been merged.
        let exts = t.extents().unwrap();
        let mut got = BTreeMap::new();
        for e in &exts {
            for i in 0..u32::from(e.len) {
                got.insert(e.block + i, (e.start + u64::from(i), e.unwritten));
            }
        }
        assert_eq!(got, model, "after {op:?}");
        // Lookups agree, holes report where they end.
        for probe in [0u32, 1, 7, 100, 555, 1999, 4000] {
            match t.find(probe).unwrap() {
                Found::Mapped(e) => {
                    let want = model[&probe];
                    assert_eq!((e.start + u64::from(probe - e.block), e.unwritten), want);
                }
                Found::Hole { next } => {
                    assert!(!model.contains_key(&probe));
                    let want = model.range(probe..).next().map_or(LBLK_END, |(&k, _)| u64::from(k));
                    assert_eq!(next, want, "hole at {probe}");
                }
            }
            let last = t.last_before(u64::from(probe) + 1).unwrap();
            let want = model.range(..=probe).next_back().map(|(&k, _)| k);
            assert_eq!(last.map(|e| e.end() as u32 - 1).map(|end| end.min(probe)), want);
        }
        assert_eq!(store.freed_data.keys().copied().collect::<BTreeSet<_>>(), removed);
    }
    // Every live node is reachable and every reachable node is live.
    let mut t = Tree::new(&mut root, &mut store);
    let (mut e, mut blocks) = (Vec::new(), Vec::new());
    t.collect(Loc::Root, None, &mut e, &mut blocks).unwrap();
    let reachable: BTreeSet<u64> = blocks.into_iter().collect();
    let live: BTreeSet<u64> = store.nodes.keys().copied().collect();
    assert_eq!(reachable, live);
    (model.len(), max_depth)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn tiny_nodes_match_the_model(ops in proptest::collection::vec(op(3000), 1..400)) {
        run(64, &ops);
    }

    #[test]
    fn block_sized_nodes_match_the_model(ops in proptest::collection::vec(op(20000), 1..300)) {
        run(4096, &ops);
    }
}

#[test]
fn appends_of_fragments_grow_the_tree_five_levels_deep_and_truncation_shrinks_it() {
    let ops: Vec<Op> =
        (0..1500).map(|i| Op::Insert { lblk: 2 * i, len: 1, contiguous: false, unwritten: false }).collect();
    let (n, depth) = run(64, &ops);
    assert_eq!(n, 1500);
    assert_eq!(depth, 5);
    let mut root = [0u8; 60];
    init_root(&mut root);
    let mut store = MemStore::new(64);
    let mut t = Tree::new(&mut root, &mut store);
    for i in 0..1500u32 {
        t.insert(Extent { block: 2 * i, len: 1, unwritten: false, start: 100 + 2 * u64::from(i) }).unwrap();
        t.finish().unwrap();
    }
    t.remove(3, LBLK_END, true).unwrap();
    t.finish().unwrap();
    assert_eq!(t.depth().unwrap(), 0);
    assert_eq!(t.extents().unwrap().len(), 2);
    assert!(store.nodes.is_empty(), "every node freed");
}

#[test]
fn contiguous_appends_merge_into_one_extent_until_it_is_full() {
    let mut root = [0u8; 60];
    init_root(&mut root);
    let mut store = MemStore::new(4096);
    let mut t = Tree::new(&mut root, &mut store);
    for i in 0..40000u32 {
        t.insert(Extent { block: i, len: 1, unwritten: false, start: 5000 + u64::from(i) }).unwrap();
    }
    let e = t.extents().unwrap();
    assert_eq!(e.iter().map(|e| e.len).collect::<Vec<_>>(), [32768, 40000 - 32768]);
}
