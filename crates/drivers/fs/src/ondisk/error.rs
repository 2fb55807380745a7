//! What a decoder says about bytes it could not accept: the structure, what is wrong with
//! it, and (added by the caller, who knows it) where it was found.

use std::fmt;

/// What is wrong with a structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Corruption {
    /// The buffer is shorter than the structure (or than a length field says).
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A magic number is wrong.
    BadMagic {
        /// The value found.
        found: u32,
        /// The value the format requires.
        expected: u32,
    },
    /// A stored checksum does not match the one computed over the bytes.
    BadChecksum {
        /// The checksum stored on disk.
        stored: u32,
        /// The checksum computed from the data.
        computed: u32,
    },
    /// A field holds a value the format does not allow.
    Invalid(String),
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::Truncated { need, have } => {
                write!(f, "{need} bytes needed, only {have} available")
            }
            Corruption::BadMagic { found, expected } => {
                write!(f, "magic {found:#x}, expected {expected:#x}")
            }
            Corruption::BadChecksum { stored, computed } => {
                write!(f, "checksum {stored:#010x} stored, {computed:#010x} computed")
            }
            Corruption::Invalid(why) => f.write_str(why),
        }
    }
}

/// A structure that failed to decode: `"{location}: {what}: {corruption}"`, e.g.
/// `inode 12: extent header: magic 0x1234, expected 0xf30a`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FormatError {
    /// Where the structure was (filled in by callers through [`FormatError::at`]); empty
    /// when the decoder was handed a bare buffer.
    pub location: String,
    /// The structure ("superblock", "extent header", ...).
    pub what: &'static str,
    /// What is wrong with it.
    pub corruption: Corruption,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.location.is_empty() {
            write!(f, "{}: ", self.location)?;
        }
        write!(f, "{}: {}", self.what, self.corruption)
    }
}

impl FormatError {
    /// A new error about `what`, with no location yet.
    pub fn new(what: &'static str, corruption: Corruption) -> FormatError {
        FormatError { location: String::new(), what, corruption }
    }

    /// An [`Corruption::Invalid`] error.
    pub fn invalid(what: &'static str, why: impl Into<String>) -> FormatError {
        FormatError::new(what, Corruption::Invalid(why.into()))
    }

    /// Prefixes the location with `outer` ("inode 12", "block 3456"), outermost first.
    #[must_use]
    pub fn at(mut self, outer: impl fmt::Display) -> FormatError {
        self.location =
            if self.location.is_empty() { outer.to_string() } else { format!("{outer}: {}", self.location) };
        self
    }
}

/// Decoders' result.
pub type Result<T> = std::result::Result<T, FormatError>;

/// Fails with [`Corruption::Truncated`] unless `buf` holds at least `need` bytes.
pub(crate) fn need(what: &'static str, buf: &[u8], need: usize) -> Result<()> {
    if buf.len() < need {
        return Err(FormatError::new(what, Corruption::Truncated { need, have: buf.len() }));
    }
    Ok(())
}

/// Fails with [`Corruption::BadChecksum`] unless `stored == computed`.
pub(crate) fn check_csum(what: &'static str, stored: u32, computed: u32) -> Result<()> {
    if stored != computed {
        return Err(FormatError::new(what, Corruption::BadChecksum { stored, computed }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_location_structure_and_fault() {
        let e = FormatError::new("extent header", Corruption::BadMagic { found: 0x1234, expected: 0xf30a })
            .at("extent block 77")
            .at("inode 12");
        assert_eq!(e.to_string(), "inode 12: extent block 77: extent header: magic 0x1234, expected 0xf30a");
        let bare = FormatError::invalid("superblock", "block size 2^40");
        assert_eq!(bare.to_string(), "superblock: block size 2^40");
    }
}
