use super::*;

#[test]
fn a_new_irp_has_its_locations_and_no_current_one() {
    let irp = Irp::new(3);
    assert_eq!(irp.stack_count(), 3);
    assert_eq!(irp.current_index(), None);
    assert_eq!(irp.io_status(), IoStatus::default());
    // Completing an IRP nobody sent goes straight to the originator's slot.
    let shared = Arc::clone(&irp.body().shared);
    assert_eq!(irp.complete(Status::CANCELLED), Status::CANCELLED);
    let body = shared.done().try_take().expect("delivered");
    assert_eq!(body.io_status.status, Status::CANCELLED);
}

#[test]
fn stack_size_is_clamped() {
    assert_eq!(Irp::new(0).stack_count(), 1);
    assert_eq!(Irp::new(1000).stack_count(), MAX_STACK_SIZE);
    // Let them complete quietly.
}

#[test]
fn flush_flags_travel_as_minor_function() {
    for flags in
        [FlushFlags::Full, FlushFlags::FileDataOnly, FlushFlags::NoSync, FlushFlags::FileDataSyncOnly]
    {
        let mut irp = Irp::new(1);
        irp.next_location_mut().major = MajorFunction::FlushBuffers;
        let irp = irp.with_flush_flags(flags);
        assert_eq!(irp.body().stack[0].flush_flags(), flags);
        assert_eq!(FlushFlags::from_flags(flags.to_flags()), Some(flags));
        irp.complete(Status::SUCCESS);
    }
    assert_eq!(FlushFlags::from_flags(3), None);
}
