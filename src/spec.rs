//! The pooling specification: what to compute, independent of the input.
//!
//! [`PoolSpec`] is a builder in PyTorch's vocabulary (window, stride, padding, dilation,
//! `ceil_mode`, `count_include_pad`, `divisor_override`) extended with ONNX's asymmetric and
//! SAME paddings and a tensor [`Layout`]. The output-size arithmetic lives here too.

use crate::error::{PoolError, Result};
use crate::plan::{window_extent, Axis2, AxisGeometry};

/// A pair of sizes, height first: a window, a stride, a dilation or an output size.
///
/// Everything that takes a size accepts `usize` (square), `(usize, usize)` and `[usize; 2]`
/// (height, width) through `Into<Size2>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Size2 {
    /// Size along the height (rows) axis.
    pub h: usize,
    /// Size along the width (columns) axis.
    pub w: usize,
}

impl Size2 {
    /// A size with the given height and width.
    pub const fn new(h: usize, w: usize) -> Self {
        Size2 { h, w }
    }

    /// The size along one axis.
    pub(crate) fn get(self, axis: Axis2) -> usize {
        match axis {
            Axis2::Height => self.h,
            Axis2::Width => self.w,
        }
    }
}

impl From<usize> for Size2 {
    fn from(n: usize) -> Self {
        Size2 { h: n, w: n }
    }
}

impl From<(usize, usize)> for Size2 {
    fn from((h, w): (usize, usize)) -> Self {
        Size2 { h, w }
    }
}

impl From<[usize; 2]> for Size2 {
    fn from([h, w]: [usize; 2]) -> Self {
        Size2 { h, w }
    }
}

impl std::fmt::Display for Size2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.h, self.w)
    }
}

/// What a window is reduced to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// The largest value; NaN wins (PyTorch's rule), padding never does.
    Max,
    /// The arithmetic mean; see [`PoolSpec::count_include_pad`] and
    /// [`PoolSpec::divisor_override`] for the divisor.
    Avg,
    /// The Lp norm `(Σ |x|^p)^(1/p)` over the window (ONNX `LpPool`); `p` must be finite and
    /// positive. Padded cells contribute nothing.
    Lp(f64),
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Max => f.write_str("Max"),
            Mode::Avg => f.write_str("Avg"),
            Mode::Lp(p) => write!(f, "Lp({p})"),
        }
    }
}

/// Implicit padding around the two spatial axes.
///
/// `usize` (all four sides) and `(ph, pw)` (symmetric per axis) convert into
/// [`Padding::Explicit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Padding {
    /// Cells added before and after each axis.
    Explicit {
        /// Rows added above the input.
        top: usize,
        /// Rows added below the input.
        bottom: usize,
        /// Columns added left of the input.
        left: usize,
        /// Columns added right of the input.
        right: usize,
    },
    /// Output `ceil(in / stride)` per axis; an odd total puts the extra cell at the end
    /// (ONNX `SAME_UPPER`, TensorFlow `"SAME"`).
    Same,
    /// Like [`Padding::Same`] with the extra cell at the start (ONNX `SAME_LOWER`).
    SameLower,
}

impl Padding {
    /// No padding at all.
    pub const ZERO: Padding = Padding::Explicit {
        top: 0,
        bottom: 0,
        left: 0,
        right: 0,
    };
}

impl Default for Padding {
    fn default() -> Self {
        Padding::ZERO
    }
}

impl From<usize> for Padding {
    fn from(p: usize) -> Self {
        Padding::Explicit {
            top: p,
            bottom: p,
            left: p,
            right: p,
        }
    }
}

impl From<(usize, usize)> for Padding {
    fn from((ph, pw): (usize, usize)) -> Self {
        Padding::Explicit {
            top: ph,
            bottom: ph,
            left: pw,
            right: pw,
        }
    }
}

/// Where the two spatial axes sit in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    /// The last two axes are (H, W); every leading axis is a batch or channel axis
    /// (`(H, W)`, `(C, H, W)`, `(N, C, H, W)`, ...).
    #[default]
    ChannelsFirst,
    /// The two axes before the last are (H, W) and the last is channels (`(…, H, W, C)`,
    /// NHWC).
    ChannelsLast,
}

impl Layout {
    /// The positions of the (height, width) axes in an input of `ndim` axes.
    pub fn spatial_axes(self, ndim: usize) -> Result<(usize, usize)> {
        let required = match self {
            Layout::ChannelsFirst => 2,
            Layout::ChannelsLast => 3,
        };
        if ndim < required {
            return Err(PoolError::TooFewAxes {
                ndim,
                required,
                layout: self,
            });
        }
        Ok(match self {
            Layout::ChannelsFirst => (ndim - 2, ndim - 1),
            Layout::ChannelsLast => (ndim - 3, ndim - 2),
        })
    }
}

/// A complete description of a pooling operation: mode, window and the PyTorch/ONNX
/// parameter set.
///
/// Defaults match PyTorch: stride = window, no padding, dilation 1, `ceil_mode` false,
/// `count_include_pad` true, no divisor override, [`Layout::ChannelsFirst`].
///
/// ```
/// use ndpool::{PoolSpec, Padding};
/// let stem = PoolSpec::max(3).stride(2).padding(1);
/// assert_eq!(stem.output_size(112, 112).unwrap(), (56, 56));
/// let same = PoolSpec::avg(3).stride(2).padding(Padding::Same);
/// assert_eq!(same.output_size(7, 8).unwrap(), (4, 4));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PoolSpec {
    mode: Mode,
    window: Size2,
    stride: Option<Size2>,
    padding: Padding,
    dilation: Size2,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<usize>,
    layout: Layout,
}

impl PoolSpec {
    /// A spec with the given mode and window and every other parameter at its default.
    pub fn new(mode: Mode, window: impl Into<Size2>) -> Self {
        PoolSpec {
            mode,
            window: window.into(),
            stride: None,
            padding: Padding::ZERO,
            dilation: Size2::new(1, 1),
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
            layout: Layout::ChannelsFirst,
        }
    }

    /// Max pooling over `window`.
    pub fn max(window: impl Into<Size2>) -> Self {
        Self::new(Mode::Max, window)
    }

    /// Average pooling over `window`.
    pub fn avg(window: impl Into<Size2>) -> Self {
        Self::new(Mode::Avg, window)
    }

    /// Lp-norm pooling `(Σ |x|^p)^(1/p)` over `window`.
    pub fn lp(p: f64, window: impl Into<Size2>) -> Self {
        Self::new(Mode::Lp(p), window)
    }

    /// Step between windows (default: the window).
    pub fn stride(mut self, stride: impl Into<Size2>) -> Self {
        self.stride = Some(stride.into());
        self
    }

    /// Implicit padding: `usize`, `(ph, pw)` or a [`Padding`].
    pub fn padding(mut self, padding: impl Into<Padding>) -> Self {
        self.padding = padding.into();
        self
    }

    /// Spacing between window taps (default 1); applies to every mode.
    pub fn dilation(mut self, dilation: impl Into<Size2>) -> Self {
        self.dilation = dilation.into();
        self
    }

    /// Round the output size up instead of down, dropping a last window that would start in
    /// the end padding (PyTorch's rule).
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }

    /// For [`Mode::Avg`]: whether padded cells count in the divisor (default true, as in
    /// PyTorch; ONNX defaults to false, TensorFlow never counts them).
    pub fn count_include_pad(mut self, count_include_pad: bool) -> Self {
        self.count_include_pad = count_include_pad;
        self
    }

    /// For [`Mode::Avg`]: divide every window sum by `divisor` (0 is rejected by
    /// [`PoolSpec::validate`]).
    pub fn divisor_override(mut self, divisor: usize) -> Self {
        self.divisor_override = Some(divisor);
        self
    }

    /// Where the spatial axes are in the input (default [`Layout::ChannelsFirst`]).
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// The reduction.
    pub fn mode_value(&self) -> Mode {
        self.mode
    }

    /// The window size.
    pub fn window_size(&self) -> Size2 {
        self.window
    }

    /// The stride, resolved to the window when not set.
    pub fn stride_size(&self) -> Size2 {
        self.stride.unwrap_or(self.window)
    }

    /// The padding as given.
    pub fn padding_value(&self) -> Padding {
        self.padding
    }

    /// The dilation.
    pub fn dilation_size(&self) -> Size2 {
        self.dilation
    }

    /// Whether output sizes round up.
    pub fn is_ceil_mode(&self) -> bool {
        self.ceil_mode
    }

    /// Whether padded cells count in an average's divisor.
    pub fn counts_pad(&self) -> bool {
        self.count_include_pad
    }

    /// The divisor override, if any.
    pub fn divisor(&self) -> Option<usize> {
        self.divisor_override
    }

    /// The layout.
    pub fn layout_value(&self) -> Layout {
        self.layout
    }

    /// Checks the parameters that do not depend on the input: window, stride and dilation
    /// non-zero, `p` finite and positive, divisor override non-zero.
    pub fn validate(&self) -> Result<()> {
        let stride = self.stride_size();
        if self.window.h == 0 || self.window.w == 0 {
            return Err(PoolError::ZeroWindow {
                window: self.window,
            });
        }
        if stride.h == 0 || stride.w == 0 {
            return Err(PoolError::ZeroStride { stride });
        }
        if self.dilation.h == 0 || self.dilation.w == 0 {
            return Err(PoolError::ZeroDilation {
                dilation: self.dilation,
            });
        }
        if let Mode::Lp(p) = self.mode {
            if !(p.is_finite() && p > 0.0) {
                return Err(PoolError::InvalidNorm { p });
            }
        }
        if self.divisor_override == Some(0) {
            return Err(PoolError::ZeroDivisor);
        }
        Ok(())
    }

    /// The geometry of one spatial axis of length `input`, SAME padding resolved.
    pub(crate) fn axis_geometry(&self, axis: Axis2, input: usize) -> Result<AxisGeometry> {
        self.validate()?;
        let kernel = self.window.get(axis);
        let stride = self.stride_size().get(axis);
        let dilation = self.dilation.get(axis);
        let extent = window_extent(axis, kernel, dilation)?;
        let overflow = || {
            PoolError::Overflow {
            what: format!("{axis} SAME padding: (ceil({input} / {stride}) - 1) * {stride} + {extent} - {input}"),
        }
        };
        let (pad_begin, pad_end) = match self.padding {
            Padding::Explicit {
                top,
                bottom,
                left,
                right,
            } => match axis {
                Axis2::Height => (top, bottom),
                Axis2::Width => (left, right),
            },
            Padding::Same | Padding::SameLower => {
                // ONNX: total = (ceil(in / s) - 1) * s + extent - in, never negative.
                let out = input.div_ceil(stride);
                let total = out
                    .saturating_sub(1)
                    .checked_mul(stride)
                    .and_then(|v| v.checked_add(extent))
                    .ok_or_else(overflow)?
                    .saturating_sub(input);
                let small = total / 2;
                if self.padding == Padding::Same {
                    (small, total - small)
                } else {
                    (total - small, small)
                }
            }
        };
        AxisGeometry::new(
            axis,
            input,
            kernel,
            stride,
            dilation,
            pad_begin,
            pad_end,
            self.ceil_mode,
        )
    }

    /// The spatial output size `(out_h, out_w)` for an input of `h` x `w`.
    ///
    /// `out = floor_or_ceil((in + pad_begin + pad_end - dilation*(k-1) - 1) / stride) + 1`,
    /// and with `ceil_mode` a last window that would start at or past `in + pad_begin` is
    /// dropped. An empty output, a zero-sized input, a window holding no input cell, or
    /// arithmetic that would overflow is an error.
    pub fn output_size(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        if h == 0 || w == 0 {
            return Err(PoolError::ZeroSizedInput {
                height: h,
                width: w,
            });
        }
        let rows = self.axis_geometry(Axis2::Height, h)?;
        let cols = self.axis_geometry(Axis2::Width, w)?;
        Ok((rows.output, cols.output))
    }
}
