//! The circular log: journal blocks `first..maxlen`, wrapping from the end back to `first`.

/// Geometry of the circular log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ring {
    /// First log block (`s_first`).
    pub first: u32,
    /// One past the last log block (`s_maxlen`).
    pub maxlen: u32,
}

impl Ring {
    /// Blocks in the log. `first < maxlen` is checked when the superblock is validated.
    pub fn len(&self) -> u32 {
        self.maxlen.saturating_sub(self.first)
    }

    /// Whether the log has no blocks.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The block `n` places after `pos` (`pos` within the log), wrapping around.
    pub fn advance(&self, pos: u32, n: u64) -> u32 {
        let len = u64::from(self.len().max(1));
        let rel = u64::from(pos.saturating_sub(self.first)) + n % len;
        // rel < 2 * len <= 2^33, and the result fits in u32 because it is below maxlen.
        (u64::from(self.first) + rel % len) as u32
    }
}

/// `a` is a later transaction id than `b`, with wrap-around (jbd2's tid comparison).
pub fn tid_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_with_wrap_around() {
        let r = Ring { first: 1, maxlen: 5 };
        assert_eq!(r.len(), 4);
        assert_eq!(r.advance(1, 1), 2);
        assert_eq!(r.advance(4, 1), 1);
        assert_eq!(r.advance(3, 6), 1);
        assert_eq!(r.advance(2, u64::MAX), r.advance(2, u64::MAX % 4));
    }

    #[test]
    fn tids_compare_across_the_wrap() {
        assert!(tid_gt(2, 1));
        assert!(!tid_gt(1, 1));
        assert!(tid_gt(0, u32::MAX));
        assert!(!tid_gt(u32::MAX, 0));
    }
}
