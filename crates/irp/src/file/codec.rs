//! The encoding of results in an IRP's system buffer (`Irp->AssociatedIrp.SystemBuffer`).
//!
//! Every result a file system writes there starts with a two-byte header: the encoding
//! version ([`ENCODING_VERSION`]) and a kind byte naming what follows (a [`Kind`]). Fields
//! follow in declaration order, little-endian and fixed-size; byte strings (names, link
//! targets, xattr values) are a `u32` length then the bytes; a [`FileTime`]
//! is an `i64` of seconds then a `u32` of nanoseconds; a `bool` is one byte, 0 or 1. A decoder
//! refuses another version, another kind, a truncated buffer or bytes left over, so a caller
//! never reads a result as something it is not.

use super::FileTime;

/// The version of the system-buffer encoding this crate writes and reads.
pub const ENCODING_VERSION: u8 = 1;

/// What a system buffer holds: the second header byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// [`FileBasicInformation`](super::FileBasicInformation).
    Basic = 1,
    /// [`FileStandardInformation`](super::FileStandardInformation).
    Standard = 2,
    /// [`FileStatInformation`](super::FileStatInformation).
    Stat = 3,
    /// A batch of [`DirectoryEntry`](super::DirectoryEntry)s.
    DirectoryEntries = 4,
    /// An [`FsControlOutput`](super::FsControlOutput).
    FsControl = 5,
    /// A [`VolumeStat`](super::VolumeStat).
    VolumeStat = 6,
}

/// A system buffer that does not hold what the caller expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The buffer ends before the result does.
    #[error("the result is truncated: {needed} bytes needed at offset {offset}, {len} in the buffer")]
    Truncated {
        /// Where the field starts.
        offset: usize,
        /// Its size.
        needed: usize,
        /// The buffer's length.
        len: usize,
    },
    /// Another encoding version.
    #[error("encoding version {found}, this build reads version {ENCODING_VERSION}")]
    Version {
        /// The version in the buffer.
        found: u8,
    },
    /// Another kind of result.
    #[error("the buffer holds result kind {found}, expected {expected:?}")]
    Kind {
        /// The kind byte found.
        found: u8,
        /// The kind asked for.
        expected: Kind,
    },
    /// A field with a value outside its range.
    #[error("invalid {field}: {value}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// Bytes after the end of the result.
    #[error("{0} bytes after the end of the result")]
    TrailingBytes(usize),
}

/// Writes a result: the header, then fields.
#[derive(Debug)]
pub(crate) struct Encoder(Vec<u8>);

impl Encoder {
    pub(crate) fn new(kind: Kind) -> Encoder {
        Encoder(vec![ENCODING_VERSION, kind as u8])
    }

    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }

    pub(crate) fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn time(&mut self, t: FileTime) -> &mut Self {
        self.0.extend_from_slice(&t.secs.to_le_bytes());
        self.u32(t.nanos)
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(&b[..b.len().min(u32::MAX as usize)]);
        self
    }

    pub(crate) fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

/// Reads a result: checks the header, then fields in order.
#[derive(Debug)]
pub(crate) struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(buf: &'a [u8], expected: Kind) -> Result<Decoder<'a>, DecodeError> {
        let mut d = Decoder { buf, pos: 0 };
        let version = d.u8()?;
        if version != ENCODING_VERSION {
            return Err(DecodeError::Version { found: version });
        }
        let kind = d.u8()?;
        if kind != expected as u8 {
            return Err(DecodeError::Kind { found: kind, expected });
        }
        Ok(d)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(DecodeError::Truncated {
            offset: self.pos,
            needed: n,
            len: self.buf.len(),
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(DecodeError::Invalid { field: "bool", value: v.into() }),
        }
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn time(&mut self) -> Result<FileTime, DecodeError> {
        let secs = self.u64()? as i64;
        let nanos = self.u32()?;
        if nanos >= 1_000_000_000 {
            return Err(DecodeError::Invalid { field: "nanoseconds", value: nanos.into() });
        }
        Ok(FileTime { secs, nanos })
    }

    pub(crate) fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }

    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_version_kind_and_trailing_bytes_are_checked() {
        let mut e = Encoder::new(Kind::Stat);
        let buf = e.u32(7).bytes(b"abc").time(FileTime { secs: -5, nanos: 9 }).finish();
        let mut d = Decoder::new(&buf, Kind::Stat).unwrap();
        assert_eq!(d.u32().unwrap(), 7);
        assert_eq!(d.bytes().unwrap(), b"abc");
        assert_eq!(d.time().unwrap(), FileTime { secs: -5, nanos: 9 });
        d.finish().unwrap();

        assert_eq!(
            Decoder::new(&buf, Kind::Basic).unwrap_err(),
            DecodeError::Kind { found: 3, expected: Kind::Basic }
        );
        let mut other = buf.clone();
        other[0] = 9;
        assert_eq!(Decoder::new(&other, Kind::Stat).unwrap_err(), DecodeError::Version { found: 9 });
        let mut d = Decoder::new(&buf[..buf.len() - 1], Kind::Stat).unwrap();
        d.u32().unwrap();
        d.bytes().unwrap();
        assert!(matches!(d.time(), Err(DecodeError::Truncated { .. })));
        let mut long = buf.clone();
        long.push(0);
        let mut d = Decoder::new(&long, Kind::Stat).unwrap();
        d.u32().unwrap();
        d.bytes().unwrap();
        d.time().unwrap();
        assert_eq!(d.finish(), Err(DecodeError::TrailingBytes(1)));
    }
}
