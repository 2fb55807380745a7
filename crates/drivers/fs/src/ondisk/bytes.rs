//! Little-endian field access that cannot panic: a read past the end yields 0 and a write
//! past the end is dropped. Decoders check the buffer length first (see
//! [`super::error::need`]), so those fallbacks never change a result; they only keep hostile
//! offsets from turning into panics.

/// The `N` bytes at `off`, or zeros past the end.
pub(crate) fn array<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(s) = off.checked_add(N).and_then(|end| b.get(off..end)) {
        out.copy_from_slice(s);
    }
    out
}

/// The byte at `off` (0 past the end).
pub(crate) fn u8_at(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

/// The little-endian u16 at `off`.
pub(crate) fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(array(b, off))
}

/// The little-endian u32 at `off`.
pub(crate) fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(array(b, off))
}

/// The little-endian u64 at `off`.
pub(crate) fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(array(b, off))
}

/// Copies `src` to `off` (dropped if it does not fit).
pub(crate) fn put(b: &mut [u8], off: usize, src: &[u8]) {
    if let Some(d) = off.checked_add(src.len()).and_then(|end| b.get_mut(off..end)) {
        d.copy_from_slice(src);
    }
}

/// Stores a byte at `off`.
pub(crate) fn put_u8(b: &mut [u8], off: usize, v: u8) {
    put(b, off, &[v]);
}

/// Stores a little-endian u16 at `off`.
pub(crate) fn put_u16(b: &mut [u8], off: usize, v: u16) {
    put(b, off, &v.to_le_bytes());
}

/// Stores a little-endian u32 at `off`.
pub(crate) fn put_u32(b: &mut [u8], off: usize, v: u32) {
    put(b, off, &v.to_le_bytes());
}

/// Stores a little-endian u64 at `off`.
pub(crate) fn put_u64(b: &mut [u8], off: usize, v: u64) {
    put(b, off, &v.to_le_bytes());
}

/// `b[range]`, or an empty slice when the range does not fit.
pub(crate) fn slice(b: &[u8], off: usize, len: usize) -> &[u8] {
    off.checked_add(len).and_then(|end| b.get(off..end)).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_little_endian_and_never_panics_out_of_range() {
        let mut b = [0u8; 8];
        put_u32(&mut b, 0, 0x0403_0201);
        put_u16(&mut b, 4, 0x0605);
        assert_eq!(b[..6], [1, 2, 3, 4, 5, 6]);
        assert_eq!(u32_at(&b, 0), 0x0403_0201);
        assert_eq!(u16_at(&b, 4), 0x0605);
        assert_eq!(u64_at(&b, 4), 0);
        assert_eq!(u32_at(&b, usize::MAX), 0);
        put_u64(&mut b, 1, 7); // does not fit: dropped
        put_u32(&mut b, usize::MAX - 1, 7);
        assert_eq!(u8_at(&b, 0), 1);
        assert!(slice(&b, 6, 3).is_empty());
        assert_eq!(slice(&b, 6, 2), &[0, 0]);
    }
}
