//! Big-endian field access for the jbd2 structures (all of jbd2 is big-endian, unlike ext4).
//!
//! Reads are bounds-checked and return `None` past the end, so decoders turn a short buffer
//! into a typed error instead of panicking.

/// The big-endian u32 at `off`, if `buf` holds it.
pub(crate) fn be32(buf: &[u8], off: usize) -> Option<u32> {
    let bytes = buf.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// The big-endian u64 at `off`, if `buf` holds it.
pub(crate) fn be64(buf: &[u8], off: usize) -> Option<u64> {
    let bytes = buf.get(off..off.checked_add(8)?)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Stores `v` big-endian at `off`. Encoders size their buffers first; an out-of-range store
/// is a bug in this crate, so it panics with the offset.
pub(crate) fn put_be32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

/// Stores `v` big-endian at `off` (see [`put_be32`]).
pub(crate) fn put_be64(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked() {
        let mut b = [0u8; 12];
        put_be32(&mut b, 0, 0xC03B_3998);
        put_be64(&mut b, 4, 0x0102_0304_0506_0708);
        assert_eq!(be32(&b, 0), Some(0xC03B_3998));
        assert_eq!(be64(&b, 4), Some(0x0102_0304_0506_0708));
        assert_eq!(be32(&b, 9), None);
        assert_eq!(be64(&b, 5), None);
        assert_eq!(be32(&b, usize::MAX - 1), None);
    }
}
