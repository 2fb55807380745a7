//! Device names by id, for diagnostics of IRPs that outlived their device (the verifier
//! names the device a violation happened in).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

fn names() -> &'static Mutex<HashMap<u32, String>> {
    static NAMES: OnceLock<Mutex<HashMap<u32, String>>> = OnceLock::new();
    NAMES.get_or_init(Default::default)
}

/// The name of a device by id (for diagnostics of IRPs that outlived their device).
pub(crate) fn name_of(id: u32) -> String {
    names()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&id)
        .cloned()
        .unwrap_or_else(|| format!("device#{id}"))
}

/// Records the name of a new device.
pub(crate) fn insert(id: u32, name: &str) {
    names().lock().unwrap_or_else(PoisonError::into_inner).insert(id, name.to_owned());
}

/// Forgets a dropped device.
pub(crate) fn remove(id: u32) {
    names().lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
}
