use std::time::Instant;
fn main() {
    let c: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let x = ndpool::ndarray::Array4::<f32>::from_shape_fn((1, c, 112, 112), |(_, a, b, d)| {
        ((a * 13 + b * 31 + d * 17) % 101) as f32
    });
    let spec = ndpool::PoolSpec::max(3).stride(2).padding(1);
    let mut out = ndpool::pool2d(&x, &spec).unwrap();
    let reps = 20000 / c;
    let t = Instant::now();
    for _ in 0..reps {
        ndpool::pool2d_into(&x, &spec, out.view_mut()).unwrap();
    }
    println!(
        "{c} planes: {:.2} us per plane",
        t.elapsed().as_secs_f64() * 1e6 / (reps * c) as f64
    );
}
