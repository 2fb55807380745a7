//! Crashes ordered from outside the process: a control file or SIGUSR1.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Once, Weak};
use std::time::Duration;

use super::{CrashDisk, CrashPlan};

/// How often the control file and the signal flag are looked at.
const POLL: Duration = Duration::from_millis(20);

static SIGUSR1_SEEN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigusr1(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    SIGUSR1_SEEN.store(true, Ordering::SeqCst);
}

fn install_sigusr1() -> std::io::Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        // SAFETY: `sigaction` is given a zeroed, then filled, struct that lives across
        // the call; the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigusr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()) != 0 {
                result = Err(std::io::Error::last_os_error());
            }
        }
    });
    result
}

/// Watches for an outside crash order.
#[derive(Debug)]
pub(super) struct Trigger {
    control_file: Option<PathBuf>,
    sigusr1: bool,
}

impl Trigger {
    pub(super) fn new(control_file: Option<PathBuf>, sigusr1: bool) -> Option<Trigger> {
        (control_file.is_some() || sigusr1).then_some(Trigger { control_file, sigusr1 })
    }

    /// Starts the watcher thread; it ends when the disk is dropped or has crashed.
    pub(super) fn start(&self, disk: Weak<CrashDisk>) {
        if self.sigusr1
            && let Err(e) = install_sigusr1()
        {
            tracing::error!("crash disk: cannot install the SIGUSR1 handler: {e}");
        }
        let control = self.control_file.clone();
        let sigusr1 = self.sigusr1;
        let spawned = std::thread::Builder::new().name("crash-trigger".into()).spawn(move || {
            loop {
                std::thread::sleep(POLL);
                let Some(disk) = disk.upgrade() else { return };
                if disk.crashed().is_some() {
                    return;
                }
                let plan = if sigusr1 && SIGUSR1_SEEN.swap(false, Ordering::SeqCst) {
                    Some(CrashPlan::LoseAll)
                } else {
                    control.as_ref().and_then(read_order)
                };
                if let Some(plan) = plan {
                    if let Err(e) = disk.crash_image(&plan) {
                        tracing::error!("crash disk: applying an ordered crash failed: {e}");
                    }
                    return;
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("crash disk: cannot start the crash trigger thread: {e}");
        }
    }
}

/// Reads a crash order from the control file, if it exists. An unreadable order is
/// logged and treated as `lose-all`: the file's presence is the order.
fn read_order(path: &PathBuf) -> Option<CrashPlan> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(CrashPlan::parse(&text).unwrap_or_else(|| {
        tracing::warn!(path = %path.display(), text = text.trim(), "crash disk: unknown crash order, using lose-all");
        CrashPlan::LoseAll
    }))
}
