//! One test per `PoolError` variant: the variant, and a message that names the values.

use ndpool::ndarray::{Array, Array2, Array3, Array4};
use ndpool::{Axis2, Binning, Layout, Mode, Padding, PoolError, PoolSpec, Spp};

fn message_has(err: &PoolError, parts: &[&str]) {
    let msg = err.to_string();
    for part in parts {
        assert!(msg.contains(part), "message {msg:?} lacks {part:?}");
    }
}

fn x44() -> Array2<f32> {
    Array2::zeros((4, 4))
}

#[test]
fn zero_window() {
    let err = ndpool::pool2d(&x44(), &PoolSpec::max((0, 2))).unwrap_err();
    assert!(matches!(err, PoolError::ZeroWindow { .. }));
    message_has(&err, &["0x2"]);
}

#[test]
fn zero_stride() {
    let err = ndpool::pool2d(&x44(), &PoolSpec::max(2).stride((2, 0))).unwrap_err();
    assert!(matches!(err, PoolError::ZeroStride { .. }));
    message_has(&err, &["2x0"]);
}

#[test]
fn zero_dilation() {
    let err = ndpool::pool2d(&x44(), &PoolSpec::max(2).dilation((0, 1))).unwrap_err();
    assert!(matches!(err, PoolError::ZeroDilation { .. }));
    message_has(&err, &["0x1"]);
}

#[test]
fn invalid_norm() {
    for p in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = ndpool::pool2d(&x44(), &PoolSpec::lp(p, 2)).unwrap_err();
        assert!(matches!(err, PoolError::InvalidNorm { .. }), "{p}");
        message_has(&err, &[&format!("p = {p}")]);
    }
}

#[test]
fn zero_divisor() {
    let err = ndpool::pool2d(&x44(), &PoolSpec::avg(2).divisor_override(0)).unwrap_err();
    assert_eq!(err, PoolError::ZeroDivisor);
    message_has(&err, &["divisor_override", "0"]);
}

#[test]
fn empty_output() {
    let err = ndpool::pool2d(
        &x44(),
        &PoolSpec::max((2, 3)).dilation((1, 3)).padding((0, 1)),
    )
    .unwrap_err();
    assert_eq!(
        err,
        PoolError::EmptyOutput {
            axis: Axis2::Width,
            input: 4,
            pad_begin: 1,
            pad_end: 1,
            extent: 7
        }
    );
    message_has(&err, &["width", "extent 7", "input 4", "padding 1 + 1"]);
    assert!(PoolSpec::max(5).output_size(4, 4).is_err());
}

#[test]
fn window_outside_input() {
    // Padding 3 with window 3: the first window reads only padding.
    let err = ndpool::pool2d(
        &x44(),
        &PoolSpec::max(3).padding(Padding::Explicit {
            top: 3,
            bottom: 0,
            left: 0,
            right: 0,
        }),
    )
    .unwrap_err();
    assert_eq!(
        err,
        PoolError::WindowOutsideInput {
            axis: Axis2::Height,
            index: 0,
            start: -3,
            extent: 3,
            input: 4
        }
    );
    message_has(&err, &["output 0", "height", "starts at -3", "input has 4"]);
    // Dilation 5 over 2 cells: the middle window steps over the input.
    let x = Array2::<f64>::zeros((1, 2));
    let err = ndpool::pool2d(
        &x,
        &PoolSpec::max((1, 2))
            .dilation((1, 5))
            .stride(1)
            .padding((0, 4)),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            PoolError::WindowOutsideInput {
                axis: Axis2::Width,
                index: 1,
                start: -3,
                extent: 6,
                input: 2
            }
        ),
        "{err:?}"
    );
}

#[test]
fn too_few_axes() {
    let x = Array::from_elem(5, 1.0f32);
    let err = ndpool::pool2d(&x, &PoolSpec::max(1)).unwrap_err();
    assert_eq!(
        err,
        PoolError::TooFewAxes {
            ndim: 1,
            required: 2,
            layout: Layout::ChannelsFirst
        }
    );
    message_has(&err, &["1 axes", "ChannelsFirst", "at least 2"]);
    let err = ndpool::pool2d(&x44(), &PoolSpec::max(1).layout(Layout::ChannelsLast)).unwrap_err();
    message_has(&err, &["2 axes", "ChannelsLast", "at least 3"]);
}

#[test]
fn zero_sized_input() {
    let x = Array3::<f32>::zeros((2, 0, 5));
    let err = ndpool::pool2d(&x, &PoolSpec::max(1)).unwrap_err();
    assert_eq!(
        err,
        PoolError::ZeroSizedInput {
            height: 0,
            width: 5
        }
    );
    message_has(&err, &["0x5"]);
    assert!(ndpool::global_pool2d(&x, Mode::Avg).is_err());
    // A zero-sized batch axis is fine: the output is empty too.
    let x = Array4::<f32>::zeros((0, 3, 4, 4));
    assert_eq!(
        ndpool::pool2d(&x, &PoolSpec::max(2)).unwrap().shape(),
        &[0, 3, 2, 2]
    );
}

#[test]
fn zero_output_size() {
    let err = ndpool::adaptive_pool2d(&x44(), (3, 0), Mode::Avg).unwrap_err();
    assert_eq!(err, PoolError::ZeroOutputSize { axis: Axis2::Width });
    message_has(&err, &["width", "got 0"]);
}

#[test]
fn output_shape() {
    let mut out = Array2::<f32>::from_elem((3, 2), 7.0);
    let err = ndpool::pool2d_into(&x44(), &PoolSpec::max(2), out.view_mut()).unwrap_err();
    assert_eq!(
        err,
        PoolError::OutputShape {
            expected: vec![2, 2],
            actual: vec![3, 2]
        }
    );
    message_has(&err, &["[3, 2]", "[2, 2]"]);
    assert!(out.iter().all(|&v| v == 7.0), "out was written on error");
}

#[test]
fn indices_need_max() {
    let err = ndpool::max_pool2d_with_indices(&x44(), &PoolSpec::avg(2)).unwrap_err();
    assert_eq!(err, PoolError::IndicesNeedMax { mode: Mode::Avg });
    message_has(&err, &["Avg"]);
}

#[test]
fn overflow() {
    let err = ndpool::pool2d(&x44(), &PoolSpec::max(3).dilation(usize::MAX)).unwrap_err();
    assert!(matches!(err, PoolError::Overflow { .. }), "{err:?}");
    message_has(&err, &[&usize::MAX.to_string()]);
    let err = ndpool::pool2d(
        &x44(),
        &PoolSpec::max(1).padding(Padding::Explicit {
            top: usize::MAX,
            bottom: 1,
            left: 0,
            right: 0,
        }),
    )
    .unwrap_err();
    assert!(matches!(err, PoolError::Overflow { .. }), "{err:?}");
}

#[test]
fn allocation() {
    // A window spanning all of a huge padding keeps every window valid; the output is too
    // large to allocate.
    let big = 1usize << 40;
    let x = Array4::<f32>::zeros((1, 1, 1, 1));
    let spec = PoolSpec::max((1, big))
        .stride(1)
        .padding(Padding::Explicit {
            top: 0,
            bottom: 0,
            left: big - 1,
            right: big - 1,
        });
    let err = ndpool::pool2d(&x, &spec).unwrap_err();
    assert!(matches!(err, PoolError::Allocation { .. }), "{err:?}");
    message_has(&err, &["bytes"]);
}

#[test]
fn zero_level() {
    let x = Array4::<f32>::zeros((1, 1, 4, 4));
    let err = Spp::new([(1, 1), (2, 0)]).forward(&x).unwrap_err();
    assert!(
        matches!(err, PoolError::ZeroLevel { level: 1, .. }),
        "{err:?}"
    );
    message_has(&err, &["level 1", "2x0"]);
    assert!(Spp::new([0]).plan(4, 4).is_err());
}

#[test]
fn no_levels() {
    let x = Array4::<f32>::zeros((1, 1, 4, 4));
    let err = Spp::new(Vec::<usize>::new()).forward(&x).unwrap_err();
    assert_eq!(err, PoolError::NoLevels);
}

#[test]
fn paper_bin_count() {
    let x = Array4::<f32>::zeros((1, 1, 7, 8));
    let err = Spp::new([1, 4])
        .binning(Binning::Paper)
        .forward(&x)
        .unwrap_err();
    assert_eq!(
        err,
        PoolError::PaperBinCount {
            level: 1,
            axis: Axis2::Height,
            size: 7,
            bins: 4,
            window: 2,
            stride: 1,
            got: 6
        }
    );
    message_has(
        &err,
        &[
            "level 1",
            "ceil(7/4) = 2",
            "floor(7/4) = 1",
            "gives 6 windows",
            "not 4",
        ],
    );
    // The plan itself succeeds so the failure can be inspected.
    assert!(!Spp::new([4])
        .binning(Binning::Paper)
        .plan(7, 8)
        .unwrap()
        .is_exact());
}

#[test]
fn more_bins_than_cells() {
    let err = Spp::new([6])
        .binning(Binning::Paper)
        .plan(5, 9)
        .unwrap_err();
    assert_eq!(
        err,
        PoolError::MoreBinsThanCells {
            level: 0,
            axis: Axis2::Height,
            size: 5,
            bins: 6
        }
    );
    message_has(&err, &["6 bins", "5 cells", "floor(5/6)"]);
}

#[test]
fn padded_bin_empty() {
    let x = Array4::<f32>::zeros((1, 1, 5, 5));
    let err = Spp::new([4])
        .binning(Binning::Padded)
        .forward(&x)
        .unwrap_err();
    assert_eq!(
        err,
        PoolError::PaddedBinEmpty {
            level: 0,
            axis: Axis2::Height,
            size: 5,
            bins: 4,
            window: 2,
            pad_begin: 2,
            pad_end: 1
        }
    );
    message_has(
        &err,
        &["level 0", "5 cells", "4 bins", "window 2", "padding 2 + 1"],
    );
}
