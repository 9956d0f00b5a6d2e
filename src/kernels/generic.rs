//! The table-driven kernel: any plan (strided, dilated, padded, adaptive), any strides,
//! every mode, optional argmax. The fallback every specialised kernel is measured against.

use ndarray::{ArrayView2, ArrayViewMut2};

use num_traits::Zero;

use super::Uninit;
use crate::element::{lp_norm, replaces_max, Element};
use crate::plan::{Plan, Window};
use crate::spec::Mode;

/// The input cells (row, col) a window pair reads, in row-major order.
fn taps<'p>(
    plan: &'p Plan,
    row: &'p Window,
    col: &'p Window,
) -> impl Iterator<Item = (usize, usize)> + Clone + 'p {
    (0..row.taps).flat_map(move |i| {
        let h = row.first + i * plan.rows.step;
        (0..col.taps).map(move |j| (h, col.first + j * plan.cols.step))
    })
}

/// Pools output rows `oh0..oh0 + out.nrows()` of one plane into `out` (and `indices`,
/// per-plane `h * W + w`, for Max).
pub(crate) fn pool_plane<T: Element>(
    plan: &Plan,
    x: ArrayView2<T>,
    mut out: ArrayViewMut2<Uninit<T>>,
    mut indices: Option<ArrayViewMut2<Uninit<usize>>>,
    oh0: usize,
) {
    let width = x.ncols();
    let rows = &plan.rows.windows[oh0..oh0 + out.nrows()];
    for (oh, row) in rows.iter().enumerate() {
        for (ow, col) in plan.cols.windows.iter().enumerate() {
            let cells = taps(plan, row, col);
            let value = match plan.mode {
                Mode::Max => {
                    let mut best = T::neg_infinity();
                    let mut arg = row.first * width + col.first;
                    for (h, w) in cells {
                        let v = x[[h, w]];
                        if replaces_max(v, best) {
                            best = v;
                            arg = h * width + w;
                        }
                    }
                    if let Some(indices) = indices.as_mut() {
                        indices[[oh, ow]].write(arg);
                    }
                    best
                }
                Mode::Avg => {
                    let sum = cells.fold(T::Acc::zero(), |s, (h, w)| s + x[[h, w]].to_acc());
                    T::from_acc(sum / T::acc_from_f64(plan.divisor_at(row, col)))
                }
                Mode::Lp(p) => lp_norm(p, cells.map(|(h, w)| x[[h, w]])),
            };
            out[[oh, ow]].write(value);
        }
    }
}
