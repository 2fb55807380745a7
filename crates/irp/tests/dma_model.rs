//! The simulated non-coherent DMA device. A driver that follows NT's order — flush the MDL
//! with `flush_io_buffers` (KeFlushIoBuffers) just before the transfer, in either direction,
//! then `flush_adapter_buffers` (FlushAdapterBuffers) at its end — moves correct data and
//! breaks no rule. Each broken order moves stale data or loses it, and the verifier names the
//! rule: V007 for a missing, late or wrong-direction flush before the transfer, V008 for a
//! missing adapter flush.

use irp::cpu_cache::{Direction, Transfer, flush_io_buffers};
use irp::dma::SimulatedDmaDevice;
use irp::{
    DeviceBuilder, DeviceRef, Driver, Irp, MajorFunction, Mdl, Parameters, Rule, Status, Verifier,
    VerifierMode, Violation,
};

/// Where a driver puts its `flush_io_buffers` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flush {
    /// Before mapping the buffer (NT's usual order: flush, allocate the channel, map).
    BeforeMap,
    /// After mapping, just before the transfer.
    AfterMap,
    /// Not at all.
    Missing,
    /// Only after the transfer (what IRPSTACK-V008 used to ask for a read).
    AfterTransfer,
    /// Before the transfer, but for the other direction.
    WrongDirection,
}

/// A disk whose data moves by (simulated) bus-master DMA.
struct DmaDisk {
    dma: SimulatedDmaDevice,
    flush: Flush,
    adapter_flush: bool,
}

impl DmaDisk {
    /// One DMA transfer of the IRP's MDL in `direction` at `offset`, in the order the disk
    /// was configured with; completes the IRP while the buffer is still mapped (so a missing
    /// adapter flush is caught at completion), then unmaps.
    fn transfer(&self, irp: Irp, direction: Direction, offset: u64) -> Status {
        let Some(mdl) = irp.mdl() else { return irp.complete(Status::INVALID_PARAMETER) };
        let other = match direction {
            Direction::ToDevice => Direction::FromDevice,
            Direction::FromDevice => Direction::ToDevice,
        };
        match self.flush {
            Flush::BeforeMap => flush_io_buffers(mdl, direction, Transfer::Dma),
            Flush::WrongDirection => flush_io_buffers(mdl, other, Transfer::Dma),
            _ => {}
        }
        // SAFETY: no reference into the MDL's bytes is held while it is mapped.
        let mapping = unsafe { self.dma.map_transfer(mdl) };
        if self.flush == Flush::AfterMap {
            flush_io_buffers(mdl, direction, Transfer::Dma);
        }
        let started = match direction {
            Direction::ToDevice => self.dma.transfer_to_device(&mapping, mdl, offset),
            Direction::FromDevice => self.dma.transfer_from_device(&mapping, mdl, offset),
        };
        if started.is_err() {
            self.dma.flush_adapter_buffers(&mapping, mdl).unwrap();
            return irp.complete(Status::INVALID_PARAMETER);
        }
        if self.flush == Flush::AfterTransfer {
            flush_io_buffers(mdl, direction, Transfer::Dma);
        }
        if self.adapter_flush {
            self.dma.flush_adapter_buffers(&mapping, mdl).unwrap();
        }
        let n = mdl.byte_count() as u64;
        let status = irp.complete_with(Status::SUCCESS, n);
        drop(mapping);
        status
    }
}

impl Driver for DmaDisk {
    fn write(&self, _: &DeviceRef, irp: Irp) -> Status {
        let Parameters::Write { offset, .. } = *irp.parameters() else {
            return irp.complete(Status::INVALID_PARAMETER);
        };
        self.transfer(irp, Direction::ToDevice, offset)
    }

    fn read(&self, _: &DeviceRef, irp: Irp) -> Status {
        let Parameters::Read { offset, .. } = *irp.parameters() else {
            return irp.complete(Status::INVALID_PARAMETER);
        };
        self.transfer(irp, Direction::FromDevice, offset)
    }
}

fn disk(name: &str, flush: Flush, adapter_flush: bool) -> (DeviceRef, SimulatedDmaDevice) {
    let verifier = Verifier::new(VerifierMode::Record);
    let dma = SimulatedDmaDevice::new(name, 1 << 16, verifier.clone());
    let device = DeviceBuilder::new(name)
        .verifier(verifier)
        .build(DmaDisk { dma: dma.clone(), flush, adapter_flush })
        .unwrap();
    (device, dma)
}

fn write(dev: &DeviceRef, offset: u64, data: &[u8]) -> Status {
    let irp = Irp::for_device(dev, MajorFunction::Write)
        .with_parameters(Parameters::Write { offset, length: data.len() as u32 })
        .with_mdl(Mdl::from_slice(data).unwrap());
    dev.call_and_wait(irp).status()
}

/// Stores `data` at `offset` of the medium through a conformant driver on the same DMA
/// device (which reports to `dev`'s verifier), breaking no rule.
fn store(dev: &DeviceRef, dma: &SimulatedDmaDevice, offset: u64, data: &[u8]) {
    let writer = DmaDisk { dma: dma.clone(), flush: Flush::BeforeMap, adapter_flush: true };
    let wdev = DeviceBuilder::new("dma-writer").verifier(dev.verifier().clone()).build(writer).unwrap();
    assert_eq!(write(&wdev, offset, data), Status::SUCCESS);
    assert_eq!(dma.read_medium(offset as usize, data.len()), data);
    assert_eq!(dev.verifier().take_violations(), []);
}

/// What the CPU held in the buffer before a read: a stale read returns it.
const OLD: u8 = 0xEE;

/// Reads `len` bytes at `offset` into a buffer the CPU filled with [`OLD`] first.
fn read(dev: &DeviceRef, offset: u64, len: usize) -> Vec<u8> {
    let irp = Irp::for_device(dev, MajorFunction::Read)
        .with_parameters(Parameters::Read { offset, length: len as u32 })
        .with_mdl(Mdl::from_slice(&vec![OLD; len]).unwrap());
    let mut done = dev.call_and_wait(irp);
    assert_eq!(done.status(), Status::SUCCESS);
    done.take_mdl().unwrap().bytes().to_vec()
}

fn data(seed: u32) -> Vec<u8> {
    (0..4096u32).map(|i| (i * 7 + seed) as u8).collect()
}

/// The one violation `dev` recorded, which must be `rule` on `major`.
fn only_violation(dev: &DeviceRef, rule: Rule, major: MajorFunction) -> Violation {
    let v = dev.verifier().take_violations();
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!((v[0].rule, v[0].major), (rule, major), "{v:#?}");
    v.into_iter().next().unwrap()
}

#[test]
fn the_nt_order_moves_correct_data_both_ways_and_breaks_no_rule() {
    for flush in [Flush::BeforeMap, Flush::AfterMap] {
        let (dev, dma) = disk("dma-good", flush, true);
        let data = data(3);
        assert_eq!(write(&dev, 8192, &data), Status::SUCCESS);
        assert_eq!(dma.read_medium(8192, 4096), data, "{flush:?}");
        assert_eq!(read(&dev, 8192, 4096), data, "{flush:?}");
        assert_eq!(dev.verifier().take_violations(), [], "{flush:?}");
    }
}

#[test]
fn no_flush_before_a_dma_write_sends_stale_memory_and_is_v007() {
    let (dev, dma) = disk("dma-write-unflushed", Flush::Missing, true);
    assert_eq!(write(&dev, 0, &[0xA5; 4096]), Status::SUCCESS);
    // The device read RAM, which never got the CPU's dirty lines.
    assert_eq!(dma.read_medium(0, 4096), vec![0u8; 4096]);
    let v = only_violation(&dev, Rule::DmaUnflushedMdl, MajorFunction::Write);
    assert_eq!(v.device, "dma-write-unflushed");
    assert!(v.to_string().contains("IRPSTACK-V007"), "{v}");
}

#[test]
fn no_flush_before_a_dma_read_leaves_the_cpu_on_stale_lines_and_is_v007() {
    let (dev, dma) = disk("dma-read-unflushed", Flush::Missing, true);
    let data = data(5);
    // Put the data on the medium through a conformant write on the same device.
    store(&dev, &dma, 4096, &data);
    assert_eq!(read(&dev, 4096, 4096), vec![OLD; 4096], "the CPU still sees its own lines");
    let v = only_violation(&dev, Rule::DmaUnflushedMdl, MajorFunction::Read);
    assert!(v.detail.contains("FromDevice"), "{v}");
}

/// The order the old IRPSTACK-V008 asked for (flush after a DMA read) is too late.
#[test]
fn a_flush_only_after_a_dma_read_is_too_late_and_is_v007() {
    let (dev, dma) = disk("dma-read-late", Flush::AfterTransfer, true);
    store(&dev, &dma, 0, &data(9));
    assert_eq!(read(&dev, 0, 4096), vec![OLD; 4096]);
    only_violation(&dev, Rule::DmaUnflushedMdl, MajorFunction::Read);
}

#[test]
fn a_flush_for_the_other_direction_before_a_dma_read_is_v007() {
    let (dev, dma) = disk("dma-read-wrong-way", Flush::WrongDirection, true);
    store(&dev, &dma, 0, &data(11));
    // ToDevice only cleans: the CPU keeps its (stale) lines.
    assert_eq!(read(&dev, 0, 4096), vec![OLD; 4096]);
    only_violation(&dev, Rule::DmaUnflushedMdl, MajorFunction::Read);
}

/// `ReadOperation` = TRUE writes dirty lines back too (the seed: "flushes data from all
/// processors' caches to system memory"), so a device reading the buffer gets current data.
#[test]
fn a_from_device_flush_before_a_dma_write_also_writes_back() {
    let (dev, dma) = disk("dma-write-read-flag", Flush::WrongDirection, true);
    assert_eq!(write(&dev, 0, &data(13)), Status::SUCCESS);
    assert_eq!(dma.read_medium(0, 4096), data(13));
    assert_eq!(dev.verifier().take_violations(), []);
}

#[test]
fn cpu_writes_between_the_flush_and_a_dma_read_are_v007() {
    let verifier = Verifier::new(VerifierMode::Record);
    let dma = SimulatedDmaDevice::new("dma-dirty-again", 4096, verifier.clone());
    let mut mdl = Mdl::with_len(512).unwrap();
    flush_io_buffers(&mdl, Direction::FromDevice, Transfer::Dma);
    mdl.bytes_mut().unwrap().fill(7); // a dirty line a write-back could put over the device's data
    // SAFETY: no reference into the bytes is held across `flush_adapter_buffers`.
    let mapping = unsafe { dma.map_transfer(&mdl) };
    dma.transfer_from_device(&mapping, &mdl, 0).unwrap();
    dma.flush_adapter_buffers(&mapping, &mdl).unwrap();
    assert_eq!(mdl.bytes(), &[7u8; 512][..]);
    let v = verifier.take_violations();
    assert_eq!(v.iter().map(|v| v.rule).collect::<Vec<_>>(), [Rule::DmaUnflushedMdl]);
}

#[test]
fn no_adapter_flush_after_a_dma_write_loses_data_and_is_v008() {
    let (dev, dma) = disk("dma-write-no-adapter-flush", Flush::BeforeMap, false);
    assert_eq!(write(&dev, 0, &data(17)), Status::SUCCESS);
    assert_eq!(dma.read_medium(0, 4096), vec![0u8; 4096], "the adapter never passed it on");
    let v = only_violation(&dev, Rule::DmaAdapterBuffersNotFlushed, MajorFunction::Write);
    assert!(v.to_string().contains("IRPSTACK-V008") && v.detail.contains("the IRP completed"), "{v}");
}

#[test]
fn no_adapter_flush_after_a_dma_read_is_v008() {
    let (dev, dma) = disk("dma-read-no-adapter-flush", Flush::BeforeMap, false);
    store(&dev, &dma, 0, &data(19));
    assert_eq!(read(&dev, 0, 4096), vec![OLD; 4096], "the data never left the adapter");
    only_violation(&dev, Rule::DmaAdapterBuffersNotFlushed, MajorFunction::Read);
}

#[test]
fn a_transfer_ends_with_its_own_adapter_flush_before_unmapping_or_the_next_transfer() {
    let verifier = Verifier::new(VerifierMode::Record);
    let dma = SimulatedDmaDevice::new("dma-adapter", 4096, verifier.clone());
    let mdl = Mdl::from_slice(&[4u8; 512]).unwrap();
    flush_io_buffers(&mdl, Direction::ToDevice, Transfer::Dma);
    // SAFETY: no reference into the bytes is held across `flush_adapter_buffers`.
    let mapping = unsafe { dma.map_transfer(&mdl) };
    dma.transfer_to_device(&mapping, &mdl, 0).unwrap();
    dma.transfer_to_device(&mapping, &mdl, 512).unwrap();
    let v = verifier.take_violations();
    assert_eq!(v.iter().map(|v| v.rule).collect::<Vec<_>>(), [Rule::DmaAdapterBuffersNotFlushed]);
    assert!(v[0].detail.contains("a new transfer started"), "{}", v[0]);
    drop(mapping);
    let v = verifier.take_violations();
    assert_eq!(v.iter().map(|v| v.rule).collect::<Vec<_>>(), [Rule::DmaAdapterBuffersNotFlushed]);
    assert!(v[0].detail.contains("unmapped"), "{}", v[0]);
    assert_eq!(dma.read_medium(0, 1024), vec![0u8; 1024]);
}

#[test]
fn flushing_after_changing_the_buffer_again_is_required() {
    let verifier = Verifier::new(VerifierMode::Record);
    let dma = SimulatedDmaDevice::new("dma-rewrite", 4096, verifier.clone());
    let mut mdl = Mdl::with_len(512).unwrap();
    mdl.bytes_mut().unwrap().fill(1);
    // SAFETY: no reference into the bytes is held across `flush_adapter_buffers`.
    let mapping = unsafe { dma.map_transfer(&mdl) };
    flush_io_buffers(&mdl, Direction::ToDevice, Transfer::Dma);
    dma.transfer_to_device(&mapping, &mdl, 0).unwrap();
    dma.flush_adapter_buffers(&mapping, &mdl).unwrap();
    assert_eq!(verifier.take_violations(), []);
    drop(mapping);
    // Changed after the flush and sent again without one: stale, and reported.
    mdl.bytes_mut().unwrap().fill(2);
    // SAFETY: as above.
    let mapping = unsafe { dma.map_transfer(&mdl) };
    flush_io_buffers(&mdl, Direction::ToDevice, Transfer::Dma);
    mdl.bytes_mut().unwrap().fill(3);
    dma.transfer_to_device(&mapping, &mdl, 0).unwrap();
    dma.flush_adapter_buffers(&mapping, &mdl).unwrap();
    assert_eq!(dma.read_medium(0, 512), vec![2u8; 512]);
    assert_eq!(verifier.take_violations().len(), 1);
    drop(mapping);
    // Out-of-range transfers are errors, not panics.
    // SAFETY: as above.
    let mapping = unsafe { dma.map_transfer(&mdl) };
    assert!(dma.transfer_to_device(&mapping, &mdl, 4000).is_err());
    assert!(dma.transfer_from_device(&mapping, &mdl, u64::MAX).is_err());
    let other = Mdl::with_len(512).unwrap();
    assert!(dma.flush_adapter_buffers(&mapping, &other).is_err(), "not the mapped MDL");
}

#[test]
fn flush_io_buffers_covers_one_mdl_not_the_chain() {
    let verifier = Verifier::new(VerifierMode::Record);
    let dma = SimulatedDmaDevice::new("dma-chain", 8192, verifier.clone());
    let mut first = Mdl::from_slice(&[1u8; 512]).unwrap();
    let second = Mdl::from_slice(&[2u8; 512]).unwrap();
    // SAFETY: no reference into the bytes is held across `flush_adapter_buffers`.
    let (m1, m2) = unsafe { (dma.map_transfer(&first), dma.map_transfer(&second)) };
    first.set_next(Some(Box::new(second)));
    // One call for the head only: the second MDL of the chain is not written back.
    flush_io_buffers(&first, Direction::ToDevice, Transfer::Dma);
    dma.transfer_to_device(&m1, &first, 0).unwrap();
    dma.flush_adapter_buffers(&m1, &first).unwrap();
    let second = first.next().unwrap();
    dma.transfer_to_device(&m2, second, 512).unwrap();
    dma.flush_adapter_buffers(&m2, second).unwrap();
    assert_eq!(dma.read_medium(0, 512), vec![1u8; 512]);
    assert_eq!(dma.read_medium(512, 512), vec![0u8; 512]);
    let v = verifier.take_violations();
    assert_eq!(v.iter().map(|v| v.rule).collect::<Vec<_>>(), [Rule::DmaUnflushedMdl]);
    // A device needs one call per MDL in the chain.
    for m in first.chain() {
        flush_io_buffers(m, Direction::ToDevice, Transfer::Dma);
    }
    dma.transfer_to_device(&m2, first.next().unwrap(), 512).unwrap();
    dma.flush_adapter_buffers(&m2, first.next().unwrap()).unwrap();
    assert_eq!(dma.read_medium(512, 512), vec![2u8; 512]);
    assert_eq!(verifier.take_violations(), []);
}
