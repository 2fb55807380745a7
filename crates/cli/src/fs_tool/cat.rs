//! `irpstack fs cat` and `irpstack fs get`: a file's bytes to standard output or to a file
//! on the host (debugfs `cat` and `dump`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use irp::file::CreateOptions;
use irp::{Access, Handle, IoManager, Status};

use super::open;

/// Bytes read per request.
const CHUNK: usize = 1 << 20;

/// Arguments of `fs cat`.
#[derive(Debug, Args)]
pub struct CatArgs {
    /// Files to write out, in order.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
}

/// Arguments of `fs get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The file in the volume.
    #[arg(value_name = "PATH")]
    path: String,
    /// Where to write it on the host (replaced if it exists).
    #[arg(value_name = "DEST")]
    dest: PathBuf,
}

/// Copies the whole file `h` to `out`; returns the bytes copied.
fn copy(h: &Handle, out: &mut dyn Write) -> anyhow::Result<u64> {
    let size = h.query_stat()?.size;
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    while offset < size {
        match h.read_into(offset, &mut buf) {
            Ok(0) | Err(Status::END_OF_FILE) => break,
            Ok(n) => {
                out.write_all(&buf[..n])?;
                offset += n as u64;
            }
            Err(e) => return Err(e).with_context(|| format!("reading at byte {offset}")),
        }
    }
    Ok(offset)
}

pub fn run_cat(io: &IoManager, args: &CatArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    for path in &args.paths {
        let h = open(io, path, Access::READ, CreateOptions::NON_DIRECTORY_FILE)?;
        copy(&h, out).with_context(|| path.clone())?;
    }
    Ok(())
}

pub fn run_get(io: &IoManager, args: &GetArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let h = open(io, &args.path, Access::READ, CreateOptions::NON_DIRECTORY_FILE)?;
    let file =
        std::fs::File::create(&args.dest).with_context(|| format!("creating {}", args.dest.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let n = copy(&h, &mut w).with_context(|| args.path.clone())?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    writeln!(out, "{}: {n} bytes to {}", args.path, args.dest.display())?;
    Ok(())
}
