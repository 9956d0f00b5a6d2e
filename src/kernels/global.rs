//! Global pooling as a reduction over each contiguous plane, in `LANES` independent
//! accumulators.

use super::isa::Isa;
use super::reduce::Reduce;
#[cfg(target_arch = "x86_64")]
use super::x86;
use super::Uninit;
use crate::element::Element;

/// Independent accumulators per plane.
const LANES: usize = 16;

/// Reduces `plane` (all of one plane's cells) with `r`, divided by its length.
///
/// Lanes change the fold order, which matters in two places: sums round differently (by at
/// most an ULP of the accumulator, far below the element's), and among equal maxima the
/// lanes may keep another one than the first in row-major order, visible only as the sign
/// of a zero or a NaN's payload; a zero or NaN maximum is therefore recomputed in order.
/// The lanes merge as a tree (halves added together), not one after another: a chain of
/// `LANES` dependent adds per plane was most of the time on 7x7 planes.
#[inline(always)]
pub(crate) fn reduce_plane<T: Element, R: Reduce<T>>(r: R, plane: &[T], is_max: bool) -> T {
    let mut lanes = [r.init(); LANES];
    let chunks = plane.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in lanes.iter_mut().zip(chunk) {
            *a = r.step(*a, v);
        }
    }
    let mut width = LANES / 2;
    while width > 0 {
        let (low, high) = lanes.split_at_mut(width);
        for (a, &b) in low.iter_mut().zip(&high[..width]) {
            *a = r.merge(*a, b);
        }
        width /= 2;
    }
    let mut acc = lanes[0];
    for &v in tail {
        acc = r.step(acc, v);
    }
    let divisor = plane.len() as f64;
    let result = r.finish(acc, divisor);
    if is_max && (result == T::zero() || result.is_nan()) {
        let ordered = plane.iter().fold(r.init(), |a, &v| r.step(a, v));
        return r.finish(ordered, divisor);
    }
    result
}

/// Means of consecutive planes of `size` cells by a hand-written `f32` path, when one
/// applies to `T` and `isa`: whether it ran.
#[inline(always)]
pub(crate) fn mean_planes_simd<T: Element>(
    isa: Isa,
    xs: &[T],
    size: usize,
    os: &mut [Uninit<T>],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if let (Some(xs), Some(os)) = (T::as_f32(xs), T::as_f32_cells(os)) {
        if size == 0 || xs.len() < size.saturating_mul(os.len()) {
            return false;
        }
        match isa {
            // SAFETY: the set was detected on this CPU (`Isa::available`); the lengths were
            // checked above.
            Isa::Avx512 => unsafe { x86::mean_planes_avx512(xs, size, os) },
            // SAFETY: as above.
            Isa::Avx2 => unsafe { x86::mean_planes_avx2(xs, size, os) },
            Isa::Baseline => return false,
        }
        return true;
    }
    let _ = (isa, xs, size, os);
    false
}
