use super::*;

fn page() -> usize {
    page_size()
}

/// Whether the page at `addr` is `mlock`ed: the VMA containing it has the `lo` flag in
/// /proc/self/smaps (mlock splits VMAs, so this is exact per page range).
fn is_mlocked(addr: usize) -> bool {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut inside = false;
    for line in smaps.lines() {
        let range = line.split_whitespace().next().and_then(|r| r.split_once('-'));
        let parsed = range.and_then(|(a, b)| {
            Some((usize::from_str_radix(a, 16).ok()?, usize::from_str_radix(b, 16).ok()?))
        });
        if let Some((start, end)) = parsed {
            inside = (start..end).contains(&addr);
        } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
            return flags.split_whitespace().any(|f| f == "lo");
        }
    }
    panic!("address {addr:#x} not found in /proc/self/smaps");
}

/// The PFN /proc/self/pagemap reports for the page at `addr` (0 if hidden or absent).
fn pagemap_pfn(addr: usize) -> u64 {
    use std::os::unix::fs::FileExt;
    let mut entry = [0u8; 8];
    let file = std::fs::File::open("/proc/self/pagemap").unwrap();
    if file.read_exact_at(&mut entry, (addr / page()) as u64 * 8).is_err() {
        return 0;
    }
    let entry = u64::from_ne_bytes(entry);
    if entry >> 63 == 1 { entry & ((1 << 55) - 1) } else { 0 }
}

#[test]
fn io_buffer_basics() {
    let empty = IoBuffer::new(0).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.as_slice(), &[] as &[u8]);
    assert_eq!(empty.as_ptr().addr() % page(), 0);

    let mut buf = IoBuffer::new(5000).unwrap();
    assert_eq!(buf.len(), 5000);
    assert_eq!(buf.alignment(), page());
    assert_eq!(buf.as_ptr().addr() % page(), 0);
    assert!(buf.as_slice().iter().all(|&b| b == 0));
    buf.as_mut_slice()[4999] = 7;
    assert_eq!(buf.as_slice()[4999], 7);
    assert_eq!(buf.as_mut_ptr().cast_const(), buf.as_ptr());

    assert_eq!(IoBuffer::with_alignment(100, 512).unwrap().alignment(), page());
    let big = IoBuffer::with_alignment(100, 1 << 21).unwrap();
    assert_eq!(big.as_ptr().addr() % (1 << 21), 0);
    assert!(matches!(IoBuffer::with_alignment(100, 3), Err(MdlError::BadAlignment { align: 3 })));

    let copy = IoBuffer::from_slice(b"hello").unwrap();
    assert_eq!(copy.as_slice(), b"hello");
    let debug = format!("{copy:?}");
    assert!(debug.contains("len: 5") && !debug.contains("104"), "{debug}");
}

#[test]
fn full_mdl_geometry() {
    let mdl = Mdl::with_len(2 * page() + 1).unwrap();
    assert_eq!(mdl.byte_offset(), 0);
    assert_eq!(mdl.start_va(), mdl.virtual_address().addr());
    assert_eq!(mdl.byte_count(), 2 * page() + 1);
    assert_eq!(mdl.page_count(), 3);
    assert_eq!(mdl.pfns(), &[0, 0, 0]);
    assert!(!mdl.pfns_known());
    assert!(mdl.flags().is_empty());

    let empty = Mdl::with_len(0).unwrap();
    assert_eq!((empty.byte_count(), empty.page_count()), (0, 0));
}

#[test]
fn partial_geometry_on_unaligned_ranges() {
    let mut src = Mdl::with_len(4 * page()).unwrap();
    src.probe_and_lock(LockOperation::ReadAccess).unwrap();
    let base = src.virtual_address().addr();
    // (offset, len, byte_offset, page_count)
    let cases = [
        (512, 1000, 512, 1),
        (512, page() - 512, 512, 1),
        (512, page() - 511, 512, 2),
        (page() - 512, 1024, page() - 512, 2),
        (page() + 1536, 2 * page(), 1536, 3),
        (512, 0, 512, 4),
        (3 * page() + 512, 0, 512, 1),
        (4 * page(), 0, 0, 0),
    ];
    for (offset, len, byte_offset, pages) in cases {
        let p = src.build_partial(offset, len).unwrap();
        let expected_len = if len == 0 { 4 * page() - offset } else { len };
        assert_eq!(p.virtual_address().addr(), base + offset);
        assert_eq!(p.byte_offset(), byte_offset, "offset {offset} len {len}");
        assert_eq!(p.start_va(), (base + offset) & !(page() - 1));
        assert_eq!(p.start_va() + p.byte_offset(), p.virtual_address().addr());
        assert_eq!(p.byte_count(), expected_len);
        assert_eq!(p.page_count(), pages, "offset {offset} len {len}");
        assert_eq!(p.pfns().len(), pages);
        // A partial of a partial at a further 512-byte offset.
        if p.byte_count() >= 1024 {
            let pp = p.build_partial(512, 512).unwrap();
            assert_eq!(pp.virtual_address().addr(), base + offset + 512);
            assert_eq!(pp.byte_offset(), (byte_offset + 512) % page());
            assert!(pp.flags().contains(MdlFlags::PARTIAL));
        }
    }
}

#[test]
fn partial_range_and_lock_checks() {
    let mut src = Mdl::with_len(8192).unwrap();
    assert!(matches!(src.build_partial(0, 0), Err(MdlError::NotLocked)));
    src.probe_and_lock(LockOperation::WriteAccess).unwrap();
    for (offset, len) in [(8193, 0), (8192, 1), (4096, 4097), (1, usize::MAX)] {
        let err = src.build_partial(offset, len).unwrap_err();
        assert!(matches!(err, MdlError::OutOfRange { byte_count: 8192, .. }), "{err}");
    }
    let p = src.build_partial(100, 0).unwrap();
    assert_eq!(p.byte_count(), 8092);
    assert_eq!(
        p.flags(),
        MdlFlags::PARTIAL | MdlFlags::WRITE_OPERATION,
        "inherits WRITE_OPERATION, not PAGES_LOCKED"
    );
    assert!(p.pages_locked());
    drop(p);
    // An owned partial MDL: locked through its source, so it cannot be locked again.
    let (err, src) = src.into_partial(8193, 0).unwrap_err();
    assert!(matches!(err, MdlError::OutOfRange { .. }), "{err}");
    let mut owned = src.into_partial(100, 0).unwrap();
    assert_eq!(owned.byte_count(), 8092);
    assert!(matches!(owned.probe_and_lock(LockOperation::ReadAccess), Err(MdlError::AlreadyLocked)));
    let unlocked = Mdl::with_len(512).unwrap();
    assert!(matches!(unlocked.into_partial(0, 0), Err((MdlError::NotLocked, _))));
}

#[test]
fn probe_and_lock_sets_flags_and_fills_pfns() {
    let mut mdl = Mdl::from_slice(&vec![0x5a; 3 * page()]).unwrap();
    let va = mdl.virtual_address().addr();
    assert!(!is_mlocked(va));

    mdl.probe_and_lock(LockOperation::ReadAccess).unwrap();
    assert_eq!(mdl.flags(), MdlFlags::PAGES_LOCKED);
    assert!(mdl.pages_locked());
    assert!(is_mlocked(va) && is_mlocked(va + 2 * page()));
    assert!(matches!(mdl.probe_and_lock(LockOperation::ReadAccess), Err(MdlError::AlreadyLocked)));

    // PFNs are known exactly when pagemap shows them (root with CAP_SYS_ADMIN).
    let expected = pagemap_pfn(va);
    assert_eq!(mdl.pfns().len(), 3);
    assert_eq!(mdl.pfns_known(), expected != 0);
    if mdl.pfns_known() {
        assert_eq!(mdl.pfns()[0], expected);
        assert!(mdl.pfns().iter().all(|&pfn| pfn != 0));
        let partial = mdl.build_partial(page() + 512, page()).unwrap();
        assert_eq!(partial.pfns(), &mdl.pfns()[1..3]);
        assert!(partial.pfns_known());
    } else {
        assert!(mdl.pfns().iter().all(|&pfn| pfn == 0));
    }

    mdl.unlock();
    assert!(mdl.flags().is_empty());
    assert!(!mdl.pfns_known());
    assert!(!is_mlocked(va));
    mdl.unlock(); // unlocking an unlocked MDL does nothing

    for op in [LockOperation::WriteAccess, LockOperation::ModifyAccess] {
        mdl.probe_and_lock(op).unwrap();
        assert_eq!(mdl.flags(), MdlFlags::PAGES_LOCKED | MdlFlags::WRITE_OPERATION);
        mdl.unlock();
    }
    assert!(mdl.bytes().iter().all(|&b| b == 0x5a));
}

#[test]
fn zero_length_mdl_locks() {
    let mut mdl = Mdl::with_len(0).unwrap();
    mdl.probe_and_lock(LockOperation::ModifyAccess).unwrap();
    assert!(mdl.pfns_known() && mdl.pfns().is_empty());
    let p = mdl.build_partial(0, 0).unwrap();
    assert_eq!((p.byte_count(), p.page_count()), (0, 0));
    assert_eq!(p.bytes(), &[] as &[u8]);
    drop(p);
    assert!(mdl.into_buffer().unwrap().is_empty());
}

#[test]
fn partial_shares_memory_and_lock() {
    let mut src = Mdl::with_len(3 * page()).unwrap();
    src.bytes_mut().unwrap()[page() + 10] = 42;
    src.probe_and_lock(LockOperation::ReadAccess).unwrap();
    assert!(src.bytes_mut().is_some());
    let va = src.virtual_address().addr();

    // A borrowed partial MDL sees the source's bytes and holds a lock of its own; while it
    // lives the source cannot be changed, unlocked or dropped (the borrow rules that out).
    let partial = src.build_partial(page(), 100).unwrap();
    assert_eq!(partial.bytes()[10], 42);
    assert!(partial.pages_locked());
    let nested = partial.build_partial(10, 1).unwrap();
    assert_eq!(nested.bytes(), [42]);
    drop(nested);
    drop(partial);
    assert!(is_mlocked(va), "the source still holds its lock");
    assert!(src.bytes_mut().is_some(), "nothing shares the memory any more");

    // An owned partial MDL (the source consumed) keeps the pages locked and the memory alive.
    let owned = src.into_partial(page(), 0).unwrap();
    assert!(is_mlocked(va));
    assert!(owned.flags().contains(MdlFlags::PARTIAL));
    assert_eq!(owned.bytes()[10], 42);
    let owned = owned.into_buffer().expect_err("a partial MDL gives no buffer back");
    drop(owned);
    assert!(!is_mlocked(va));
}

#[test]
fn into_buffer_unlocks() {
    let mut mdl = Mdl::from_slice(b"data").unwrap();
    mdl.probe_and_lock(LockOperation::ReadAccess).unwrap();
    mdl.set_next(Some(Box::new(Mdl::with_len(1).unwrap())));
    let buf = mdl.into_buffer().unwrap();
    assert!(!is_mlocked(buf.as_ptr().addr()));
    assert_eq!(buf.as_slice(), b"data");
}

#[test]
fn system_address_maps_and_partials_inherit() {
    let mut src = Mdl::with_len(2 * page()).unwrap();
    src.probe_and_lock(LockOperation::WriteAccess).unwrap();
    let addr = src.system_address();
    assert_eq!(addr.as_ptr().cast_const(), src.virtual_address());
    assert!(src.flags().contains(MdlFlags::MAPPED_TO_SYSTEM_VA));
    let p = src.build_partial(512, 512).unwrap();
    assert!(p.flags().contains(MdlFlags::MAPPED_TO_SYSTEM_VA));
    assert_eq!(p.system_address().as_ptr().addr(), addr.as_ptr().addr() + 512);
    assert_eq!(format!("{:?}", p.flags()), "MdlFlags(MAPPED_TO_SYSTEM_VA | PARTIAL | WRITE_OPERATION)");
    assert_eq!(format!("{:?}", MdlFlags::empty()), "MdlFlags(empty)");
}

#[test]
fn chains() {
    let mut a = Mdl::with_len(10).unwrap();
    a.set_next(Some(Box::new(Mdl::with_len(20).unwrap())));
    a.append(Mdl::with_len(30).unwrap());
    let counts: Vec<_> = a.chain().map(Mdl::byte_count).collect();
    assert_eq!(counts, [10, 20, 30]);
    assert_eq!(a.chain_byte_count(), 60);
    assert_eq!(a.next().unwrap().byte_count(), 20);
    a.next_mut().unwrap().take_next().unwrap();
    assert_eq!(a.chain_byte_count(), 30);
    let rest = a.take_next().unwrap();
    assert_eq!(rest.byte_count(), 20);
    assert!(a.next().is_none());
    assert_eq!(a.chain().count(), 1);

    // A long chain drops without recursion.
    let mut head = Mdl::with_len(0).unwrap();
    for _ in 0..100_000 {
        let mut m = Mdl::with_len(0).unwrap();
        m.set_next(head.take_next());
        head.set_next(Some(Box::new(m)));
    }
    assert_eq!(head.chain().count(), 100_001);
    drop(head);
}

#[test]
fn rejects_two_gib_without_allocating() {
    for len in [2 << 30, Mdl::MAX_BYTE_COUNT + 1, usize::MAX] {
        let err = Mdl::with_len(len).unwrap_err();
        assert!(matches!(err, MdlError::TooLarge { len: l } if l == len));
        assert!(err.to_string().contains("2 GiB"), "{err}");
    }
}

#[test]
fn prepare_for_reuse_resets_a_used_mdl_and_refuses_shared_ones() {
    let mut mdl = Mdl::with_len(3 * page()).unwrap();
    let addr = mdl.virtual_address();
    mdl.probe_and_lock(LockOperation::WriteAccess).unwrap();
    mdl.bytes_mut().unwrap()[0] = 9;
    // A partial MDL that lived and went leaves nothing shared.
    drop(mdl.build_partial(0, 512).unwrap());
    assert!(mdl.prepare_for_reuse());
    assert!(!mdl.pages_locked());
    assert!(!is_mlocked(addr as usize), "the pages were unlocked");
    assert_eq!(mdl.byte_count(), 3 * page());
    assert_eq!(mdl.virtual_address(), addr, "same memory, no allocation");
    assert_eq!(mdl.flags(), MdlFlags::empty());
    assert_eq!(mdl.bytes()[0], 9, "the bytes stay: the next transfer overwrites them");
    // It can be locked again like a new one.
    mdl.probe_and_lock(LockOperation::ReadAccess).unwrap();
    assert!(mdl.pages_locked());

    let mut src = Mdl::with_len(page()).unwrap();
    src.probe_and_lock(LockOperation::ReadAccess).unwrap();
    let mut partial = src.into_partial(0, 512).unwrap();
    assert!(!partial.prepare_for_reuse(), "a partial MDL is never reused");
    assert!(partial.pages_locked(), "a refused reuse changes nothing");
}
