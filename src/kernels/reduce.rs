//! The reductions kernels are generic over: what a window's taps fold into, and how the
//! fold becomes an output.

use num_traits::Zero;

use crate::element::Element;

/// A window reduction, folded tap by tap in row-major window order.
pub(crate) trait Reduce<T: Element>: Copy + Send + Sync {
    /// The running value.
    type Acc: Copy;
    /// The value of an empty fold.
    fn init(self) -> Self::Acc;
    /// Folds one tap in.
    fn step(self, acc: Self::Acc, v: T) -> Self::Acc;
    /// Combines two partial folds, `a` over earlier taps than `b`.
    fn merge(self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
    /// The output, given the window's divisor (ignored by max).
    fn finish(self, acc: Self::Acc, divisor: f64) -> T;
}

/// PyTorch's max: NaN wins (the last one), the first of equal values stays.
#[derive(Clone, Copy)]
pub(crate) struct MaxOp;

impl<T: Element> Reduce<T> for MaxOp {
    type Acc = T;
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
    #[inline(always)]
    fn finish(self, acc: T, _: f64) -> T {
        acc
    }
}

/// Sum in the accumulator type, divided at the end.
#[derive(Clone, Copy)]
pub(crate) struct SumOp;

impl<T: Element> Reduce<T> for SumOp {
    type Acc = T::Acc;
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
}
