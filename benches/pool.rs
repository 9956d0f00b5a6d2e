//! Criterion benches over the named shapes of BENCH_SHAPES.md, then the common shapes
//! beyond them (`more_shapes`, X1-XC), on 1 and 2 threads. Throughput is input + output
//! bytes, so criterion reports GB/s.
//!
//! cargo bench --bench pool            (all)
//! cargo bench --bench pool -- B1      (one shape)
//! cargo bench --bench pool -- X       (the common shapes)

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

include!("shapes.rs");

fn bench_shapes(c: &mut Criterion) {
    for shape in shapes().into_iter().chain(more_shapes()) {
        let x = input(&shape);
        let out_len = run(&shape, &x);
        let mut group = c.benchmark_group(shape.name);
        group.throughput(Throughput::Bytes(shape.bytes(out_len) as u64));
        group.sample_size(30);
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            group.bench_function(BenchmarkId::new("ndpool", format!("{threads}t")), |b| {
                pool.install(|| b.iter(|| run(&shape, &x)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_shapes);
criterion_main!(benches);
