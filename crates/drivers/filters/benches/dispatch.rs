//! Criterion: the cost of one flush IRP through 1, 4 and 16 forwarding filters over a
//! null device (`irpstack bench dispatch` prints the same in ns per layer).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use disks::null::NullDevice;
use filters::passthrough::stack_over;
use irp::{Irp, MajorFunction};

fn dispatch(c: &mut Criterion) {
    let mut group = c.benchmark_group("dispatch");
    for layers in [0usize, 1, 4, 16] {
        let top = stack_over(NullDevice::create("null"), layers).expect("a small stack");
        group.bench_with_input(BenchmarkId::new("flush_irp", layers), &top, |b, top| {
            b.iter(|| top.call_and_wait(Irp::for_device(top, MajorFunction::FlushBuffers)).status())
        });
    }
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
