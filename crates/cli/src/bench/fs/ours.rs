//! Our side of `bench fs`: mkfs on the stack, then the rows through IRPs on handles of the
//! `fs` driver mounted on it.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, anyhow};
use fs::mkfs::MkfsOptions;
use irp::file::{CreateDisposition, CreateOptions, CreateRequest};
use irp::{Access, Handle, IoManager};
use stack::{BuildContext, DriverRegistry};

use super::{Plan, ROWS, Rates};
use crate::bench::io::{XorShift, pattern_buffer, resolve_spec};
use crate::fs_tool::{create, failed};
use crate::volume_stack::VOLUME;

/// Formats the stack's device, mounts `fs` over it and runs every row.
pub fn run(stack_text: &str, dir: &Path, plan: &Plan) -> anyhow::Result<Rates> {
    let ctx = BuildContext::new().with_base_dir(dir);
    let device =
        DriverRegistry::builtin().build(&resolve_spec(stack_text, dir)?, &ctx).map_err(|e| anyhow!("{e}"))?;
    crate::mkfs::format(&device, &MkfsOptions::from_seed(1)).context("mkfs")?;
    drop(device);

    let fs_spec = resolve_spec(&format!("fs / {stack_text}"), dir)?;
    let top = DriverRegistry::builtin().build(&fs_spec, &ctx).map_err(|e| anyhow!("{e}"))?;
    let io = IoManager::new();
    io.register(VOLUME, &top)?;
    let rates = rows(&io, plan);
    io.shutdown().context("shutting the volume down")?;
    rates
}

fn per_s(n: u64, start: Instant) -> f64 {
    n as f64 / start.elapsed().as_secs_f64()
}

fn rows(io: &IoManager, plan: &Plan) -> anyhow::Result<Rates> {
    let mut rates = [0.0; ROWS.len()];
    let mkdir = |path: &str| -> anyhow::Result<Handle> {
        create(
            io,
            &CreateRequest::open(path, Access::READ_WRITE)
                .disposition(CreateDisposition::OpenIf)
                .options(CreateOptions::DIRECTORY_FILE)
                .mode(0o755),
        )
    };
    mkdir("/d")?.close().map_err(|s| failed("/d", s))?;
    let name = |i: u64| format!("/d/f{i:07}");

    let start = Instant::now();
    for i in 0..plan.files {
        let request = CreateRequest::open(name(i).as_str(), Access::READ_WRITE)
            .disposition(CreateDisposition::Create)
            .options(CreateOptions::NON_DIRECTORY_FILE)
            .mode(0o644);
        create(io, &request)?.close().map_err(|s| failed("close", s))?;
    }
    rates[0] = per_s(plan.files, start);

    let start = Instant::now();
    for i in 0..plan.files {
        let h = create(io, &CreateRequest::open(name(i).as_str(), Access::READ_ATTRIBUTES))?;
        h.close().map_err(|s| failed("close", s))?;
    }
    rates[1] = per_s(plan.files, start);

    let start = Instant::now();
    for i in 0..plan.files {
        let h = create(io, &CreateRequest::open(name(i).as_str(), Access::READ_ATTRIBUTES))?;
        h.query_stat().map_err(|s| failed("stat", s))?;
        h.close().map_err(|s| failed("close", s))?;
    }
    rates[2] = per_s(plan.files, start);

    let start = Instant::now();
    for i in 0..plan.files {
        let h = create(io, &CreateRequest::open(name(i).as_str(), Access::DELETE | Access::READ_ATTRIBUTES))?;
        h.set_posix_delete().map_err(|s| failed("unlink", s))?;
        h.close().map_err(|s| failed("close", s))?;
    }
    rates[3] = per_s(plan.files, start);

    // 4 KiB random writes into a 256 MiB file (written once first), a flush every 16.
    let file_size = plan.write_file;
    let h = create(
        io,
        &CreateRequest::open("/rw", Access::READ_WRITE)
            .disposition(CreateDisposition::Create)
            .options(CreateOptions::NON_DIRECTORY_FILE)
            .mode(0o644),
    )?;
    let chunk = pattern_buffer(1 << 20, 7)?;
    for off in (0..file_size).step_by(1 << 20) {
        h.write(off, chunk.as_slice()).map_err(|s| failed("filling /rw", s))?;
    }
    h.flush_buffers().map_err(|s| failed("flush", s))?;
    let block = pattern_buffer(4096, 9)?;
    let mut rng = XorShift::new(0);
    let start = Instant::now();
    let mut writes = 0u64;
    while start.elapsed() < plan.write_time {
        h.write((rng.next() % (file_size / 4096)) * 4096, block.as_slice())
            .map_err(|s| failed("write", s))?;
        writes += 1;
        if writes.is_multiple_of(16) {
            h.flush_buffers().map_err(|s| failed("flush", s))?;
        }
    }
    rates[4] = per_s(writes, start);
    h.close().map_err(|s| failed("close", s))?;

    // Durable creates: create, 4 KiB, flush the file, flush the directory.
    let dir = mkdir("/durable")?;
    let start = Instant::now();
    for i in 0..plan.durable {
        let request = CreateRequest::open(format!("/durable/f{i:07}").as_str(), Access::READ_WRITE)
            .disposition(CreateDisposition::Create)
            .options(CreateOptions::NON_DIRECTORY_FILE)
            .mode(0o644);
        let f = create(io, &request)?;
        f.write(0, block.as_slice()).map_err(|s| failed("write", s))?;
        f.flush_buffers().map_err(|s| failed("fsync", s))?;
        f.close().map_err(|s| failed("close", s))?;
        dir.flush_buffers().map_err(|s| failed("fsync of the directory", s))?;
    }
    rates[5] = per_s(plan.durable, start);
    dir.close().map_err(|s| failed("close", s))?;
    Ok(rates)
}
