//! [`PoolError`]: every way an input can be refused, each naming the offending values.

use crate::plan::Axis2;
use crate::spec::{Layout, Mode, Size2};

/// `Result` with [`PoolError`].
pub type Result<T> = std::result::Result<T, PoolError>;

/// Why a pooling call was refused. Nothing is written to an output when one is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// A window with a zero side.
    #[error("window must be at least 1x1, got {window}")]
    ZeroWindow {
        /// The window given.
        window: Size2,
    },
    /// A stride with a zero side.
    #[error("stride must be at least 1x1, got {stride}")]
    ZeroStride {
        /// The stride given.
        stride: Size2,
    },
    /// A dilation with a zero side.
    #[error("dilation must be at least 1x1, got {dilation}")]
    ZeroDilation {
        /// The dilation given.
        dilation: Size2,
    },
    /// An Lp norm whose `p` is not finite and positive.
    #[error("Lp pooling needs a finite p > 0, got p = {p}")]
    InvalidNorm {
        /// The p given.
        p: f64,
    },
    /// `divisor_override(0)`.
    #[error("divisor_override must be at least 1, got 0")]
    ZeroDivisor,
    /// The window (with dilation) is larger than the padded input along an axis.
    #[error(
        "empty output along {axis}: window extent {extent} is larger than input {input} + padding {pad_begin} + {pad_end}"
    )]
    EmptyOutput {
        /// The axis.
        axis: Axis2,
        /// The input size along it.
        input: usize,
        /// Padding before the input.
        pad_begin: usize,
        /// Padding after the input.
        pad_end: usize,
        /// The window's extent, `dilation * (window - 1) + 1`.
        extent: usize,
    },
    /// Some window reads only padding.
    #[error(
        "output {index} along {axis} reads no input cell: its window starts at {start} and spans {extent} cells, the input has {input} (reduce padding or dilation)"
    )]
    WindowOutsideInput {
        /// The axis.
        axis: Axis2,
        /// The output index whose window is empty.
        index: usize,
        /// Where the window starts, in input coordinates (negative inside the begin padding).
        start: i128,
        /// The window's extent, `dilation * (window - 1) + 1`.
        extent: usize,
        /// The input size along the axis.
        input: usize,
    },
    /// The input has too few axes for the layout.
    #[error("input has {ndim} axes; {layout:?} needs at least {required}")]
    TooFewAxes {
        /// Axes the input has.
        ndim: usize,
        /// Axes the layout needs.
        required: usize,
        /// The layout asked for.
        layout: Layout,
    },
    /// A spatial axis of length 0.
    #[error("spatial size must be non-zero, got {height}x{width}")]
    ZeroSizedInput {
        /// Input height.
        height: usize,
        /// Input width.
        width: usize,
    },
    /// An adaptive output size with a zero side.
    #[error("adaptive output size along {axis} must be at least 1, got 0")]
    ZeroOutputSize {
        /// The axis.
        axis: Axis2,
    },
    /// An `out` array of the wrong shape.
    #[error("output has shape {actual:?}, expected {expected:?}")]
    OutputShape {
        /// The shape the call produces.
        expected: Vec<usize>,
        /// The shape of the `out` given.
        actual: Vec<usize>,
    },
    /// `max_pool2d_with_indices` with a spec that is not [`Mode::Max`].
    #[error("indices exist only for Max pooling, got mode {mode}")]
    IndicesNeedMax {
        /// The spec's mode.
        mode: Mode,
    },
    /// Shape arithmetic that does not fit in `usize`.
    #[error("shape arithmetic overflows: {what}")]
    Overflow {
        /// The computation that overflowed, with its operands.
        what: String,
    },
    /// The output (or a plan table) could not be allocated.
    #[error("cannot allocate {bytes} bytes for the output")]
    Allocation {
        /// Bytes requested.
        bytes: usize,
    },
    /// An SPP level with a zero side.
    #[error("SPP level {level} must have at least 1x1 bins, got {bins}")]
    ZeroLevel {
        /// Position of the level in the list.
        level: usize,
        /// The bins asked for.
        bins: Size2,
    },
    /// An SPP pyramid with no level.
    #[error("SPP needs at least one level")]
    NoLevels,
    /// `Binning::Paper`: the paper's rule gives a number of windows other than the level's bins.
    #[error(
        "SPP level {level}: the paper's rule (window ceil({size}/{bins}) = {window}, stride floor({size}/{bins}) = {stride}) gives {got} windows along {axis}, not {bins}"
    )]
    PaperBinCount {
        /// Position of the level in the list.
        level: usize,
        /// The axis.
        axis: Axis2,
        /// Input size along the axis.
        size: usize,
        /// Bins asked for.
        bins: usize,
        /// The rule's window.
        window: usize,
        /// The rule's stride.
        stride: usize,
        /// Windows the rule gives.
        got: usize,
    },
    /// `Binning::Paper` with more bins than cells: the rule's stride `floor(size/bins)` is 0.
    #[error(
        "SPP level {level}: {bins} bins along {axis} exceed the {size} cells there (the paper's stride floor({size}/{bins}) is 0)"
    )]
    MoreBinsThanCells {
        /// Position of the level in the list.
        level: usize,
        /// The axis.
        axis: Axis2,
        /// Input size along the axis.
        size: usize,
        /// Bins asked for.
        bins: usize,
    },
    /// `Binning::Padded`: a bin would hold only padding (Caffe refuses `pad >= kernel`).
    #[error(
        "SPP level {level}: Caffe's padded bins over {size} cells along {axis} with {bins} bins (window {window}, padding {pad_begin} + {pad_end}) leave a bin holding only padding"
    )]
    PaddedBinEmpty {
        /// Position of the level in the list.
        level: usize,
        /// The axis.
        axis: Axis2,
        /// Input size along the axis.
        size: usize,
        /// Bins asked for.
        bins: usize,
        /// Window (= stride) `ceil(size/bins)`.
        window: usize,
        /// Padding before the input.
        pad_begin: usize,
        /// Padding after the input.
        pad_end: usize,
    },
}
