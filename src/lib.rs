//! # ndpool
//!
//! Pooling over [`ndarray`] tensors: max, average and Lp-norm pooling with PyTorch's full
//! parameter set (padding of every kind, dilation, `ceil_mode`, `count_include_pad`,
//! `divisor_override`, argmax indices), adaptive and global pooling, and spatial pyramid
//! pooling, for `f32` and `f64`, channels-first or channels-last.
//!
//! ```
//! use ndpool::{ndarray::Array4, pool2d, PoolSpec};
//!
//! // A ResNet stem max pool: 3x3 window, stride 2, padding 1.
//! let x = Array4::<f32>::from_shape_fn((1, 2, 8, 8), |(_, c, h, w)| (c * 64 + h * 8 + w) as f32);
//! let y = pool2d(&x, &PoolSpec::max(3).stride(2).padding(1)).unwrap();
//! assert_eq!(y.shape(), &[1, 2, 4, 4]);
//! assert_eq!(y[[0, 0, 0, 0]], 9.0); // the window over rows 0..=1, columns 0..=1
//! assert_eq!(y[[0, 1, 3, 3]], 127.0);
//! ```
//!
//! Semantics follow PyTorch unless the docs say otherwise: NaN wins a max window (the last
//! NaN's index is reported), the first of equal maxima wins, an average's divisor counts
//! padding by default but never the `ceil_mode` overhang past the padded border. Bad input
//! returns a [`PoolError`] naming the offending values; nothing panics and nothing is
//! half-written. [`reference`](mod@reference) holds the slow, obviously-correct oracle every kernel is
//! tested against.

#![warn(missing_docs)]

mod element;
mod error;
mod kernels;
mod plan;
mod pool;
mod spec;
mod spp;

pub use ndarray;

pub use element::Element;
pub use error::{PoolError, Result};
pub use kernels::isa::{current_isa, force_isa, Isa};
pub use kernels::{reference, Kernel};
pub use plan::Axis2;
pub use pool::{
    adaptive_max_pool2d_with_indices, adaptive_pool2d, adaptive_pool2d_kernel,
    adaptive_pool2d_with_layout, global_pool2d, global_pool2d_with_layout, max_pool2d_with_indices,
    pool2d, pool2d_into, pool2d_kernel,
};
pub use spec::{Layout, Mode, Padding, PoolSpec, Size2};
pub use spp::{spp, Binning, LevelPlan, Spp, SppPlan};

/// The README's code blocks, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
