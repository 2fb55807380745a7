//! `IRP_MJ_CREATE` (fastfat's `create.c`): resolve the path, apply the disposition and the
//! options, check access, and give the file object its CCB (and the inode its FCB).
//!
//! | disposition | exists (action) | missing (action) |
//! |---|---|---|
//! | `SUPERSEDE` | truncated to 0 (`FILE_SUPERSEDED`) | created (`FILE_CREATED`) |
//! | `OPEN` | opened (`FILE_OPENED`) | `STATUS_OBJECT_NAME_NOT_FOUND` |
//! | `CREATE` | `STATUS_OBJECT_NAME_COLLISION` | created |
//! | `OPEN_IF` | opened | created |
//! | `OVERWRITE` | truncated to 0 (`FILE_OVERWRITTEN`) | `STATUS_OBJECT_NAME_NOT_FOUND` |
//! | `OVERWRITE_IF` | truncated to 0 (`FILE_OVERWRITTEN`) | created |
//!
//! A new file is a directory with `FILE_DIRECTORY_FILE`, else a regular file, with the
//! request's mode bits, owned by the caller, in the directory's group if that directory is
//! set-group-id (POSIX; a new directory inherits the bit); creating needs write and search
//! permission on the directory, and its creator gets the access it asked for (POSIX
//! `open(O_CREAT)` of mode 0444 for writing succeeds). An existing file's access is checked
//! against its mode bits; replacing it needs write permission and is refused for a
//! directory (`STATUS_FILE_IS_A_DIRECTORY`). A directory may be opened with write access
//! (NT's `FILE_ADD_FILE` and `FILE_ADD_SUBDIRECTORY` are those bits) when its mode allows:
//! that is what its flush (`fsyncdir`) needs; writing data to it is refused. SUPERSEDE keeps the inode (its data goes, as
//! with OVERWRITE). `FILE_DIRECTORY_FILE` with a non-directory is `STATUS_NOT_A_DIRECTORY`,
//! `FILE_NON_DIRECTORY_FILE` with a directory `STATUS_FILE_IS_A_DIRECTORY`, both at once
//! `STATUS_INVALID_PARAMETER`, and so is `FILE_DIRECTORY_FILE` with a disposition other
//! than CREATE, OPEN and OPEN_IF (as NT). A name another open creates between the lookup
//! and the creation is opened (OPEN_IF and the like), not a collision.
//!
//! `FILE_DELETE_ON_CLOSE` needs `DELETE` access (`STATUS_INVALID_PARAMETER` without, as
//! NT), the right to remove the name (write and search on the directory, the sticky rule)
//! and, for a directory, that it is empty (`STATUS_DIRECTORY_NOT_EMPTY`). A file whose
//! deletion is pending cannot be opened (`STATUS_DELETE_PENDING`).
//!
//! On a read-only volume only opens of what exists succeed: a disposition that would create
//! or replace, `DELETE_ON_CLOSE`, and any access that would modify (write, append, write
//! attributes, delete) complete with `STATUS_MEDIA_WRITE_PROTECTED` — after the name is
//! resolved, so a missing name is still `STATUS_OBJECT_NAME_NOT_FOUND` and `CREATE` of an
//! existing one `STATUS_OBJECT_NAME_COLLISION`, as Linux answers `ENOENT` and `EEXIST`
//! before `EROFS`. After `IRP_MJ_SHUTDOWN` every create is `STATUS_VOLUME_DISMOUNTED`.

use irp::file::{CreateAction, CreateDisposition, CreateOptions, Credentials, FileKind};
use irp::{Access, Irp, Parameters, Status};

use super::access::{Want, may_create, may_delete, permitted};
use super::ccb::{Ccb, Target};
use super::fcb::Link;
use super::path::{Resolved, resolve};
use super::{Failure, Vcb, file_object, finish};
use crate::ondisk::inode::Inode;

/// `S_ISGID`.
const SETGID: u32 = 0o2000;

/// What the create asked for.
struct Ask {
    access: Access,
    disposition: CreateDisposition,
    options: CreateOptions,
    mode: u32,
}

pub(crate) fn dispatch(vcb: &Vcb, irp: Irp) -> Status {
    let Some(file) = file_object(&irp) else {
        return finish(
            vcb,
            irp,
            Err(Failure::new(Status::INVALID_PARAMETER, "a create without a file object")),
        );
    };
    let ask = match *irp.parameters() {
        Parameters::Create { access, disposition, options, mode } => {
            Ask { access, disposition, options, mode }
        }
        _ => {
            return finish(
                vcb,
                irp,
                Err(Failure::new(Status::INVALID_PARAMETER, "a create without parameters")),
            );
        }
    };
    if vcb.is_shut_down() {
        return finish(vcb, irp, Err(Failure::new(Status::VOLUME_DISMOUNTED, "the volume was shut down")));
    }
    let result = open(vcb, file.path(), file.credentials(), &ask).and_then(|(ccb, action)| {
        file.set_context(ccb).map_err(|ccb| {
            // This file object already had a context: undo the FCB's counts.
            if let Some(fcb) = ccb.fcb() {
                vcb.fcbs().cleanup(fcb);
                if let Err(f) = vcb.close_fcb(fcb) {
                    tracing::warn!(device = vcb.name(), "closing inode {}: {f}", fcb.ino());
                }
            }
            Failure::new(Status::INVALID_PARAMETER, "the file object was already opened")
        })?;
        Ok(action as u64)
    });
    finish(vcb, irp, result)
}

fn open(vcb: &Vcb, path: &str, who: &Credentials, ask: &Ask) -> Result<(Ccb, CreateAction), Failure> {
    if path.is_empty() {
        return open_volume(vcb, ask);
    }
    if ask.options.contains(CreateOptions::DIRECTORY_FILE | CreateOptions::NON_DIRECTORY_FILE) {
        return Err(Failure::new(
            Status::INVALID_PARAMETER,
            format!("{path:?}: FILE_DIRECTORY_FILE and FILE_NON_DIRECTORY_FILE together"),
        ));
    }
    if ask.options.contains(CreateOptions::DIRECTORY_FILE)
        && !matches!(
            ask.disposition,
            CreateDisposition::Create | CreateDisposition::Open | CreateDisposition::OpenIf
        )
    {
        return Err(Failure::new(
            Status::INVALID_PARAMETER,
            format!("{path:?}: FILE_DIRECTORY_FILE with {:?}", ask.disposition),
        ));
    }
    let follow = !ask.options.contains(CreateOptions::OPEN_REPARSE_POINT);
    let mut raced = 0;
    let (ino, inode, link, action) = loop {
        let resolved = if ask.options.contains(CreateOptions::OPEN_BY_FILE_ID) {
            by_file_id(vcb, path)?
        } else {
            resolve(vcb.backend(), who, path, follow)?
        };
        match resolved {
            Resolved::Missing { dir, name } => {
                if !ask.disposition.creates_missing() {
                    return Err(Failure::new(
                        Status::OBJECT_NAME_NOT_FOUND,
                        format!("{path:?} does not exist ({:?})", ask.disposition),
                    ));
                }
                match create_new(vcb, who, ask, dir, &name) {
                    Ok((ino, inode)) => break (ino, inode, Some(Link { dir, name }), CreateAction::Created),
                    // Another open made the name meanwhile: open what it made.
                    Err(f)
                        if f.status == Status::OBJECT_NAME_COLLISION
                            && ask.disposition.opens_existing()
                            && raced < 3 =>
                    {
                        raced += 1;
                    }
                    Err(f) => return Err(f),
                }
            }
            Resolved::Found { ino, inode, link } => {
                let action = open_existing(vcb, who, ask, path, ino, &inode, link.as_ref())?;
                break (ino, *inode, link, action);
            }
        }
    };
    let fcb = vcb.open_fcb(ino, inode)?;
    let ccb = Ccb::new(Target::File(fcb), ask.access, ask.options)
        .with_link(link)
        .with_errors_seen(vcb.write_errors().sample());
    Ok((ccb, action))
}

/// Creates the missing `name` in `dir` as the create asks.
fn create_new(
    vcb: &Vcb,
    who: &Credentials,
    ask: &Ask,
    dir: u32,
    name: &[u8],
) -> Result<(u32, Inode), Failure> {
    let shown = String::from_utf8_lossy(name);
    let m = vcb.mutations(&format!("creating {shown:?} in directory {dir}"))?;
    if ask.options.contains(CreateOptions::DELETE_ON_CLOSE) && !ask.access.contains(Access::DELETE) {
        return Err(Failure::new(Status::INVALID_PARAMETER, "FILE_DELETE_ON_CLOSE without DELETE access"));
    }
    let parent = vcb.backend().read_inode(dir)?;
    if !may_create(&parent, who) {
        return Err(Failure::new(
            Status::ACCESS_DENIED,
            format!(
                "creating {shown:?}: no write and search permission on directory {dir} for uid {}",
                who.uid
            ),
        ));
    }
    let kind = if ask.options.contains(CreateOptions::DIRECTORY_FILE) {
        FileKind::Directory
    } else {
        FileKind::Regular
    };
    let (gid, mode) = new_owner(&parent, who, ask.mode & 0o7777, kind);
    let ino = m.create(dir, name, kind, mode, (who.uid, gid), (0, 0))?;
    tracing::debug!(device = vcb.name(), ino, dir, name = %shown, ?kind, "created");
    Ok((ino, vcb.backend().read_inode(ino)?))
}

/// The group and mode of a new inode of `kind` in directory `parent`: the caller's group,
/// or the directory's when it is set-group-id (and then a new directory is too).
pub(crate) fn new_owner(parent: &Inode, who: &Credentials, mode: u32, kind: FileKind) -> (u32, u32) {
    if u32::from(parent.mode) & SETGID == 0 {
        return (who.gid, mode);
    }
    let mode = if kind == FileKind::Directory { mode | SETGID } else { mode };
    (parent.gid, mode)
}

/// Applies the disposition and the options to an existing file.
fn open_existing(
    vcb: &Vcb,
    who: &Credentials,
    ask: &Ask,
    path: &str,
    ino: u32,
    inode: &Inode,
    link: Option<&Link>,
) -> Result<CreateAction, Failure> {
    if !ask.disposition.opens_existing() {
        return Err(Failure::new(Status::OBJECT_NAME_COLLISION, format!("{path:?} exists (FILE_CREATE)")));
    }
    if ask.options.contains(CreateOptions::DIRECTORY_FILE) && !inode.is_dir() {
        return Err(Failure::new(Status::NOT_A_DIRECTORY, format!("{path:?} (FILE_DIRECTORY_FILE)")));
    }
    if ask.options.contains(CreateOptions::NON_DIRECTORY_FILE) && inode.is_dir() {
        return Err(Failure::new(Status::FILE_IS_A_DIRECTORY, format!("{path:?} (FILE_NON_DIRECTORY_FILE)")));
    }
    if vcb.fcbs().get(ino).is_some_and(|f| f.state().delete_pending.is_some()) {
        return Err(Failure::new(Status::DELETE_PENDING, format!("{path:?} is being deleted")));
    }
    let replaces = ask.disposition.replaces_existing();
    if replaces {
        vcb.mutations(&format!("{:?} of {path:?}", ask.disposition))?;
        if inode.is_dir() {
            return Err(Failure::new(
                Status::FILE_IS_A_DIRECTORY,
                format!("{:?} of directory {path:?}", ask.disposition),
            ));
        }
    }
    if ask.options.contains(CreateOptions::DELETE_ON_CLOSE) {
        vcb.mutations(&format!("opening {path:?} with FILE_DELETE_ON_CLOSE"))?;
        check_delete(vcb, who, ask.access, ino, inode, link)?;
    }
    if ask.access.modifies() {
        vcb.mutations(&format!("opening {path:?} for {:?}", ask.access))?;
    }
    let mut want = Want::of(ask.access);
    want.write |= replaces;
    if !permitted(inode, who, want) {
        return Err(Failure::new(
            Status::ACCESS_DENIED,
            format!(
                "{path:?} (mode {:o}, owner {}:{}) for uid {}",
                inode.mode, inode.uid, inode.gid, who.uid
            ),
        ));
    }
    if !replaces {
        return Ok(CreateAction::Opened);
    }
    vcb.mutations("truncating")?.truncate(ino, 0)?;
    Ok(if ask.disposition == CreateDisposition::Supersede {
        CreateAction::Superseded
    } else {
        CreateAction::Overwritten
    })
}

/// Whether the open may delete the file it opens (delete on close, a disposition): `DELETE`
/// access, the right to remove its name, and an empty directory.
pub(crate) fn check_delete(
    vcb: &Vcb,
    who: &Credentials,
    access: Access,
    ino: u32,
    inode: &Inode,
    link: Option<&Link>,
) -> Result<(), Failure> {
    if !access.contains(Access::DELETE) {
        return Err(Failure::new(
            Status::INVALID_PARAMETER,
            format!("deleting inode {ino} without DELETE access"),
        ));
    }
    let Some(link) = link else {
        return Err(Failure::new(Status::ACCESS_DENIED, format!("inode {ino} was not opened by a name")));
    };
    let dir = vcb.backend().read_inode(link.dir)?;
    if !may_delete(&dir, inode, who) {
        return Err(Failure::new(
            Status::ACCESS_DENIED,
            format!(
                "deleting {:?} from directory {}: not permitted for uid {}",
                link.shown(),
                link.dir,
                who.uid
            ),
        ));
    }
    if inode.is_dir() && vcb.backend().read_dir(ino)?.len() > 2 {
        return Err(Failure::new(Status::DIRECTORY_NOT_EMPTY, format!("deleting directory {ino}")));
    }
    Ok(())
}

/// `FILE_OPEN_BY_FILE_ID`: the path is an inode number, which must be in use.
fn by_file_id(vcb: &Vcb, path: &str) -> Result<Resolved, Failure> {
    let ino: u32 = path
        .trim_start_matches('#')
        .parse()
        .ok()
        .filter(|&i| i >= 1 && i <= vcb.backend().inodes_count())
        .ok_or_else(|| Failure::new(Status::INVALID_PARAMETER, format!("{path:?} is not a file id")))?;
    let inode = vcb.backend().read_inode(ino).map_err(|f| {
        if f.status == Status::OBJECT_NAME_NOT_FOUND {
            Failure::new(Status::OBJECT_NAME_NOT_FOUND, format!("inode {ino} is not in use"))
        } else {
            f
        }
    })?;
    if (inode.links_count == 0 && vcb.fcbs().get(ino).is_none()) || inode.mode == 0 {
        return Err(Failure::new(Status::OBJECT_NAME_NOT_FOUND, format!("inode {ino} is not in use")));
    }
    Ok(Resolved::Found { ino, inode: Box::new(inode), link: None })
}

/// An empty path opens the volume: raw reads go to the device below (NT's DASD opens); a
/// handle with write access may flush the whole volume.
fn open_volume(vcb: &Vcb, ask: &Ask) -> Result<(Ccb, CreateAction), Failure> {
    if !ask.disposition.opens_existing() || ask.disposition.replaces_existing() {
        return Err(Failure::new(Status::INVALID_PARAMETER, format!("{:?} of the volume", ask.disposition)));
    }
    if ask.access.modifies() {
        vcb.mutations(&format!("opening the volume for {:?}", ask.access))?;
    }
    let ccb = Ccb::new(Target::Volume, ask.access, ask.options).with_errors_seen(vcb.write_errors().sample());
    Ok((ccb, CreateAction::Opened))
}
