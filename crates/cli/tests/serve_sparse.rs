//! `irpstack serve` and holes: `base:allocation` with the tools that use it. A sparse image
//! (data at a few offsets, holes between) served through `file(...)` is mapped by
//! `nbdinfo --map` and `qemu-img map` exactly as written, and copied by `qemu-img convert`
//! and `nbdcopy` into files equal in content and sparse; through `cache(...) / file(...)`,
//! writes still dirty in the cache (not on the image yet) are data in the map and in the
//! copies. Each test skips (`irp::testing::skip`) when its tool is missing; servers listen
//! on Unix sockets in temporary directories and are killed by PID.

#[path = "../../frontends/nbd-server/tests/raw_client/mod.rs"]
mod raw_client;
mod serve_support;

use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use raw_client::RawClient;
use serve_support::{Served, have, random_bytes, run, serve};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const SIZE: u64 = 16 * MIB;

/// Where the sparse image holds data (4 KiB aligned, so every file system block is whole).
const WRITTEN: [(u64, u64); 4] =
    [(64 * KIB, 4 * KIB), (4 * MIB, 256 * KIB), (10 * MIB + 12 * KIB, 8 * KIB), (SIZE - 4 * KIB, 4 * KIB)];

/// `(offset, length, data)` from 0 to `size`: the written ranges and the holes between.
fn layout(written: &[(u64, u64)], size: u64) -> Vec<(u64, u64, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    for &(offset, length) in written {
        if offset > at {
            out.push((at, offset - at, false));
        }
        out.push((offset, length, true));
        at = offset + length;
    }
    if at < size {
        out.push((at, size - at, false));
    }
    out
}

/// Creates `data/sparse.img` in `dir` with random data in `WRITTEN` and holes elsewhere;
/// `None` (the test skipped) when the file system keeps no holes.
fn sparse_image(dir: &Path) -> Option<Vec<u8>> {
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let path = data_dir.join("sparse.img");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(SIZE).unwrap();
    let mut content = vec![0u8; SIZE as usize];
    for (i, &(offset, length)) in WRITTEN.iter().enumerate() {
        let bytes = random_bytes(i as u64 + 1, length as usize);
        file.write_all_at(&bytes, offset).unwrap();
        content[offset as usize..(offset + length) as usize].copy_from_slice(&bytes);
    }
    file.sync_all().unwrap();
    let allocated = allocated_bytes(&path);
    let written: u64 = WRITTEN.iter().map(|w| w.1).sum();
    if allocated > written + 64 * KIB {
        irp::testing::skip(format_args!("the file system keeps no holes ({allocated} bytes allocated)"));
        return None;
    }
    Some(content)
}

/// Bytes the file system allocated for `path` (`stat`'s blocks).
fn allocated_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().blocks() * 512
}

fn serve_stack(dir: &Path, stack: &str) -> Served {
    let socket = dir.join("nbd.sock");
    let data = dir.join("data");
    let args = ["--stack", stack, "--socket", socket.to_str().unwrap(), "--data-dir", data.to_str().unwrap()];
    serve(dir, &args)
}

/// `nbdinfo --map --json`: `(offset, length, data)`; only the two statuses the server
/// sends (0: data, 3: hole and zero) are expected.
fn nbdinfo_map(uri: &str) -> Vec<(u64, u64, bool)> {
    let out = run("nbdinfo", &["--map", "--json", uri]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = json.as_array().expect("a JSON array of extents");
    entries
        .iter()
        .map(|e| {
            let kind = e["type"].as_u64().unwrap();
            assert!(kind == 0 || kind == 3, "unexpected extent type in {e}");
            (e["offset"].as_u64().unwrap(), e["length"].as_u64().unwrap(), kind == 0)
        })
        .collect()
}

/// `qemu-img map --output=json`: `(offset, length, data)`, neighbours of the same kind
/// merged; a range is either data or reads as zeroes.
fn qemu_img_map(uri: &str) -> Vec<(u64, u64, bool)> {
    let out = run("qemu-img", &["map", "--output=json", "-f", "raw", uri]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut merged: Vec<(u64, u64, bool)> = Vec::new();
    for e in json.as_array().expect("a JSON array of ranges") {
        let (start, length) = (e["start"].as_u64().unwrap(), e["length"].as_u64().unwrap());
        let data = e["data"].as_bool().unwrap();
        assert_eq!(e["zero"].as_bool(), Some(!data), "data or zero: {e}");
        match merged.last_mut() {
            Some(last) if last.2 == data && last.0 + last.1 == start => last.1 += length,
            _ => merged.push((start, length, data)),
        }
    }
    merged
}

/// A copy is `content` and sparse: about as much allocated as there is data.
fn assert_sparse_copy(path: &Path, content: &[u8], data_bytes: u64, tool: &str) {
    assert!(std::fs::read(path).unwrap() == content, "{tool}: the copy differs from the export");
    let allocated = allocated_bytes(path);
    assert!(
        allocated >= data_bytes && allocated <= data_bytes + 128 * KIB,
        "{tool}: {allocated} bytes allocated for {data_bytes} bytes of data"
    );
}

#[test]
fn nbdinfo_map_reports_the_sparse_image_as_written() {
    if !have("nbdinfo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(_) = sparse_image(dir.path()) else { return };
    let server = serve_stack(dir.path(), "file(path=sparse.img)");
    assert_eq!(nbdinfo_map(&server.uri), layout(&WRITTEN, SIZE));

    // The connect hint runs as printed.
    let lines = server.lines_until("stop with");
    let hint = lines.iter().find_map(|l| l.trim().strip_prefix("nbdinfo --map ")).expect("a map hint");
    let uri = hint.split('\'').nth(1).expect("a quoted URI");
    let text = String::from_utf8(run("nbdinfo", &["--map", uri]).stdout).unwrap();
    assert!(text.contains("hole,zero") && text.contains("data"), "{text}");
}

#[test]
fn qemu_img_map_agrees() {
    if !have("qemu-img") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(_) = sparse_image(dir.path()) else { return };
    let server = serve_stack(dir.path(), "file(path=sparse.img)");
    assert_eq!(qemu_img_map(&server.uri), layout(&WRITTEN, SIZE));
}

#[test]
fn qemu_img_convert_and_nbdcopy_make_sparse_copies() {
    if !have("qemu-img") || !have("nbdcopy") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(content) = sparse_image(dir.path()) else { return };
    let data_bytes: u64 = WRITTEN.iter().map(|w| w.1).sum();
    let server = serve_stack(dir.path(), "file(path=sparse.img)");
    let converted = dir.path().join("converted.img");
    run("qemu-img", &["convert", "-f", "raw", "-O", "raw", &server.uri, converted.to_str().unwrap()]);
    assert_sparse_copy(&converted, &content, data_bytes, "qemu-img convert");
    let copied = dir.path().join("copied.img");
    run("nbdcopy", &[&server.uri, copied.to_str().unwrap()]);
    assert_sparse_copy(&copied, &content, data_bytes, "nbdcopy");
}

#[test]
fn writes_dirty_in_the_cache_are_data() {
    if !have("nbdinfo") || !have("qemu-img") || !have("nbdcopy") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(mut content) = sparse_image(dir.path()) else { return };
    // Nothing is written behind until a flush or shutdown.
    let server = serve_stack(dir.path(), "cache(size=16M,eager=0,interval=3600s) / file(path=sparse.img)");
    let socket = server.socket.clone().expect("a Unix socket");
    let mut client = RawClient::open(&socket, "", false).unwrap();
    let dirty = [(MIB, 8 * KIB), (9 * MIB + 4 * KIB, 4 * KIB)];
    for (i, &(offset, length)) in dirty.iter().enumerate() {
        let bytes = random_bytes(100 + i as u64, length as usize);
        assert_eq!(client.write(offset, &bytes, false).unwrap(), 0, "write at {offset}");
        content[offset as usize..(offset + length) as usize].copy_from_slice(&bytes);
    }
    let image = std::fs::File::open(dir.path().join("data/sparse.img")).unwrap();
    let on_image = |offset: u64, length: u64| {
        let mut buf = vec![0u8; length as usize];
        image.read_exact_at(&mut buf, offset).unwrap();
        buf
    };
    for &(offset, length) in &dirty {
        assert!(on_image(offset, length).iter().all(|&b| b == 0), "{offset}: the write is only in the cache");
    }

    let mut all: Vec<(u64, u64)> = WRITTEN.iter().chain(dirty.iter()).copied().collect();
    all.sort_unstable();
    let want = layout(&all, SIZE);
    assert_eq!(nbdinfo_map(&server.uri), want, "nbdinfo --map");
    assert_eq!(qemu_img_map(&server.uri), want, "qemu-img map");
    let copied = dir.path().join("copied.img");
    run("nbdcopy", &[&server.uri, copied.to_str().unwrap()]);
    let data_bytes: u64 = all.iter().map(|w| w.1).sum();
    assert_sparse_copy(&copied, &content, data_bytes, "nbdcopy through the cache");
    for &(offset, length) in &dirty {
        assert!(on_image(offset, length).iter().all(|&b| b == 0), "{offset}: still only in the cache");
    }
    drop(client);
}
