//! Channels-last kernels over `(H, W, C)` blocks whose channels are contiguous: every tap
//! of a window is a whole run of channels, folded into `CHANNEL_BLOCK` accumulators kept
//! in registers. Any plan works (padding, dilation, adaptive bins): only the taps inside
//! the input are visited.

use std::marker::PhantomData;

use ndarray::{ArrayView3, ArrayViewMut3};

use super::reduce::Reduce;
use super::{flush_row, row_cells, Uninit};
use crate::element::Element;
use crate::plan::{Plan, Window};

/// Channels folded together.
const CHANNEL_BLOCK: usize = 32;

/// A read-only `(H, W, C)` block with unit channel stride.
#[derive(Clone, Copy)]
pub(crate) struct Block<'a, T> {
    ptr: *const T,
    row_stride: isize,
    col_stride: isize,
    rows: usize,
    cols: usize,
    channels: usize,
    _borrow: PhantomData<&'a T>,
}

// SAFETY: a `Block` only reads `T`s it borrows, so it may cross threads whenever `&T` may.
unsafe impl<T: Sync> Send for Block<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Block<'_, T> {}

impl<'a, T: Copy> Block<'a, T> {
    /// The block of `view`, if its channels are contiguous.
    pub fn new(view: &ArrayView3<'a, T>) -> Option<Self> {
        let (rows, cols, channels) = view.dim();
        if view.strides()[2] != 1 && channels > 1 {
            return None;
        }
        Some(Block {
            ptr: view.as_ptr(),
            row_stride: view.strides()[0],
            col_stride: view.strides()[1],
            rows,
            cols,
            channels,
            _borrow: PhantomData,
        })
    }

    /// Pointer to the channels of cell (h, w).
    ///
    /// # Safety
    /// `h < rows` and `w < cols`.
    #[inline(always)]
    unsafe fn cell(self, h: usize, w: usize) -> *const T {
        debug_assert!(h < self.rows && w < self.cols);
        // SAFETY: (h, w, 0) is inside the view (caller's contract).
        unsafe {
            self.ptr
                .offset(h as isize * self.row_stride + w as isize * self.col_stride)
        }
    }
}

/// Pools output rows `oh0..oh0 + out.dim().0` of one block.
///
/// # Safety
/// `plan` was built for `x`'s spatial size; `out` has `x`'s channel count.
#[inline(always)]
pub(crate) unsafe fn pool_channels_last<T: Element, R: Reduce<T>>(
    r: R,
    plan: &Plan,
    x: Block<T>,
    mut out: ArrayViewMut3<Uninit<T>>,
    oh0: usize,
) {
    let mut scratch = Vec::new();
    for (i, mut out_row) in out.outer_iter_mut().enumerate() {
        let row = plan.rows.windows[oh0 + i];
        for (col, mut out_cell) in plan.cols.windows.iter().zip(out_row.outer_iter_mut()) {
            let divisor = plan.divisor_at(&row, col);
            let o = row_cells(&mut out_cell, &mut scratch);
            // SAFETY: the plan fits the block; `o` holds its channel count of cells.
            unsafe { fold_cell(r, plan, x, &row, col, divisor, o) };
            flush_row(out_cell, &scratch);
        }
    }
}

/// One output cell: every channel, folded over the (row, col) window pair's taps in
/// row-major order, `CHANNEL_BLOCK` channels at a time in registers.
///
/// # Safety
/// The windows come from a plan built for `x`'s spatial size; `o.len()` is `x`'s channel
/// count.
#[inline(always)]
unsafe fn fold_cell<T: Element, R: Reduce<T>>(
    r: R,
    plan: &Plan,
    x: Block<T>,
    row: &Window,
    col: &Window,
    divisor: f64,
    o: &mut [Uninit<T>],
) {
    let channels = o.len();
    debug_assert_eq!(channels, x.channels);
    let reciprocal = 1.0 / divisor;
    let mut c = 0;
    while c < channels {
        let n = CHANNEL_BLOCK.min(channels - c);
        let mut acc = [r.init(); CHANNEL_BLOCK];
        for t in 0..row.taps {
            let h = row.first + t * plan.rows.step;
            for u in 0..col.taps {
                // SAFETY: plan windows name cells inside the block; channels c..c + n are
                // inside its channel run.
                let p = unsafe { x.cell(h, col.first + u * plan.cols.step).add(c) };
                if n == CHANNEL_BLOCK {
                    // SAFETY: as above, CHANNEL_BLOCK channels from c.
                    let v = unsafe { (p as *const [T; CHANNEL_BLOCK]).read_unaligned() };
                    for (a, &v) in acc.iter_mut().zip(&v) {
                        *a = r.step(*a, v);
                    }
                } else {
                    for (l, a) in acc[..n].iter_mut().enumerate() {
                        // SAFETY: as above, l < n channels from c.
                        *a = r.step(*a, unsafe { *p.add(l) });
                    }
                }
            }
        }
        for (o, &a) in o[c..c + n].iter_mut().zip(&acc[..n]) {
            o.write(r.finish_scaled(a, reciprocal));
        }
        c += n;
    }
}
