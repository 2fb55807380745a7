//! Allocator settings for a long-running server.
//!
//! glibc's malloc keeps what is freed in the arena it came from, and serves large
//! allocations from the heap once it has seen them freed (its mmap threshold rises with
//! them). A server whose connection threads allocate and free 64 KiB–32 MiB transfer
//! buffers all the time then fragments its heaps: with 128 NBD connections over a 64 MiB
//! cache, glibc held 460 MB of heap for 64 MB in use (`malloc_stats`). So:
//!
//! - buffers of 64 KiB and more are mapped on their own and unmapped when freed (a fixed
//!   `M_MMAP_THRESHOLD`, which also stops the threshold from rising): peak RSS 331 → 136
//!   MiB at 128 connections, 247 → 118 MiB at 64 (`benches/nbd_memory.py`);
//! - at most two arenas (`M_ARENA_MAX`).
//!
//! The hot paths reuse their buffers (the NBD server keeps some per connection), so the
//! mappings are rare next to the requests. `MALLOC_MMAP_THRESHOLD_` and
//! `MALLOC_ARENA_MAX` in the environment win over these settings.

/// Allocations of at least this many bytes get their own mapping.
const MMAP_THRESHOLD: i32 = 64 * 1024;
/// Arenas glibc may create.
const ARENAS: i32 = 2;

/// Sets glibc's malloc parameters. Call early in `main`, before any thread starts.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        set("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        set("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, ARENAS);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set(env: &str, param: i32, value: i32) {
    if std::env::var_os(env).is_some() {
        return;
    }
    // SAFETY: mallopt only sets an allocator parameter; it is called before other
    // threads exist, and both parameters take any positive value.
    if unsafe { libc::mallopt(param, value) } == 0 {
        tracing::debug!(env, "mallopt refused; keeping glibc's default");
    }
}
