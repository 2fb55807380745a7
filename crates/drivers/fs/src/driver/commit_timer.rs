//! The periodic commit (jbd2's `kjournald`): a thread that commits the journal's running
//! transaction once it is older than the commit interval, so changes nobody flushes still
//! reach the journal within about one interval. It holds the file system weakly, stops when
//! told to (the backend going away), and a failed commit is logged and recorded as a
//! failed write-back ([`WriteErrors`]: every open handle's next flush reports it; the
//! volume is aborted then, and every later change and flush fails).

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use super::failure::status_of_fs;
use super::write_errors::WriteErrors;
use crate::filesystem::Filesystem;

/// The running timer; dropping it stops the thread and waits for it.
#[derive(Debug)]
pub struct CommitTimer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl CommitTimer {
    /// Starts committing `fs` every `every` (checked twice per interval, so a transaction
    /// waits at most one and a half). `None` if the thread cannot be started (logged: the
    /// commits then happen only at flushes and when operations find the transaction old).
    pub fn start(fs: &Arc<Filesystem>, every: Duration, errors: Arc<WriteErrors>) -> Option<CommitTimer> {
        let weak: Weak<Filesystem> = Arc::downgrade(fs);
        let (stop, stopped) = mpsc::channel::<()>();
        let tick = (every / 2).max(Duration::from_millis(10));
        let spawned = std::thread::Builder::new().name("fs-commit".into()).spawn(move || {
            loop {
                match stopped.recv_timeout(tick) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                let Some(fs) = weak.upgrade() else { return };
                if let Err(e) = fs.commit_if_due() {
                    tracing::error!("periodic commit failed: {e}");
                    errors.record(status_of_fs(&e));
                }
            }
        });
        match spawned {
            Ok(thread) => Some(CommitTimer { stop: Some(stop), thread: Some(thread) }),
            Err(e) => {
                tracing::warn!("no periodic commit thread ({e}): commits at flushes only");
                None
            }
        }
    }
}

impl Drop for CommitTimer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the periodic commit thread panicked");
        }
    }
}
