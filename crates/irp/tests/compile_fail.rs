//! Ownership rules the compiler enforces: an IRP and its MDL cannot be touched after
//! the IRP was completed (Static Driver Verifier's MdlAfterReqCompleted*A and
//! DoubleCompletion rules become compile errors).

#[test]
fn touching_a_completed_irp_or_its_mdl_does_not_compile() {
    if irp::testing::emulator().is_some() {
        // trybuild runs cargo again, for the target; what compiles does not depend on it.
        irp::testing::skip("compile-fail cases are target-independent: the native run checks them");
        return;
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile-fail/*.rs");
}
