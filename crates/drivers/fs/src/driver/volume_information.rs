//! `IRP_MJ_QUERY_VOLUME_INFORMATION` (fastfat's `volinfo.c`): the statfs class, from the
//! superblock and the group descriptors.

use irp::file::VolumeInformationClass;
use irp::{Irp, Parameters, Status};

use super::{Failure, Vcb, finish};

pub(crate) fn dispatch(vcb: &Vcb, mut irp: Irp) -> Status {
    match *irp.parameters() {
        Parameters::QueryVolume { class: VolumeInformationClass::Stat } => {
            let mut stat = vcb.backend().volume_stat();
            stat.read_only = vcb.is_read_only();
            *irp.system_buffer_mut() = stat.encode();
            finish(vcb, irp, Ok(0))
        }
        _ => {
            finish(vcb, irp, Err(Failure::new(Status::INVALID_PARAMETER, "a volume query of another class")))
        }
    }
}
