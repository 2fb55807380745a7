//! Criterion: writing dirty lines back with each available method (CLWB, CLFLUSHOPT,
//! CLFLUSH) plus the fence, over 4 KiB, 1 MiB and 64 MiB (`irpstack bench cacheflush`
//! prints GB/s next to memcpy).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use irp::cpu_cache::{available_methods, drain, flush_with};

fn cacheflush(c: &mut Criterion) {
    let mut group = c.benchmark_group("cacheflush");
    for size in [4usize << 10, 1 << 20, 64 << 20] {
        let mut buf = vec![0u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        if size > (1 << 20) {
            group.sample_size(10);
        }
        for method in available_methods() {
            group.bench_with_input(BenchmarkId::new(method.name(), size), &size, |b, _| {
                let mut v = 0u8;
                b.iter_custom(|iters| {
                    let mut total = std::time::Duration::ZERO;
                    for _ in 0..iters {
                        v = v.wrapping_add(1);
                        buf.fill(v);
                        let t = std::time::Instant::now();
                        flush_with(&buf, method);
                        drain();
                        total += t.elapsed();
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, cacheflush);
criterion_main!(benches);
