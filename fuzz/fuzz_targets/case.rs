// Decodes arbitrary bytes into a pooling call (spec, shape, values), runs every public
// function on it, and checks each success against the reference implementation. Shared by
// the cargo-fuzz targets and by tests/fuzz_cases.rs (`include!`d), which replays the
// regression inputs and a bounded random sample in CI.

use ndpool::ndarray::{ArrayD, Dimension, IxDyn, Slice};
use ndpool::{reference, Binning, Layout, Mode, Padding, PoolError, PoolSpec, Size2, Spp};

/// A cursor over the fuzz input; reads past the end give zeros.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }

    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Mostly small sizes, sometimes zero or enormous ones.
    pub fn size(&mut self, small: usize) -> usize {
        match self.u8() {
            250 => usize::MAX,
            251 => usize::MAX / 2,
            252 => 1 << 40,
            253 => u32::MAX as usize,
            254 => 0,
            b => b as usize % (small + 1),
        }
    }

    /// A value whose bits come from the input (NaN, ±inf, -0.0, subnormals, f32::MAX all
    /// appear), or a small integer (ties).
    pub fn value(&mut self) -> f32 {
        match self.u8() % 4 {
            0 => f32::from_bits(self.u32()),
            1 => [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0, f32::MAX, -f32::MAX, f32::MIN_POSITIVE / 4.0][self.u8() as usize % 8],
            _ => (self.u8() % 9) as f32 - 4.0,
        }
    }

    pub fn flag(&mut self) -> bool {
        self.u8() & 1 == 1
    }
}

fn mode(b: &mut Bytes) -> Mode {
    match b.u8() % 5 {
        0 | 1 => Mode::Max,
        2 | 3 => Mode::Avg,
        _ => Mode::Lp([1.0, 2.0, 3.0, 0.5, 0.0, -1.0, f64::NAN, 1e300][b.u8() as usize % 8]),
    }
}

fn spec(b: &mut Bytes) -> PoolSpec {
    let mut spec = PoolSpec::new(mode(b), (b.size(6), b.size(6)))
        .stride((b.size(5), b.size(5)))
        .dilation((b.size(3), b.size(3)))
        .ceil_mode(b.flag())
        .count_include_pad(b.flag())
        .layout(if b.flag() { Layout::ChannelsLast } else { Layout::ChannelsFirst });
    spec = match b.u8() % 5 {
        0 => spec.padding(b.size(3)),
        1 => spec.padding((b.size(3), b.size(3))),
        2 => spec.padding(Padding::Explicit { top: b.size(4), bottom: b.size(4), left: b.size(4), right: b.size(4) }),
        3 => spec.padding(Padding::Same),
        _ => spec.padding(Padding::SameLower),
    };
    if b.u8().is_multiple_of(4) {
        spec = spec.divisor_override(b.size(9));
    }
    spec
}

/// A shape of 1 to 5 axes whose element count stays small (a huge axis only beside a zero one).
fn shape(b: &mut Bytes) -> Vec<usize> {
    let ndim = 1 + b.u8() as usize % 5;
    let mut shape: Vec<usize> = (0..ndim).map(|_| b.u8() as usize % 14).collect();
    if b.u8() == 255 && ndim >= 3 {
        shape[0] = 0;
        shape[ndim - 1] = 1 << 20;
    }
    let product: usize = shape.iter().product();
    if product > 4096 {
        shape.iter_mut().for_each(|s| *s = (*s).min(4));
    }
    shape
}

fn input(b: &mut Bytes, shape: &[usize]) -> ArrayD<f32> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| b.value()).collect();
    ArrayD::from_shape_vec(IxDyn(shape), values).expect("product matches")
}

fn same(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// Whether `got` may stand for `want` given the window's mean magnitude: max bit for bit,
/// sums to a few ULP of the magnitude (fold orders differ), with infinities and NaN exact.
fn agrees(mode: Mode, got: f32, want: f32, magnitude: f32) -> bool {
    match mode {
        Mode::Max => same(got, want),
        _ if !want.is_finite() || !got.is_finite() || !magnitude.is_finite() => {
            same(got, want) || (got.is_nan() && want.is_nan()) || !magnitude.is_finite()
        }
        _ => {
            let slack = 16.0 * f32::EPSILON as f64 * (magnitude as f64).max(f32::MIN_POSITIVE as f64);
            (got as f64 - want as f64).abs() <= slack.max(4.0 * f32::EPSILON as f64 * (want as f64).abs())
        }
    }
}

fn check_against(mode: Mode, got: &ArrayD<f32>, want: &ArrayD<f32>, magnitude: &ArrayD<f32>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    for (((i, &g), &w), &m) in got.indexed_iter().zip(want.iter()).zip(magnitude.iter()) {
        assert!(agrees(mode, g, w, m), "{what}: at {i:?} got {g:?}, want {w:?} (magnitude {m:?})");
    }
}

/// The pooling functions on one decoded case.
pub fn check_pool(data: &[u8]) {
    let mut b = Bytes::new(data);
    let spec = spec(&mut b);
    let shape = shape(&mut b);
    let x = input(&mut b, &shape);
    // The reference visits every tap and every window: keep it to sizes it can walk.
    let modest = |v: usize| v <= 4096;
    let pads_modest = match spec.padding_value() {
        Padding::Explicit { top, bottom, left, right } => [top, bottom, left, right].into_iter().all(modest),
        _ => true,
    };
    let (k, d) = (spec.window_size(), spec.dilation_size());
    let small = (shape.iter().product::<usize>() > 0 || shape.iter().all(|&s| s < 64))
        && [k.h, k.w, d.h, d.w].into_iter().all(modest)
        && pads_modest;
    let what = format!("{spec:?} on {shape:?}");

    let got = ndpool::pool2d(&x, &spec);
    // Outputs too large to allocate are refused by ndpool; the reference would try to build them.
    let too_large = matches!(got, Err(PoolError::Allocation { .. } | PoolError::Overflow { .. }));
    if small && !too_large {
        let want = reference::pool2d_with_indices(&x.view(), &spec);
        assert_eq!(got.is_ok(), want.is_some(), "{what}: {:?}", got.as_ref().err());
        if let (Ok(got), Some((want, want_idx))) = (&got, want) {
            let magnitude = reference::pool2d(&x.mapv(f32::abs).view(), &spec).expect("same validity");
            check_against(spec.mode_value(), got, &want, &magnitude, &what);
            if spec.mode_value() == Mode::Max {
                let (v, i) = ndpool::max_pool2d_with_indices(&x, &spec).expect("pool2d succeeded");
                check_against(Mode::Max, &v, &want, &magnitude, &what);
                assert_eq!(i, want_idx, "{what}: indices");
            }
        }
    }

    // pool2d_into: a right-shaped strided view is written where it should be and nowhere
    // else, a wrong one is untouched. Its values are those of pool2d for max; a strided
    // output may take another kernel, whose sums go in another order, so averages agree to
    // rounding of the window's magnitude (a cancelling window can give 0 one way, a
    // subnormal the other).
    if let Ok(expected) = &got {
        let magnitude = if spec.mode_value() == Mode::Max {
            None
        } else {
            ndpool::pool2d(&x.mapv(f32::abs), &spec).ok()
        };
        let sentinel = -31.5f32;
        let big: Vec<usize> = expected.shape().iter().map(|&s| 2 * s).collect();
        let mut buffer = ArrayD::from_elem(IxDyn(&big), sentinel);
        let mut view = buffer.view_mut();
        for ax in 0..view.ndim() {
            view.slice_axis_inplace(ndpool::ndarray::Axis(ax), Slice::new(0, None, 2));
        }
        ndpool::pool2d_into(&x, &spec, view).expect("same spec, right shape");
        for (i, &v) in buffer.indexed_iter() {
            let inside = i.as_array_view().iter().all(|&c| c % 2 == 0);
            if inside {
                let j: Vec<usize> = i.as_array_view().iter().map(|&c| c / 2).collect();
                let want = expected[IxDyn(&j)];
                let agreed = match &magnitude {
                    Some(m) => agrees(spec.mode_value(), v, want, m[IxDyn(&j)]),
                    None => same(v, want),
                };
                assert!(agreed, "{what}: into differs at {j:?}: {v:?} against {want:?}");
            } else {
                assert!(same(v, sentinel), "{what}: stray write at {i:?}");
            }
        }
    }
    let wrong: Vec<usize> = x.shape().iter().map(|&s| s % 3 + 1).collect();
    let mut out = ArrayD::from_elem(IxDyn(&wrong), 5.5f32);
    if ndpool::pool2d_into(&x, &spec, out.view_mut()).is_err() {
        assert!(out.iter().all(|&v| v == 5.5), "{what}: out written on error");
    }

    // Adaptive and global pooling, any layout.
    let bins = Size2::new(b.size(7), b.size(7));
    let mode = spec.mode_value();
    let layout = spec.layout_value();
    let got = ndpool::adaptive_pool2d_with_layout(&x, bins, mode, layout);
    let too_large = matches!(got, Err(PoolError::Allocation { .. } | PoolError::Overflow { .. }));
    if small && !too_large && bins.h <= 4096 && bins.w <= 4096 {
        let want = reference::adaptive_pool2d(&x.view(), bins, mode, layout);
        assert_eq!(got.is_ok(), want.is_some(), "adaptive {bins:?} {what}: {:?}", got.as_ref().err());
        if let (Ok(got), Some(want)) = (&got, want) {
            let magnitude = reference::adaptive_pool2d(&x.mapv(f32::abs).view(), bins, mode, layout).expect("valid");
            check_against(mode, got, &want, &magnitude, &format!("adaptive {bins:?} {what}"));
        }
    }
    let _ = ndpool::global_pool2d_with_layout(&x, mode, layout);
}

/// SPP on one decoded case: success exactly when the plan is exact, output equal to the
/// per-level pools.
pub fn check_spp(data: &[u8]) {
    let mut b = Bytes::new(data);
    let levels: Vec<Size2> = (0..1 + b.u8() % 4).map(|_| Size2::new(b.size(7), b.size(7))).collect();
    let binning = [Binning::Adaptive, Binning::Padded, Binning::Paper][b.u8() as usize % 3];
    let mode = mode(&mut b);
    let layout = if b.flag() { Layout::ChannelsLast } else { Layout::ChannelsFirst };
    let dims = [b.u8() as usize % 3, b.u8() as usize % 20, b.u8() as usize % 16, b.u8() as usize % 16];
    let shape = match layout {
        Layout::ChannelsFirst => dims.to_vec(),
        Layout::ChannelsLast => vec![dims[0], dims[2], dims[3], dims[1]],
    };
    let x = input(&mut b, &shape).into_dimensionality::<ndpool::ndarray::Ix4>().expect("4 axes");
    let spp = Spp::new(levels.clone()).mode(mode).binning(binning).layout(layout);
    let (h, w) = (dims[2], dims[3]);
    let plan = spp.plan(h, w);
    let result = spp.forward(&x);
    match &plan {
        Ok(plan) if plan.is_exact() => {
            let y = result.unwrap_or_else(|e| panic!("{levels:?} {binning:?} {mode:?} {shape:?}: {e}"));
            assert_eq!(y.shape(), &[dims[0], spp.output_len(dims[1])]);
            if dims[0] > 0 {
                let one = spp.forward_one(&x.index_axis(ndpool::ndarray::Axis(0), 0)).expect("forward succeeded");
                let first = y.index_axis(ndpool::ndarray::Axis(0), 0);
                assert!(one.iter().zip(first.iter()).all(|(&a, &b)| same(a, b)), "forward_one differs: {levels:?} {binning:?} {mode:?} {shape:?}\n{one:?}\n{first:?}");
            }
        }
        _ => assert!(result.is_err(), "{levels:?} {binning:?} on {h}x{w}: forward succeeded without an exact plan"),
    }
    if let Ok(plan) = plan {
        for level in &plan.levels {
            assert!(level.rows.iter().chain(&level.cols).all(|r| r.start < r.end), "empty bin in {level:?}");
            assert!(level.rows.iter().all(|r| r.end <= h) && level.cols.iter().all(|r| r.end <= w));
        }
    }
}
