//! [`Element`]: the scalar types ndpool pools, and the type each accumulates in.

use std::mem::MaybeUninit;

use num_traits::{Float, Zero};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A scalar type ndpool can pool: `f32` and `f64`.
///
/// Sums and norms accumulate in [`Element::Acc`] (`f64` for both), so an `f32` average of
/// large values does not overflow and stays within an ULP of the exact mean.
pub trait Element: Float + Send + Sync + std::fmt::Debug + 'static + sealed::Sealed {
    /// The accumulator for sums and norms.
    type Acc: Float + Send + Sync + std::fmt::Debug;
    /// Widens to the accumulator.
    fn to_acc(self) -> Self::Acc;
    /// Rounds an accumulator back to the element type.
    fn from_acc(acc: Self::Acc) -> Self;
    /// An accumulator holding a count or parameter.
    fn acc_from_f64(v: f64) -> Self::Acc;
    /// Significand bits, including the implicit one.
    const MANTISSA_DIGITS: u32;
    /// Significand bits of the accumulator.
    const ACC_MANTISSA_DIGITS: u32;
    /// The biased exponent field of a non-finite value.
    const RAW_EXPONENT_MAX: u32;
    /// The biased exponent field (0 for zero and subnormals).
    fn raw_exponent(self) -> u32;
    /// NaN or -0.0: the two values whose position in a max fold shows in the result.
    fn is_order_sensitive(self) -> bool;
    /// The slice as `f32`s, for kernels with hand-written `f32` paths.
    fn as_f32(s: &[Self]) -> Option<&[f32]>;
    /// The slice as `f32`s, for kernels with hand-written `f32` paths.
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]>;
    /// The output cells as `f32` cells, for kernels with hand-written `f32` paths.
    fn as_f32_cells(s: &mut [MaybeUninit<Self>]) -> Option<&mut [MaybeUninit<f32>]>;
    /// Accumulators as `f64`s, for hand-written paths that accumulate in `f64`.
    fn acc_as_f64_mut(s: &mut [Self::Acc]) -> Option<&mut [f64]>;
}

impl Element for f32 {
    type Acc = f64;
    #[inline(always)]
    fn to_acc(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_acc(acc: f64) -> f32 {
        acc as f32
    }
    #[inline(always)]
    fn acc_from_f64(v: f64) -> f64 {
        v
    }
    const MANTISSA_DIGITS: u32 = f32::MANTISSA_DIGITS;
    const ACC_MANTISSA_DIGITS: u32 = f64::MANTISSA_DIGITS;
    const RAW_EXPONENT_MAX: u32 = 0xff;
    #[inline(always)]
    fn raw_exponent(self) -> u32 {
        (self.to_bits() >> 23) & 0xff
    }
    #[inline(always)]
    fn is_order_sensitive(self) -> bool {
        let bits = self.to_bits();
        ((bits & 0x7fff_ffff) > 0x7f80_0000) | (bits == 0x8000_0000)
    }
    #[inline(always)]
    fn as_f32(s: &[f32]) -> Option<&[f32]> {
        Some(s)
    }
    #[inline(always)]
    fn as_f32_mut(s: &mut [f32]) -> Option<&mut [f32]> {
        Some(s)
    }
    #[inline(always)]
    fn as_f32_cells(s: &mut [MaybeUninit<f32>]) -> Option<&mut [MaybeUninit<f32>]> {
        Some(s)
    }
    #[inline(always)]
    fn acc_as_f64_mut(s: &mut [f64]) -> Option<&mut [f64]> {
        Some(s)
    }
}

impl Element for f64 {
    type Acc = f64;
    #[inline(always)]
    fn to_acc(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_acc(acc: f64) -> f64 {
        acc
    }
    #[inline(always)]
    fn acc_from_f64(v: f64) -> f64 {
        v
    }
    const MANTISSA_DIGITS: u32 = f64::MANTISSA_DIGITS;
    const ACC_MANTISSA_DIGITS: u32 = f64::MANTISSA_DIGITS;
    const RAW_EXPONENT_MAX: u32 = 0x7ff;
    #[inline(always)]
    fn raw_exponent(self) -> u32 {
        ((self.to_bits() >> 52) & 0x7ff) as u32
    }
    #[inline(always)]
    fn is_order_sensitive(self) -> bool {
        let bits = self.to_bits();
        ((bits & 0x7fff_ffff_ffff_ffff) > 0x7ff0_0000_0000_0000) | (bits == 0x8000_0000_0000_0000)
    }
    #[inline(always)]
    fn as_f32(_: &[f64]) -> Option<&[f32]> {
        None
    }
    #[inline(always)]
    fn as_f32_mut(_: &mut [f64]) -> Option<&mut [f32]> {
        None
    }
    #[inline(always)]
    fn as_f32_cells(_: &mut [MaybeUninit<f64>]) -> Option<&mut [MaybeUninit<f32>]> {
        None
    }
    #[inline(always)]
    fn acc_as_f64_mut(s: &mut [f64]) -> Option<&mut [f64]> {
        Some(s)
    }
}

/// PyTorch's max step: a value replaces the running max when larger or NaN, so NaN
/// propagates (the last NaN wins) and among equal values the first is kept.
#[inline(always)]
pub(crate) fn replaces_max<T: Float>(candidate: T, current: T) -> bool {
    candidate > current || candidate.is_nan()
}

/// `(Σ |x|^p)^(1/p)` over `values`, scaled by the largest magnitude so that neither large
/// nor small values overflow or underflow on the way.
pub(crate) fn lp_norm<T: Element>(p: f64, values: impl Iterator<Item = T> + Clone) -> T {
    let mut largest = T::Acc::zero();
    for v in values.clone() {
        let a = v.to_acc().abs();
        if replaces_max(a, largest) {
            largest = a;
        }
    }
    if largest.is_nan() || largest.is_infinite() || largest.is_zero() {
        return T::from_acc(largest);
    }
    let p_acc = T::acc_from_f64(p);
    let sum = values.fold(T::Acc::zero(), |s, v| {
        s + (v.to_acc().abs() / largest).powf(p_acc)
    });
    T::from_acc(largest * sum.powf(p_acc.recip()))
}
