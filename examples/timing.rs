//! Times the named benchmark shapes once each on this machine (a quick look; the criterion
//! benches and the peer comparison are the real measurements).
//!
//! cargo run --release --example timing [-- SHAPE_PREFIX]

use std::time::Instant;

include!("../benches/shapes.rs");

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    for shape in shapes().into_iter().filter(|s| s.name.starts_with(&filter)) {
        let x = input(&shape);
        let out_len = run(&shape, &x);
        let mut best = f64::INFINITY;
        for _ in 0..30 {
            let t = Instant::now();
            std::hint::black_box(run(&shape, &x));
            best = best.min(t.elapsed().as_secs_f64());
        }
        if let Op::Pool(spec) = &shape.op {
            let mut out = ndpool::pool2d(&x, spec).unwrap();
            let mut best_into = f64::INFINITY;
            for _ in 0..30 {
                let t = Instant::now();
                ndpool::pool2d_into(&x, spec, out.view_mut()).unwrap();
                best_into = best_into.min(t.elapsed().as_secs_f64());
            }
            println!(
                "{:<28} {:>9.1} us into a preallocated output",
                shape.name,
                best_into * 1e6
            );
        }
        println!(
            "{:<28} {:>9.1} us {:>6.1} GB/s  isa {:?}",
            shape.name,
            best * 1e6,
            shape.bytes(out_len) as f64 / best / 1e9,
            ndpool::current_isa()
        );
    }
}
