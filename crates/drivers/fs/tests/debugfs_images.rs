//! Images made by mkfs.ext4 and populated by debugfs (no kernel needed), read back
//! through our read path: 1, 2 and 4 KiB blocks with the Debian defaults, and an image
//! without extents or metadata_csum (classic block maps, indirect blocks).

mod common;

use common::{Node, host_file, mkfs, pattern, walk};
use fs::volume::Volume;

/// Files written with debugfs: (name, length).
const FILES: &[(&str, usize)] =
    &[("empty", 0), ("one", 1), ("small", 3000), ("medium", 70_000), ("large", 600_000)];

fn populate_and_check(test: &str, mkfs_args: &[&str]) {
    let Some(img) = mkfs(test, "32M", mkfs_args) else { return };
    if !common::have("debugfs") {
        eprintln!("SKIP {test}: debugfs not installed");
        return;
    }
    let mut cmds = vec!["mkdir dir".to_string(), "mkdir dir/sub".to_string()];
    for (i, (name, len)) in FILES.iter().enumerate() {
        let host = host_file(img.dir.path(), name, &pattern(i as u64 + 10, *len));
        cmds.push(format!("write {} dir/{name}", host.display()));
    }
    cmds.push("symlink dir/fast small".into());
    cmds.push(format!("symlink dir/slow /dir/sub/../{}", "s".repeat(80) + "/../medium"));
    cmds.push(format!("mkdir dir/{}", "s".repeat(80)));
    cmds.push("ln dir/small dir/sub/hard".into());
    cmds.push("ea_set dir/small user.colour blue".into());
    cmds.push("ea_set dir/small trusted.t 12345678901234567890".into());
    let script = img.dir.path().join("cmds");
    std::fs::write(&script, cmds.join("\n")).unwrap();
    common::run(std::process::Command::new("debugfs").arg("-w").arg("-f").arg(&script).arg(&img.path));
    // debugfs `ln` does not count the link; the tree is still readable, so skip fsck.

    let vol = Volume::open(img.device()).expect("open");
    let tree = walk(&vol, 1 << 20).expect("walk");
    for (i, (name, len)) in FILES.iter().enumerate() {
        let p = format!("/dir/{name}");
        assert_eq!(tree[p.as_bytes()].node, Node::File(pattern(i as u64 + 10, *len)), "{test}: {p}");
    }
    assert_eq!(tree[&b"/dir/fast"[..]].node, Node::Symlink(b"small".to_vec()));
    assert_eq!(vol.resolve("/dir/fast").unwrap(), vol.resolve("/dir/small").unwrap());
    assert_eq!(vol.resolve("/dir/slow").unwrap(), vol.resolve("/dir/medium").unwrap());
    assert_eq!(vol.resolve("/dir/sub/hard").unwrap(), vol.resolve("/dir/small").unwrap());
    let x = &tree[&b"/dir/small"[..]].xattrs;
    assert!(x.contains(&(b"user.colour".to_vec(), b"blue".to_vec())), "{x:?}");
    assert!(x.contains(&(b"trusted.t".to_vec(), b"12345678901234567890".to_vec())), "{x:?}");
    let c = common::reencode::check_reencode(&vol);
    assert!(c.inodes >= 10, "{c:?}");
}

#[test]
fn debian_defaults_4k() {
    populate_and_check("debian_defaults_4k", &["-b", "4096"]);
}

#[test]
fn debian_defaults_2k() {
    populate_and_check("debian_defaults_2k", &["-b", "2048"]);
}

#[test]
fn debian_defaults_1k() {
    populate_and_check("debian_defaults_1k", &["-b", "1024"]);
}

#[test]
fn block_maps_without_extents_or_checksums() {
    // 1 KiB blocks: the 600 KB file needs the double indirect block.
    populate_and_check(
        "block_maps_without_extents_or_checksums",
        &["-b", "1024", "-O", "^extent,^metadata_csum,^64bit,^flex_bg,^huge_file,uninit_bg"],
    );
}

#[test]
fn fresh_image_features_and_structure() {
    let test = "fresh_image_features_and_structure";
    let Some(img) = mkfs(test, "64M", &["-b", "4096"]) else { return };
    let vol = Volume::open(img.device()).expect("open");
    let sb = vol.superblock();
    let names = |set, mask| fs::ondisk::features::feature_names(set, mask).join(" ");
    use fs::ondisk::features::FeatureSet::*;
    let all = format!(
        "{} {} {}",
        names(Compat, sb.features.compat),
        names(Incompat, sb.features.incompat),
        names(RoCompat, sb.features.ro_compat)
    );
    for f in "has_journal ext_attr resize_inode dir_index filetype extent 64bit flex_bg sparse_super \
              large_file huge_file dir_nlink extra_isize metadata_csum"
        .split_whitespace()
    {
        assert!(all.split(' ').any(|x| x == f), "{f} missing from {all}");
    }
    assert_eq!(vol.access(), &fs::ondisk::features::Access::ReadWrite);
    let root: Vec<Vec<u8>> = vol.read_dir(2).unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(root, [b".".to_vec(), b"..".to_vec(), b"lost+found".to_vec()]);
    assert_eq!(vol.resolve("/lost+found").unwrap(), 11);
    let journal = vol.read_inode(8).unwrap();
    assert_eq!(journal.size, 4 << 20);
    common::reencode::check_reencode(&vol);
}
