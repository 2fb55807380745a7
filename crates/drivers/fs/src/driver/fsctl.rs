//! `IRP_MJ_FILE_SYSTEM_CONTROL` (fastfat's `fsctrl.c`): irpstack's controls
//! ([`FsControl`]). Reading ones are answered from the volume: a link's target, the xattr
//! names and values (`user.` ones need read permission, `trusted.` ones root, as Linux),
//! SEEK_DATA / SEEK_HOLE from the block map (unwritten extents count as holes, as ext4
//! reports them without cached pages). Modifying ones (symlink, mknod, set/remove xattr,
//! fallocate) are in `fsctl_change.rs`; they complete with `STATUS_MEDIA_WRITE_PROTECTED` on
//! a read-only mount.

use irp::file::{FsControl, FsControlOutput, SeekWhence};
use irp::{Access, FileObject, Irp, Parameters, Status};

use super::access::{Want, permitted};
use super::ccb::Ccb;
use super::fcb::Fcb;
use super::{Failure, Vcb, file_object, finish};
use crate::volume::Mapping;

pub(crate) fn dispatch(vcb: &Vcb, mut irp: Irp) -> Status {
    let file = file_object(&irp);
    let Some((file, ccb)) = file.as_deref().and_then(|f| Some((f, f.context::<Ccb>()?))) else {
        return finish(
            vcb,
            irp,
            Err(Failure::new(Status::INVALID_PARAMETER, "a file-system control without an open")),
        );
    };
    let Parameters::FsControl(control) = irp.parameters().clone() else {
        return finish(
            vcb,
            irp,
            Err(Failure::new(Status::INVALID_PARAMETER, "a file-system control without parameters")),
        );
    };
    let result = control_of(vcb, file, ccb, &control).map(|out| {
        *irp.system_buffer_mut() = out.encode();
        0
    });
    finish(vcb, irp, result)
}

fn control_of(
    vcb: &Vcb,
    file: &FileObject,
    ccb: &Ccb,
    control: &FsControl,
) -> Result<FsControlOutput, Failure> {
    let Some(fcb) = ccb.fcb() else {
        return Err(Failure::new(Status::INVALID_PARAMETER, format!("{control:?} of the volume")));
    };
    let inode = vcb.inode_of(fcb)?;
    let ino = fcb.ino();
    match control {
        FsControl::ReadLink => {
            if !inode.is_symlink() {
                return Err(Failure::new(Status::NOT_A_REPARSE_POINT, format!("readlink of inode {ino}")));
            }
            Ok(FsControlOutput::Bytes(vcb.backend().read_link(ino, &inode)?))
        }
        FsControl::ListXattrs => {
            let names = vcb
                .backend()
                .xattrs(ino, &inode)?
                .into_iter()
                .map(|(name, _)| name)
                .filter(|name| visible(file, name))
                .collect();
            Ok(FsControlOutput::Names(names))
        }
        FsControl::GetXattr { name } => {
            if name.starts_with(b"user.") && !permitted(&inode, file.credentials(), Want::of(Access::READ)) {
                return Err(Failure::new(Status::ACCESS_DENIED, format!("reading xattrs of inode {ino}")));
            }
            if !visible(file, name) {
                return Err(Failure::new(
                    Status::NONEXISTENT_EA_ENTRY,
                    "a trusted xattr for a non-root caller",
                ));
            }
            let value =
                vcb.backend().xattrs(ino, &inode)?.into_iter().find(|(n, _)| n == name).map(|(_, v)| v);
            value.map(FsControlOutput::Bytes).ok_or_else(|| {
                Failure::new(
                    Status::NONEXISTENT_EA_ENTRY,
                    format!("inode {ino} has no {:?}", String::from_utf8_lossy(name)),
                )
            })
        }
        FsControl::Seek { offset, whence } => seek(vcb, fcb, *offset, *whence).map(FsControlOutput::Offset),
        FsControl::CreateSymlink { .. } | FsControl::MakeNode { .. } if !inode.is_dir() => {
            Err(Failure::new(Status::NOT_A_DIRECTORY, format!("{control:?} in inode {ino}")))
        }
        FsControl::Allocate { .. } if !ccb.access.can_write() => {
            Err(Failure::new(Status::ACCESS_DENIED, "fallocate without write access"))
        }
        other => {
            let m = vcb.mutations(&format!("{} of inode {ino}", name_of(other)))?;
            super::fsctl_change::control(vcb, m, file, ccb, fcb, &inode, other)?;
            Ok(FsControlOutput::None)
        }
    }
}

pub(crate) fn name_of(c: &FsControl) -> &'static str {
    match c {
        FsControl::CreateSymlink { .. } => "symlink",
        FsControl::MakeNode { .. } => "mknod",
        FsControl::SetXattr { .. } => "setxattr",
        FsControl::RemoveXattr { .. } => "removexattr",
        FsControl::Allocate { .. } => "fallocate",
        _ => "file-system control",
    }
}

/// `trusted.` attributes exist only for root (Linux hides them from others).
fn visible(file: &FileObject, name: &[u8]) -> bool {
    !name.starts_with(b"trusted.") || file.credentials().is_root()
}

/// `lseek(SEEK_DATA | SEEK_HOLE)` over the block map.
fn seek(vcb: &Vcb, fcb: &Fcb, offset: u64, whence: SeekWhence) -> Result<u64, Failure> {
    let inode = vcb.inode_of(fcb)?;
    let ino = fcb.ino();
    if inode.is_dir() {
        return Err(Failure::new(Status::FILE_IS_A_DIRECTORY, format!("seek in directory {ino}")));
    }
    let size = inode.size;
    if offset >= size {
        return Err(Failure::new(Status::END_OF_FILE, format!("seek from {offset} in a {size}-byte file")));
    }
    let bs = u64::from(vcb.backend().block_size());
    let mut lblk = offset / bs;
    while lblk * bs < size {
        let Ok(l) = u32::try_from(lblk) else { break };
        let (is_data, len) = match vcb.backend().map_block(ino, &inode, l)? {
            Mapping::Mapped { len, unwritten, .. } => (!unwritten, len),
            Mapping::Hole { len } => (false, len),
        };
        if is_data == (whence == SeekWhence::Data) {
            return Ok((lblk * bs).max(offset));
        }
        lblk = lblk.saturating_add(len.max(1));
    }
    match whence {
        SeekWhence::Hole => Ok(size),
        SeekWhence::Data => {
            Err(Failure::new(Status::END_OF_FILE, format!("no data after {offset} in inode {ino}")))
        }
    }
}
