//! `irpstack fs stat`: what POSIX stat reports, laid out as GNU `stat` does (times in the
//! local time zone, with nanoseconds), with the raw seconds beside each time.

use std::io::Write;

use clap::Args;
use irp::file::{CreateOptions, FileKind, FileTime};
use irp::{Access, IoManager};

use super::format::{mode_string, stat_time};
use super::open;

/// Arguments of `fs stat`.
#[derive(Debug, Args)]
pub struct StatArgs {
    /// Follow a final symbolic link (stat, not lstat).
    #[arg(short = 'L', long = "dereference")]
    dereference: bool,
    /// Paths to describe.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
}

fn kind_name(k: FileKind) -> &'static str {
    match k {
        FileKind::Regular => "regular file",
        FileKind::Directory => "directory",
        FileKind::Symlink => "symbolic link",
        FileKind::CharDevice => "character special file",
        FileKind::BlockDevice => "block special file",
        FileKind::Fifo => "fifo",
        FileKind::Socket => "socket",
        FileKind::Unknown => "unknown",
    }
}

fn time_line(label: &str, t: FileTime) -> String {
    format!("{label}: {} ({}.{:09})", stat_time(t), t.secs, t.nanos)
}

pub fn run(io: &IoManager, args: &StatArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let options = if args.dereference { CreateOptions::NONE } else { CreateOptions::OPEN_REPARSE_POINT };
    for path in &args.paths {
        let h = open(io, path, Access::READ_ATTRIBUTES, options)?;
        let st = h.query_stat()?;
        let mut file = format!("  File: {path}");
        if st.kind() == FileKind::Symlink {
            let o = CreateOptions::OPEN_REPARSE_POINT;
            let target = open(io, path, Access::READ_ATTRIBUTES, o)?.read_link()?;
            file.push_str(&format!(" -> {}", String::from_utf8_lossy(&target)));
        }
        writeln!(out, "{file}")?;
        writeln!(
            out,
            "  Size: {:<15} Blocks: {:<10} IO Block: {:<6} {}",
            st.size,
            st.blocks,
            st.block_size,
            kind_name(st.kind())
        )?;
        let device = if matches!(st.kind(), FileKind::CharDevice | FileKind::BlockDevice) {
            format!("  Device type: {},{}", st.rdev_major, st.rdev_minor)
        } else {
            String::new()
        };
        writeln!(out, "Inode: {:<11} Links: {}{device}", st.ino, st.nlink)?;
        writeln!(
            out,
            "Access: ({:04o}/{})  Uid: {:>5}   Gid: {:>5}",
            st.permissions(),
            mode_string(st.kind(), st.mode),
            st.uid,
            st.gid
        )?;
        writeln!(out, "{}", time_line("Access", st.atime))?;
        writeln!(out, "{}", time_line("Modify", st.mtime))?;
        writeln!(out, "{}", time_line("Change", st.ctime))?;
        writeln!(out, "{}", time_line(" Birth", st.btime))?;
    }
    Ok(())
}
