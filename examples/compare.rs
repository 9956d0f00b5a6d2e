//! The ndpool side of `compare/peers.py` and `compare/more_shapes.py`: times every named
//! shape and the more common ones (median of `reps` calls, output allocation included, as
//! for the peers) and prints `TAG seconds` lines.
//!
//! RAYON_NUM_THREADS=1 cargo run --release --example compare -- 200 [SHAPE_PREFIX]

use std::time::Instant;

include!("../benches/shapes.rs");

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let filter = std::env::args().nth(2).unwrap_or_default();
    let all = shapes().into_iter().chain(more_shapes());
    for shape in all.filter(|s| s.name.starts_with(&filter)) {
        let x = input(&shape);
        // Warm up for a fifth of a second, not one call: a core that was idle runs at a
        // fraction of its speed for a while (seen as 2x on this project's VMs), and the
        // peers are timed in a process that has been busy all along.
        let warm = Instant::now();
        while warm.elapsed().as_secs_f64() < 0.2 {
            std::hint::black_box(run(&shape, &x));
        }
        let mut times: Vec<f64> = (0..reps)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(run(&shape, &x));
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("{} {:e}", &shape.name[..2], times[times.len() / 2]);
    }
}
