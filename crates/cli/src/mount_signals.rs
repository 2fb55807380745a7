//! SIGINT and SIGTERM for `irpstack mount`: blocked in every thread (they are blocked before
//! the first thread starts, and threads inherit the mask), taken by one thread with
//! `sigwait`. The first unmounts (detaching a busy mount); a second aborts the connection.

use std::io;

use fuse::Unmounter;

/// The signals that stop a mount, blocked in the calling thread and every thread it starts.
#[derive(Debug)]
pub struct StopSignals {
    set: libc::sigset_t,
}

/// Blocks SIGINT and SIGTERM in the calling thread (and so in threads started after).
pub fn block() -> io::Result<StopSignals> {
    // SAFETY: an all-zero sigset_t is a valid value to pass to sigemptyset, which
    // initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a live sigset_t; the calls only write into it and the thread's mask.
    let rc = unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(StopSignals { set })
}

fn name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// Starts the thread that waits for the signals and unmounts.
pub fn spawn_handler(signals: StopSignals, unmounter: Unmounter) -> io::Result<()> {
    std::thread::Builder::new().name("mount-signals".into()).spawn(move || {
        let mut seen = 0;
        loop {
            let mut sig = 0;
            // SAFETY: `signals.set` is an initialised sigset_t and `sig` a live i32.
            let rc = unsafe { libc::sigwait(&signals.set, &mut sig) };
            if rc != 0 {
                tracing::error!("sigwait: {}", io::Error::from_raw_os_error(rc));
                return;
            }
            seen += 1;
            let mountpoint = unmounter.mountpoint().display();
            if seen == 1 {
                tracing::warn!("{}: unmounting {mountpoint}", name(sig));
                match unmounter.unmount() {
                    Ok(u) => tracing::warn!("{mountpoint}: {}", crate::mount::describe(&u)),
                    Err(e) => tracing::error!("unmounting {mountpoint}: {e}"),
                }
            } else {
                tracing::warn!("{} again: aborting the FUSE connection of {mountpoint}", name(sig));
                if let Err(e) = unmounter.abort() {
                    tracing::error!("aborting {mountpoint}: {e}");
                }
            }
        }
    })?;
    Ok(())
}
