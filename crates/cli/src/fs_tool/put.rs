//! `irpstack fs put`: copy a host file, or standard input, into the volume (debugfs
//! `write`, mtools `mcopy`). The file is created or its contents replaced, written in 1 MiB
//! requests, then flushed (its data and the journal up to it are durable) before the
//! command shuts the volume down.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use irp::Access;
use irp::file::{CreateDisposition, CreateOptions, CreateRequest};

use super::paths::{basename, is_dir, join};
use super::{create, failed};

/// Bytes written per request.
const CHUNK: usize = 1 << 20;

/// Arguments of `fs put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The host file to copy in; `-` reads standard input.
    #[arg(value_name = "SOURCE")]
    source: PathBuf,
    /// Where it goes in the volume; an existing directory (or a path ending in /) receives
    /// it under the source's name.
    #[arg(value_name = "DEST")]
    dest: String,
    /// Permission bits of a new file, in octal [default: the source's; 644 from stdin].
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode)]
    mode: Option<u32>,
    /// Fail if DEST exists, instead of replacing what it holds.
    #[arg(short = 'n', long = "no-clobber")]
    no_clobber: bool,
}

/// An octal mode, at most 7777.
pub(super) fn parse_mode(text: &str) -> Result<u32, String> {
    match u32::from_str_radix(text.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => Err(format!("{text:?} is not an octal mode (0 to 7777)")),
    }
}

pub fn run(io: &irp::IoManager, args: &PutArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let stdin = args.source.as_os_str() == "-";
    let (mut input, source_mode): (Box<dyn Read>, u32) = if stdin {
        (Box::new(std::io::stdin().lock()), 0o644)
    } else {
        let file = std::fs::File::open(&args.source)
            .with_context(|| format!("opening {}", args.source.display()))?;
        let meta = file.metadata().with_context(|| format!("reading {}", args.source.display()))?;
        if meta.is_dir() {
            anyhow::bail!("{} is a directory: put copies one file", args.source.display());
        }
        (Box::new(file), meta.permissions().mode() & 0o7777)
    };
    let dest = if args.dest.ends_with('/') || is_dir(io, &args.dest)? {
        if stdin {
            anyhow::bail!("{}: a directory; from standard input, give the file's name", args.dest);
        }
        join(&args.dest, basename(&args.source.to_string_lossy()))
    } else {
        args.dest.clone()
    };
    let disposition =
        if args.no_clobber { CreateDisposition::Create } else { CreateDisposition::OverwriteIf };
    let request = CreateRequest::open(dest.as_str(), Access::READ_WRITE)
        .disposition(disposition)
        .options(CreateOptions::NON_DIRECTORY_FILE)
        .mode(args.mode.unwrap_or(source_mode));
    let h = create(io, &request)?;
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    loop {
        let n =
            read_full(&mut input, &mut buf).with_context(|| format!("reading {}", args.source.display()))?;
        if n == 0 {
            break;
        }
        let written = h.write(offset, &buf[..n]).map_err(|s| failed(&dest, s))?;
        offset += written as u64;
        if written < n {
            return Err(failed(&dest, irp::Status::DISK_FULL)).context(format!("{offset} bytes written"));
        }
    }
    h.flush_buffers().map_err(|s| failed(&dest, s)).context("flushing")?;
    h.close().map_err(|s| failed(&dest, s))?;
    let from = if stdin { "standard input".to_owned() } else { args.source.display().to_string() };
    writeln!(out, "{dest}: {offset} bytes from {from}")?;
    Ok(())
}

/// Reads until `buf` is full or the input ends; how many bytes.
fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
