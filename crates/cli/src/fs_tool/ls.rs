//! `irpstack fs ls`: directory listings; `-l` prints debugfs `ls -l`'s columns (inode, mode
//! in octal, entry type, uid, gid, size, modification time, name).

use std::io::Write;

use clap::Args;
use irp::file::{CreateOptions, DirectoryEntry, FileKind, FileStatInformation};
use irp::{Access, IoManager};

use super::format::ls_date;
use super::open;

/// Arguments of `fs ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Long format, as debugfs `ls -l`.
    #[arg(short = 'l', long = "long")]
    long: bool,
    /// Directories (or files) to list [default: /].
    #[arg(value_name = "PATH")]
    paths: Vec<String>,
}

pub fn run(io: &IoManager, args: &LsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let paths = if args.paths.is_empty() { vec!["/".to_owned()] } else { args.paths.clone() };
    for (i, path) in paths.iter().enumerate() {
        if paths.len() > 1 {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "{path}:")?;
        }
        let h = open(io, path, Access::READ, CreateOptions::NONE)?;
        let st = h.query_stat()?;
        if st.kind() != FileKind::Directory {
            let name = path.rsplit('/').next().unwrap_or(path).as_bytes().to_vec();
            let entry = DirectoryEntry { name, ino: st.ino, kind: st.kind(), index: 0 };
            print_entry(out, args.long, &entry, Some(&st))?;
            continue;
        }
        for entry in h.list_directory(None)? {
            let st = if args.long { Some(stat_by_id(io, entry.ino)?) } else { None };
            print_entry(out, args.long, &entry, st.as_ref())?;
        }
    }
    Ok(())
}

/// What stat says about inode `ino` (opened by file id: names need not be UTF-8).
fn stat_by_id(io: &IoManager, ino: u64) -> anyhow::Result<FileStatInformation> {
    let options = CreateOptions::OPEN_BY_FILE_ID | CreateOptions::OPEN_REPARSE_POINT;
    Ok(open(io, &ino.to_string(), Access::READ_ATTRIBUTES, options)?.query_stat()?)
}

fn print_entry(
    out: &mut dyn Write,
    long: bool,
    e: &DirectoryEntry,
    st: Option<&FileStatInformation>,
) -> anyhow::Result<()> {
    let name = e.name_lossy();
    match st {
        Some(st) if long => writeln!(
            out,
            " {:>6}  {:>6o} ({})  {:>5}  {:>5}   {:>5} {} {name}",
            e.ino,
            st.mode,
            e.kind as u8,
            st.uid,
            st.gid,
            st.size,
            ls_date(st.mtime)
        )?,
        _ => writeln!(out, "{name}")?,
    }
    Ok(())
}
