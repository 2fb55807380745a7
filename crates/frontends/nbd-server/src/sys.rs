//! The crate's only `unsafe` code: `poll(2)` for the accept loop, and a SIGINT/SIGTERM
//! handler that wakes it (the self-pipe trick); a second signal wakes a watcher thread
//! that says what the process abandons, then exits.
#![allow(unsafe_code)]

use std::io::{self, IoSlice, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, PoisonError};

/// Waits until one of `fds` is readable (or hung up); returns which. `Interrupted` when a
/// signal arrived first.
pub(crate) fn poll_readable(fds: &[RawFd]) -> io::Result<Vec<bool>> {
    let mut pollfds: Vec<libc::pollfd> =
        fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
    let count = libc::nfds_t::try_from(pollfds.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `pollfds` is a live, exclusively borrowed array of `count` initialised pollfd
    // structs; poll(2) reads and writes only within it and keeps no pointer after returning.
    let ready = unsafe { libc::poll(pollfds.as_mut_ptr(), count, -1) };
    if ready < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pollfds.iter().map(|p| p.revents != 0).collect())
}

/// Sends as much of `bufs` as the socket takes without waiting (`sendmsg` with
/// `MSG_DONTWAIT`; `MSG_NOSIGNAL`, so a closed peer is an error and not SIGPIPE).
/// `WouldBlock` when it takes nothing.
pub(crate) fn send_nonblocking(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: `msghdr` is a plain C struct for which all-zero bytes are a valid value
    // (no address, no control data).
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSlice` is documented to be ABI-compatible with `iovec` on Unix; sendmsg only
    // reads through the pointer, so the cast to `*mut` is never written through.
    message.msg_iov = bufs.as_ptr().cast::<libc::iovec>().cast_mut();
    message.msg_iovlen = bufs.len();
    // SAFETY: `message` points to `bufs.len()` valid iovecs borrowed for the call; the
    // kernel reads the described bytes and keeps no pointer; `fd` is an open socket
    // owned by the caller for the duration of the call.
    let sent = unsafe { libc::sendmsg(fd, &raw const message, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    usize::try_from(sent).map_err(|_| io::Error::last_os_error())
}

/// The write end of the pipe the handler writes to; -1 before installation.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// The write end of the watcher thread's pipe (a second signal); -1 without a watcher.
static INSIST_FD: AtomicI32 = AtomicI32::new(-1);
/// Set by the first SIGINT/SIGTERM.
static SIGNALLED: AtomicBool = AtomicBool::new(false);
/// Set by the second: a third exits from the handler itself.
static INSISTED: AtomicBool = AtomicBool::new(false);
/// What stopping is busy with, for the second signal's message.
static STOPPING: Mutex<String> = Mutex::new(String::new());

/// Says what the process is busy with while it stops (`"answering 3 requests in flight
/// on 2 connections"`, `"writing every cache back"`): a second SIGINT/SIGTERM exits at
/// once and names it as what it abandons.
pub fn set_stopping(what: impl Into<String>) {
    *STOPPING.lock().unwrap_or_else(PoisonError::into_inner) = what.into();
}

/// Whether SIGINT or SIGTERM arrived since [`ServerHandle::stop_on_signals`](crate::ServerHandle::stop_on_signals).
pub fn stop_signal_received() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

/// The first signal sets the flag and writes a byte to the wake pipe; a second one wakes
/// the watcher thread, which says what is abandoned and exits with status 130 (the user
/// insists); a third, or a second without a watcher, exits at once. Only
/// async-signal-safe calls: atomics, `write(2)`, `_exit(2)`; `errno` is restored for the
/// interrupted code.
extern "C" fn on_stop_signal(_signal: libc::c_int) {
    let second = SIGNALLED.swap(true, Ordering::SeqCst);
    let insist = INSIST_FD.load(Ordering::SeqCst);
    if second && (insist < 0 || INSISTED.swap(true, Ordering::SeqCst)) {
        // SAFETY: `_exit` is async-signal-safe and takes no pointers.
        unsafe { libc::_exit(130) }
    }
    // SAFETY: `__errno_location` returns this thread's errno slot, valid for the thread's life.
    let errno = unsafe { *libc::__errno_location() };
    let fd = if second { insist } else { WAKE_FD.load(Ordering::SeqCst) };
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is one valid local byte; `fd` is a
        // pipe end that is never closed once stored (see `install_stop_handler`). A full
        // non-blocking pipe makes it fail harmlessly: a wake-up is already pending.
        let _ = unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }
    // SAFETY: as above; restores the interrupted code's errno.
    unsafe { *libc::__errno_location() = errno };
}

/// The watcher thread: waits for the second signal, then says what stopping abandons
/// and exits with status 130.
fn start_watcher() -> io::Result<()> {
    if INSIST_FD.load(Ordering::SeqCst) >= 0 {
        return Ok(());
    }
    let (mut read, write) = UnixStream::pair()?;
    write.set_nonblocking(true)?;
    std::thread::Builder::new().name("stop-watcher".into()).spawn(move || {
        let mut byte = [0u8; 1];
        if read.read(&mut byte).is_ok_and(|n| n > 0) {
            let what = STOPPING.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let what = if what.is_empty() { "stopping".to_owned() } else { what };
            let message = format!(
                "irpstack: second signal: exiting at once (status 130), abandoning: {what}; \
                 writes acknowledged but not yet flushed may not be on disk\n"
            );
            // Straight to fd 2: another thread may hold the stderr lock (a log line
            // stuck on a full pipe) and this must not wait for it.
            // SAFETY: writes the bytes of a live String to fd 2; no pointer is kept.
            let _ = unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
            // SAFETY: `_exit` takes no pointers; the process ends here.
            unsafe { libc::_exit(130) }
        }
    })?;
    // The thread holds the read end; the write end stays open for the rest of the process.
    let fd = write.as_raw_fd();
    std::mem::forget(write);
    INSIST_FD.store(fd, Ordering::SeqCst);
    Ok(())
}

/// Installs the handler for SIGINT and SIGTERM; it will write to `wake_fd`, which the
/// caller must keep open for the rest of the process.
pub(crate) fn install_stop_handler(wake_fd: RawFd) -> io::Result<()> {
    WAKE_FD.store(wake_fd, Ordering::SeqCst);
    start_watcher()?;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `sigaction` is a plain C struct for which all-zero bytes are a valid value.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: `action.sa_mask` is a valid, exclusively borrowed sigset_t.
        unsafe { libc::sigemptyset(&raw mut action.sa_mask) };
        // SAFETY: `action` is fully initialised and outlives the call; the handler only makes
        // async-signal-safe calls; the old action is not asked for (null).
        if unsafe { libc::sigaction(signal, &raw const action, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
