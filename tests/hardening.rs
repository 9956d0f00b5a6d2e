//! Inputs at the edges: arithmetic that would overflow, values at the ends of the float
//! range, outputs left untouched on every error, and calls from many threads at once.

use ndpool::ndarray::{Array, Array2, Array3, Array4, ArrayD, IxDyn};
use ndpool::{Binning, Layout, LevelPlan, Mode, Padding, PoolError, PoolSpec, Spp, SppPlan};

#[test]
fn shape_arithmetic_overflow_is_an_error() {
    let x = Array2::<f32>::zeros((3, 3));
    let huge = usize::MAX;
    let specs = [
        PoolSpec::max(huge),
        PoolSpec::max((2, huge)).dilation(huge),
        PoolSpec::avg(2).dilation(huge / 2 + 1),
        PoolSpec::max(2).padding(huge),
        PoolSpec::max(2).padding(Padding::Explicit {
            top: 0,
            bottom: 0,
            left: huge - 1,
            right: 2,
        }),
        PoolSpec::max(2)
            .stride(huge)
            .ceil_mode(true)
            .padding(huge / 4),
    ];
    for spec in &specs {
        let result = ndpool::pool2d(&x, spec);
        assert!(result.is_err(), "{spec:?} gave {result:?}");
        assert!(spec.output_size(3, 3).is_err() || result.is_err());
    }
    // Huge but valid: one window (a huge stride; a huge window SAME-padded around the input).
    assert_eq!(
        ndpool::pool2d(&x, &PoolSpec::max(2).stride(huge))
            .unwrap()
            .shape(),
        &[1, 1]
    );
    assert_eq!(
        ndpool::pool2d(&x, &PoolSpec::max(huge).padding(Padding::Same).stride(huge)).unwrap(),
        Array2::zeros((1, 1))
    );
    assert_eq!(
        ndpool::pool2d(
            &x,
            &PoolSpec::avg((1, huge / 2))
                .stride(huge)
                .padding(Padding::SameLower)
        )
        .unwrap()
        .shape(),
        &[1, 1]
    );
    // Outputs too large to allocate are refused, not aborted on.
    let one = Array4::<f32>::zeros((1, 1, 1, 1));
    let wide = PoolSpec::max((1, 1 << 45))
        .stride(1)
        .padding(Padding::Explicit {
            top: 0,
            bottom: 0,
            left: (1 << 45) - 1,
            right: (1 << 45) - 1,
        });
    assert!(matches!(
        ndpool::pool2d(&one, &wide),
        Err(PoolError::Allocation { .. } | PoolError::Overflow { .. })
    ));
    // Adaptive with huge bin counts.
    assert!(ndpool::adaptive_pool2d(&x, (usize::MAX, 1), Mode::Avg).is_err());
    // SPP levels whose bin counts overflow.
    let x4 = Array4::<f32>::zeros((1, 2, 5, 5));
    assert!(Spp::new([(usize::MAX, 2)]).forward(&x4).is_err());
    assert!(Spp::new([usize::MAX])
        .binning(Binning::Padded)
        .plan(5, 5)
        .is_err());
    assert!(Spp::new([usize::MAX])
        .binning(Binning::Paper)
        .plan(5, 5)
        .is_err());
    assert_eq!(Spp::new([usize::MAX, 2]).output_len(usize::MAX), usize::MAX);
}

#[test]
fn into_leaves_out_untouched_on_every_error() {
    let x = Array3::<f64>::from_shape_fn((2, 6, 7), |(c, h, w)| (c + h * w) as f64);
    let bad = [
        PoolSpec::max(0),
        PoolSpec::max(2).stride(0),
        PoolSpec::max(2).dilation((1, 0)),
        PoolSpec::lp(-2.0, 2),
        PoolSpec::avg(2).divisor_override(0),
        PoolSpec::max(9),
        PoolSpec::max(3).padding(Padding::Explicit {
            top: 3,
            bottom: 0,
            left: 0,
            right: 0,
        }),
        PoolSpec::max(2).layout(Layout::ChannelsLast).padding(7),
        PoolSpec::max(2), // right spec, wrong out shape below
    ];
    for spec in &bad {
        let mut out = Array3::<f64>::from_elem((2, 5, 5), 42.0);
        assert!(
            ndpool::pool2d_into(&x, spec, out.view_mut()).is_err(),
            "{spec:?}"
        );
        assert!(out.iter().all(|&v| v == 42.0), "{spec:?} wrote into out");
    }
    // Too few axes for the layout.
    let flat = Array::from_elem(4, 1.0f64);
    let mut out = Array::from_elem(4, 42.0f64);
    assert!(ndpool::pool2d_into(&flat, &PoolSpec::max(1), out.view_mut()).is_err());
    assert!(out.iter().all(|&v| v == 42.0));
}

#[test]
fn large_values_do_not_overflow_averages_or_norms() {
    // 15x15 windows of f32::MAX: the f32 sum would be inf, the mean is f32::MAX.
    let x = Array4::<f32>::from_elem((1, 1, 20, 20), f32::MAX);
    let y = ndpool::pool2d(&x, &PoolSpec::avg(15).stride(1)).unwrap();
    assert!(y.iter().all(|&v| v == f32::MAX), "{y:?}");
    let y = ndpool::global_pool2d(&x, Mode::Avg).unwrap();
    assert_eq!(y[[0, 0, 0, 0]], f32::MAX);
    // L2 of 4 cells of 1e30 is 2e30 (squares would overflow f32); of f64::MAX / 2, finite.
    let x = Array2::<f32>::from_elem((2, 2), 1e30);
    let y = ndpool::pool2d(&x, &PoolSpec::lp(2.0, 2)).unwrap();
    assert!((y[[0, 0]] - 2e30).abs() <= 2e30 * 1e-6, "{y:?}");
    let x = Array2::<f64>::from_elem((2, 2), f64::MAX / 4.0);
    let y = ndpool::pool2d(&x, &PoolSpec::lp(2.0, 2)).unwrap();
    assert!(y[[0, 0]].is_finite() && (y[[0, 0]] / (f64::MAX / 2.0) - 1.0).abs() < 1e-12);
    // Subnormals average and norm to subnormals, not zero.
    let tiny = f32::MIN_POSITIVE / 8.0;
    let x = Array2::<f32>::from_elem((2, 2), tiny);
    assert_eq!(ndpool::pool2d(&x, &PoolSpec::avg(2)).unwrap()[[0, 0]], tiny);
    let l1 = ndpool::pool2d(&x, &PoolSpec::lp(1.0, 2)).unwrap()[[0, 0]];
    assert_eq!(l1, 4.0 * tiny);
}

#[test]
fn special_values_follow_pytorch() {
    let nan = f32::NAN;
    let inf = f32::INFINITY;
    // Max: NaN wins, -inf alone stays -inf, -0.0 before 0.0 stays -0.0.
    let x = Array2::from_shape_vec(
        (2, 6),
        vec![
            1.0, nan, -inf, -inf, -0.0, 0.0, nan, 2.0, -inf, -inf, 0.0, -0.0,
        ],
    )
    .unwrap();
    let y = ndpool::pool2d(&x, &PoolSpec::max(2)).unwrap();
    assert!(y[[0, 0]].is_nan());
    assert_eq!(y[[0, 1]], -inf);
    assert_eq!(y[[0, 2]].to_bits(), (-0.0f32).to_bits());
    // Avg: inf - inf is NaN, inf alone is inf.
    let x = Array2::from_shape_vec((1, 4), vec![inf, -inf, inf, 1.0]).unwrap();
    let y = ndpool::pool2d(&x, &PoolSpec::avg((1, 2))).unwrap();
    assert!(y[[0, 0]].is_nan());
    assert_eq!(y[[0, 1]], inf);
    // Lp: inf norms to inf, NaN to NaN.
    let y = ndpool::pool2d(&x, &PoolSpec::lp(2.0, (1, 2))).unwrap();
    assert_eq!(y[[0, 0]], inf);
    let x = Array2::from_shape_vec((1, 2), vec![nan, 1.0]).unwrap();
    assert!(ndpool::pool2d(&x, &PoolSpec::lp(2.0, (1, 2))).unwrap()[[0, 0]].is_nan());
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<PoolSpec>();
    send_sync::<Mode>();
    send_sync::<Padding>();
    send_sync::<Layout>();
    send_sync::<PoolError>();
    send_sync::<Spp>();
    send_sync::<SppPlan>();
    send_sync::<LevelPlan>();
    send_sync::<Binning>();
    send_sync::<ndpool::Kernel>();
    send_sync::<ndpool::Isa>();
}

#[test]
fn many_threads_at_once_agree() {
    let x = ArrayD::from_shape_fn(IxDyn(&[2, 8, 33, 29]), |i| {
        ((i[0] * 7 + i[1] * 13 + i[2] * 3 + i[3] * 5) % 23) as f32 - 11.0
    });
    let specs = [
        PoolSpec::max(3).stride(2).padding(1),
        PoolSpec::avg(3)
            .stride(1)
            .padding(1)
            .count_include_pad(false),
        PoolSpec::lp(2.0, 2),
        PoolSpec::avg(5).stride((2, 1)).dilation(2),
    ];
    let expected: Vec<_> = specs
        .iter()
        .map(|s| ndpool::pool2d(&x, s).unwrap())
        .collect();
    let spp = Spp::new([1, 2, 4]);
    let x4 = x
        .clone()
        .into_dimensionality::<ndpool::ndarray::Ix4>()
        .unwrap();
    let spp_expected = spp.forward(&x4).unwrap();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (x, specs, expected, x4, spp, spp_expected) =
                (&x, &specs, &expected, &x4, &spp, &spp_expected);
            scope.spawn(move || {
                for round in 0..20 {
                    let i = (t + round) % specs.len();
                    assert_eq!(&ndpool::pool2d(x, &specs[i]).unwrap(), &expected[i]);
                    assert_eq!(&spp.forward(x4).unwrap(), spp_expected);
                }
            });
        }
    });
}

/// An input past the size where kernels ask for rows ahead of time, with a row stride far
/// beyond the plane: the rows asked for a step are bounded, not counted up to the stride
/// (with 2^40 the call never returned), and their addresses wrap rather than overflow.
#[test]
fn streaming_input_with_a_huge_row_stride() {
    let x = Array4::from_shape_fn((1, 1, 4100, 2049), |(_, _, i, j)| ((i * 7 + j) % 13) as f32);
    for stride in [1usize << 40, 1 << 61, usize::MAX] {
        let spec = PoolSpec::max(3).stride((stride, 2));
        let y = ndpool::pool2d(&x, &spec).unwrap();
        assert_eq!(y.dim(), (1, 1, 1, 1024));
        for (j, &v) in y.iter().enumerate() {
            let want = (0..3)
                .flat_map(|i| (0..3).map(move |d| ((i * 7 + 2 * j + d) % 13) as f32))
                .fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(v, want, "row stride {stride}, column {j}");
        }
    }
}
