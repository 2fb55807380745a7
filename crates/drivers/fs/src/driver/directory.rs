//! `IRP_MJ_DIRECTORY_CONTROL` (fastfat's `dirctrl.c`): `IRP_MN_QUERY_DIRECTORY` enumerates
//! a directory from where the file object's last query stopped.
//!
//! The first query of a scan (or a `RESTART_SCAN`) reads the directory once into the CCB,
//! with its name expression; each entry's index is its position + 1, the cookie to resume
//! after it (`INDEX_SPECIFIED`). A query returns the matching entries that fit in its output
//! length (one with `RETURN_SINGLE_ENTRY`); `STATUS_NO_MORE_FILES` when none is left,
//! `STATUS_NO_SUCH_FILE` when the scan matched nothing, `STATUS_BUFFER_TOO_SMALL` when the
//! next entry does not fit. `IRP_MN_NOTIFY_CHANGE_DIRECTORY` is not supported.

use irp::file::{
    DirectoryEntry, ENTRIES_HEADER_LEN, FileKind, MINOR_QUERY_DIRECTORY, QueryDirectory, QueryDirectoryFlags,
    encode_entries, name_matches,
};
use irp::{Access, Irp, Parameters, Status};

use super::ccb::{Ccb, DirScan};
use super::{Failure, Vcb, file_object, finish};
use crate::ondisk::dirent::FileType;

pub(crate) fn dispatch(vcb: &Vcb, mut irp: Irp) -> Status {
    let file = file_object(&irp);
    let Some(ccb) = file.as_deref().and_then(|f| f.context::<Ccb>()) else {
        return finish(
            vcb,
            irp,
            Err(Failure::new(Status::INVALID_PARAMETER, "a directory query without an open")),
        );
    };
    if irp.current_location().minor != MINOR_QUERY_DIRECTORY {
        let minor = irp.current_location().minor;
        return finish(
            vcb,
            irp,
            Err(Failure::new(Status::INVALID_DEVICE_REQUEST, format!("directory minor {minor}"))),
        );
    }
    let Parameters::Directory(query) = irp.parameters().clone() else {
        return finish(
            vcb,
            irp,
            Err(Failure::new(Status::INVALID_PARAMETER, "a directory query without parameters")),
        );
    };
    let result = query_directory(vcb, ccb, &query);
    let result = result.map(|entries| {
        *irp.system_buffer_mut() = encode_entries(&entries);
        0
    });
    finish(vcb, irp, result)
}

fn query_directory(vcb: &Vcb, ccb: &Ccb, q: &QueryDirectory) -> Result<Vec<DirectoryEntry>, Failure> {
    let Some(fcb) = ccb.fcb() else {
        return Err(Failure::new(Status::INVALID_PARAMETER, "a directory query of the volume"));
    };
    if !ccb.access.contains(Access::READ) {
        return Err(Failure::new(Status::ACCESS_DENIED, "listing a directory without read access"));
    }
    if !fcb.state().inode.is_dir() {
        return Err(Failure::new(Status::NOT_A_DIRECTORY, format!("listing inode {}", fcb.ino())));
    }
    let mut scan = ccb.scan();
    if scan.snapshot.is_none() || q.flags.contains(QueryDirectoryFlags::RESTART_SCAN) {
        start_scan(vcb, fcb.ino(), q, &mut scan)?;
    }
    if q.flags.contains(QueryDirectoryFlags::INDEX_SPECIFIED) {
        scan.position = usize::try_from(q.index).unwrap_or(usize::MAX);
    }
    let DirScan { snapshot: Some(snapshot), position, pattern, returned_any } = &mut *scan else {
        unreachable!("the scan was started above");
    };
    let limit = q.output_length as usize;
    let single = q.flags.contains(QueryDirectoryFlags::RETURN_SINGLE_ENTRY);
    let mut used = ENTRIES_HEADER_LEN;
    let mut out = Vec::new();
    while let Some(entry) = snapshot.get(*position) {
        if pattern.as_deref().is_some_and(|p| !name_matches(p, &entry.name)) {
            *position += 1;
            continue;
        }
        if used + entry.encoded_len() > limit || (single && !out.is_empty()) {
            break;
        }
        used += entry.encoded_len();
        out.push(entry.clone());
        *position += 1;
    }
    if out.is_empty() {
        return Err(match snapshot.get(*position) {
            Some(e) => Failure::new(
                Status::BUFFER_TOO_SMALL,
                format!(
                    "{} bytes cannot hold the next entry ({} bytes)",
                    limit,
                    ENTRIES_HEADER_LEN + e.encoded_len()
                ),
            ),
            None if !*returned_any => Failure::new(Status::NO_SUCH_FILE, "nothing matches"),
            None => Failure::new(Status::NO_MORE_FILES, "the enumeration is complete"),
        });
    }
    *returned_any = true;
    Ok(out)
}

fn start_scan(vcb: &Vcb, ino: u32, q: &QueryDirectory, scan: &mut DirScan) -> Result<(), Failure> {
    let entries = vcb.backend().read_dir(ino)?;
    let snapshot = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| DirectoryEntry {
            name: e.name,
            ino: u64::from(e.inode),
            kind: kind_of(e.file_type),
            index: i as u64 + 1,
        })
        .collect();
    *scan = DirScan {
        snapshot: Some(snapshot),
        position: 0,
        pattern: q.pattern.as_ref().map(|p| p.as_bytes().to_vec()),
        returned_any: false,
    };
    Ok(())
}

/// The entry's type as the directory records it.
pub(crate) fn kind_of(t: FileType) -> FileKind {
    match t {
        FileType::Regular => FileKind::Regular,
        FileType::Directory => FileKind::Directory,
        FileType::CharDevice => FileKind::CharDevice,
        FileType::BlockDevice => FileKind::BlockDevice,
        FileType::Fifo => FileKind::Fifo,
        FileType::Socket => FileKind::Socket,
        FileType::Symlink => FileKind::Symlink,
        FileType::Unknown | FileType::Other(_) => FileKind::Unknown,
    }
}
