//! What an open asks for (`IRP_MJ_CREATE`'s `Parameters.Create`): the disposition (what to
//! do when the name exists or does not), the options (directory or not, delete on close,
//! write through...), and what the open did (`IoStatus.Information`).

use super::Credentials;
use crate::Access;

/// What to do when the name exists and when it does not (`CreateDisposition` of
/// `NtCreateFile`, the high byte of `Parameters.Create.Options`).
///
/// | disposition | exists | does not exist |
/// |---|---|---|
/// | `Supersede` | replace it (a new file) | create |
/// | `Open` | open | `STATUS_OBJECT_NAME_NOT_FOUND` |
/// | `Create` | `STATUS_OBJECT_NAME_COLLISION` | create |
/// | `OpenIf` | open | create |
/// | `Overwrite` | truncate to 0 | `STATUS_OBJECT_NAME_NOT_FOUND` |
/// | `OverwriteIf` | truncate to 0 | create |
///
/// POSIX `open`: no flags is `Open`, `O_CREAT` is `OpenIf`, `O_CREAT|O_EXCL` is `Create`,
/// `O_TRUNC` is `Overwrite`, `O_CREAT|O_TRUNC` is `OverwriteIf`.
#[doc(alias = "FILE_OPEN")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CreateDisposition {
    /// `FILE_SUPERSEDE` (0): replace an existing file, or create.
    #[doc(alias = "FILE_SUPERSEDE")]
    Supersede = 0,
    /// `FILE_OPEN` (1): open an existing file only.
    #[default]
    Open = 1,
    /// `FILE_CREATE` (2): create a new file only.
    #[doc(alias = "FILE_CREATE")]
    Create = 2,
    /// `FILE_OPEN_IF` (3): open, or create if missing.
    #[doc(alias = "FILE_OPEN_IF")]
    OpenIf = 3,
    /// `FILE_OVERWRITE` (4): open an existing file and truncate it.
    #[doc(alias = "FILE_OVERWRITE")]
    Overwrite = 4,
    /// `FILE_OVERWRITE_IF` (5): truncate if it exists, else create.
    #[doc(alias = "FILE_OVERWRITE_IF")]
    OverwriteIf = 5,
}

impl CreateDisposition {
    /// Whether an existing file may be opened (not `Create`).
    pub fn opens_existing(self) -> bool {
        !matches!(self, CreateDisposition::Create)
    }

    /// Whether a missing file is created (`Supersede`, `Create`, `OpenIf`, `OverwriteIf`).
    pub fn creates_missing(self) -> bool {
        matches!(
            self,
            CreateDisposition::Supersede
                | CreateDisposition::Create
                | CreateDisposition::OpenIf
                | CreateDisposition::OverwriteIf
        )
    }

    /// Whether an existing file's data is replaced (`Supersede`, `Overwrite`, `OverwriteIf`).
    pub fn replaces_existing(self) -> bool {
        matches!(
            self,
            CreateDisposition::Supersede | CreateDisposition::Overwrite | CreateDisposition::OverwriteIf
        )
    }
}

/// Create options (`CreateOptions` of `NtCreateFile`, the low 24 bits of
/// `Parameters.Create.Options`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CreateOptions(u32);

impl CreateOptions {
    /// None.
    pub const NONE: CreateOptions = CreateOptions(0);
    /// `FILE_DIRECTORY_FILE`: the file must be a directory (created as one); POSIX
    /// `O_DIRECTORY`, or `mkdir` with `Create`.
    #[doc(alias = "FILE_DIRECTORY_FILE")]
    pub const DIRECTORY_FILE: CreateOptions = CreateOptions(0x0000_0001);
    /// `FILE_WRITE_THROUGH`: every write is durable when it completes (`O_SYNC`).
    #[doc(alias = "FILE_WRITE_THROUGH")]
    pub const WRITE_THROUGH: CreateOptions = CreateOptions(0x0000_0002);
    /// `FILE_NON_DIRECTORY_FILE`: the file must not be a directory.
    #[doc(alias = "FILE_NON_DIRECTORY_FILE")]
    pub const NON_DIRECTORY_FILE: CreateOptions = CreateOptions(0x0000_0040);
    /// `FILE_DELETE_ON_CLOSE`: delete the name when the last handle is closed.
    #[doc(alias = "FILE_DELETE_ON_CLOSE")]
    pub const DELETE_ON_CLOSE: CreateOptions = CreateOptions(0x0000_1000);
    /// `FILE_OPEN_BY_FILE_ID`: the path is a file id (the inode number, in decimal), not a
    /// name: the file is opened without walking a path (FUSE's `ino`-addressed requests,
    /// debugfs's `<ino>`).
    #[doc(alias = "FILE_OPEN_BY_FILE_ID")]
    pub const OPEN_BY_FILE_ID: CreateOptions = CreateOptions(0x0000_2000);
    /// `FILE_OPEN_REPARSE_POINT`: open a final symbolic link itself, not what it points to
    /// (POSIX `O_NOFOLLOW` / `O_PATH`, `lstat`).
    #[doc(alias = "FILE_OPEN_REPARSE_POINT")]
    pub const OPEN_REPARSE_POINT: CreateOptions = CreateOptions(0x0020_0000);

    /// From raw bits (the low 24 bits are kept).
    pub const fn from_bits(bits: u32) -> CreateOptions {
        CreateOptions(bits & 0x00FF_FFFF)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every option in `other` is set.
    pub const fn contains(self, other: CreateOptions) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for CreateOptions {
    type Output = CreateOptions;
    fn bitor(self, rhs: CreateOptions) -> CreateOptions {
        CreateOptions(self.0 | rhs.0)
    }
}

/// What an open did, in the completed create's `IoStatus.Information` (`FILE_OPENED`...).
#[doc(alias = "FILE_OPENED")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CreateAction {
    /// `FILE_SUPERSEDED` (0): an existing file was replaced.
    #[doc(alias = "FILE_SUPERSEDED")]
    Superseded = 0,
    /// `FILE_OPENED` (1): an existing file was opened.
    Opened = 1,
    /// `FILE_CREATED` (2): a new file was created.
    #[doc(alias = "FILE_CREATED")]
    Created = 2,
    /// `FILE_OVERWRITTEN` (3): an existing file was truncated.
    #[doc(alias = "FILE_OVERWRITTEN")]
    Overwritten = 3,
}

impl CreateAction {
    /// The action an `IoStatus.Information` value names.
    pub fn from_information(information: u64) -> Option<CreateAction> {
        Some(match information {
            0 => CreateAction::Superseded,
            1 => CreateAction::Opened,
            2 => CreateAction::Created,
            3 => CreateAction::Overwritten,
            _ => return None,
        })
    }
}

/// An open as a caller asks for it ([`IoManager::create`](crate::IoManager::create), NT's
/// `NtCreateFile` arguments): the path within the volume, the desired access, the
/// disposition and options, the permission bits of a file it creates, and who asks.
///
/// The I/O manager puts the path and the credentials in the new
/// [`FileObject`](crate::FileObject) (NT's `FileObject->FileName` and the security context)
/// and the rest in `Parameters::Create`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    /// The path within the volume, `/`-separated (empty: the volume itself).
    pub path: String,
    /// The desired access.
    pub access: Access,
    /// What to do when the name exists or does not.
    pub disposition: CreateDisposition,
    /// Create options.
    pub options: CreateOptions,
    /// Permission bits (`0o7777` at most) of a file the open creates, umask already applied
    /// (POSIX `open`'s `mode`; NT's `FileAttributes` have no such bits).
    pub mode: u32,
    /// Who asks: the owner of a file it creates and whose permissions are checked.
    pub credentials: Credentials,
}

impl CreateRequest {
    /// Opens the existing `path` with `access` (`FILE_OPEN`), as the calling process.
    pub fn open(path: impl Into<String>, access: Access) -> CreateRequest {
        CreateRequest {
            path: path.into(),
            access,
            disposition: CreateDisposition::Open,
            options: CreateOptions::NONE,
            mode: 0o644,
            credentials: Credentials::current(),
        }
    }

    /// With `disposition`.
    pub fn disposition(mut self, disposition: CreateDisposition) -> CreateRequest {
        self.disposition = disposition;
        self
    }

    /// With `options`.
    pub fn options(mut self, options: CreateOptions) -> CreateRequest {
        self.options = options;
        self
    }

    /// With the permission bits `mode` for a file it creates.
    pub fn mode(mut self, mode: u32) -> CreateRequest {
        self.mode = mode;
        self
    }

    /// As `credentials`.
    pub fn credentials(mut self, credentials: Credentials) -> CreateRequest {
        self.credentials = credentials;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_follow_the_nt_table() {
        use CreateDisposition as D;
        let all = [D::Supersede, D::Open, D::Create, D::OpenIf, D::Overwrite, D::OverwriteIf];
        let opens: Vec<bool> = all.iter().map(|d| d.opens_existing()).collect();
        let creates: Vec<bool> = all.iter().map(|d| d.creates_missing()).collect();
        let replaces: Vec<bool> = all.iter().map(|d| d.replaces_existing()).collect();
        assert_eq!(opens, [true, true, false, true, true, true]);
        assert_eq!(creates, [true, false, true, true, false, true]);
        assert_eq!(replaces, [true, false, false, false, true, true]);
        assert_eq!(CreateAction::from_information(1), Some(CreateAction::Opened));
        assert_eq!(CreateAction::from_information(9), None);
        assert_eq!(CreateOptions::from_bits(0xFF00_0001), CreateOptions::DIRECTORY_FILE);
    }
}
