//! The file vocabulary end to end through the I/O manager, against a toy file system that
//! records what it was asked: the create parameters reach the driver, answers come back
//! through the system buffer, and the handle's helpers page through a directory.

use std::sync::{Arc, Mutex};

use irp::file::{
    CreateAction, CreateDisposition, CreateOptions, CreateRequest, Credentials, DirectoryEntry,
    FileInformation, FileKind, FileStatInformation, FileTime, FsControl, FsControlOutput,
    QueryDirectoryFlags, SeekWhence, encode_entries,
};
use irp::{Access, Device, DeviceRef, Driver, InformationClass, IoManager, Irp, Parameters, Status};

/// A toy file system: one directory of 25 names, handed out 10 at a time.
#[derive(Default)]
struct Toy {
    seen: Arc<Mutex<Vec<String>>>,
}

struct Cursor(Mutex<u64>);

const NAMES: u64 = 25;

impl Driver for Toy {
    fn create(&self, _: &DeviceRef, irp: Irp) -> Status {
        let Parameters::Create { access, disposition, options, mode } = irp.parameters().clone() else {
            return irp.complete(Status::INVALID_PARAMETER);
        };
        let file = irp.current_location().file_object.clone().unwrap();
        self.seen.lock().unwrap().push(format!(
            "{} {access:?} {disposition:?} {:#x} {mode:o} uid={}",
            file.path(),
            options.bits(),
            file.credentials().uid
        ));
        file.set_context(Cursor(Mutex::new(0))).ok().unwrap();
        let action = if disposition == CreateDisposition::Create {
            CreateAction::Created
        } else {
            CreateAction::Opened
        };
        irp.complete_with(Status::SUCCESS, action as u64)
    }
    fn cleanup(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
    fn close(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
    fn query_information(&self, _: &DeviceRef, mut irp: Irp) -> Status {
        let stat = FileStatInformation {
            ino: 12,
            mode: 0o100600,
            nlink: 1,
            size: 3,
            mtime: FileTime::new(9, 1),
            ..Default::default()
        };
        let info = match irp.parameters() {
            Parameters::Information { class: InformationClass::Stat, .. } => FileInformation::Stat(stat),
            Parameters::Information { class: InformationClass::Standard, .. } => {
                FileInformation::Standard(stat.standard(false))
            }
            _ => return irp.complete(Status::INVALID_PARAMETER),
        };
        *irp.system_buffer_mut() = info.encode();
        irp.complete_with(Status::SUCCESS, stat.size)
    }
    fn directory_control(&self, _: &DeviceRef, mut irp: Irp) -> Status {
        let Parameters::Directory(q) = irp.parameters().clone() else {
            return irp.complete(Status::INVALID_PARAMETER);
        };
        let file = irp.current_location().file_object.clone().unwrap();
        let cursor = file.context::<Cursor>().unwrap();
        let mut at = cursor.0.lock().unwrap();
        if q.flags.contains(QueryDirectoryFlags::RESTART_SCAN) {
            *at = 0;
        }
        if *at >= NAMES {
            return irp.complete(Status::NO_MORE_FILES);
        }
        let end = (*at + 10).min(NAMES);
        let batch: Vec<DirectoryEntry> = (*at..end)
            .map(|i| DirectoryEntry {
                name: format!("n{i}").into_bytes(),
                ino: 100 + i,
                kind: FileKind::Regular,
                index: i + 1,
            })
            .collect();
        *at = end;
        *irp.system_buffer_mut() = encode_entries(&batch);
        irp.complete(Status::SUCCESS)
    }
    fn file_system_control(&self, _: &DeviceRef, mut irp: Irp) -> Status {
        let Parameters::FsControl(c) = irp.parameters().clone() else {
            return irp.complete(Status::INVALID_PARAMETER);
        };
        let out = match *c {
            FsControl::ReadLink => FsControlOutput::Bytes(b"target".to_vec()),
            FsControl::Seek { offset, whence: SeekWhence::Hole } => FsControlOutput::Offset(offset.max(3)),
            _ => return irp.complete(Status::MEDIA_WRITE_PROTECTED),
        };
        *irp.system_buffer_mut() = out.encode();
        irp.complete(Status::SUCCESS)
    }
}

#[test]
fn create_query_enumerate_and_control_through_the_manager() {
    let toy = Toy::default();
    let seen = Arc::clone(&toy.seen);
    let io = IoManager::new();
    io.register("toy", &Device::new("toy", toy)).unwrap();

    let request = CreateRequest::open("dir/new", Access::READ)
        .disposition(CreateDisposition::Create)
        .options(CreateOptions::NON_DIRECTORY_FILE | CreateOptions::WRITE_THROUGH)
        .mode(0o640)
        .credentials(Credentials::user(1000, 100));
    let h = io.create("toy", &request).unwrap();
    assert_eq!(h.create_action(), CreateAction::Created);
    assert_eq!(h.file_object().credentials(), &Credentials::user(1000, 100));
    assert_eq!(seen.lock().unwrap()[0], "dir/new Access(1) Create 0x42 640 uid=1000");

    let stat = h.query_stat().unwrap();
    assert_eq!(
        (stat.ino, stat.kind(), stat.permissions(), stat.mtime),
        (12, FileKind::Regular, 0o600, FileTime::new(9, 1))
    );
    assert_eq!(h.query_size().unwrap(), 3);
    assert_eq!(h.query_standard().unwrap().end_of_file, 3);
    assert_eq!(h.query_basic(), Err(Status::INVALID_PARAMETER));

    let all = h.list_directory(None).unwrap();
    assert_eq!(all.len(), NAMES as usize);
    assert_eq!(all[24].name, b"n24");
    // Listing again restarts the scan.
    assert_eq!(h.list_directory(Some("*")).unwrap().len(), NAMES as usize);

    assert_eq!(h.read_link().unwrap(), b"target");
    assert_eq!(h.seek(1, SeekWhence::Hole).unwrap(), 3);
    assert_eq!(h.remove_xattr(b"user.x"), Err(Status::MEDIA_WRITE_PROTECTED));
    assert_eq!(h.set_end_of_file(0), Err(Status::ACCESS_DENIED), "a size change needs write access");

    // Opening with the defaults: FILE_OPEN, as the calling process.
    let h2 = io.open_path("toy", "x", Access::READ).unwrap();
    assert_eq!(h2.create_action(), CreateAction::Opened);
    assert_eq!(h2.file_object().credentials().uid, Credentials::current().uid);
}
