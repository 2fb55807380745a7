//! `IRP_MJ_QUERY_VOLUME_INFORMATION`: what a mounted volume reports about itself.

use super::codec::{DecodeError, Decoder, Encoder, Kind};

/// The classes of a volume query (`FS_INFORMATION_CLASS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VolumeInformationClass {
    /// irpstack's statfs class: sizes, counts, limits (NT's `FileFsFullSizeInformation` and
    /// `FileFsAttributeInformation` together).
    #[doc(alias = "FileFsFullSizeInformation")]
    #[doc(alias = "statfs")]
    Stat,
}

/// What `statfs` reports, and whether the volume is mounted read-only.
#[doc(alias = "FILE_FS_FULL_SIZE_INFORMATION")]
#[doc(alias = "statvfs")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeStat {
    /// The file-system name (`ext4`; NT's `FileSystemName`).
    pub fs_name: String,
    /// Block size in bytes (`f_bsize`).
    pub block_size: u32,
    /// Blocks in the volume (`f_blocks`).
    pub blocks: u64,
    /// Free blocks (`f_bfree`).
    pub blocks_free: u64,
    /// Free blocks unprivileged users may use (`f_bavail`: free minus reserved).
    pub blocks_available: u64,
    /// Inodes (`f_files`).
    pub files: u64,
    /// Free inodes (`f_ffree`).
    pub files_free: u64,
    /// Longest name (`f_namemax`; NT's `MaximumComponentNameLength`).
    pub name_max: u32,
    /// Mounted read-only (`ST_RDONLY`; NT's `FILE_READ_ONLY_VOLUME`).
    pub read_only: bool,
}

impl VolumeStat {
    /// The system-buffer encoding.
    pub fn encode(&self) -> Vec<u8> {
        Encoder::new(Kind::VolumeStat)
            .bytes(self.fs_name.as_bytes())
            .u32(self.block_size)
            .u64(self.blocks)
            .u64(self.blocks_free)
            .u64(self.blocks_available)
            .u64(self.files)
            .u64(self.files_free)
            .u32(self.name_max)
            .bool(self.read_only)
            .finish()
    }

    /// Decodes one from a system buffer.
    pub fn decode(buf: &[u8]) -> Result<VolumeStat, DecodeError> {
        let mut d = Decoder::new(buf, Kind::VolumeStat)?;
        let name = d.bytes()?;
        let fs_name = String::from_utf8(name).map_err(|e| DecodeError::Invalid {
            field: "fs name",
            value: e.utf8_error().valid_up_to() as u64,
        })?;
        let s = VolumeStat {
            fs_name,
            block_size: d.u32()?,
            blocks: d.u64()?,
            blocks_free: d.u64()?,
            blocks_available: d.u64()?,
            files: d.u64()?,
            files_free: d.u64()?,
            name_max: d.u32()?,
            read_only: d.bool()?,
        };
        d.finish()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_stat_round_trips() {
        let s = VolumeStat {
            fs_name: "ext4".into(),
            block_size: 4096,
            blocks: 100,
            blocks_free: 50,
            blocks_available: 45,
            files: 64,
            files_free: 50,
            name_max: 255,
            read_only: true,
        };
        assert_eq!(VolumeStat::decode(&s.encode()).unwrap(), s);
    }
}
