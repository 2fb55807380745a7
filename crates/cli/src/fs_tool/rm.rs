//! `irpstack fs rm`: remove names — files, symbolic links (not what they point to), and
//! with `-r` directories after their contents. Each removal is a POSIX delete: the name goes
//! when the handle that asked closes; a file still open elsewhere lives until its last close.
//! `-f` ignores paths that do not exist.

use std::io::Write;

use clap::Args;
use irp::file::{CreateOptions, FileKind};
use irp::{Access, Handle, IoManager};

use super::paths::{is_missing, join, trimmed};
use super::{failed, for_each_path, open};

/// Arguments of `fs rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove directories and everything in them.
    #[arg(short = 'r', short_alias = 'R', long = "recursive")]
    recursive: bool,
    /// Ignore paths that do not exist.
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// What to remove.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
}

pub fn run(io: &IoManager, args: &RmArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    for_each_path("rm", &args.paths, |path| {
        if trimmed(path) == "/" {
            anyhow::bail!("{path}: refusing to remove the root directory");
        }
        match remove(io, path, args.recursive, &mut |p| writeln!(out, "removed {p}").map_err(Into::into)) {
            Err(e) if args.force && is_missing(&e) => Ok(()),
            other => other,
        }
    })
}

type Report<'a> = dyn FnMut(&str) -> anyhow::Result<()> + 'a;

fn remove(io: &IoManager, path: &str, recursive: bool, report: &mut Report<'_>) -> anyhow::Result<()> {
    let access = Access::DELETE | Access::READ_ATTRIBUTES;
    let h = open(io, path, access, CreateOptions::OPEN_REPARSE_POINT)?;
    let kind = h.query_stat().map_err(|s| failed(path, s))?.kind();
    if kind == FileKind::Directory {
        if !recursive {
            anyhow::bail!("{path}: is a directory (rm -r removes it and what it holds)");
        }
        drop(h);
        remove_contents(io, path, report)?;
        let h = open(io, path, access, CreateOptions::OPEN_REPARSE_POINT | CreateOptions::DIRECTORY_FILE)?;
        return delete(h, path, report);
    }
    delete(h, path, report)
}

fn remove_contents(io: &IoManager, dir: &str, report: &mut Report<'_>) -> anyhow::Result<()> {
    let h = open(io, dir, Access::READ, CreateOptions::DIRECTORY_FILE)?;
    let entries = h.list_directory(None).map_err(|s| failed(dir, s))?;
    drop(h);
    for e in entries {
        if e.name == b"." || e.name == b".." {
            continue;
        }
        let Ok(name) = std::str::from_utf8(&e.name) else {
            anyhow::bail!(
                "{dir}: an entry named {:?} (inode {}) is not UTF-8 and cannot be named here",
                e.name_lossy(),
                e.ino
            );
        };
        remove(io, &join(dir, name), true, report)?;
    }
    Ok(())
}

fn delete(h: Handle, path: &str, report: &mut Report<'_>) -> anyhow::Result<()> {
    h.set_posix_delete().map_err(|s| failed(path, s))?;
    h.close().map_err(|s| failed(path, s))?;
    report(path)
}
