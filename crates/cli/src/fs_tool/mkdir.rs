//! `irpstack fs mkdir`: make directories; `-p` makes the missing parents too and accepts
//! directories that exist (as `mkdir -p`).

use std::io::Write;

use clap::Args;
use irp::file::{CreateDisposition, CreateOptions, CreateRequest};
use irp::{Access, IoManager};

use super::paths::trimmed;
use super::put::parse_mode;
use super::{create, for_each_path};

/// Arguments of `fs mkdir`.
#[derive(Debug, Args)]
pub struct MkdirArgs {
    /// Make missing parents; a directory that exists is no error.
    #[arg(short = 'p', long = "parents")]
    parents: bool,
    /// Permission bits, in octal.
    #[arg(short = 'm', long, value_name = "OCTAL", value_parser = parse_mode, default_value = "755")]
    mode: u32,
    /// Directories to make.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
}

pub fn run(io: &IoManager, args: &MkdirArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    for_each_path("mkdir", &args.paths, |path| {
        if args.parents {
            make_with_parents(io, path, args.mode)?;
        } else {
            make(io, path, args.mode, false)?;
        }
        writeln!(out, "{path}")?;
        Ok(())
    })
}

fn make(io: &IoManager, path: &str, mode: u32, exists_ok: bool) -> anyhow::Result<()> {
    let disposition = if exists_ok { CreateDisposition::OpenIf } else { CreateDisposition::Create };
    let request = CreateRequest::open(path, Access::READ_ATTRIBUTES)
        .disposition(disposition)
        .options(CreateOptions::DIRECTORY_FILE)
        .mode(mode);
    create(io, &request).map(drop)
}

fn make_with_parents(io: &IoManager, path: &str, mode: u32) -> anyhow::Result<()> {
    let mut prefix = String::new();
    for name in trimmed(path).split('/').filter(|n| !n.is_empty() && *n != ".") {
        prefix.push('/');
        prefix.push_str(name);
        make(io, &prefix, mode, true)?;
    }
    Ok(())
}
