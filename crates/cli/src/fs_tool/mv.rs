//! `irpstack fs mv`: rename a file or directory in one journal transaction (a crash leaves
//! the old name or the new one, never both or neither). An existing directory as DEST
//! receives SOURCE under its own name; an existing file there is replaced unless `-n`.

use std::io::Write;

use clap::Args;
use irp::file::CreateOptions;
use irp::{Access, IoManager};

use super::paths::{basename, is_dir, join};
use super::{failed, open};

/// Arguments of `fs mv`.
#[derive(Debug, Args)]
pub struct MvArgs {
    /// What to move.
    #[arg(value_name = "SOURCE")]
    source: String,
    /// Its new name, or a directory to move it into.
    #[arg(value_name = "DEST")]
    dest: String,
    /// Fail if DEST exists instead of replacing it.
    #[arg(short = 'n', long = "no-clobber")]
    no_clobber: bool,
}

pub fn run(io: &IoManager, args: &MvArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let h =
        open(io, &args.source, Access::DELETE | Access::READ_ATTRIBUTES, CreateOptions::OPEN_REPARSE_POINT)?;
    let dest =
        if is_dir(io, &args.dest)? { join(&args.dest, basename(&args.source)) } else { args.dest.clone() };
    h.rename(&dest, !args.no_clobber).map_err(|s| failed(&format!("{} -> {dest}", args.source), s))?;
    h.close().map_err(|s| failed(&dest, s))?;
    writeln!(out, "{} -> {dest}", args.source)?;
    Ok(())
}
