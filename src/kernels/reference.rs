//! The oracle: pooling written straight from the definitions, one output and one tap at a
//! time, in signed arithmetic, sharing no planning code with the fast paths.
//!
//! It is slow on purpose and exists to test everything else against. It returns `None`
//! where the definition yields no valid result (a zero parameter, an empty output, a
//! window that reads no input cell), so tests can also check that ndpool refuses exactly
//! those inputs.
//!
//! ```
//! use ndpool::{ndarray::Array, pool2d, reference, PoolSpec};
//! let x = Array::from_shape_fn((2, 9, 7), |(c, h, w)| (c * 100 + h * 7 + w) as f32);
//! let spec = PoolSpec::avg(3).stride(2).padding(1).count_include_pad(false);
//! let fast = pool2d(&x, &spec).unwrap();
//! let slow = reference::pool2d(&x.view().into_dyn(), &spec).unwrap();
//! assert_eq!(fast.into_dyn(), slow);
//! ```

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use crate::element::{lp_norm, replaces_max, Element};
use crate::spec::{Layout, Mode, Padding, PoolSpec, Size2};

/// Windows along one axis, from the definition: the output count and each output's taps.
struct NaiveAxis {
    outputs: usize,
    /// (taps inside the input as (tap input index), taps inside input + padding) per output.
    windows: Vec<(Vec<usize>, usize)>,
}

fn naive_axis(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    pad: (usize, usize),
    ceil_mode: bool,
) -> Option<NaiveAxis> {
    if kernel == 0 || stride == 0 || dilation == 0 || input == 0 {
        return None;
    }
    let (n, k, s, d) = (
        input as i128,
        kernel as i128,
        stride as i128,
        dilation as i128,
    );
    let (pb, pe) = (pad.0 as i128, pad.1 as i128);
    let extent = d * (k - 1) + 1;
    let span = n + pb + pe - extent;
    if span < 0 {
        return None;
    }
    // Window o exists when it fits (floor mode) or starts before the rounded-up end (ceil
    // mode); in ceil mode a last window starting in the end padding is then dropped. Any
    // other window without an input cell makes the spec invalid.
    let limit = if ceil_mode { span + s - 1 } else { span };
    let mut windows = Vec::new();
    let mut o = 0i128;
    while o * s <= limit {
        let is_last = (o + 1) * s > limit;
        if ceil_mode && is_last && o * s >= n + pb {
            break;
        }
        let start = o * s - pb;
        let mut inside = Vec::new();
        let mut padded = 0;
        for j in 0..k {
            let pos = start + j * d;
            if 0 <= pos && pos < n {
                inside.push(pos as usize);
            }
            if -pb <= pos && pos < n + pe {
                padded += 1;
            }
        }
        if inside.is_empty() {
            return None;
        }
        windows.push((inside, padded));
        o += 1;
    }
    Some(NaiveAxis {
        outputs: windows.len(),
        windows,
    })
}

fn adaptive_axis(input: usize, bins: usize) -> Option<NaiveAxis> {
    if bins == 0 || input == 0 {
        return None;
    }
    let windows = (0..bins)
        .map(|i| {
            let start = (i as u128 * input as u128 / bins as u128) as usize;
            let end = ((i as u128 + 1) * input as u128).div_ceil(bins as u128) as usize;
            ((start..end).collect::<Vec<_>>(), end - start)
        })
        .collect();
    Some(NaiveAxis {
        outputs: bins,
        windows,
    })
}

fn same_padding(input: usize, kernel: usize, stride: usize, dilation: usize) -> usize {
    let out = input.div_ceil(stride);
    let needed =
        (out as i128 - 1) * stride as i128 + (dilation * (kernel - 1) + 1) as i128 - input as i128;
    needed.max(0) as usize
}

fn spatial_axes(ndim: usize, layout: Layout) -> Option<(usize, usize)> {
    match layout {
        Layout::ChannelsFirst if ndim >= 2 => Some((ndim - 2, ndim - 1)),
        Layout::ChannelsLast if ndim >= 3 => Some((ndim - 3, ndim - 2)),
        _ => None,
    }
}

/// Pools every plane given per-axis windows; returns values and per-plane argmax indices.
fn pool_with_axes<T: Element>(
    x: &ArrayViewD<T>,
    layout: Layout,
    rows: &NaiveAxis,
    cols: &NaiveAxis,
    mode: Mode,
    divisor_override: Option<usize>,
    count_include_pad: bool,
) -> (ArrayD<T>, ArrayD<usize>) {
    let (ah, aw) = spatial_axes(x.ndim(), layout).expect("axes checked by the caller");
    let width = x.shape()[aw];
    let mut shape = x.shape().to_vec();
    shape[ah] = rows.outputs;
    shape[aw] = cols.outputs;
    let mut values = ArrayD::from_elem(IxDyn(&shape), T::zero());
    let mut indices = ArrayD::from_elem(IxDyn(&shape), 0usize);
    for (index, value) in values.indexed_iter_mut() {
        let (rows_in, rows_padded) = &rows.windows[index[ah]];
        let (cols_in, cols_padded) = &cols.windows[index[aw]];
        let mut at = index.clone();
        let mut taps = Vec::new();
        for &h in rows_in {
            for &w in cols_in {
                at[ah] = h;
                at[aw] = w;
                taps.push((x[&at], h * width + w));
            }
        }
        let (result, argmax) = match mode {
            Mode::Max => {
                let (mut best, mut arg) = (T::neg_infinity(), taps[0].1);
                for &(v, i) in &taps {
                    if replaces_max(v, best) {
                        best = v;
                        arg = i;
                    }
                }
                (best, arg)
            }
            Mode::Avg => {
                let sum = taps
                    .iter()
                    .fold(0.0f64, |s, &(v, _)| s + v.to_f64().unwrap());
                let divisor = match divisor_override {
                    Some(d) => d,
                    None if count_include_pad => rows_padded * cols_padded,
                    None => taps.len(),
                };
                (T::from(sum / divisor as f64).unwrap(), 0)
            }
            Mode::Lp(p) => (lp_norm(p, taps.iter().map(|&(v, _)| v)), 0),
        };
        *value = result;
        indices[&index] = argmax;
    }
    (values, indices)
}

/// `pool2d` by the definition, with argmax indices (meaningful for [`Mode::Max`]).
pub fn pool2d_with_indices<T: Element>(
    x: &ArrayViewD<T>,
    spec: &PoolSpec,
) -> Option<(ArrayD<T>, ArrayD<usize>)> {
    if let Mode::Lp(p) = spec.mode_value() {
        if !(p.is_finite() && p > 0.0) {
            return None;
        }
    }
    if spec.divisor() == Some(0) {
        return None;
    }
    let layout = spec.layout_value();
    let (ah, aw) = spatial_axes(x.ndim(), layout)?;
    let (h, w) = (x.shape()[ah], x.shape()[aw]);
    let (k, s, d) = (spec.window_size(), spec.stride_size(), spec.dilation_size());
    if k.h == 0 || k.w == 0 || s.h == 0 || s.w == 0 || d.h == 0 || d.w == 0 || h == 0 || w == 0 {
        return None;
    }
    let (pad_h, pad_w) = match spec.padding_value() {
        Padding::Explicit {
            top,
            bottom,
            left,
            right,
        } => ((top, bottom), (left, right)),
        same => {
            let th = same_padding(h, k.h, s.h, d.h);
            let tw = same_padding(w, k.w, s.w, d.w);
            let split = |t: usize| {
                if same == Padding::Same {
                    (t / 2, t - t / 2)
                } else {
                    (t - t / 2, t / 2)
                }
            };
            (split(th), split(tw))
        }
    };
    let rows = naive_axis(h, k.h, s.h, d.h, pad_h, spec.is_ceil_mode())?;
    let cols = naive_axis(w, k.w, s.w, d.w, pad_w, spec.is_ceil_mode())?;
    Some(pool_with_axes(
        x,
        layout,
        &rows,
        &cols,
        spec.mode_value(),
        spec.divisor(),
        spec.counts_pad(),
    ))
}

/// `pool2d` by the definition.
pub fn pool2d<T: Element>(x: &ArrayViewD<T>, spec: &PoolSpec) -> Option<ArrayD<T>> {
    pool2d_with_indices(x, spec).map(|(v, _)| v)
}

/// `adaptive_pool2d_with_layout` by the definition, with argmax indices.
pub fn adaptive_pool2d_with_indices<T: Element>(
    x: &ArrayViewD<T>,
    out: Size2,
    mode: Mode,
    layout: Layout,
) -> Option<(ArrayD<T>, ArrayD<usize>)> {
    if let Mode::Lp(p) = mode {
        if !(p.is_finite() && p > 0.0) {
            return None;
        }
    }
    let (ah, aw) = spatial_axes(x.ndim(), layout)?;
    let rows = adaptive_axis(x.shape()[ah], out.h)?;
    let cols = adaptive_axis(x.shape()[aw], out.w)?;
    Some(pool_with_axes(x, layout, &rows, &cols, mode, None, false))
}

/// `adaptive_pool2d_with_layout` by the definition.
pub fn adaptive_pool2d<T: Element>(
    x: &ArrayViewD<T>,
    out: Size2,
    mode: Mode,
    layout: Layout,
) -> Option<ArrayD<T>> {
    adaptive_pool2d_with_indices(x, out, mode, layout).map(|(v, _)| v)
}
