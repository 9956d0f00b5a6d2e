//! The reductions kernels are generic over: what a window's taps fold into, and how the
//! fold becomes an output.

use num_traits::Zero;

use super::Scratch;
use crate::element::Element;

/// A window reduction, folded tap by tap in row-major window order.
pub(crate) trait Reduce<T: Element>: Copy + Send + Sync {
    /// The running value.
    type Acc: Copy;
    /// Whether the order of the fold can show in the result for some values (NaN and
    /// -0.0 for max); sums in another order are another fixed tree, within a few ULP.
    const ORDER_SENSITIVE: bool;
    /// The value of an empty fold.
    fn init(self) -> Self::Acc;
    /// Folds one tap in.
    fn step(self, acc: Self::Acc, v: T) -> Self::Acc;
    /// Combines two partial folds, `a` over earlier taps than `b`.
    fn merge(self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
    /// [`step`](Self::step) for cells none of which is order-sensitive (the caller makes
    /// sure, or discards the result).
    #[inline(always)]
    fn step_ordinary(self, acc: Self::Acc, v: T) -> Self::Acc {
        self.step(acc, v)
    }
    /// [`merge`](Self::merge) of folds over cells none of which is order-sensitive.
    #[inline(always)]
    fn merge_ordinary(self, a: Self::Acc, b: Self::Acc) -> Self::Acc {
        self.merge(a, b)
    }
    /// Whether the order of a fold of NaN-free cells can show in this result (a max of
    /// zero: which zero came first).
    #[inline(always)]
    fn order_shows(self, _acc: Self::Acc) -> bool {
        false
    }
    /// The output, given the window's divisor (ignored by max).
    fn finish(self, acc: Self::Acc, divisor: f64) -> T;
    /// The scratch buffer of accumulators, kept from job to job (a buffer allocated per
    /// plane was a fifth of a 5x5 stride-3 average's time over 768 17x17 maps).
    fn buffer(scratch: &mut Scratch<T>) -> &mut Vec<Self::Acc>;
    /// [`finish`](Self::finish) for the many accumulators of one window (its channels):
    /// `reciprocal` is `1 / divisor`, which a sum is multiplied by (one rounding more than
    /// dividing; a division per channel was 40 % of a channels-last 3x3 average's time).
    fn finish_scaled(self, acc: Self::Acc, reciprocal: f64) -> T;
}

/// PyTorch's max: NaN wins (the last one), the first of equal values stays.
#[derive(Clone, Copy)]
pub(crate) struct MaxOp;

impl<T: Element> Reduce<T> for MaxOp {
    type Acc = T;
    const ORDER_SENSITIVE: bool = true;
    #[inline(always)]
    fn init(self) -> T {
        T::neg_infinity()
    }
    #[inline(always)]
    fn step(self, acc: T, v: T) -> T {
        // The same as `if replaces_max(v, acc) { v } else { acc }`, spelled as a plain
        // `v > acc` select (one MAXPS: ties and a NaN `acc` keep `acc`) and a NaN blend, so
        // that a fold over memory compiles to max + blend + store, not a masked store.
        let larger = if v > acc { v } else { acc };
        if v.is_nan() {
            v
        } else {
            larger
        }
    }
    #[inline(always)]
    fn merge(self, a: T, b: T) -> T {
        self.step(a, b)
    }
    /// Without NaN and -0.0 the larger, the earlier on ties (one MAXPS).
    #[inline(always)]
    fn step_ordinary(self, acc: T, v: T) -> T {
        if v > acc {
            v
        } else {
            acc
        }
    }
    #[inline(always)]
    fn merge_ordinary(self, a: T, b: T) -> T {
        self.step_ordinary(a, b)
    }
    #[inline(always)]
    fn order_shows(self, acc: T) -> bool {
        acc == T::zero()
    }
    #[inline(always)]
    fn finish(self, acc: T, _: f64) -> T {
        acc
    }
    #[inline(always)]
    fn finish_scaled(self, acc: T, _: f64) -> T {
        acc
    }
    fn buffer(scratch: &mut Scratch<T>) -> &mut Vec<T> {
        &mut scratch.elems
    }
}

/// Sum in the accumulator type, divided at the end.
#[derive(Clone, Copy)]
pub(crate) struct SumOp;

impl<T: Element> Reduce<T> for SumOp {
    type Acc = T::Acc;
    const ORDER_SENSITIVE: bool = false;
    #[inline(always)]
    fn init(self) -> T::Acc {
        T::Acc::zero()
    }
    #[inline(always)]
    fn step(self, acc: T::Acc, v: T) -> T::Acc {
        acc + v.to_acc()
    }
    #[inline(always)]
    fn merge(self, a: T::Acc, b: T::Acc) -> T::Acc {
        a + b
    }
    #[inline(always)]
    fn finish(self, acc: T::Acc, divisor: f64) -> T {
        T::from_acc(acc / T::acc_from_f64(divisor))
    }
    #[inline(always)]
    fn finish_scaled(self, acc: T::Acc, reciprocal: f64) -> T {
        T::from_acc(acc * T::acc_from_f64(reciprocal))
    }
    fn buffer(scratch: &mut Scratch<T>) -> &mut Vec<T::Acc> {
        &mut scratch.acc
    }
}
