//! Big-endian reading and writing helpers shared by the message modules.
//!
//! NBD is big-endian ("network byte order") throughout, so `to_be_bytes` /
//! `from_be_bytes` are the whole story here.

use crate::ProtocolError;
use crate::consts::MAX_STRING_LEN;

/// A cursor over input bytes; every read is bounds-checked and fails with
/// [`ProtocolError::TooShort`] instead of panicking.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    total: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { rest: data, total: data.len() }
    }

    fn short(&self, want: usize) -> ProtocolError {
        let consumed = self.total - self.rest.len();
        ProtocolError::TooShort { needed: consumed.saturating_add(want), got: self.total }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let Some((head, tail)) = self.rest.split_first_chunk::<N>() else {
            return Err(self.short(N));
        };
        self.rest = tail;
        Ok(*head)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if n > self.rest.len() {
            return Err(self.short(n));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, ProtocolError> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ProtocolError> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, ProtocolError> {
        self.array().map(u64::from_be_bytes)
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }
}

/// Appends big-endian integers and byte strings to a message.
pub(crate) trait Put {
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
}

impl Put for Vec<u8> {
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
}

/// A length as the `u32` of a length field, or [`ProtocolError::TooLong`].
pub(crate) fn len_u32(what: &'static str, length: usize) -> Result<u32, ProtocolError> {
    u32::try_from(length).map_err(|_| ProtocolError::TooLong { what, length })
}

/// Checks a string against the spec's rules: at most [`MAX_STRING_LEN`] bytes, no NUL.
pub(crate) fn check_str(s: &str) -> Result<(), ProtocolError> {
    if s.len() > MAX_STRING_LEN {
        return Err(ProtocolError::InvalidString("longer than 4096 bytes"));
    }
    if s.contains('\0') {
        return Err(ProtocolError::InvalidString("contains NUL"));
    }
    Ok(())
}

/// Decodes a string from the wire strictly: UTF-8, at most [`MAX_STRING_LEN`] bytes, no NUL.
pub(crate) fn decode_str(bytes: &[u8]) -> Result<String, ProtocolError> {
    let s = std::str::from_utf8(bytes).map_err(|_| ProtocolError::InvalidString("not UTF-8"))?;
    check_str(s)?;
    Ok(s.to_owned())
}

/// Decodes a human-readable message leniently (invalid UTF-8 is replaced, any length).
pub(crate) fn decode_message(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Cuts a message to at most [`MAX_STRING_LEN`] bytes on a character boundary and drops
/// NUL characters, so that it is a valid protocol string.
pub(crate) fn clean_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_STRING_LEN));
    for c in message.chars().filter(|&c| c != '\0') {
        if out.len() + c.len_utf8() > MAX_STRING_LEN {
            break;
        }
        out.push(c);
    }
    out
}
