//! Sector contents that say which operation wrote them, so the oracle can tell a
//! sector's value apart from every other: an 8-byte op id, the 8-byte sector number,
//! then a fill byte derived from both. All zeroes is the initial value (and what a
//! discard or write-zeroes leaves).

/// What a sector holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// All zeroes: never written, discarded, or zeroed.
    Zero,
    /// Written by the operation with this id.
    Op(u64),
    /// Anything else: a torn sector or foreign data.
    Garbage,
}

fn fill(op: u64, sector: u64) -> u8 {
    (op.wrapping_mul(31).wrapping_add(sector.wrapping_mul(7)) % 251) as u8 + 1
}

/// Fills `buf` (one sector) with the pattern of `op` at `sector`. Op ids start at 1.
pub fn encode(buf: &mut [u8], op: u64, sector: u64) {
    buf.fill(fill(op, sector));
    buf[..8].copy_from_slice(&op.to_le_bytes());
    buf[8..16].copy_from_slice(&sector.to_le_bytes());
}

/// Reads back what `buf` (one sector at `sector`) holds.
pub fn decode(buf: &[u8], sector: u64) -> Found {
    if buf.iter().all(|&b| b == 0) {
        return Found::Zero;
    }
    let op = u64::from_le_bytes(buf[..8].try_into().expect("sector of at least 16 bytes"));
    let at = u64::from_le_bytes(buf[8..16].try_into().expect("sector of at least 16 bytes"));
    let f = fill(op, sector);
    if op == 0 || at != sector || buf[16..].iter().any(|&b| b != f) {
        return Found::Garbage;
    }
    Found::Op(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let mut s = vec![0u8; 512];
        assert_eq!(decode(&s, 3), Found::Zero);
        encode(&mut s, 42, 3);
        assert_eq!(decode(&s, 3), Found::Op(42));
        assert_eq!(decode(&s, 4), Found::Garbage, "right op, wrong place");
        s[100] ^= 1;
        assert_eq!(decode(&s, 3), Found::Garbage);
    }
}
