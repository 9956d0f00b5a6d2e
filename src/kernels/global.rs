//! Global pooling as a reduction over each contiguous plane, in `LANES` independent
//! accumulators.

use super::reduce::Reduce;
use crate::element::Element;

/// Independent accumulators per plane.
const LANES: usize = 16;

/// Reduces `plane` (all of one plane's cells) with `r`, divided by its length.
///
/// Lanes change the fold order, which matters in two places: sums round differently (by at
/// most an ULP of the accumulator, far below the element's), and among equal maxima the
/// lanes may keep another one than the first in row-major order, visible only as the sign
/// of a zero; a zero maximum is therefore recomputed in order.
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
    let mut acc = lanes.iter().fold(r.init(), |f, &a| r.merge(f, a));
    for &v in tail {
        acc = r.step(acc, v);
    }
    let divisor = plane.len() as f64;
    let result = r.finish(acc, divisor);
    if is_max && result == T::zero() {
        let ordered = plane.iter().fold(r.init(), |a, &v| r.step(a, v));
        return r.finish(ordered, divisor);
    }
    result
}
