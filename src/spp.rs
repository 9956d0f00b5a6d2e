//! Spatial pyramid pooling (He et al. 2014): a map of any size to a fixed-length vector.
//!
//! Each level pools the map into an `nh x nw` grid of bins; the levels' outputs are
//! flattened channel-major and concatenated. How the bins are drawn is the [`Binning`]:
//! always-exact adaptive bins (the default), Caffe's padded bins, or the paper's rule, which
//! is kept as written and whose failures are reported instead of hidden.
//!
//! ```
//! use ndpool::{ndarray::Array4, Binning, Spp};
//! let x = Array4::<f32>::ones((2, 256, 13, 13));
//! let spp = Spp::new([1, 2, 4]);
//! assert_eq!(spp.forward(&x).unwrap().shape(), &[2, 5376]);
//!
//! // The paper's rule on a 14x14 map at n = 4 reads rows 0..13 only.
//! let plan = Spp::new([4]).binning(Binning::Paper).plan(14, 14).unwrap();
//! assert!(plan.is_exact());
//! assert_eq!(plan.uncovered_rows(), vec![13]);
//! ```

use std::ops::Range;

use ndarray::{s, Array1, Array2, ArrayBase, ArrayView4, Axis, Data, Ix3, Ix4};

use crate::element::Element;
use crate::error::{PoolError, Result};
use crate::kernels::{transpose, Kernel};
use crate::plan::{adaptive_bin, try_collect, Axis2};
use crate::pool::Prepared;
use crate::spec::{Layout, Mode, Padding, PoolSpec, Size2};

/// How a level's bins are laid over an axis of `a` cells for `n` bins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Binning {
    /// PyTorch's adaptive bins `[floor(i*a/n), ceil((i+1)*a/n))`: always exactly `n` bins
    /// covering every cell; neighbours overlap by at most one cell when `n` does not divide `a`.
    #[default]
    Adaptive,
    /// Caffe's `SPPLayer`: window and stride `k = ceil(a/n)`, padding `k*n - a` split with
    /// `(k*n - a + 1) / 2` before and the rest after. Exactly `n` disjoint bins covering every
    /// cell; padding never wins a max and counts in an average's divisor, as in Caffe. Fails
    /// where a bin would hold only padding (Caffe refuses `pad >= kernel` there).
    Padded,
    /// The paper's rule as written: window `ceil(a/n)`, stride `floor(a/n)`, no padding.
    /// `forward` fails where it gives a number of windows other than `n`; where it gives `n`
    /// windows but leaves cells unread, it succeeds and [`SppPlan`] lists the unread cells.
    Paper,
}

/// A spatial pyramid: levels, reduction, binning and layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Spp {
    levels: Vec<Size2>,
    mode: Mode,
    binning: Binning,
    layout: Layout,
}

/// The sliding window that draws a strided binning's bins along one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StridedAxis {
    window: usize,
    stride: usize,
    pad_begin: usize,
    pad_end: usize,
}

/// One level's bins along one axis, with what pooling them takes.
struct AxisBins {
    ranges: Vec<Range<usize>>,
    /// The window that draws them, for the strided binnings.
    strided: Option<StridedAxis>,
}

fn axis_bins(binning: Binning, level: usize, axis: Axis2, a: usize, n: usize) -> Result<AxisBins> {
    match binning {
        Binning::Adaptive => Ok(AxisBins {
            ranges: try_collect(n, (0..n).map(|i| adaptive_bin(i, a, n)))?,
            strided: None,
        }),
        Binning::Padded => {
            let k = a.div_ceil(n);
            let total = k * n - a;
            let (pad_begin, pad_end) = (total.div_ceil(2), total / 2);
            if pad_begin >= k {
                return Err(PoolError::PaddedBinEmpty {
                    level,
                    axis,
                    size: a,
                    bins: n,
                    window: k,
                    pad_begin,
                    pad_end,
                });
            }
            let ranges = try_collect(
                n,
                (0..n).map(|i| (i * k).saturating_sub(pad_begin)..((i + 1) * k - pad_begin).min(a)),
            )?;
            Ok(AxisBins {
                ranges,
                strided: Some(StridedAxis {
                    window: k,
                    stride: k,
                    pad_begin,
                    pad_end,
                }),
            })
        }
        Binning::Paper => {
            let (k, stride) = (a.div_ceil(n), a / n);
            if stride == 0 {
                return Err(PoolError::MoreBinsThanCells {
                    level,
                    axis,
                    size: a,
                    bins: n,
                });
            }
            let windows = (a - k) / stride + 1;
            Ok(AxisBins {
                ranges: try_collect(windows, (0..windows).map(|i| i * stride..i * stride + k))?,
                strided: Some(StridedAxis {
                    window: k,
                    stride,
                    pad_begin: 0,
                    pad_end: 0,
                }),
            })
        }
    }
}

impl Spp {
    /// A pyramid with the given levels (`usize` for square grids, `(nh, nw)` for
    /// rectangular ones), max pooling, adaptive bins, channels-first input.
    pub fn new<L: Into<Size2>>(levels: impl IntoIterator<Item = L>) -> Self {
        Spp {
            levels: levels.into_iter().map(Into::into).collect(),
            mode: Mode::Max,
            binning: Binning::Adaptive,
            layout: Layout::ChannelsFirst,
        }
    }

    /// The reduction (default [`Mode::Max`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The bin rule (default [`Binning::Adaptive`]).
    pub fn binning(mut self, binning: Binning) -> Self {
        self.binning = binning;
        self
    }

    /// The input layout: `(N, C, H, W)` (default) or `(N, H, W, C)`.
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// The levels.
    pub fn levels(&self) -> &[Size2] {
        &self.levels
    }

    /// Features per sample for `channels` channels: `channels * Σ nh*nw` (saturating).
    pub fn output_len(&self, channels: usize) -> usize {
        self.levels
            .iter()
            .fold(0usize, |acc, l| acc.saturating_add(l.h.saturating_mul(l.w)))
            .saturating_mul(channels)
    }

    fn check_levels(&self) -> Result<()> {
        if self.levels.is_empty() {
            return Err(PoolError::NoLevels);
        }
        if let Some((level, &bins)) = self
            .levels
            .iter()
            .enumerate()
            .find(|(_, l)| l.h == 0 || l.w == 0)
        {
            return Err(PoolError::ZeroLevel { level, bins });
        }
        PoolSpec::new(self.mode, 1).validate()
    }

    /// The bins of every level over an `h x w` map, without pooling. Succeeds for
    /// [`Binning::Paper`] even where the rule gives the wrong number of windows, so the
    /// failure can be inspected; fails for a zero level, a zero-sized map, Padded bins that
    /// hold only padding, and Paper levels with more bins than cells.
    pub fn plan(&self, h: usize, w: usize) -> Result<SppPlan> {
        self.check_levels()?;
        if h == 0 || w == 0 {
            return Err(PoolError::ZeroSizedInput {
                height: h,
                width: w,
            });
        }
        let levels = self
            .levels
            .iter()
            .enumerate()
            .map(|(i, bins)| {
                let rows = axis_bins(self.binning, i, Axis2::Height, h, bins.h)?;
                let cols = axis_bins(self.binning, i, Axis2::Width, w, bins.w)?;
                Ok(LevelPlan {
                    bins: (bins.h, bins.w),
                    rows: rows.ranges,
                    cols: cols.ranges,
                    height: h,
                    width: w,
                    binning: self.binning,
                    strided: rows.strided.zip(cols.strided),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SppPlan {
            height: h,
            width: w,
            levels,
        })
    }

    /// Whether `forward` pools a channels-first input through a channels-last copy: with
    /// many channels, one transposition lets every level read whole runs of channels.
    fn transposes(&self, shape: &[usize]) -> bool {
        self.layout == Layout::ChannelsFirst && shape[1] >= 16 && !matches!(self.mode, Mode::Lp(_))
    }

    /// The kernel [`Spp::forward`] runs its levels with for `x` on this machine.
    pub fn kernel<S, T>(&self, x: &ArrayBase<S, Ix4>) -> Result<Kernel>
    where
        S: Data<Elem = T>,
        T: Element,
    {
        let (ah, aw) = self.layout.spatial_axes(4)?;
        let plan = self.plan(x.shape()[ah], x.shape()[aw])?;
        let level = plan.levels.first().ok_or(PoolError::NoLevels)?;
        if self.transposes(x.shape()) {
            // A standard-layout channels-last copy always has unit channel stride.
            return Ok(Kernel::ChannelsLast);
        }
        Ok(level
            .prepare::<T>(self.mode, self.layout, x.shape())?
            .kernel(x, false))
    }

    /// Pools each level of `(N, C, H, W)` input (or `(N, H, W, C)` with
    /// [`Layout::ChannelsLast`]) into `(N, output_len(C))`.
    pub fn forward<S, T>(&self, x: &ArrayBase<S, Ix4>) -> Result<Array2<T>>
    where
        S: Data<Elem = T>,
        T: Element,
    {
        if self.transposes(x.shape()) {
            // Validate first, so errors name the caller's layout and nothing is copied for them.
            self.plan(x.shape()[2], x.shape()[3])?
                .levels
                .iter()
                .enumerate()
                .try_for_each(|(i, level)| level.check_bin_count(i))?;
            let nhwc = channels_last_copy(x)?;
            return self.clone().layout(Layout::ChannelsLast).forward(&nhwc);
        }
        let (ah, aw) = self.layout.spatial_axes(4)?;
        let channel_axis = match self.layout {
            Layout::ChannelsFirst => 1,
            Layout::ChannelsLast => 3,
        };
        let plan = self.plan(x.shape()[ah], x.shape()[aw])?;
        let mut prepared = Vec::with_capacity(plan.levels.len());
        for (i, level) in plan.levels.iter().enumerate() {
            level.check_bin_count(i)?;
            prepared.push(level.prepare::<T>(self.mode, self.layout, x.shape())?);
        }
        let (n, channels) = (x.shape()[0], x.shape()[channel_axis]);
        let len = self.output_len(channels);
        let cells = n.checked_mul(len).filter(|c| {
            c.checked_mul(std::mem::size_of::<T>())
                .is_some_and(|b| b <= isize::MAX as usize)
        });
        let Some(cells) = cells else {
            return Err(PoolError::Overflow {
                what: format!("SPP output of {n} x {len} features"),
            });
        };
        let data = try_collect(cells, std::iter::repeat_n(T::zero(), cells))?;
        let mut out = Array2::from_shape_vec((n, len), data).map_err(|e| PoolError::Overflow {
            what: format!("SPP output of {n} x {len} features: {e}"),
        })?;
        let mut offset = 0;
        for prepared in &prepared {
            let pooled = prepared.run_new(x)?;
            // Channel-major inside a level whatever the input layout: (N, C, nh, nw).
            let pooled: ArrayView4<T> = match self.layout {
                Layout::ChannelsFirst => pooled.view(),
                Layout::ChannelsLast => pooled.view().permuted_axes([0, 3, 1, 2]),
            };
            let block = pooled.len() / n.max(1);
            let bins = block / channels.max(1);
            for (mut row, sample) in out
                .slice_mut(s![.., offset..offset + block])
                .axis_iter_mut(Axis(0))
                .zip(pooled.axis_iter(Axis(0)))
            {
                match (row.as_slice_mut(), sample.as_slice(), self.layout) {
                    (Some(dst), Some(src), Layout::ChannelsFirst) => dst.copy_from_slice(src),
                    // The pooled sample is (nh, nw, C) in memory: transpose to (C, nh, nw).
                    (Some(dst), Some(_), Layout::ChannelsLast)
                    | (Some(dst), None, Layout::ChannelsLast)
                        if sample.permuted_axes([1, 2, 0]).is_standard_layout() =>
                    {
                        let src = sample.permuted_axes([1, 2, 0]);
                        let src = src.as_slice().unwrap_or_default();
                        for (b, cell) in src.chunks_exact(channels.max(1)).enumerate() {
                            for (c, &v) in cell.iter().enumerate() {
                                dst[c * bins + b] = v;
                            }
                        }
                    }
                    _ => row.iter_mut().zip(sample.iter()).for_each(|(o, &v)| *o = v),
                }
            }
            offset += block;
        }
        Ok(out)
    }

    /// [`Spp::forward`] for one sample: `(C, H, W)` (or `(H, W, C)`) into `(output_len(C))`.
    pub fn forward_one<S, T>(&self, x: &ArrayBase<S, Ix3>) -> Result<Array1<T>>
    where
        S: Data<Elem = T>,
        T: Element,
    {
        let batched = x.view().insert_axis(Axis(0));
        let out = self.forward(&batched)?;
        Ok(out.index_axis_move(Axis(0), 0))
    }
}

/// `(N, C, H, W)` as a standard-layout `(N, H, W, C)` array.
fn channels_last_copy<S, T>(x: &ArrayBase<S, Ix4>) -> Result<ndarray::Array4<T>>
where
    S: Data<Elem = T>,
    T: Element,
{
    let (n, c, h, w) = x.dim();
    let Some(src) = x.as_slice() else {
        return Ok(x
            .view()
            .permuted_axes([0, 2, 3, 1])
            .as_standard_layout()
            .into_owned());
    };
    let mut dst = try_collect(src.len(), std::iter::repeat_n(T::zero(), src.len()))?;
    let plane = h * w;
    for (sample, out) in src
        .chunks_exact(c * plane)
        .zip(dst.chunks_exact_mut(c * plane))
    {
        transpose::to_channels_last(sample, c, plane, out);
    }
    Ok(ndarray::Array4::from_shape_vec((n, h, w, c), dst).expect("length matches the shape"))
}

/// SPP with adaptive bins over `(N, C, H, W)` input: `Spp::new(levels).mode(mode).forward(x)`.
///
/// ```
/// use ndpool::{ndarray::Array4, spp, Mode};
/// let x = Array4::<f64>::zeros((1, 8, 5, 7));
/// assert_eq!(spp(&x, &[1, 2, 4], Mode::Avg).unwrap().shape(), &[1, 8 * 21]);
/// ```
pub fn spp<S, T>(x: &ArrayBase<S, Ix4>, levels: &[usize], mode: Mode) -> Result<Array2<T>>
where
    S: Data<Elem = T>,
    T: Element,
{
    Spp::new(levels.iter().copied()).mode(mode).forward(x)
}

/// The bins of every level of a pyramid over one map size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SppPlan {
    /// Map height.
    pub height: usize,
    /// Map width.
    pub width: usize,
    /// One plan per level, in the pyramid's order.
    pub levels: Vec<LevelPlan>,
}

impl SppPlan {
    /// Every level has exactly its `nh` row bins and `nw` column bins.
    pub fn is_exact(&self) -> bool {
        self.levels.iter().all(LevelPlan::is_exact)
    }

    /// Every level has its bin count and reads every cell.
    pub fn covers_input(&self) -> bool {
        self.levels.iter().all(LevelPlan::covers_input)
    }

    /// Rows that at least one level leaves unread, ascending.
    pub fn uncovered_rows(&self) -> Vec<usize> {
        union(self.levels.iter().map(LevelPlan::uncovered_rows))
    }

    /// Columns that at least one level leaves unread, ascending.
    pub fn uncovered_cols(&self) -> Vec<usize> {
        union(self.levels.iter().map(LevelPlan::uncovered_cols))
    }
}

fn union(lists: impl Iterator<Item = Vec<usize>>) -> Vec<usize> {
    let mut all: Vec<usize> = lists.flatten().collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// One level's bins: row and column ranges in input coordinates, clipped to the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelPlan {
    /// Bins asked for, `(nh, nw)`.
    pub bins: (usize, usize),
    /// Row range of each row bin.
    pub rows: Vec<Range<usize>>,
    /// Column range of each column bin.
    pub cols: Vec<Range<usize>>,
    height: usize,
    width: usize,
    binning: Binning,
    /// The (rows, cols) windows for the strided binnings.
    strided: Option<(StridedAxis, StridedAxis)>,
}

fn uncovered(len: usize, ranges: &[Range<usize>]) -> Vec<usize> {
    let mut read = vec![false; len];
    for r in ranges {
        read[r.clone()].iter_mut().for_each(|c| *c = true);
    }
    (0..len).filter(|&i| !read[i]).collect()
}

fn overlap(ranges: &[Range<usize>]) -> usize {
    ranges
        .windows(2)
        .map(|p| p[0].end.saturating_sub(p[1].start))
        .max()
        .unwrap_or(0)
}

impl LevelPlan {
    /// The rule gave exactly `nh` row bins and `nw` column bins.
    pub fn is_exact(&self) -> bool {
        self.rows.len() == self.bins.0 && self.cols.len() == self.bins.1
    }

    /// Exact, and every row and column is read by some bin.
    pub fn covers_input(&self) -> bool {
        self.is_exact() && self.uncovered_rows().is_empty() && self.uncovered_cols().is_empty()
    }

    /// Rows no bin reads, ascending.
    pub fn uncovered_rows(&self) -> Vec<usize> {
        uncovered(self.height, &self.rows)
    }

    /// Columns no bin reads, ascending.
    pub fn uncovered_cols(&self) -> Vec<usize> {
        uncovered(self.width, &self.cols)
    }

    /// The most cells shared by two neighbouring bins, over both axes.
    pub fn max_overlap(&self) -> usize {
        overlap(&self.rows).max(overlap(&self.cols))
    }

    fn check_bin_count(&self, level: usize) -> Result<()> {
        for (axis, got, bins, size) in [
            (Axis2::Height, self.rows.len(), self.bins.0, self.height),
            (Axis2::Width, self.cols.len(), self.bins.1, self.width),
        ] {
            if got != bins {
                return Err(PoolError::PaperBinCount {
                    level,
                    axis,
                    size,
                    bins,
                    window: size.div_ceil(bins),
                    stride: size / bins,
                    got,
                });
            }
        }
        Ok(())
    }

    /// The pooling call that computes this level.
    fn prepare<T>(&self, mode: Mode, layout: Layout, shape: &[usize]) -> Result<Prepared> {
        match (self.binning, self.strided) {
            (Binning::Adaptive, _) | (_, None) => {
                Prepared::adaptive::<T>(Size2::new(self.bins.0, self.bins.1), mode, layout, shape)
            }
            (_, Some((rows, cols))) => {
                let spec = PoolSpec::new(mode, (rows.window, cols.window))
                    .stride((rows.stride, cols.stride))
                    .padding(Padding::Explicit {
                        top: rows.pad_begin,
                        bottom: rows.pad_end,
                        left: cols.pad_begin,
                        right: cols.pad_end,
                    })
                    .layout(layout);
                Prepared::strided::<T>(&spec, shape)
            }
        }
    }
}
