//! Every public pooling function against the reference oracle, over random shapes, specs,
//! layouts, element types and memory layouts of the input and output views.

mod common;

use common::{assert_bits, assert_ulps, same_bits};
use ndpool::ndarray::{Array, ArrayD, ArrayViewD, Dimension, IxDyn, Slice};
use ndpool::{force_isa, reference, Element, Isa, Layout, Mode, Padding, PoolSpec, Size2};
use proptest::prelude::*;

/// How the input array is laid out in memory.
#[derive(Clone, Copy, Debug)]
enum ViewKind {
    Standard,
    /// Axes reversed in memory (Fortran order).
    Transposed,
    /// Every axis walked backwards.
    Negative,
    /// Every other element of a larger array along the spatial axes.
    Stepped,
}

fn view_kind() -> impl Strategy<Value = ViewKind> {
    prop_oneof![
        Just(ViewKind::Standard),
        Just(ViewKind::Transposed),
        Just(ViewKind::Negative),
        Just(ViewKind::Stepped)
    ]
}

/// Deterministic values from a seed: small integers (ties), with NaN, ±inf and -0.0 mixed in
/// when `specials`.
fn values<T: Element>(n: usize, seed: u64, specials: bool) -> Vec<T> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            common::xorshift(&mut state);
            let r = state % 64;
            let v = match r {
                0 if specials => f64::NAN,
                1 if specials => f64::INFINITY,
                2 if specials => f64::NEG_INFINITY,
                3 if specials => -0.0,
                _ => (state % 17) as f64 - 8.0 + if r.is_multiple_of(3) { 0.25 } else { 0.0 },
            };
            T::from(v).unwrap()
        })
        .collect()
}

/// An input of logical `shape` stored as `kind` says.
fn make_input<T: Element>(shape: &[usize], kind: ViewKind, seed: u64, specials: bool) -> ArrayD<T> {
    let n: usize = shape.iter().product();
    let data = values::<T>(n, seed, specials);
    let logical = ArrayD::from_shape_vec(IxDyn(shape), data).unwrap();
    match kind {
        ViewKind::Standard => logical,
        ViewKind::Transposed => {
            let mut t = ArrayD::from_elem(
                IxDyn(&shape.iter().rev().copied().collect::<Vec<_>>()),
                T::zero(),
            )
            .reversed_axes();
            t.assign(&logical);
            t
        }
        ViewKind::Negative => {
            let mut t = logical.clone();
            for ax in 0..t.ndim() {
                t.invert_axis(ndpool::ndarray::Axis(ax));
            }
            t.assign(&logical);
            t
        }
        ViewKind::Stepped => logical,
    }
}

/// Runs `check` on a view of the input as `kind` says (Stepped slices a doubled array).
fn with_view<T: Element, R>(
    shape: &[usize],
    kind: ViewKind,
    seed: u64,
    specials: bool,
    check: impl FnOnce(ArrayViewD<T>) -> R,
) -> R {
    match kind {
        ViewKind::Stepped => {
            let big_shape: Vec<usize> = shape.iter().map(|&s| 2 * s).collect();
            let big = make_input::<T>(&big_shape, ViewKind::Standard, seed, specials);
            let mut v = big.view();
            for ax in 0..v.ndim() {
                v.slice_axis_inplace(ndpool::ndarray::Axis(ax), Slice::new(1, None, 2));
            }
            check(v)
        }
        _ => {
            let a = make_input::<T>(shape, kind, seed, specials);
            check(a.view())
        }
    }
}

fn padding() -> impl Strategy<Value = Padding> {
    prop_oneof![
        (0usize..4).prop_map(Padding::from),
        (0usize..4, 0usize..4).prop_map(Padding::from),
        (0usize..5, 0usize..5, 0usize..5, 0usize..5).prop_map(|(top, bottom, left, right)| {
            Padding::Explicit {
                top,
                bottom,
                left,
                right,
            }
        }),
        Just(Padding::Same),
        Just(Padding::SameLower),
    ]
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        3 => Just(Mode::Max),
        3 => Just(Mode::Avg),
        1 => prop_oneof![Just(1.0), Just(2.0), Just(3.0), Just(0.5)].prop_map(Mode::Lp),
    ]
}

prop_compose! {
    fn spec()(
        mode in mode(),
        window in (1usize..7, 1usize..7),
        stride in (1usize..8, 1usize..8),
        dilation in prop_oneof![3 => Just((1usize, 1usize)), 1 => (1usize..4, 1usize..4)],
        padding in padding(),
        ceil in any::<bool>(),
        cip in any::<bool>(),
        divisor in prop_oneof![4 => Just(None), 1 => (1usize..10).prop_map(Some)],
        channels_last in any::<bool>(),
    ) -> PoolSpec {
        let mut spec = PoolSpec::new(mode, window)
            .stride(stride)
            .dilation(dilation)
            .padding(padding)
            .ceil_mode(ceil)
            .count_include_pad(cip)
            .layout(if channels_last { Layout::ChannelsLast } else { Layout::ChannelsFirst });
        if let Some(d) = divisor {
            spec = spec.divisor_override(d);
        }
        spec
    }
}

/// Full input shape: 0..=2 leading axes, spatial axes 1..=40, channels-last adds C.
fn full_shape(lead: &[usize], h: usize, w: usize, layout: Layout) -> Vec<usize> {
    let mut shape = lead.to_vec();
    match layout {
        Layout::ChannelsFirst => shape.extend([h, w]),
        Layout::ChannelsLast => {
            let c = shape.pop().unwrap_or(3);
            shape.extend([h, w, c]);
        }
    }
    shape
}

fn compare_values<T: Element>(mode: Mode, got: &ArrayViewD<T>, want: &ArrayViewD<T>, what: &str) {
    match mode {
        Mode::Max => assert_bits(got, want, what),
        Mode::Avg => assert_ulps(got, want, 2.0, what),
        Mode::Lp(_) => assert_ulps(got, want, 8.0, what),
    }
}

/// Runs the next calls with one of the instruction sets this CPU has (tests run in
/// parallel, so this picks a set at random rather than pinning one).
fn pick_isa(choice: usize) {
    let all = Isa::available();
    force_isa(Some(all[choice % all.len()]));
}

fn check_pool2d<T: Element>(
    spec: &PoolSpec,
    shape: &[usize],
    kind: ViewKind,
    seed: u64,
    specials: bool,
) {
    with_view::<T, _>(shape, kind, seed, specials, |x| {
        let want = reference::pool2d_with_indices(&x, spec);
        let got = ndpool::pool2d(&x, spec);
        let what = format!("{spec:?} on {shape:?} {kind:?}");
        assert_eq!(
            got.is_ok(),
            want.is_some(),
            "{what}: ndpool {:?}",
            got.as_ref().err()
        );
        let (Ok(got), Some((want, want_idx))) = (got, want) else {
            return;
        };
        compare_values(spec.mode_value(), &got.view(), &want.view(), &what);

        // The same result written through a strided, sentinel-filled output view: every
        // element inside is written, nothing outside is.
        let out_shape = got.shape().to_vec();
        let big: Vec<usize> = out_shape.iter().map(|&s| 2 * s + 1).collect();
        let sentinel = T::from(-12345.5).unwrap();
        let mut buffer = ArrayD::from_elem(IxDyn(&big), sentinel);
        {
            let mut view = buffer.view_mut();
            for ax in 0..view.ndim() {
                view.slice_axis_inplace(ndpool::ndarray::Axis(ax), Slice::new(1, None, 2));
            }
            view.invert_axis(ndpool::ndarray::Axis(0));
            ndpool::pool2d_into(&x, spec, view).unwrap();
        }
        let mut inside = buffer.view();
        for ax in 0..inside.ndim() {
            inside.slice_axis_inplace(ndpool::ndarray::Axis(ax), Slice::new(1, None, 2));
        }
        inside.invert_axis(ndpool::ndarray::Axis(0));
        compare_values(
            spec.mode_value(),
            &inside,
            &want.view(),
            &format!("{what} (into)"),
        );
        let outside = buffer
            .indexed_iter()
            .filter(|(i, _)| i.slice().iter().any(|&c| c % 2 == 0));
        for (i, &v) in outside {
            assert!(same_bits(v, sentinel), "{what}: stray write at {i:?}");
        }

        if spec.mode_value() == Mode::Max {
            let (v, idx) = ndpool::max_pool2d_with_indices(&x, spec).unwrap();
            assert_bits(&v.view(), &want.view(), &what);
            assert_eq!(idx, want_idx, "{what}: indices");
        } else {
            assert!(ndpool::max_pool2d_with_indices(&x, spec).is_err());
        }
    });
}

fn check_adaptive<T: Element>(
    out: Size2,
    mode: Mode,
    layout: Layout,
    shape: &[usize],
    kind: ViewKind,
    seed: u64,
) {
    with_view::<T, _>(shape, kind, seed, true, |x| {
        let want = reference::adaptive_pool2d_with_indices(&x, out, mode, layout);
        let got = ndpool::adaptive_pool2d_with_layout(&x, out, mode, layout);
        let what = format!("adaptive {out:?} {mode:?} {layout:?} on {shape:?} {kind:?}");
        assert_eq!(got.is_ok(), want.is_some(), "{what}");
        let (Ok(got), Some((want, want_idx))) = (got, want) else {
            return;
        };
        compare_values(mode, &got.view(), &want.view(), &what);
        if mode == Mode::Max {
            let (_, idx) = ndpool::adaptive_max_pool2d_with_indices(&x, out, layout).unwrap();
            assert_eq!(idx, want_idx, "{what}: indices");
        }
        if out == Size2::new(1, 1) {
            let global = ndpool::global_pool2d_with_layout(&x, mode, layout).unwrap();
            compare_values(
                mode,
                &global.view(),
                &want.view(),
                &format!("{what} (global)"),
            );
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn pool2d_matches_reference_f32(
        spec in spec(), lead in prop::collection::vec(1usize..4, 0..=2),
        h in 1usize..=40, w in 1usize..=40, kind in view_kind(), seed in any::<u64>(), specials in any::<bool>(),
        isa in 0usize..3,
    ) {
        pick_isa(isa);
        let shape = full_shape(&lead, h, w, spec.layout_value());
        check_pool2d::<f32>(&spec, &shape, kind, seed, specials);
    }

    #[test]
    fn pool2d_matches_reference_f64(
        spec in spec(), lead in prop::collection::vec(1usize..4, 0..=2),
        h in 1usize..=40, w in 1usize..=40, kind in view_kind(), seed in any::<u64>(), specials in any::<bool>(),
        isa in 0usize..3,
    ) {
        pick_isa(isa);
        let shape = full_shape(&lead, h, w, spec.layout_value());
        check_pool2d::<f64>(&spec, &shape, kind, seed, specials);
    }

    #[test]
    fn adaptive_matches_reference(
        out in (1usize..12, 1usize..12), mode in mode(), channels_last in any::<bool>(),
        lead in prop::collection::vec(1usize..4, 0..=2), h in 1usize..=40, w in 1usize..=40,
        kind in view_kind(), seed in any::<u64>(), double in any::<bool>(), global in any::<bool>(),
        isa in 0usize..3,
    ) {
        pick_isa(isa);
        let layout = if channels_last { Layout::ChannelsLast } else { Layout::ChannelsFirst };
        let shape = full_shape(&lead, h, w, layout);
        let out = if global { Size2::new(1, 1) } else { Size2::from(out) };
        if double {
            check_adaptive::<f64>(out, mode, layout, &shape, kind, seed);
        } else {
            check_adaptive::<f32>(out, mode, layout, &shape, kind, seed);
        }
    }

    /// The output-size rule in closed form, against the reference's window-by-window count.
    #[test]
    fn output_size_matches_window_count(
        spec in spec(), h in 1usize..=60, w in 1usize..=60,
    ) {
        let x = Array::<f32, _>::zeros((h, w)).into_dyn();
        let spec = spec.layout(Layout::ChannelsFirst);
        let want = reference::pool2d(&x.view(), &spec).map(|y| (y.shape()[0], y.shape()[1]));
        prop_assert_eq!(spec.output_size(h, w).ok(), want);
    }
}
