//! `IRP_MJ_CREATE` (fastfat's `create.c`): resolve the path, apply the disposition and the
//! options, check access, and give the file object its CCB (and the inode its FCB).
//!
//! On a read-only volume only opens of what exists succeed: a disposition that would create
//! (`CREATE` of a missing name, `OPEN_IF`, `SUPERSEDE`, `OVERWRITE_IF`) or replace
//! (`SUPERSEDE`, `OVERWRITE*` of an existing file), `DELETE_ON_CLOSE`, and any access that
//! would modify (write, append, write attributes, delete) complete with
//! `STATUS_MEDIA_WRITE_PROTECTED` — after the name is resolved, so a missing name is still
//! `STATUS_OBJECT_NAME_NOT_FOUND` and `CREATE` of an existing one
//! `STATUS_OBJECT_NAME_COLLISION`, as Linux answers `ENOENT` and `EEXIST` before `EROFS`.

use irp::file::{CreateAction, CreateDisposition, CreateOptions, Credentials};
use irp::{Access, Irp, Parameters, Status};

use super::access::{Want, permitted};
use super::ccb::{Ccb, Target};
use super::path::{Resolved, resolve};
use super::{Failure, Vcb, file_object, finish};

/// What the create asked for.
struct Ask {
    access: Access,
    disposition: CreateDisposition,
    options: CreateOptions,
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
        Parameters::Create { access, disposition, options, .. } => Ask { access, disposition, options },
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
                vcb.fcbs().close(fcb);
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
    let follow = !ask.options.contains(CreateOptions::OPEN_REPARSE_POINT);
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
            let what = format!("creating {:?} in directory {dir}", String::from_utf8_lossy(&name));
            vcb.mutations(&what)?;
            // The write path creates here (write and search permission on `dir`, the new
            // inode owned by `who`, `mode` from the request) and opens it as below.
            Err(Failure::new(Status::NOT_SUPPORTED, what))
        }
        Resolved::Found { ino, inode } => {
            if !ask.disposition.opens_existing() {
                return Err(Failure::new(
                    Status::OBJECT_NAME_COLLISION,
                    format!("{path:?} exists (FILE_CREATE)"),
                ));
            }
            if ask.options.contains(CreateOptions::DIRECTORY_FILE) && !inode.is_dir() {
                return Err(Failure::new(Status::NOT_A_DIRECTORY, format!("{path:?} (FILE_DIRECTORY_FILE)")));
            }
            if ask.options.contains(CreateOptions::NON_DIRECTORY_FILE) && inode.is_dir() {
                return Err(Failure::new(
                    Status::FILE_IS_A_DIRECTORY,
                    format!("{path:?} (FILE_NON_DIRECTORY_FILE)"),
                ));
            }
            if ask.disposition.replaces_existing() {
                vcb.mutations(&format!("{:?} of {path:?}", ask.disposition))?;
            }
            if ask.options.contains(CreateOptions::DELETE_ON_CLOSE) {
                vcb.mutations(&format!("opening {path:?} with FILE_DELETE_ON_CLOSE"))?;
            }
            if ask.access.modifies() {
                vcb.mutations(&format!("opening {path:?} for {:?}", ask.access))?;
                if inode.is_dir() && ask.access.can_write() {
                    return Err(Failure::new(
                        Status::FILE_IS_A_DIRECTORY,
                        format!("{path:?} opened for writing"),
                    ));
                }
            }
            if !permitted(&inode, who, Want::of(ask.access)) {
                return Err(Failure::new(
                    Status::ACCESS_DENIED,
                    format!(
                        "{path:?} (mode {:o}, owner {}:{}) for uid {}",
                        inode.mode, inode.uid, inode.gid, who.uid
                    ),
                ));
            }
            let fcb = vcb.fcbs().open(ino, || Ok(inode))?;
            Ok((Ccb::new(Target::File(fcb), ask.access, ask.options), CreateAction::Opened))
        }
    }
}

/// `FILE_OPEN_BY_FILE_ID`: the path is an inode number, which must be in use.
fn by_file_id(vcb: &Vcb, path: &str) -> Result<Resolved, Failure> {
    let ino: u32 = path
        .trim_start_matches('#')
        .parse()
        .ok()
        .filter(|&i| i >= 1 && i <= vcb.backend().inodes_count())
        .ok_or_else(|| Failure::new(Status::INVALID_PARAMETER, format!("{path:?} is not a file id")))?;
    let inode = vcb.backend().read_inode(ino)?;
    if inode.links_count == 0 || inode.mode == 0 {
        return Err(Failure::new(Status::OBJECT_NAME_NOT_FOUND, format!("inode {ino} is not in use")));
    }
    Ok(Resolved::Found { ino, inode })
}

/// An empty path opens the volume: raw reads go to the device below (NT's DASD opens).
fn open_volume(vcb: &Vcb, ask: &Ask) -> Result<(Ccb, CreateAction), Failure> {
    if !ask.disposition.opens_existing() || ask.disposition.replaces_existing() {
        return Err(Failure::new(Status::INVALID_PARAMETER, format!("{:?} of the volume", ask.disposition)));
    }
    if ask.access.modifies() {
        vcb.mutations(&format!("opening the volume for {:?}", ask.access))?;
    }
    Ok((Ccb::new(Target::Volume, ask.access, ask.options), CreateAction::Opened))
}
