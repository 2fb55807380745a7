//! A stack spec with an NBD disk at the bottom, over qemu-nbd.

#[path = "../../drivers/disks/tests/nbd_support/mod.rs"]
mod nbd_support;

use nbd_support::{pattern, qemu_nbd, smoke};

#[test]
fn a_cache_stack_over_nbd_builds_from_a_spec() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = qemu_nbd(dir.path(), &[]) else { return };
    let registry = stack::DriverRegistry::builtin();
    let ctx = stack::BuildContext::new().with_base_dir(dir.path());
    let top =
        registry.build_str("cache(size=8M) / nbd(uri=\"nbd+unix:///?socket=S\",timeout=2s)", &ctx).unwrap();
    assert_eq!(top.stack_names(), ["cache0", "nbd1"]);
    let io = irp::IoManager::new();
    io.register("d", &top).unwrap();
    let h = io.open("d", irp::Access::READ_WRITE).unwrap();
    smoke(&top, &h);
    drop(h);
    io.shutdown().unwrap();
    drop((io, top));
    let image = std::fs::read(dir.path().join("img")).unwrap();
    assert_eq!(image[..4096], pattern(4096, 0)[..], "the cache wrote back, the NBD flush reached the image");

    let err = registry.build_str("nbd(uri=nbds://h/x)", &ctx).unwrap_err().to_string();
    assert!(err.contains("needs a certificates directory"), "{err}");
    let err = registry.build_str("nbd(uri=\"nbd+unix:///?socket=missing\")", &ctx).unwrap_err().to_string();
    assert!(err.contains("missing"), "{err}");
    drop(server);
}
