//! Bit searches over bitmap blocks (bit 0 is the low bit of byte 0), a word at a time.

/// Bit `i` is set.
pub(crate) fn test(map: &[u8], i: usize) -> bool {
    map.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

/// Sets bit `i`.
pub(crate) fn set(map: &mut [u8], i: usize) {
    if let Some(b) = map.get_mut(i / 8) {
        *b |= 1 << (i % 8);
    }
}

/// Clears bit `i`.
pub(crate) fn clear(map: &mut [u8], i: usize) {
    if let Some(b) = map.get_mut(i / 8) {
        *b &= !(1 << (i % 8));
    }
}

/// The first clear bit in `from..to`, if any.
pub(crate) fn find_zero(map: &[u8], from: usize, to: usize) -> Option<usize> {
    let to = to.min(map.len() * 8);
    let mut i = from;
    while i < to {
        if i.is_multiple_of(64) && i + 64 <= to {
            let w = u64::from_le_bytes(map[i / 8..i / 8 + 8].try_into().unwrap_or([0xFF; 8]));
            if w == u64::MAX {
                i += 64;
                continue;
            }
            return Some(i + w.trailing_ones() as usize);
        }
        if !test(map, i) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// How many clear bits follow from `from` (up to `max`, not past `to`).
pub(crate) fn zero_run(map: &[u8], from: usize, to: usize, max: usize) -> usize {
    let end = to.min(from.saturating_add(max));
    let mut i = from;
    while i < end && !test(map, i) {
        i += 1;
    }
    i - from
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn find_zero_agrees_with_a_bit_by_bit_scan(map in proptest::collection::vec(any::<u8>(), 0..40),
                                                  from in 0usize..400, len in 0usize..400) {
            let to = from + len;
            let slow = (from..to.min(map.len() * 8)).find(|&i| !test(&map, i));
            prop_assert_eq!(find_zero(&map, from, to), slow);
        }
    }

    #[test]
    fn runs_stop_at_set_bits_and_limits() {
        let mut m = vec![0u8; 8];
        set(&mut m, 10);
        assert_eq!(zero_run(&m, 3, 64, 100), 7);
        assert_eq!(zero_run(&m, 11, 20, 100), 9);
        assert_eq!(zero_run(&m, 11, 64, 5), 5);
        clear(&mut m, 10);
        assert_eq!(zero_run(&m, 3, 64, 100), 61);
    }
}
