//! A small populated image made without a kernel: mkfs.ext4 (Debian defaults, 4 KiB
//! blocks), debugfs for a fragmented file (depth-1 extent tree), small files, symlinks,
//! xattrs and a 400-entry directory that `e2fsck -fyD` turns into an htree.

use std::process::Command;

use super::{Image, host_file, mkfs, pattern, run};

/// Entries in `/many`.
pub const MANY: usize = 400;

/// Blocks of `/frag` (data every other block).
pub const FRAG_BLOCKS: usize = 40;

/// The data `/frag` holds.
pub fn frag_data() -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..FRAG_BLOCKS / 2 {
        v.extend(pattern(500 + i as u64, 4096));
        v.extend(vec![0u8; 4096]);
    }
    v
}

/// Builds the image, or None (SKIP printed) without mkfs.ext4, debugfs or e2fsck.
pub fn sample_image(test: &str) -> Option<Image> {
    if !super::have("debugfs") || !super::have("e2fsck") {
        eprintln!("SKIP {test}: debugfs or e2fsck not installed");
        return None;
    }
    let img = mkfs(test, "8M", &["-b", "4096"])?;
    let d = img.dir.path();
    let mut cmds = vec![
        format!("write {} frag", host_file(d, "frag", &frag_data()).display()),
        format!("write {} small", host_file(d, "small", &pattern(1, 5000)).display()),
        "mkdir many".to_string(),
        "mkdir a".to_string(),
        "mkdir a/b".to_string(),
        format!("write {} a/b/f", host_file(d, "f", &pattern(2, 100)).display()),
        "symlink fast small".to_string(),
        format!("symlink slow /a/{}/../b/f", "q".repeat(70)),
        format!("mkdir a/{}", "q".repeat(70)),
        "ea_set small user.a 1".to_string(),
        format!("ea_set -f {} a/b/f user.big", host_file(d, "big", &[b'z'; 1500]).display()),
    ];
    let empty = host_file(d, "empty", &[]);
    for i in 0..MANY {
        cmds.push(format!("write {} many/entry-{i:04}-{}", empty.display(), "m".repeat(40)));
    }
    let script = d.join("cmds");
    std::fs::write(&script, cmds.join("\n")).unwrap();
    run(Command::new("debugfs").arg("-w").arg("-f").arg(&script).arg(&img.path));
    // Index the big directory (and fix anything debugfs left for e2fsck to count).
    let st = Command::new("e2fsck").arg("-fyD").arg(&img.path).output().unwrap();
    assert!(st.status.code().is_some_and(|c| c <= 1), "e2fsck -fyD: {}", String::from_utf8_lossy(&st.stdout));
    img.fsck_clean();
    Some(img)
}
