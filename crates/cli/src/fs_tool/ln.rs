//! `irpstack fs ln`: a hard link (another name for TARGET, which must exist and not be a
//! directory), or with `-s` a symbolic link whose text is TARGET (which need not exist).
//! An existing directory as LINK receives the link under TARGET's last name; `-f` replaces
//! what LINK names.

use std::io::Write;

use clap::Args;
use irp::file::CreateOptions;
use irp::{Access, IoManager};

use super::paths::{basename, is_dir, is_missing, join, split};
use super::{failed, open};

/// Arguments of `fs ln`.
#[derive(Debug, Args)]
pub struct LnArgs {
    /// Make a symbolic link.
    #[arg(short = 's', long = "symbolic")]
    symbolic: bool,
    /// Replace what LINK names.
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// What the link points to (for -s, any text).
    #[arg(value_name = "TARGET")]
    target: String,
    /// The new name.
    #[arg(value_name = "LINK")]
    link: String,
}

pub fn run(io: &IoManager, args: &LnArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let link =
        if is_dir(io, &args.link)? { join(&args.link, basename(&args.target)) } else { args.link.clone() };
    if args.symbolic {
        if args.force {
            remove_existing(io, &link)?;
        }
        let (dir, name) = split(&link)?;
        let d = open(io, &dir, Access::READ, CreateOptions::DIRECTORY_FILE)?;
        d.create_symlink(&name, args.target.as_bytes()).map_err(|s| failed(&link, s))?;
        writeln!(out, "{link} -> {}", args.target)?;
    } else {
        let h = open(io, &args.target, Access::READ_ATTRIBUTES, CreateOptions::OPEN_REPARSE_POINT)?;
        h.link(&link, args.force).map_err(|s| failed(&link, s))?;
        writeln!(out, "{link} => {}", args.target)?;
    }
    Ok(())
}

/// Removes what `path` names (not a directory), if anything.
fn remove_existing(io: &IoManager, path: &str) -> anyhow::Result<()> {
    let options = CreateOptions::OPEN_REPARSE_POINT | CreateOptions::NON_DIRECTORY_FILE;
    match open(io, path, Access::DELETE, options) {
        Ok(h) => {
            h.set_posix_delete().map_err(|s| failed(path, s))?;
            h.close().map_err(|s| failed(path, s))
        }
        Err(e) if is_missing(&e) => Ok(()),
        Err(e) => Err(e),
    }
}
