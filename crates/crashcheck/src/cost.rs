//! What checking crash states costs, counted rather than timed, so that a test can
//! show it follows what changed and not the disk's size.

/// Bytes the checker handled while building and checking crash states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Bytes of sectors put into the durable image and into crash states' layers (each
    /// kept write's sectors): shared with the recorded writes, not copied, except what
    /// `copied` counts.
    pub layered: u64,
    /// Bytes copied into image buffers (sectors a write covered only partly).
    pub copied: u64,
    /// Bytes read to check them: sectors decoded for the oracle, and what was read back
    /// through restarted stacks.
    pub compared: u64,
}

impl Cost {
    /// All of it.
    pub fn total(&self) -> u64 {
        self.layered + self.copied + self.compared
    }

    /// Bytes per crash state, over `states` states.
    pub fn per_state(&self, states: usize) -> f64 {
        self.total() as f64 / states.max(1) as f64
    }
}
