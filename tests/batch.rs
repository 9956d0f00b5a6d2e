//! A sample's results do not depend on what else is in the batch: pooled alone, each sample
//! gives the same bits as inside the batch, on every instruction set. (Its own binary: the
//! instruction set is forced process-wide, and both calls of a comparison must use one.)

mod common;

use common::assert_bits;
use ndpool::ndarray::{s, Array4};
use ndpool::{force_isa, global_pool2d, pool2d, Isa, Mode, PoolSpec};

/// Planes whose sums cancel: each starts with a large value, its negation and a small one,
/// so an order of additions that meets the large value and the small one first loses the
/// small one (the mean comes out 0 instead of about 1/49, as fuzzing found).
fn cancelling(shape: (usize, usize, usize, usize)) -> Array4<f32> {
    let (_, channels, _, width) = shape;
    Array4::from_shape_fn(shape, |(n, c, h, w)| {
        let (plane, cell) = (n * channels + c, h * width + w);
        let large = 1.0e20 * (1.0 + plane as f32 / 64.0);
        match cell {
            0 => large,
            1 => -large,
            2 => 1.0 + plane as f32,
            _ => ((cell * 7 + plane) % 11) as f32 * 0.25,
        }
    })
}

#[test]
fn each_sample_alone_gives_the_bits_it_gives_in_the_batch() {
    // 3 x 5 planes: the global mean's hand-written paths add 8 (AVX2: 4) planes across at
    // once, so the batch's planes and a sample's fall differently into groups.
    let x = cancelling((3, 5, 7, 7));
    let specs = [
        PoolSpec::avg(3).stride(1).padding(1),
        PoolSpec::avg(7).stride(1),
        PoolSpec::max(3).stride(2),
    ];
    for &isa in Isa::available() {
        force_isa(Some(isa));
        let batch = global_pool2d(&x, Mode::Avg).unwrap();
        let pooled: Vec<_> = specs.iter().map(|spec| pool2d(&x, spec).unwrap()).collect();
        for n in 0..x.dim().0 {
            let sample = x.slice(s![n..n + 1, .., .., ..]);
            let what = format!("{isa:?}, sample {n}");
            assert_bits(
                &global_pool2d(&sample, Mode::Avg).unwrap().view().into_dyn(),
                &batch.slice(s![n..n + 1, .., .., ..]).into_dyn(),
                &format!("global mean, {what}"),
            );
            for (spec, all) in specs.iter().zip(&pooled) {
                assert_bits(
                    &pool2d(&sample, spec).unwrap().view().into_dyn(),
                    &all.slice(s![n..n + 1, .., .., ..]).into_dyn(),
                    &format!("{spec:?}, {what}"),
                );
            }
        }
    }
    force_isa(None);
}
