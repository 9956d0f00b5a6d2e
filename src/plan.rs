//! Planning: per spatial axis, which input cells each output reads.
//!
//! A plan is built once per call from the spec and the input's spatial sizes, and is the
//! only thing kernels see besides the data. It is per axis and does not care how many
//! spatial axes there are: 2-D pooling is two [`AxisWindows`].

use crate::error::{PoolError, Result};
use crate::spec::Mode;

/// One of the two spatial axes, for plans and error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis2 {
    /// The rows axis (H).
    Height,
    /// The columns axis (W).
    Width,
}

impl std::fmt::Display for Axis2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Axis2::Height => "height",
            Axis2::Width => "width",
        })
    }
}

/// The cells a window spans, `dilation * (kernel - 1) + 1` (`kernel` is at least 1).
pub(crate) fn window_extent(axis: Axis2, kernel: usize, dilation: usize) -> Result<usize> {
    dilation
        .checked_mul(kernel - 1)
        .and_then(|e| e.checked_add(1))
        .ok_or_else(|| PoolError::Overflow {
            what: format!("{axis} window extent: dilation {dilation} * (window {kernel} - 1) + 1"),
        })
}

/// A strided sliding-window axis (PyTorch/ONNX pooling), SAME padding already resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AxisGeometry {
    pub input: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    pub pad_begin: usize,
    pub pad_end: usize,
    pub output: usize,
}

impl AxisGeometry {
    /// Validates the axis and computes its output size with PyTorch's rule.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        axis: Axis2,
        input: usize,
        kernel: usize,
        stride: usize,
        dilation: usize,
        pad_begin: usize,
        pad_end: usize,
        ceil_mode: bool,
    ) -> Result<Self> {
        let extent = window_extent(axis, kernel, dilation)?;
        let padded = input
            .checked_add(pad_begin)
            .and_then(|v| v.checked_add(pad_end))
            .ok_or_else(|| PoolError::Overflow {
                what: format!(
                    "{axis} padded size: input {input} + padding {pad_begin} + {pad_end}"
                ),
            })?;
        if padded < extent {
            return Err(PoolError::EmptyOutput {
                axis,
                input,
                pad_begin,
                pad_end,
                extent,
            });
        }
        let span = padded - extent;
        let mut output = if ceil_mode {
            span.div_ceil(stride)
        } else {
            span / stride
        } + 1;
        // PyTorch: the last window must start inside the input or the begin padding.
        if ceil_mode && (output - 1) * stride >= input + pad_begin {
            output -= 1;
        }
        let geometry = AxisGeometry {
            input,
            kernel,
            stride,
            dilation,
            pad_begin,
            pad_end,
            output,
        };
        geometry.check_every_window_reads_input(axis)?;
        Ok(geometry)
    }

    /// The window of output `o`: its taps inside the input and inside input + padding.
    pub fn window(&self, o: usize) -> Window {
        // Positions are in padded coordinates, where the input spans [pad_begin, pad_begin + input).
        let start = o * self.stride;
        let d = self.dilation;
        let taps_before = |limit: usize| {
            if start >= limit {
                0
            } else {
                (limit - start).div_ceil(d).min(self.kernel)
            }
        };
        let first_tap = taps_before(self.pad_begin);
        let end_tap = taps_before(self.pad_begin + self.input);
        let taps = end_tap.saturating_sub(first_tap);
        Window {
            first: start
                .saturating_add(first_tap.saturating_mul(d))
                .saturating_sub(self.pad_begin),
            taps,
            padded_taps: taps_before(self.pad_begin + self.input + self.pad_end),
        }
    }

    fn check_every_window_reads_input(&self, axis: Axis2) -> Result<()> {
        // With taps no further apart than the input is long, a window reads the input as soon
        // as its span meets it, and spans move monotonically: the two ends decide. Otherwise
        // a window can straddle the input between two taps, so look at each.
        let candidates: Box<dyn Iterator<Item = usize>> = if self.dilation <= self.input {
            Box::new([0, self.output - 1].into_iter())
        } else {
            Box::new(0..self.output)
        };
        for o in candidates {
            if self.window(o).taps == 0 {
                return Err(PoolError::WindowOutsideInput {
                    axis,
                    index: o,
                    start: o as i128 * self.stride as i128 - self.pad_begin as i128,
                    extent: self.dilation * (self.kernel - 1) + 1,
                    input: self.input,
                });
            }
        }
        Ok(())
    }
}

/// The input cells one output reads along one axis: `taps` cells from `first`, `step` apart
/// (the step is the axis's dilation, see [`AxisWindows::step`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    /// Input index of the first tap that lands inside the input.
    pub first: usize,
    /// Number of taps inside the input (at least 1 in a valid plan).
    pub taps: usize,
    /// Number of taps inside input + padding (the count_include_pad divisor factor).
    pub padded_taps: usize,
}

/// Every window along one axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AxisWindows {
    pub windows: Vec<Window>,
    pub step: usize,
    /// The strided geometry, when the windows come from one (not adaptive bins).
    pub geometry: Option<AxisGeometry>,
}

impl AxisWindows {
    /// The windows of a strided axis (none listed when `listed` is false: an output with
    /// no element needs no table, however long its axes).
    pub fn strided(geometry: AxisGeometry, listed: bool) -> Result<Self> {
        let count = if listed { geometry.output } else { 0 };
        let windows = try_collect(count, (0..count).map(|o| geometry.window(o)))?;
        Ok(AxisWindows {
            windows,
            step: geometry.dilation,
            geometry: Some(geometry),
        })
    }

    /// PyTorch's adaptive bins: bin `i` of `n` spans `[floor(i*a/n), ceil((i+1)*a/n))`
    /// (none listed when `listed` is false, as for [`AxisWindows::strided`]).
    pub fn adaptive(axis: Axis2, input: usize, bins: usize, listed: bool) -> Result<Self> {
        if bins == 0 {
            return Err(PoolError::ZeroOutputSize { axis });
        }
        let count = if listed { bins } else { 0 };
        let windows = try_collect(
            count,
            (0..count).map(|i| {
                let range = adaptive_bin(i, input, bins);
                Window {
                    first: range.start,
                    taps: range.len(),
                    padded_taps: range.len(),
                }
            }),
        )?;
        Ok(AxisWindows {
            windows,
            step: 1,
            geometry: None,
        })
    }

    /// Number of outputs along the axis.
    #[cfg_attr(not(feature = "rayon"), allow(dead_code))]
    pub fn len(&self) -> usize {
        self.windows.len()
    }
}

/// Bin `i` of `bins` over an axis of `input` cells, in exact integer arithmetic (no
/// intermediate product overflows: the terms are kept below `input * bins` split by `/`).
pub(crate) fn adaptive_bin(i: usize, input: usize, bins: usize) -> std::ops::Range<usize> {
    let floor_div = |i: usize| {
        // floor(i * input / bins) without forming i * input.
        (i / bins) * input + ((i % bins) as u128 * input as u128 / bins as u128) as usize
    };
    let start = floor_div(i);
    let end_exact = floor_div(i + 1);
    let rem = ((i + 1) % bins) as u128 * input as u128 % bins as u128;
    let end = end_exact + usize::from(rem != 0);
    start..end
}

/// Collects `len` items into a vector allocated fallibly: an allocation failure is a
/// [`PoolError::Allocation`], not an abort.
pub(crate) fn try_collect<X>(len: usize, iter: impl Iterator<Item = X>) -> Result<Vec<X>> {
    let mut items = Vec::new();
    items
        .try_reserve_exact(len)
        .map_err(|_| PoolError::Allocation {
            bytes: len.saturating_mul(std::mem::size_of::<X>()),
        })?;
    items.extend(iter.take(len));
    Ok(items)
}

/// How an average's window sum is divided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Divisor {
    /// Taps inside the input.
    Valid,
    /// Taps inside input + padding (count_include_pad).
    Padded,
    /// A fixed divisor.
    Fixed(usize),
}

/// Everything a kernel needs besides the data.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    pub mode: Mode,
    pub rows: AxisWindows,
    pub cols: AxisWindows,
    pub divisor: Divisor,
}

impl Plan {
    /// The divisor of the average at output (oh, ow).
    pub fn divisor_at(&self, row: &Window, col: &Window) -> f64 {
        match self.divisor {
            // In f64: with padding near usize::MAX the product of counts does not fit usize.
            Divisor::Valid => row.taps as f64 * col.taps as f64,
            Divisor::Padded => row.padded_taps as f64 * col.padded_taps as f64,
            Divisor::Fixed(d) => d as f64,
        }
    }

    /// Rough count of tap visits for `planes` planes, to decide on threading.
    #[cfg_attr(not(feature = "rayon"), allow(dead_code))]
    pub fn work(&self, planes: usize) -> usize {
        let taps = |a: &AxisWindows| {
            a.windows
                .first()
                .map_or(0, |w| w.taps.max(1))
                .saturating_mul(a.len())
        };
        planes
            .saturating_mul(taps(&self.rows))
            .saturating_mul(taps(&self.cols))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_bins_match_the_float_formula_on_small_sizes() {
        for input in 1..40usize {
            for bins in 1..40usize {
                for i in 0..bins {
                    let start = (i * input) / bins;
                    let end = ((i + 1) * input).div_ceil(bins);
                    assert_eq!(
                        adaptive_bin(i, input, bins),
                        start..end,
                        "{i} {input} {bins}"
                    );
                }
            }
        }
    }

    #[test]
    fn adaptive_bins_do_not_overflow_near_usize_max() {
        let big = usize::MAX - 1;
        let r = adaptive_bin(2, big, 3);
        assert_eq!(r.end, big);
        assert!(r.start < r.end);
    }
}
