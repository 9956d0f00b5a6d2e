//! The multi-core path against the reference, on pools of several sizes: called from
//! outside a pool, from inside one (`install`), and from the pool's own workers (nested in a
//! parallel iterator), where the calling thread takes jobs beside the workers.

mod common;

use common::{assert_bits, assert_ulps};
use ndpool::ndarray::Array4;
use ndpool::{pool2d, reference, PoolSpec};
use rayon::prelude::*;
use rayon::ThreadPoolBuilder;

/// Enough planes and rows for the work to be split (batch 2, so planes of both images).
fn input() -> Array4<f32> {
    let mut state = 0x9e37_79b9_7f4a_7c15;
    Array4::from_shape_simple_fn((2, 24, 61, 59), || {
        common::xorshift(&mut state);
        (state % 1001) as f32 * 0.01 - 5.0
    })
}

#[test]
fn every_pool_size_and_nesting_agrees_with_the_reference() {
    let x = input();
    let specs = [
        PoolSpec::max(3).stride(2).padding(1),
        PoolSpec::avg(3)
            .stride(1)
            .padding(1)
            .count_include_pad(false),
        PoolSpec::avg(9).stride(1),
    ];
    for spec in &specs {
        let want = reference::pool2d(&x.view().into_dyn(), spec).expect("valid spec");
        let check = |got: &Array4<f32>, what: &str| {
            let got = got.view().into_dyn();
            if spec.mode_value() == ndpool::Mode::Max {
                assert_bits(&got, &want.view(), what);
            } else {
                assert_ulps(&got, &want.view(), 4.0, what);
            }
        };
        check(&pool2d(&x, spec).unwrap(), "global pool");
        for threads in [1, 2, 3, 5] {
            let pool = ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            check(
                &pool.install(|| pool2d(&x, spec).unwrap()),
                &format!("{threads} threads, installed"),
            );
            let nested: Vec<_> = pool.install(|| {
                (0..2 * threads)
                    .into_par_iter()
                    .map(|_| pool2d(&x, spec).unwrap())
                    .collect()
            });
            for got in &nested {
                check(got, &format!("{threads} threads, nested"));
            }
        }
    }
}
