use super::*;

fn op(text: &str) -> Op {
    match &super::super::workload::Workload::parse("t", text).unwrap().steps[0] {
        super::super::workload::Step::Op(o) => o.clone(),
        s => panic!("{s}"),
    }
}

#[test]
fn operations_change_the_tree_as_posix_says() {
    let mut t = Tree::new();
    t.apply(&op("mkdir A"), 1).unwrap();
    t.apply(&op("create A/f"), 2).unwrap();
    let fx = t.apply(&op("write A/f 4096 10"), 3).unwrap();
    let f = t.resolve("A/f").unwrap();
    assert!(fx.data.contains(&f), "a write that allocates matters to fdatasync");
    let fx = t.apply(&op("overwrite A/f 4096 5"), 4).unwrap();
    assert!(fx.touched.contains(&f) && !fx.data.contains(&f), "an overwrite in place does not");
    t.apply(&op("link A/f g"), 5).unwrap();
    assert_eq!(t.nodes[&f].nlink, 2);
    assert_eq!(t.apply(&op("link A g2"), 6), Err(errno::EPERM));
    assert_eq!(t.apply(&op("rename A A/x"), 7), Err(errno::EINVAL));
    t.apply(&op("rename g A/f"), 8).unwrap();
    assert_eq!(t.nodes[&f].nlink, 2, "renaming a link over its own other name is a no-op");
    t.apply(&op("unlink A/f"), 9).unwrap();
    assert_eq!(t.resolve("g"), Ok(f));
    t.apply(&op("unlink g"), 10).unwrap();
    assert!(!t.nodes.contains_key(&f));
    assert_eq!(t.apply(&op("removexattr A user.x"), 11), Err(errno::ENODATA));
    assert_eq!(t.apply(&op("write A 0 1"), 12), Err(errno::EISDIR));
    assert_eq!(t.nodes[&ROOT].nlink, 4, "root: lost+found and A");
}
