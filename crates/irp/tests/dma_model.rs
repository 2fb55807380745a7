//! The simulated non-coherent DMA device: a driver that calls `flush_io_buffers`
//! where NT says to moves correct data; one that skips it before a transfer to the
//! device, or after a transfer from it, sees stale data and the verifier names the rule.

use irp::cpu_cache::{Direction, Transfer, flush_io_buffers};
use irp::dma::SimulatedDmaDevice;
use irp::{
    DeviceBuilder, DeviceRef, Driver, Irp, MajorFunction, Mdl, Parameters, Rule, Status, Verifier,
    VerifierMode,
};

/// A disk whose data moves by (simulated) bus-master DMA.
struct DmaDisk {
    dma: SimulatedDmaDevice,
    flush_before_write: bool,
    flush_after_read: bool,
}

impl Driver for DmaDisk {
    fn write(&self, _: &DeviceRef, irp: Irp) -> Status {
        let Parameters::Write { offset, .. } = *irp.parameters() else {
            return irp.complete(Status::INVALID_PARAMETER);
        };
        let Some(mdl) = irp.mdl() else { return irp.complete(Status::INVALID_PARAMETER) };
        // SAFETY: no reference into the MDL's bytes is held while it is mapped.
        let mapping = unsafe { self.dma.map_transfer(mdl) };
        if self.flush_before_write {
            flush_io_buffers(mdl, Direction::ToDevice, Transfer::Dma);
        }
        let result = self.dma.transfer_to_device(&mapping, mdl, offset);
        drop(mapping);
        match result {
            Ok(()) => {
                let n = irp.mdl().map_or(0, |m| m.byte_count() as u64);
                irp.complete_with(Status::SUCCESS, n)
            }
            Err(_) => irp.complete(Status::INVALID_PARAMETER),
        }
    }

    fn read(&self, _: &DeviceRef, irp: Irp) -> Status {
        let Parameters::Read { offset, .. } = *irp.parameters() else {
            return irp.complete(Status::INVALID_PARAMETER);
        };
        let Some(mdl) = irp.mdl() else { return irp.complete(Status::INVALID_PARAMETER) };
        // SAFETY: no reference into the MDL's bytes is held while it is mapped.
        let mapping = unsafe { self.dma.map_transfer(mdl) };
        if let Err(_e) = self.dma.transfer_from_device(&mapping, offset) {
            return irp.complete(Status::INVALID_PARAMETER);
        }
        if self.flush_after_read {
            flush_io_buffers(mdl, Direction::FromDevice, Transfer::Dma);
        }
        let n = mdl.byte_count() as u64;
        // Completing while still mapped: a stale read is caught at completion.
        let status = irp.complete_with(Status::SUCCESS, n);
        drop(mapping);
        status
    }
}

fn disk(name: &str, flush_before_write: bool, flush_after_read: bool) -> (DeviceRef, SimulatedDmaDevice) {
    let verifier = Verifier::new(VerifierMode::Record);
    let dma = SimulatedDmaDevice::new(name, 1 << 16, verifier.clone());
    let device = DeviceBuilder::new(name)
        .verifier(verifier)
        .build(DmaDisk { dma: dma.clone(), flush_before_write, flush_after_read })
        .unwrap();
    (device, dma)
}

fn write(dev: &DeviceRef, offset: u64, data: &[u8]) -> Status {
    let irp = Irp::for_device(dev, MajorFunction::Write)
        .with_parameters(Parameters::Write { offset, length: data.len() as u32 })
        .with_mdl(Mdl::from_slice(data).unwrap());
    dev.call_and_wait(irp).status()
}

fn read(dev: &DeviceRef, offset: u64, len: usize) -> Vec<u8> {
    let irp = Irp::for_device(dev, MajorFunction::Read)
        .with_parameters(Parameters::Read { offset, length: len as u32 })
        .with_mdl(Mdl::with_len(len).unwrap());
    let mut done = dev.call_and_wait(irp);
    assert_eq!(done.status(), Status::SUCCESS);
    done.take_mdl().unwrap().bytes().to_vec()
}

#[test]
fn a_correct_driver_moves_correct_data_and_breaks_no_rule() {
    let (dev, dma) = disk("dma-good", true, true);
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    assert_eq!(write(&dev, 8192, &data), Status::SUCCESS);
    assert_eq!(dma.read_medium(8192, 4096), data);
    assert_eq!(read(&dev, 8192, 4096), data);
    assert_eq!(dev.verifier().take_violations(), []);
}

#[test]
fn skipping_the_flush_before_a_dma_write_stores_stale_data_and_is_reported() {
    let (dev, dma) = disk("dma-no-writeback", false, true);
    let data = vec![0xA5u8; 4096];
    assert_eq!(write(&dev, 0, &data), Status::SUCCESS);
    // The device read RAM, which never got the CPU's dirty lines.
    assert_eq!(dma.read_medium(0, 4096), vec![0u8; 4096]);
    let v = dev.verifier().take_violations();
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].rule, Rule::DmaUnflushedMdl);
    assert_eq!(v[0].device, "dma-no-writeback");
    assert!(v[0].to_string().contains("IRPSTACK-V007"));
}

#[test]
fn skipping_the_flush_after_a_dma_read_reads_stale_data_and_is_reported() {
    let (dev, dma) = disk("dma-no-invalidate", true, false);
    let data = vec![0x3Cu8; 4096];
    assert_eq!(write(&dev, 4096, &data), Status::SUCCESS);
    assert_eq!(dma.read_medium(4096, 4096), data);
    // The CPU never invalidated its view: the buffer still holds what it held before.
    assert_eq!(read(&dev, 4096, 4096), vec![0u8; 4096]);
    let v = dev.verifier().take_violations();
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].rule, Rule::DmaReadNotInvalidated);
    assert_eq!(v[0].device, "dma-no-invalidate");
}

#[test]
fn flushing_after_changing_the_buffer_again_is_required() {
    let verifier = Verifier::new(VerifierMode::Record);
    let dma = SimulatedDmaDevice::new("dma-rewrite", 4096, verifier.clone());
    let mut mdl = Mdl::with_len(512).unwrap();
    mdl.bytes_mut().unwrap().fill(1);
    // SAFETY: no reference into the bytes is held across the flushes below.
    let mapping = unsafe { dma.map_transfer(&mdl) };
    flush_io_buffers(&mdl, Direction::ToDevice, Transfer::Dma);
    dma.transfer_to_device(&mapping, &mdl, 0).unwrap();
    assert_eq!(verifier.take_violations(), []);
    drop(mapping);
    // Changed after the flush and sent again without one: stale, and reported.
    mdl.bytes_mut().unwrap().fill(2);
    // SAFETY: as above.
    let mapping = unsafe { dma.map_transfer(&mdl) };
    flush_io_buffers(&mdl, Direction::ToDevice, Transfer::Dma);
    mdl.bytes_mut().unwrap().fill(3);
    dma.transfer_to_device(&mapping, &mdl, 0).unwrap();
    assert_eq!(dma.read_medium(0, 512), vec![2u8; 512]);
    assert_eq!(verifier.take_violations().len(), 1);
    drop(mapping);
    // Out-of-range transfers are errors, not panics.
    // SAFETY: as above.
    let mapping = unsafe { dma.map_transfer(&mdl) };
    assert!(dma.transfer_to_device(&mapping, &mdl, 4000).is_err());
    assert!(dma.transfer_from_device(&mapping, u64::MAX).is_err());
}

#[test]
fn flush_io_buffers_covers_one_mdl_not_the_chain() {
    let verifier = Verifier::new(VerifierMode::Record);
    let dma = SimulatedDmaDevice::new("dma-chain", 8192, verifier.clone());
    let mut first = Mdl::from_slice(&[1u8; 512]).unwrap();
    let second = Mdl::from_slice(&[2u8; 512]).unwrap();
    // SAFETY: no reference into the bytes is held across the flushes below.
    let (m1, m2) = unsafe { (dma.map_transfer(&first), dma.map_transfer(&second)) };
    first.set_next(Some(Box::new(second)));
    // One call for the head only: the second MDL of the chain is not written back.
    flush_io_buffers(&first, Direction::ToDevice, Transfer::Dma);
    dma.transfer_to_device(&m1, &first, 0).unwrap();
    let second = first.next().unwrap();
    dma.transfer_to_device(&m2, second, 512).unwrap();
    assert_eq!(dma.read_medium(0, 512), vec![1u8; 512]);
    assert_eq!(dma.read_medium(512, 512), vec![0u8; 512]);
    let v = verifier.take_violations();
    assert_eq!(v.iter().map(|v| v.rule).collect::<Vec<_>>(), [Rule::DmaUnflushedMdl]);
    // A device needs one call per MDL in the chain.
    for m in first.chain() {
        flush_io_buffers(m, Direction::ToDevice, Transfer::Dma);
    }
    dma.transfer_to_device(&m2, first.next().unwrap(), 512).unwrap();
    assert_eq!(dma.read_medium(512, 512), vec![2u8; 512]);
    assert_eq!(verifier.take_violations(), []);
}
