//! Each fast kernel, forced by the shape of its spec, against the reference on every
//! instruction set this CPU has: max bit for bit (NaN, -0.0 and ties included), means to a
//! few ULP; outputs written through strided, sentinel-filled views so a missing or stray
//! write fails. Also: which kernel the dispatcher picks for each named benchmark shape.

mod common;

use common::{assert_bits, same_bits};
use ndpool::ndarray::{Array, Array4, ArrayD, Dimension, IxDyn, Slice};
use ndpool::{force_isa, reference, Element, Isa, Kernel, Layout, Mode, Padding, PoolSpec, Size2};
use proptest::prelude::*;

/// Values with ties, and when `specials`, NaN, ±inf and ±0.0.
fn values<T: Element>(n: usize, seed: u64, specials: bool, fractional: bool) -> Vec<T> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            common::xorshift(&mut state);
            let v = match state % 97 {
                0 if specials => f64::NAN,
                1 if specials => f64::INFINITY,
                2 if specials => f64::NEG_INFINITY,
                3 | 4 if specials => -0.0,
                5 | 6 => 0.0,
                r if fractional => (r as f64 - 48.0) * 1.0e-3 * (1.0 + (state >> 40) as f64 / 3.0),
                r => (r % 13) as f64 - 6.0,
            };
            T::from(v).unwrap()
        })
        .collect()
}

/// Checks `pool2d` (fresh output and strided sentinel output) against the reference on
/// every instruction set, after asserting the dispatcher picks `kernel`.
fn check<T: Element>(x: &ArrayD<T>, spec: &PoolSpec, kernel: Kernel) {
    let want = reference::pool2d(&x.view(), spec).expect("valid spec");
    let chosen = ndpool::pool2d_kernel(x, spec).unwrap();
    // A window over every cell of a plane may run as the global reduction (which plans do
    // is `whole_plane_windows_reduce_globally`'s to check); the results are checked below.
    let global = chosen == Kernel::GlobalReduce && want.shape()[want.ndim() - 2..] == [1, 1];
    assert!(
        chosen == kernel || global,
        "{spec:?} on {:?}: {chosen}, not {kernel}",
        x.shape()
    );
    let kernel = chosen;
    // Sums in another order differ by a few ULP of the sum of magnitudes, not of the result.
    let magnitude = reference::pool2d(&x.mapv(|v| v.abs()).view(), spec).expect("valid spec");
    let what = format!("{kernel} {spec:?} on {:?}", x.shape());
    for &isa in Isa::available() {
        force_isa(Some(isa));
        let got = ndpool::pool2d(x, spec).unwrap();
        compare(
            spec.mode_value(),
            &got,
            &want,
            &magnitude,
            &format!("{what} {isa:?}"),
        );
        // Three sentinel-filled outputs: every axis strided (kernels write through a row
        // buffer); rows strided with contiguous cells one in from each row's start
        // (kernels write straight into the rows); and whole contiguous planes, every other
        // one (kernels write each plane as one line). Sentinels around every output cell,
        // row or plane catch a stray or missing write.
        for layout in [Out::Strided, Out::ContiguousRows, Out::ContiguousPlanes] {
            let contiguous_rows = layout == Out::ContiguousRows;
            let sentinel = T::from(-7777.25).unwrap();
            let last = want.ndim() - 1;
            // Axes of the plane in a contiguous-planes output: the two last.
            let in_plane = |ax: usize| layout == Out::ContiguousPlanes && ax + 1 >= last;
            let big: Vec<usize> = (want.shape().iter().enumerate())
                .map(|(ax, &s)| if in_plane(ax) { s } else { 2 * s + 1 })
                .collect();
            let mut buffer = ArrayD::from_elem(IxDyn(&big), sentinel);
            let mut view = buffer.view_mut();
            let inside = |ax: usize, c: usize| {
                if contiguous_rows && ax == last {
                    (1..=want.shape()[ax]).contains(&c)
                } else {
                    in_plane(ax) || c % 2 == 1
                }
            };
            for ax in 0..view.ndim() {
                let slice = if contiguous_rows && ax == last {
                    Slice::new(1, Some(1 + want.shape()[ax] as isize), 1)
                } else if in_plane(ax) {
                    Slice::from(..)
                } else {
                    Slice::new(1, None, 2)
                };
                view.slice_axis_inplace(ndpool::ndarray::Axis(ax), slice);
            }
            ndpool::pool2d_into(x, spec, view).unwrap();
            for (i, &v) in buffer.indexed_iter() {
                let cell = i.slice();
                if cell.iter().enumerate().all(|(ax, &c)| inside(ax, c)) {
                    let j: Vec<usize> = cell
                        .iter()
                        .enumerate()
                        .map(|(ax, &c)| {
                            if contiguous_rows && ax == last {
                                c - 1
                            } else if in_plane(ax) {
                                c
                            } else {
                                c / 2
                            }
                        })
                        .collect();
                    let w = want[IxDyn(&j)];
                    let ok = match spec.mode_value() {
                        Mode::Max => same_bits(v, w),
                        _ => close(v, w, magnitude[IxDyn(&j)]),
                    };
                    assert!(
                        ok,
                        "{what} {isa:?} (into, {layout:?}): at {j:?} got {v:?}, expected {w:?}"
                    );
                } else {
                    assert!(
                        same_bits(v, sentinel),
                        "{what} {isa:?} ({layout:?}): stray write at {i:?}"
                    );
                }
            }
        }
    }
    force_isa(None);
}

/// The outputs [`check`] writes into besides a fresh array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Out {
    Strided,
    ContiguousRows,
    ContiguousPlanes,
}

/// Within 4 ULP of the result, or 8 ULP of the mean magnitude (the bound for a sum taken
/// in another order).
fn close<T: Element>(got: T, want: T, magnitude: T) -> bool {
    let slack = 8.0 * T::epsilon().to_f64().unwrap() * magnitude.to_f64().unwrap();
    common::ulps(got, want) <= 4.0
        || (got.to_f64().unwrap() - want.to_f64().unwrap()).abs() <= slack
}

fn compare<T: Element>(
    mode: Mode,
    got: &ArrayD<T>,
    want: &ArrayD<T>,
    magnitude: &ArrayD<T>,
    what: &str,
) {
    if mode == Mode::Max {
        return assert_bits(&got.view(), &want.view(), what);
    }
    for (((i, &g), &w), &m) in got.indexed_iter().zip(want.iter()).zip(magnitude.iter()) {
        assert!(
            close(g, w, m),
            "{what}: at {i:?} got {g:?}, expected {w:?} (magnitude {m:?})"
        );
    }
}

fn input<T: Element>(shape: &[usize], seed: u64, specials: bool, fractional: bool) -> ArrayD<T> {
    let n = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), values(n, seed, specials, fractional)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, failure_persistence: None, ..ProptestConfig::default() })]

    /// The row kernels (max: finite fast path and NaN-exact path; avg), strides 1 and 2,
    /// and the columns-first kernel for strides 3 and up (windows narrower than the stride,
    /// as wide, and wider).
    #[test]
    fn rows_kernel(
        max in any::<bool>(), k in (1usize..9, 1usize..9), stride in (1usize..5, 1usize..10),
        dil in prop_oneof![3 => Just((1usize, 1usize)), 1 => (1usize..3, 1usize..3)],
        pad in (0usize..3, 0usize..3, 0usize..3, 0usize..3), ceil in any::<bool>(),
        planes in 1usize..4, h in 1usize..48, w in 1usize..80, seed in any::<u64>(), specials in any::<bool>(),
        double in any::<bool>(),
    ) {
        let (mode, stride) = if max { (Mode::Max, stride) } else { (Mode::Avg, (stride.0, stride.1.max(2))) };
        let spec = PoolSpec::new(mode, k).stride(stride).dilation(dil).ceil_mode(ceil)
            .padding(Padding::Explicit { top: pad.0, bottom: pad.1, left: pad.2, right: pad.3 });
        let shape = [planes, h, w];
        // Small undilated averages with stride 2 across go down, then across.
        let sum_rows = !max && stride.1 == 2 && dil == (1, 1) && k.0 <= 4 && k.1 <= 4;
        let want_kernel = if stride.1 >= 3 {
            Kernel::ColumnsFirst
        } else if max {
            max_rows(k.1, stride.1, dil.1)
        } else if sum_rows {
            Kernel::SumRows
        } else {
            Kernel::Rows { stride: stride.1 }
        };
        if double {
            let x = input::<f64>(&shape, seed, specials, !max);
            if reference::pool2d(&x.view(), &spec).is_some() { check(&x, &spec, want_kernel); }
        } else {
            let x = input::<f32>(&shape, seed, specials, !max);
            if reference::pool2d(&x.view(), &spec).is_some() { check(&x, &spec, want_kernel); }
        }
    }

    /// Max windows 2 or 3 wide at stride 2 across, the shapes of B1-B3 and B8: rows of
    /// every length around the vector widths (8 and 16 outputs, whole and with a remainder),
    /// any height, vertical stride and padding, and a few NaN, -0.0 or infinities dropped
    /// into otherwise ordinary values (which have ties and zeros of their own), so that the
    /// fast paths run and must notice each.
    #[test]
    fn stride2_max_rows_kernel(
        k in (1usize..6, 2usize..4), sh in 1usize..4, pad in (0usize..2, 0usize..2, 0usize..2, 0usize..2),
        ceil in any::<bool>(), planes in 1usize..3, h in 1usize..20, w in 2usize..90, seed in any::<u64>(),
        dropped in prop::collection::vec((any::<prop::sample::Index>(), 0usize..4), 0..3),
    ) {
        let spec = PoolSpec::max(k).stride((sh, 2)).ceil_mode(ceil)
            .padding(Padding::Explicit { top: pad.0.min(k.0 / 2), bottom: pad.1.min(k.0 / 2), left: pad.2, right: pad.3 });
        let mut x = input::<f32>(&[planes, h, w], seed, false, false);
        let len = x.len();
        for (at, which) in dropped {
            x.as_slice_mut().unwrap()[at.index(len)] = [f32::NAN, -0.0, f32::INFINITY, 0.0][which];
        }
        if reference::pool2d(&x.view(), &spec).is_some() { check(&x, &spec, max_rows(k.1, 2, 1)); }
    }

    /// The separable average (running sums where exact, recomputed where not).
    #[test]
    fn sum_separable_kernel(
        k in (2usize..9, 2usize..9), sh in 1usize..4, pad in (0usize..4, 0usize..4),
        cip in any::<bool>(), ceil in any::<bool>(), divisor in prop::option::of(1usize..20),
        planes in 1usize..3, h in 1usize..50, w in 1usize..70, seed in any::<u64>(),
        specials in any::<bool>(), fractional in any::<bool>(),
        huge in prop::option::of((0usize..50, 1usize..50)),
        scales in prop::option::of(prop::collection::vec(0u8..8, 50)), double in any::<bool>(),
    ) {
        let mut spec = PoolSpec::avg(k).stride((sh, 1)).padding(pad).count_include_pad(cip).ceil_mode(ceil);
        if let Some(d) = divisor { spec = spec.divisor_override(d); }
        let mut x = input::<f32>(&[planes, h, w], seed, specials, fractional);
        if let Some((top, rows)) = huge {
            // Values far apart in magnitude in a band of rows: running sums are not exact
            // over windows that hold them, and must start afresh after them.
            for mut plane in x.outer_iter_mut() {
                for (r, mut line) in plane.outer_iter_mut().enumerate().skip(top).take(rows) {
                    line.iter_mut().skip(r % 7).step_by(7).for_each(|v| *v *= 1.0e12);
                }
            }
        }
        if let Some(scales) = scales {
            // Rows of zeros, tiny, large and plain values: a window of large values and
            // zeros and the next window, of zeros and tiny values, are each exact, but
            // running from one to the other is not.
            for mut plane in x.outer_iter_mut() {
                for (mut line, &scale) in plane.outer_iter_mut().zip(&scales) {
                    let factor = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0e-6, 1.0e6, 1.0][usize::from(scale)];
                    line.iter_mut().for_each(|v| *v *= factor);
                }
            }
        }
        let want = if k.0 <= 4 && k.1 <= 4 { Kernel::SumRows } else { Kernel::SumSeparable };
        if reference::pool2d(&x.view(), &spec).is_some() {
            if double {
                // f64 cells: no running sums (the accumulator is no wider).
                check(&x.mapv(f64::from), &spec, want);
            } else {
                check(&x, &spec, want);
            }
        }
    }

    /// The small-window average: window sides 1-4, strides 1 and 2 across, rows across the
    /// 16-, 8- and 4-lane blocks, paddings and ceil-mode overhangs on both sides, both
    /// element types.
    #[test]
    fn sum_rows_kernel(
        k in (1usize..5, 1usize..5), sh in 1usize..4, sw in 1usize..3, pad in (0usize..3, 0usize..3),
        cip in any::<bool>(), ceil in any::<bool>(), divisor in prop::option::of(1usize..20),
        planes in 1usize..3, h in 1usize..24, w in 1usize..60, seed in any::<u64>(),
        specials in any::<bool>(), double in any::<bool>(),
    ) {
        let mut spec = PoolSpec::avg(k).stride((sh, sw)).padding(pad).count_include_pad(cip).ceil_mode(ceil);
        if let Some(d) = divisor { spec = spec.divisor_override(d); }
        if double {
            let x = input::<f64>(&[planes, h, w], seed, specials, true);
            if reference::pool2d(&x.view(), &spec).is_some() { check(&x, &spec, Kernel::SumRows); }
        } else {
            let x = input::<f32>(&[planes, h, w], seed, specials, true);
            if reference::pool2d(&x.view(), &spec).is_some() { check(&x, &spec, Kernel::SumRows); }
        }
    }

    /// The small-window average on planes whose output rows are as wide as the input's,
    /// taken as one flat line (AVX-512): windows 1-4 rows and columns, every split of the
    /// columns' padding that keeps the width, rows of padding above and below (windows
    /// partly or wholly outside the plane's first and last rows), planes of a few cells to
    /// past the flat path's size limit, rows narrower than a block of 8.
    #[test]
    fn sum_flat_kernel(
        k in (1usize..5, 1usize..5), left in 0usize..4, vertical in (0usize..4, 0usize..4),
        cip in any::<bool>(), ceil in any::<bool>(), divisor in prop::option::of(1usize..20),
        planes in 1usize..4, h in 1usize..48, w in 1usize..50, seed in any::<u64>(),
        specials in any::<bool>(),
    ) {
        let left = left.min(k.1 - 1);
        let padding = Padding::Explicit { top: vertical.0, bottom: vertical.1, left, right: k.1 - 1 - left };
        let mut spec = PoolSpec::avg(k).stride(1).padding(padding).count_include_pad(cip).ceil_mode(ceil);
        if let Some(d) = divisor { spec = spec.divisor_override(d); }
        let x = input::<f32>(&[planes, h, w], seed, specials, true);
        if reference::pool2d(&x.view(), &spec).is_some() { check(&x, &spec, Kernel::SumRows); }
    }

    /// Stride-1 max on planes whose output rows are as wide as the input's, taken as one
    /// flat line (AVX-512): windows 1-9 rows and columns (up to the flat path's limit and
    /// past it), every split of the columns' padding that keeps the width, rows of padding
    /// above and below, planes of a few cells to past the path's size limit, NaN, infinities
    /// and zeros of both signs.
    #[test]
    fn max_flat_kernel(
        k in (1usize..10, 1usize..10), left in 0usize..9, vertical in (0usize..5, 0usize..5),
        ceil in any::<bool>(), planes in 1usize..4, h in 1usize..72, w in 1usize..72,
        seed in any::<u64>(), specials in any::<bool>(),
    ) {
        let left = left.min(k.1 - 1);
        let padding = Padding::Explicit { top: vertical.0, bottom: vertical.1, left, right: k.1 - 1 - left };
        let spec = PoolSpec::max(k).stride(1).padding(padding).ceil_mode(ceil);
        let x = input::<f32>(&[planes, h, w], seed, specials, false);
        if reference::pool2d(&x.view(), &spec).is_some() { check(&x, &spec, max_rows(k.1, 1, 1)); }
    }

    /// Channels-last blocks, channel counts around the channel block.
    #[test]
    fn channels_last_kernel(
        max in any::<bool>(), k in (1usize..5, 1usize..5), stride in (1usize..4, 1usize..4),
        pad in (0usize..2, 0usize..2), dil in prop_oneof![Just((1usize, 1usize)), (1usize..3, 1usize..3)],
        n in 1usize..3, h in 1usize..20, w in 1usize..20, c in 1usize..70, seed in any::<u64>(),
        specials in any::<bool>(),
    ) {
        let spec = PoolSpec::new(if max { Mode::Max } else { Mode::Avg }, k).stride(stride).padding(pad)
            .dilation(dil).layout(Layout::ChannelsLast);
        let x = input::<f32>(&[n, h, w, c], seed, specials, !max);
        if reference::pool2d(&x.view(), &spec).is_some() { check(&x, &spec, Kernel::ChannelsLast); }
    }

    /// Strided windows that cover whole planes (a 7x7 average on 7x7 maps) reduce each plane
    /// globally, unless padding counts in the divisor, a divisor override differs from the
    /// plane's size, or dilation skips cells.
    #[test]
    fn whole_plane_windows_reduce_globally(
        max in any::<bool>(), n in 1usize..3, c in 1usize..12, h in 1usize..10, w in 1usize..10,
        pad in 0usize..2, include in any::<bool>(), ceil in any::<bool>(),
        divisor in prop_oneof![Just(None), Just(Some(0usize)), (1usize..100).prop_map(Some)],
        dil in prop_oneof![Just(1usize), 2usize..3], seed in any::<u64>(), specials in any::<bool>(),
    ) {
        let mut spec = PoolSpec::new(if max { Mode::Max } else { Mode::Avg }, (h, w))
            .stride((h, w)).padding(pad.min(h / 2).min(w / 2)).count_include_pad(include)
            .ceil_mode(ceil).dilation((1, dil));
        // Some(0): the plane's size, the divisor a global mean has anyway.
        if let Some(d) = divisor {
            spec = spec.divisor_override(if d == 0 { h * w } else { d });
        }
        let x = input::<f32>(&[n, c, h, w], seed, specials, !max);
        if reference::pool2d(&x.view(), &spec).is_none() {
            return Ok(());
        }
        let padded = pad.min(h / 2).min(w / 2) > 0;
        let divided_by_size = match divisor {
            None => !(padded && include),
            Some(d) => d == 0 || d == h * w,
        };
        let global = !padded && (dil == 1 || w == 1) && (max || divided_by_size);
        let kernel = ndpool::pool2d_kernel(&x, &spec).unwrap();
        prop_assert_eq!(kernel == Kernel::GlobalReduce, global, "{} for {:?} on {:?}", kernel, spec, x.shape());
        check(&x, &spec, kernel);
    }

    /// Stride-1 max of every width (the rows-first paths take all of them with AVX-512, the
    /// unspecialised ones with AVX2), over cells that are mostly zeros of both signs and
    /// negatives: the earliest of equal maxima must win in the whole windows (blocks of
    /// outputs) and in those the padding cuts (running folds from either end of the row),
    /// and a NaN anywhere must propagate, also in rows with no whole window. Planes of up
    /// to 11 output rows span two groups of rows-first column maxima.
    #[test]
    fn stride1_max_keeps_the_first_of_equal_maxima(
        k in (1usize..8, 1usize..8), pad in (0usize..4, 0usize..4), n in 1usize..3, c in 1usize..4,
        h in 1usize..12, w in 1usize..45, cells in prop::collection::vec(0u8..200, 1..1000),
        ceil in any::<bool>(), sparse in any::<bool>(),
    ) {
        let pad = (pad.0.min(k.0 / 2), pad.1.min(k.1 / 2));
        let spec = PoolSpec::max(k).stride(1).padding(pad).ceil_mode(ceil);
        let len = n * c * h * w;
        // Dense: zeros of both signs most of the time, so that most maxima are tied zeros.
        // Sparse: ordinary values with a rare NaN or zero, so that the fast paths run and
        // must notice each.
        let data: Vec<f32> = (0..len)
            .map(|i| match (sparse, cells[i % cells.len()]) {
                (false, v) => match v % 20 {
                    0..=6 => 0.0,
                    7..=13 => -0.0,
                    14 => f32::NAN,
                    15 => f32::NEG_INFINITY,
                    v => -f32::from(v),
                },
                (true, 0) => f32::NAN,
                (true, 1 | 2) => -0.0,
                (true, 3 | 4) => 0.0,
                (true, v) => f32::from(v % 11) - 8.0,
            })
            .collect();
        let x = ArrayD::from_shape_vec(IxDyn(&[n, c, h, w]), data).unwrap();
        let width = if matches!(k.1, 2 | 3) { k.1 } else { 0 };
        if reference::pool2d(&x.view(), &spec).is_some() {
            check(&x, &spec, Kernel::MaxRows { width, stride: width.min(1) });
        }
    }

    /// Global reduction, plane sizes around the lane count.
    #[test]
    fn global_kernel(
        max in any::<bool>(), n in 1usize..4, c in 1usize..20, h in 1usize..12, w in 1usize..12,
        seed in any::<u64>(), specials in any::<bool>(),
    ) {
        let mode = if max { Mode::Max } else { Mode::Avg };
        let x = input::<f32>(&[n, c, h, w], seed, specials, !max);
        assert_eq!(ndpool::adaptive_pool2d_kernel(&x, 1, mode, Layout::ChannelsFirst).unwrap(), Kernel::GlobalReduce);
        let want = reference::adaptive_pool2d(&x.view(), Size2::new(1, 1), mode, Layout::ChannelsFirst).unwrap();
        let magnitude = reference::adaptive_pool2d(&x.mapv(f32::abs).view(), Size2::new(1, 1), mode, Layout::ChannelsFirst).unwrap();
        for &isa in Isa::available() {
            force_isa(Some(isa));
            let got = ndpool::global_pool2d(&x, mode).unwrap();
            compare(mode, &got, &want, &magnitude, &format!("global {mode:?} {isa:?} {:?}", x.shape()));
        }
        force_isa(None);
    }
}

/// The max kernel the dispatcher picks for a window width, horizontal stride and
/// dilation: columns first for strides 3 and up, else rows, specialised for widths 2 and 3
/// and strides 1 and 2, undilated.
fn max_rows(width: usize, stride: usize, dilation: usize) -> Kernel {
    if stride >= 3 {
        Kernel::ColumnsFirst
    } else if dilation == 1 && (2..=3).contains(&width) && (1..=2).contains(&stride) {
        Kernel::MaxRows { width, stride }
    } else {
        Kernel::MaxRows {
            width: 0,
            stride: 0,
        }
    }
}

/// Stride-1 max windows far wider than their rows (SAME padding of a huge window): the
/// rows-first path pads each row with a window's width of -inf, so these go to the ring,
/// which cuts windows to the row (the fuzzer found the buffer's size overflowing).
#[test]
fn stride1_max_of_windows_far_wider_than_the_row() {
    let x = input::<f32>(&[2, 3, 13], 7, true, false);
    for width in [100, 5000] {
        for padding in [Padding::Same, Padding::SameLower] {
            let spec = PoolSpec::max((3, width)).stride((2, 1)).padding(padding);
            check(
                &x,
                &spec,
                Kernel::MaxRows {
                    width: 0,
                    stride: 0,
                },
            );
        }
    }
}

/// The plane kernels read rows through a raw pointer and the row stride: views whose rows
/// run backwards, or are a slice of wider rows, take the same kernels and must agree.
#[test]
fn row_kernels_on_reversed_and_sliced_views() {
    let wide = Array::from_shape_fn((3, 30, 50), |(c, h, w)| {
        ((c * 131 + h * 17 + w * 7) % 23) as f32 - 11.0
    });
    let specs = [
        (PoolSpec::max(3).stride(2).padding(1), max_rows(3, 2, 1)),
        (
            PoolSpec::max((2, 3)).stride((1, 3)).dilation((2, 1)),
            max_rows(3, 3, 1),
        ),
        (PoolSpec::avg(3).stride((2, 2)).padding(1), Kernel::SumRows),
        (
            PoolSpec::avg(5).stride((2, 2)).padding(1),
            Kernel::Rows { stride: 2 },
        ),
        (
            PoolSpec::avg(5)
                .stride((1, 1))
                .padding(2)
                .count_include_pad(false),
            Kernel::SumSeparable,
        ),
        (
            PoolSpec::avg(3)
                .stride((2, 1))
                .padding(1)
                .count_include_pad(false),
            Kernel::SumRows,
        ),
        (PoolSpec::max(2).stride(1), max_rows(2, 1, 1)),
        (PoolSpec::max(5).stride(1).padding(2), max_rows(5, 1, 1)),
        (PoolSpec::avg(4).padding(1), Kernel::ColumnsFirst),
    ];
    for (spec, kernel) in &specs {
        let mut reversed = wide.view();
        reversed.invert_axis(ndpool::ndarray::Axis(1));
        let sliced = wide.slice(ndpool::ndarray::s![.., 3..27, 5..44]);
        for (name, view) in [("reversed rows", reversed), ("sliced", sliced)] {
            let x = view.into_dyn();
            assert_eq!(
                ndpool::pool2d_kernel(&x, spec).unwrap(),
                *kernel,
                "{name} {spec:?}"
            );
            let want = reference::pool2d(&x, spec).unwrap();
            for &isa in Isa::available() {
                force_isa(Some(isa));
                let got = ndpool::pool2d(&x, spec).unwrap();
                let magnitude = reference::pool2d(&x.mapv(f32::abs).view(), spec).unwrap();
                compare(
                    spec.mode_value(),
                    &got,
                    &want,
                    &magnitude,
                    &format!("{name} {spec:?} {isa:?}"),
                );
            }
            force_isa(None);
        }
    }
}

#[test]
fn zeros_of_both_signs_keep_the_first_in_every_kernel() {
    // -0.0 first then 0.0 in every window: the max is -0.0 (PyTorch: the first of equal values).
    let x = Array::from_shape_fn(
        (2, 6, 40),
        |(_, h, w)| if (h + w) % 2 == 0 { -0.0f32 } else { 0.0 },
    );
    let spec = PoolSpec::max((1, 2)).stride((1, 2));
    check(&x.into_dyn(), &spec, max_rows(2, 2, 1));
}

/// Windows whose first zero in row-major order is not their first zero column by column:
/// kernels that take rows first must still give the row-major one's sign.
#[test]
fn zeros_of_both_signs_across_rows_keep_the_row_major_first() {
    // Each 2x2 block: -1, 0.0 above -0.0, -1; the max is 0.0 (row-major first), while
    // the column-major first zero is -0.0.
    let x = Array::from_shape_fn((2, 8, 70), |(_, h, w)| match (h % 2, w % 2) {
        (0, 0) => -1.0f32,
        (0, 1) => 0.0,
        (1, 0) => -0.0,
        _ => -1.0,
    });
    let x = x.into_dyn();
    check(&x, &PoolSpec::max(2), max_rows(2, 2, 1));
    check(&x, &PoolSpec::max(3).stride(2), max_rows(3, 2, 1));
    check(
        &x,
        &PoolSpec::max(3).stride(2).padding(1),
        max_rows(3, 2, 1),
    );
    // Columns first: the window at column 0 meets -0.0 first column by column.
    check(&x, &PoolSpec::max(3).stride(3), Kernel::ColumnsFirst);
    check(
        &x,
        &PoolSpec::max((2, 4)).stride((1, 3)),
        Kernel::ColumnsFirst,
    );
}

/// Running column sums stop where running from one window to the next is not exact, even
/// where each window alone is: a window of large values and zeros, then one of zeros and
/// tiny values (running from the first to the second loses the tiny values' bits).
#[test]
fn running_sums_start_afresh_between_windows_far_apart_in_magnitude() {
    for (kh, stride) in [(5, 1), (7, 1), (6, 2)] {
        // Row 2 large, row 2 + kh tiny, zeros between and after (a band of outliers at
        // the bottom sends the last windows to the fixed tree).
        let x = Array::from_shape_fn((2, 30, 45), |(p, h, w)| {
            let v = ((p * 13 + h * 7 + w * 3) % 17) as f32 - 8.0;
            match h {
                2 => v * 1.0e6,
                h if h == 2 + kh => v * 1.0e-6,
                h if h >= 26 => v * 1.0e-30,
                _ => 0.0,
            }
        });
        let spec = PoolSpec::avg((kh, 5)).stride((stride, 1));
        check(&x.into_dyn(), &spec, Kernel::SumSeparable);
    }
}

/// Inputs larger than the caches take the path that asks for rows ahead of time.
#[test]
fn inputs_beyond_the_caches_pool_the_same() {
    // 2 x 2060 x 2060 f32: 34 MB, above the streaming threshold.
    let x = Array::from_shape_fn((2, 2060, 2060), |(c, h, w)| {
        ((c * 31 + h * 7 + w * 13) % 97) as f32 - 48.0
    });
    check(
        &x.into_dyn(),
        &PoolSpec::max(3).stride(2).padding(1),
        max_rows(3, 2, 1),
    );
}

/// The kernel each named benchmark shape (and a few other common ones) runs, so a fast path
/// cannot silently stop being used.
#[test]
fn named_shapes_dispatch() {
    let shape = |s: [usize; 4]| Array4::<f32>::zeros(s);
    let stem = PoolSpec::max(3).stride(2).padding(1);
    assert_eq!(
        ndpool::pool2d_kernel(&shape([1, 64, 112, 112]), &stem).unwrap(),
        Kernel::MaxRows {
            width: 3,
            stride: 2
        }
    );
    assert_eq!(
        ndpool::pool2d_kernel(&shape([1, 128, 112, 112]), &PoolSpec::max(2)).unwrap(),
        Kernel::MaxRows {
            width: 2,
            stride: 2
        }
    );
    assert_eq!(
        ndpool::pool2d_kernel(&shape([1, 96, 55, 55]), &PoolSpec::max(3).stride(2)).unwrap(),
        Kernel::MaxRows {
            width: 3,
            stride: 2
        }
    );
    let inception = PoolSpec::avg(3)
        .stride(1)
        .padding(1)
        .count_include_pad(false);
    assert_eq!(
        ndpool::pool2d_kernel(&shape([1, 192, 28, 28]), &inception).unwrap(),
        Kernel::SumRows
    );
    assert_eq!(
        ndpool::adaptive_pool2d_kernel(
            &shape([8, 2048, 7, 7]),
            1,
            Mode::Avg,
            Layout::ChannelsFirst
        )
        .unwrap(),
        Kernel::GlobalReduce
    );
    assert_eq!(
        ndpool::pool2d_kernel(&shape([1, 16, 256, 256]), &PoolSpec::avg(15).stride(1)).unwrap(),
        Kernel::SumSeparable
    );
    // A classifier's last 7x7 average: the global reduction.
    assert_eq!(
        ndpool::pool2d_kernel(&shape([1, 1024, 7, 7]), &PoolSpec::avg(7)).unwrap(),
        Kernel::GlobalReduce
    );
    // DenseNet's transition and a padded 3x3 stride-2 average: down, then across.
    for (input, spec) in [
        ([1, 256, 56, 56], PoolSpec::avg(2)),
        ([1, 64, 112, 112], PoolSpec::avg(3).stride(2).padding(1)),
    ] {
        assert_eq!(
            ndpool::pool2d_kernel(&shape(input), &spec).unwrap(),
            Kernel::SumRows
        );
    }
    // YOLO's SPP max pools: the row kernel for any width (stride 1 rows first with AVX2).
    assert_eq!(
        ndpool::pool2d_kernel(
            &shape([1, 512, 20, 20]),
            &PoolSpec::max(5).stride(1).padding(2)
        )
        .unwrap(),
        Kernel::MaxRows {
            width: 0,
            stride: 0
        }
    );
    assert_eq!(
        ndpool::pool2d_kernel(&shape([16, 64, 112, 112]), &stem).unwrap(),
        Kernel::MaxRows {
            width: 3,
            stride: 2
        }
    );
    let nhwc = stem.clone().layout(Layout::ChannelsLast);
    assert_eq!(
        ndpool::pool2d_kernel(&shape([1, 112, 112, 64]), &nhwc).unwrap(),
        Kernel::ChannelsLast
    );
    // B6 (SPP) runs adaptive levels over a channels-last copy.
    assert_eq!(
        ndpool::Spp::new([1, 2, 4])
            .kernel(&shape([1, 256, 13, 13]))
            .unwrap(),
        Kernel::ChannelsLast
    );
}

/// A single NaN, or a -0.0 whose sign decides, at any column of a row, in the vector
/// blocks, their overlap and the cells after the last whole block: the stride-2 row paths
/// must see it and fall back, on every instruction set.
#[test]
fn one_nan_or_negative_zero_anywhere_reaches_the_max_row_kernels() {
    for (spec, width, stride) in [
        (PoolSpec::max(3).stride(2).padding(1), 3, 2),
        (PoolSpec::max(3).stride(2), 3, 2),
        (PoolSpec::max(2), 2, 2),
        // Rows as wide as the input's: the flat path with AVX-512.
        (PoolSpec::max(3).stride(1).padding(1), 3, 1),
        (PoolSpec::max(5).stride(1).padding(2), 5, 1),
    ] {
        for w in [17, 34, 35, 40, 67] {
            for col in 0..w {
                let x = Array::from_shape_fn((1, 4, w), |(_, h, c)| {
                    if h == 1 && c == col {
                        f32::NAN
                    } else {
                        ((h * 5 + c * 3) % 7) as f32
                    }
                });
                check(&x.into_dyn(), &spec, max_rows(width, stride, 1));
                // A -0.0 that is its windows' first zero in row-major order (the top row
                // is otherwise negative), while column by column a 0.0 below comes first.
                let x = Array::from_shape_fn((1, 4, w), |(_, h, c)| match (h, c == col) {
                    (0, true) => -0.0f32,
                    (0, false) => -1.0,
                    _ => 0.0,
                });
                check(&x.into_dyn(), &spec, max_rows(width, stride, 1));
            }
        }
    }
}
