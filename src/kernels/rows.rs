//! Channels-first kernels over 2-D planes whose columns are contiguous.
//!
//! - [`pool_rows`]: the exact kernel, any reduction. Each input row is folded across (the
//!   window's taps, left to right), then each output folds its window's rows top to bottom:
//!   row-major window order, so NaN and tie rules match the reference exactly. Border
//!   outputs, whose windows are cut by padding, take the per-output path.
//! - [`max_rows`]: max for planes without NaN, row folds shared through a ring, with
//!   hand-written stride-2 paths; it reports NaN so the caller can rerun [`pool_rows`].
//! - [`pool_columns`]: horizontal strides of 3 and up, each output row's window rows folded
//!   down first, then across; a max reports NaN so the caller can rerun [`pool_rows`].

use std::marker::PhantomData;
use std::ops::Range;

use ndarray::{ArrayView2, ArrayViewMut2};

use super::isa::Isa;
use super::reduce::Reduce;
#[cfg(target_arch = "x86_64")]
use super::x86;
use super::{block, block_starts, flush_row, row_cells, write_slice, Scratch, Uninit, BLOCK};
use crate::element::Element;
use crate::plan::{AxisWindows, Plan, Window};

/// A read-only plane with unit column stride, read through a raw pointer so the hot loops
/// carry no bounds checks; every read is justified by the plan, which only names cells
/// inside the plane.
#[derive(Clone, Copy)]
pub(crate) struct Plane<'a, T> {
    ptr: *const T,
    row_stride: isize,
    pub rows: usize,
    pub cols: usize,
    _borrow: PhantomData<&'a T>,
}

// SAFETY: a `Plane` is a shared borrow of `T`s (it only reads), so it may cross threads
// whenever `&T` may.
unsafe impl<T: Sync> Send for Plane<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Plane<'_, T> {}

impl<'a, T: Copy> Plane<'a, T> {
    /// The plane of `view`, if its columns are contiguous.
    pub fn new(view: &ArrayView2<'a, T>) -> Option<Self> {
        if view.strides()[1] != 1 && view.ncols() > 1 {
            return None;
        }
        Some(Plane {
            ptr: view.as_ptr(),
            row_stride: view.strides()[0],
            rows: view.nrows(),
            cols: view.ncols(),
            _borrow: PhantomData,
        })
    }

    /// The cell at (h, w).
    ///
    /// # Safety
    /// `h < rows` and `w < cols`.
    #[inline(always)]
    pub unsafe fn get(self, h: usize, w: usize) -> T {
        debug_assert!(h < self.rows && w < self.cols);
        // SAFETY: (h, w) is inside the view (caller's contract), whose element at
        // h * row_stride + w is valid for reads for 'a.
        unsafe { *self.ptr.offset(h as isize * self.row_stride + w as isize) }
    }

    /// Row `h`.
    ///
    /// # Safety
    /// `h < rows`.
    #[inline(always)]
    pub unsafe fn line(self, h: usize) -> &'a [T] {
        // SAFETY: row h is inside the view, with `cols` cells readable for 'a.
        unsafe { std::slice::from_raw_parts(self.row(h), self.cols) }
    }

    /// Elements from the start of one row to the next.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub fn row_stride(self) -> isize {
        self.row_stride
    }

    /// Pointer to the start of row `h`.
    ///
    /// # Safety
    /// `h < rows`.
    #[inline(always)]
    pub unsafe fn row(self, h: usize) -> *const T {
        debug_assert!(h < self.rows);
        // SAFETY: row h is inside the view (caller's contract).
        unsafe { self.ptr.offset(h as isize * self.row_stride) }
    }
}

/// One output by the definition: every tap of the (row, col) window pair, row-major.
///
/// # Safety
/// The windows come from a plan built for this plane's size.
#[inline(always)]
pub(crate) unsafe fn one_output<T: Element, R: Reduce<T>>(
    r: R,
    plan: &Plan,
    x: Plane<T>,
    row: &Window,
    col: &Window,
) -> T {
    let mut acc = r.init();
    for i in 0..row.taps {
        let h = row.first + i * plan.rows.step;
        for j in 0..col.taps {
            // SAFETY: plan windows only name cells inside the input (h < H, w < W).
            acc = r.step(acc, unsafe { x.get(h, col.first + j * plan.cols.step) });
        }
    }
    r.finish(acc, plan.divisor_at(row, col))
}

/// The outputs of row window `row` outside `full` (whose column windows padding cuts), each
/// by the definition.
///
/// # Safety
/// The windows come from a plan built for this plane's size; `o` holds the row's outputs.
#[inline(always)]
unsafe fn fill_borders<T: Element, R: Reduce<T>>(
    r: R,
    plan: &Plan,
    x: Plane<T>,
    full: &Range<usize>,
    row: &Window,
    o: &mut [Uninit<T>],
) {
    for ow in (0..full.start).chain(full.end..o.len()) {
        // SAFETY: plan windows fit this plane.
        o[ow].write(unsafe { one_output(r, plan, x, row, &plan.cols.windows[ow]) });
    }
}

/// The input rows `windows` read, as a range (with dilation and padding the first row of
/// successive windows need not grow, so every window counts).
fn rows_read(windows: &[Window], step: usize) -> Option<(usize, usize)> {
    let lo = windows.iter().map(|w| w.first).min()?;
    let hi = windows
        .iter()
        .map(|w| w.first + (w.taps - 1) * step + 1)
        .max()?;
    Some((lo, hi))
}

/// The outputs whose column window is whole (all taps inside the input), a contiguous run
/// since windows move monotonically.
pub(crate) fn full_columns(cols: &AxisWindows) -> Range<usize> {
    let Some(g) = cols.geometry else {
        return 0..0;
    };
    let is_full = |w: &Window| w.taps == g.kernel;
    let start = cols.windows.iter().position(is_full).unwrap_or(cols.len());
    let len = cols.windows[start..]
        .iter()
        .take_while(|w| is_full(w))
        .count();
    start..start + len
}

/// The row kernel over output rows `oh0..oh0 + out.nrows()` of one plane. `STRIDE` is the
/// horizontal stride when it is 1 or 2, 0 for any other (read from the plan).
///
/// Each input row the chunk reads is first folded across (`row_folds[h][o]`: the window's
/// taps along that row, left to right), then each output folds the rows of its window, top
/// to bottom. Folding the inner index first is folding in row-major order, so the NaN and
/// tie rules hold exactly as in the reference; both passes run over contiguous outputs and
/// vectorise. Border outputs, whose windows padding cuts, take the per-output path.
///
/// # Safety
/// `plan` was built for `x`'s size and has strided column geometry.
#[inline(always)]
pub(crate) unsafe fn pool_rows<T: Element, R: Reduce<T>, const STRIDE: usize>(
    r: R,
    plan: &Plan,
    full: Range<usize>,
    x: Plane<T>,
    mut out: ArrayViewMut2<Uninit<T>>,
    oh0: usize,
    scratch: &mut Scratch<T>,
) {
    let Some(g) = plan.cols.geometry else { return };
    let stride = if STRIDE == 0 { g.stride } else { STRIDE };
    let (kw, dw) = (g.kernel, g.dilation);
    let n = full.len();
    let windows = &plan.rows.windows[oh0..oh0 + out.nrows()];
    let Some((h_lo, h_hi)) = rows_read(windows, plan.rows.step) else {
        return;
    };
    // Taken out of the scratch (and put back) so that its row buffer can be lent too.
    let mut buffer = std::mem::take(R::buffer(scratch));
    buffer.clear();
    buffer.resize((h_hi - h_lo) * n + n, r.init());
    let (row_folds, column) = buffer.split_at_mut((h_hi - h_lo) * n);
    if n > 0 {
        let base = plan.cols.windows[full.start].first;
        let mut runs = TapRuns::new(stride, kw, dw, base, n, x.cols);
        for (h, folds) in (h_lo..h_hi).zip(row_folds.chunks_exact_mut(n)) {
            // SAFETY: h is inside the plane (between the chunk's first and last window
            // rows), and the row has x.cols readable cells.
            let line = unsafe { std::slice::from_raw_parts(x.row(h), x.cols) };
            let (src, starts) = runs.source::<STRIDE>(line);
            fold_taps(r, src, starts, folds);
        }
    }
    for (row, mut out_row) in windows.iter().zip(out.rows_mut()) {
        let rows = RowFolds {
            folds: row_folds,
            n,
            h_lo,
        };
        let o = row_cells(&mut out_row, &mut scratch.row);
        // SAFETY: as for this function.
        unsafe { fill_row(r, plan, x, &full, row, &rows, column, o) };
        flush_row(out_row, &scratch.row);
    }
    *R::buffer(scratch) = buffer;
}

/// Columns first, for wide steps across (horizontal stride 3 and up): each output row
/// folds its window's rows down into one row of column folds (contiguous, vectorised),
/// then folds across that row, tap by tap. The across fold reads one cell in `stride`, a
/// gather, so it pays once per output row here instead of once per input row as in
/// [`pool_rows`]: for windows that do not overlap, a window's height fewer times. Border
/// outputs, whose windows padding cuts, take the per-output path.
///
/// The fold is in column-major window order, which can show in a max: which NaN wins, and
/// which zero when the max is a zero. For an order-sensitive reduction the function returns
/// false on meeting a NaN (or infinity), and the caller recomputes with [`pool_rows`]; a
/// window whose fold [`Reduce::order_shows`] is recomputed by the definition. Sums come
/// out as another fixed tree of the window's cells.
///
/// # Safety
/// `plan` was built for `x`'s size and has strided column geometry.
#[inline(always)]
pub(crate) unsafe fn pool_columns<T: Element, R: Reduce<T>>(
    r: R,
    plan: &Plan,
    full: Range<usize>,
    x: Plane<T>,
    out: ArrayViewMut2<Uninit<T>>,
    oh0: usize,
    scratch: &mut Scratch<T>,
) -> bool {
    // Taken out of the scratch (and put back) so that its row buffer can be lent too.
    let mut buffer = std::mem::take(R::buffer(scratch));
    // SAFETY: this function's contract.
    let clean = unsafe { columns_into(r, plan, &full, x, out, oh0, &mut buffer, &mut scratch.row) };
    *R::buffer(scratch) = buffer;
    clean
}

/// [`pool_columns`]' body, with its buffers: `buffer` is sized here to hold the row of
/// column folds and the row of window folds.
///
/// # Safety
/// As for [`pool_columns`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn columns_into<T: Element, R: Reduce<T>>(
    r: R,
    plan: &Plan,
    full: &Range<usize>,
    x: Plane<T>,
    mut out: ArrayViewMut2<Uninit<T>>,
    oh0: usize,
    buffer: &mut Vec<R::Acc>,
    row_buffer: &mut Vec<Uninit<T>>,
) -> bool {
    let Some(g) = plan.cols.geometry else {
        return true;
    };
    let (stride, kw, dw, n) = (g.stride, g.kernel, g.dilation, full.len());
    // The cells the whole windows read: base .. base + span.
    let base = plan.cols.windows.get(full.start).map_or(0, |w| w.first);
    let span = if n == 0 {
        0
    } else {
        (n - 1) * stride + (kw - 1) * dw + 1
    };
    buffer.clear();
    buffer.resize(span + n, r.init());
    let (down, folds) = buffer.split_at_mut(span);
    let windows = &plan.rows.windows[oh0..oh0 + out.nrows()];
    for (row, mut out_row) in windows.iter().zip(out.rows_mut()) {
        let o = row_cells(&mut out_row, row_buffer);
        // SAFETY: as for this function.
        unsafe { fill_borders(r, plan, x, full, row, o) };
        if n > 0 {
            // SAFETY: a window's rows lie inside the plane, and its whole windows' cells
            // base .. base + span inside the row.
            let line = |t: usize| unsafe { &x.line(row.first + t * plan.rows.step)[base..] };
            // The rows folded down a block of cells at a time in registers. An order-
            // sensitive fold takes the cells as if none were NaN, while lanes of
            // `Σ (v - v)` look for NaNs (infinities too) beside it; a window whose max is a
            // zero is recomputed below.
            let mut poison = Poison::new();
            let mut look = |cells: &[T]| {
                if R::ORDER_SENSITIVE {
                    poison.add(cells);
                }
            };
            if span < BLOCK {
                down.fill(r.init());
                for t in 0..row.taps {
                    let cells = &line(t)[..span];
                    for (d, &v) in down.iter_mut().zip(cells) {
                        *d = r.step_ordinary(*d, v);
                    }
                    look(cells);
                }
            } else {
                for c0 in block_starts(span, BLOCK) {
                    let mut acc = [r.init(); BLOCK];
                    for t in 0..row.taps {
                        let cells: &[T; BLOCK] = line(t)[c0..c0 + BLOCK].try_into().unwrap();
                        for (a, &v) in acc.iter_mut().zip(cells) {
                            *a = r.step_ordinary(*a, v);
                        }
                        look(cells);
                    }
                    down[c0..c0 + BLOCK].copy_from_slice(&acc);
                }
            }
            if !poison.is_clean() {
                return false;
            }
            let divisor = plan.divisor_at(row, &plan.cols.windows[full.start]);
            let taps = (kw - 1) * dw + 1;
            let merge = |f, &d| r.merge_ordinary(f, d);
            match (kw, stride, dw) {
                // Windows side by side: each a whole chunk, compiled per width (the loads
                // interleave).
                (3, 3, 1) => fold_chunks::<_, _, 3>(r, down, folds),
                (4, 4, 1) => fold_chunks::<_, _, 4>(r, down, folds),
                (5, 5, 1) => fold_chunks::<_, _, 5>(r, down, folds),
                (8, 8, 1) => fold_chunks::<_, _, 8>(r, down, folds),
                _ => {
                    for (i, f) in folds.iter_mut().enumerate() {
                        let window = &down[i * stride..i * stride + taps];
                        *f = if dw == 1 {
                            window[1..].iter().fold(window[0], merge)
                        } else {
                            window.iter().step_by(dw).skip(1).fold(window[0], merge)
                        };
                    }
                }
            }
            let o = &mut o[full.clone()];
            for (o, &fold) in o.iter_mut().zip(&*folds) {
                o.write(r.finish(fold, divisor));
            }
            // Rare (a max of zero): looked for in one pass that vectorises.
            if folds.iter().fold(false, |any, &f| any | r.order_shows(f)) {
                for (i, (o, &fold)) in o.iter_mut().zip(&*folds).enumerate() {
                    if r.order_shows(fold) {
                        let col = &plan.cols.windows[full.start + i];
                        // SAFETY: plan windows fit this plane.
                        o.write(unsafe { one_output(r, plan, x, row, col) });
                    }
                }
            }
        }
        flush_row(out_row, row_buffer);
    }
    true
}

/// `folds[i]` = the fold of `down[i * K..(i + 1) * K]`, for NaN-free cells.
#[inline(always)]
fn fold_chunks<T: Element, R: Reduce<T>, const K: usize>(
    r: R,
    down: &[R::Acc],
    folds: &mut [R::Acc],
) {
    for (f, chunk) in folds.iter_mut().zip(down.chunks_exact(K)) {
        *f = chunk[1..]
            .iter()
            .fold(chunk[0], |f, &d| r.merge_ordinary(f, d));
    }
}

/// `a` folded with a later tap `b` by PyTorch's max, for inputs without NaN: the larger,
/// the earlier on ties. A plain `>` select, one MAXPS.
#[inline(always)]
fn later_max<T: Element>(a: T, b: T) -> T {
    if b > a {
        b
    } else {
        a
    }
}

/// `v - v`: 0 for a finite value, NaN for a NaN or an infinity.
#[inline(always)]
#[allow(clippy::eq_op)]
fn finite_probe<T: Element>(v: T) -> T {
    v - v
}

/// Lanes of `Σ (v - v)`: every lane stays 0 until a NaN or an infinity goes in.
struct Poison<T>([T; 16], bool);

impl<T: Element> Poison<T> {
    fn new() -> Self {
        Poison([T::zero(); 16], false)
    }

    /// Records a NaN (or infinity) found by other means.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn flag(&mut self, seen: bool) {
        self.1 |= seen;
    }

    /// Adds a run of values.
    #[inline(always)]
    fn add(&mut self, line: &[T]) {
        let mut lanes = self.0;
        if line.len() >= 16 {
            // Whole chunks, the last one moved back to end with the run: cells it sees twice
            // add 0 twice, or poison twice.
            let last = line.len() - 16;
            for start in (0..last).step_by(16).chain([last]) {
                for (l, &v) in lanes.iter_mut().zip(&line[start..start + 16]) {
                    *l = *l + finite_probe(v);
                }
            }
        } else {
            for (l, &v) in lanes.iter_mut().zip(line) {
                *l = *l + finite_probe(v);
            }
        }
        self.0 = lanes;
    }

    /// Adds lanes of probes ([`finite_probe`] sums).
    #[inline(always)]
    fn merge(&mut self, probe: &[T; 16]) {
        for (l, &p) in self.0.iter_mut().zip(probe) {
            *l = *l + p;
        }
    }

    /// Whether no NaN or infinity went in.
    fn is_clean(&self) -> bool {
        !self.1 && self.0.iter().all(|&l| l == T::zero())
    }
}

/// Max pooling over output rows `oh0..oh0 + out.nrows()` of one plane, for planes without
/// NaN. Each input row a window reads is folded across once, for every output column (the
/// whole windows by vector code, the few cut by padding one by one), into a ring of row
/// folds that overlapping windows share; then each output row folds its window's rows top
/// to bottom, in blocks of outputs kept in registers. That is row-major window order, so
/// ties (`-0.0` against `0.0`) resolve as in the reference; only NaN would not propagate,
/// so the kernel watches every cell it folds and returns false when one was a NaN or an
/// infinity (the caller then recomputes the chunk with [`pool_rows`], overwriting whatever
/// this wrote). Stride-1 and stride-2 `f32` windows with AVX2 or AVX-512 go rows first
/// instead, without the ring ([`max_plane_s1`], [`max_plane_s2`]), under the same contract.
///
/// `KW` and `SW` are the window's width and horizontal stride when the kernel is
/// specialised for them (with horizontal dilation 1), 0 for any (read from the plan).
///
/// # Safety
/// As for [`pool_rows`].
#[inline(always)]
pub(crate) unsafe fn max_rows<T: Element, const KW: usize, const SW: usize>(
    isa: Isa,
    plan: &Plan,
    full: Range<usize>,
    x: Plane<T>,
    mut out: ArrayViewMut2<Uninit<T>>,
    oh0: usize,
    scratch: &mut Scratch<T>,
) -> bool {
    let (Some(g), Some(rg)) = (plan.cols.geometry, plan.rows.geometry) else {
        return false;
    };
    let cols = if KW == 0 {
        ColTaps {
            kw: g.kernel,
            sw: g.stride,
            dw: g.dilation,
        }
    } else {
        ColTaps {
            kw: KW,
            sw: SW,
            dw: 1,
        }
    };
    let width = g.output;
    let base = plan.cols.windows.get(full.start).map_or(0, |w| w.first);
    let windows = &plan.rows.windows[oh0..oh0 + out.nrows()];
    #[cfg(target_arch = "x86_64")]
    if SW == 2 {
        if let Some(clean) = max_plane_s2::<T, KW>(isa, plan, &full, x, &mut out, windows, scratch)
        {
            return clean;
        }
    }
    #[cfg(target_arch = "x86_64")]
    if cols.sw == 1 && cols.dw == 1 {
        if let Some(clean) = max_flat(isa, plan, x, &mut out, oh0, scratch) {
            return clean;
        }
    }
    // Every width: with AVX2 too, rows first took 0.89x the time of the ring's 3-wide fold
    // for a 3x3 max over 28x28 maps (0.97x over 56x56; Xeon, AVX2 forced).
    #[cfg(target_arch = "x86_64")]
    if cols.sw == 1 && cols.dw == 1 {
        if let Some(clean) = max_plane_s1(isa, plan, cols.kw, x, &mut out, windows, scratch) {
            return clean;
        }
    }
    // Rows of one window are distinct modulo any number at least the window's row span (or
    // the plane's height), so a ring of that many row folds (a power of two: a mask, not a
    // division, finds the slot) holds every row an output row needs.
    let span = (rg.kernel - 1)
        .saturating_mul(rg.dilation)
        .saturating_add(1)
        .min(x.rows)
        .next_power_of_two();
    // Ring slots are read only once `held` says what they hold.
    scratch.elems.resize(span * width, T::zero());
    let ring = &mut scratch.elems[..span * width];
    scratch.tags.clear();
    scratch.tags.resize(span, usize::MAX);
    let held = &mut scratch.tags[..];
    let mut poison = Poison::new();
    let mut nan = false;
    let mut starts: Vec<usize> = Vec::with_capacity(span);
    let cut_runs =
        KW == 0 && plan.cols.step == 1 && cut_windows_are_runs(&plan.cols.windows, &full, x.cols);
    for (row, mut out_row) in windows.iter().zip(out.rows_mut()) {
        starts.clear();
        for t in 0..row.taps {
            let h = row.first + t * plan.rows.step;
            let slot = h & (span - 1);
            let fold = &mut ring[slot * width..(slot + 1) * width];
            if held[slot] != h {
                held[slot] = h;
                // SAFETY: h is a row of a window, inside the plane, with `cols` readable
                // cells.
                let line = unsafe { std::slice::from_raw_parts(x.row(h), x.cols) };
                if cut_runs {
                    nan |= fold_cut_runs(line, &plan.cols.windows, full.clone(), fold);
                } else {
                    for ow in (0..full.start).chain(full.end..width) {
                        let w = &plan.cols.windows[ow];
                        let mut m = T::neg_infinity();
                        for j in 0..w.taps {
                            let v = line[w.first + j * plan.cols.step];
                            nan |= v.is_nan();
                            m = later_max(m, v);
                        }
                        fold[ow] = m;
                    }
                }
                if !full.is_empty() {
                    fold_row_max::<T, KW, SW>(
                        isa,
                        cols,
                        &line[base..],
                        &mut fold[full.clone()],
                        &mut poison,
                    );
                }
            }
            starts.push(slot * width);
        }
        fold_rows_max(ring, &starts, row_cells(&mut out_row, &mut scratch.row));
        flush_row(out_row, &scratch.row);
    }
    !nan && poison.is_clean()
}

/// Whether the windows before `full` are runs from a row's first cell and those after it
/// runs to its last (`width`): what [`fold_cut_runs`] takes. So they are when the taps are
/// consecutive cells and only the padding cuts them; strided windows start further right
/// from output to output, so the first runs grow and the last ones shrink.
fn cut_windows_are_runs(windows: &[Window], full: &Range<usize>, width: usize) -> bool {
    windows[..full.start].iter().all(|w| w.first == 0)
        && windows[full.end..]
            .iter()
            .all(|w| w.first + w.taps == width)
}

/// `fold[ow]` = the [`later_max`] fold of the windows cut by the padding (every output
/// column outside `full`) when their taps are consecutive cells: those before `full` are
/// runs from the row's first cell, growing, and those after it runs to its last, shrinking,
/// so each is the previous one's fold with the cells it adds (or, from the right, its fold
/// taken after its new first cell: the earlier of equal maxima wins either way). One visit
/// a cell, not one a tap (a 5x5 window cuts four of a 20-cell row's twenty). Whether a NaN
/// was among the cells.
fn fold_cut_runs<T: Element>(
    line: &[T],
    windows: &[Window],
    full: Range<usize>,
    fold: &mut [T],
) -> bool {
    let mut nan = false;
    let (mut m, mut end) = (T::neg_infinity(), 0);
    for (f, w) in fold[..full.start].iter_mut().zip(windows) {
        for &v in &line[end.min(w.first + w.taps)..w.first + w.taps] {
            nan |= v.is_nan();
            m = later_max(m, v);
        }
        end = end.max(w.first + w.taps);
        *f = m;
    }
    let (mut m, mut start) = (T::neg_infinity(), line.len());
    for (f, w) in fold[full.end..].iter_mut().zip(&windows[full.end..]).rev() {
        for &v in line[w.first..start.max(w.first)].iter().rev() {
            nan |= v.is_nan();
            m = later_max(v, m);
        }
        start = start.min(w.first);
        *f = m;
    }
    nan
}

/// Lists in `scratch.cut_windows` the output columns outside `full`, with their windows,
/// once per call (the scratch is the call's, and every plane has the same).
#[cfg(target_arch = "x86_64")]
fn list_cut_windows<T: Element>(
    plan: &Plan,
    full: &Range<usize>,
    width: usize,
    scratch: &mut Scratch<T>,
) {
    let cut = &mut scratch.cut_windows;
    if cut.is_empty() {
        cut.extend(
            (0..full.start)
                .chain(full.end..width)
                .map(|ow| (ow, plan.cols.windows[ow])),
        );
    }
}

/// [`max_rows`]'s rows-first stride-2 path, the whole chunk in one call
/// ([`x86::max_plane_s2_avx2`], [`x86::max_plane_s2_avx512`]), when it applies: `f32`,
/// contiguous output rows, at least one vector of whole windows a row. Whether it ran clean
/// (false: a NaN or a -0.0 where the order shows; the caller recomputes), or `None` where
/// it does not apply.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn max_plane_s2<T: Element, const KW: usize>(
    isa: Isa,
    plan: &Plan,
    full: &Range<usize>,
    x: Plane<T>,
    out: &mut ArrayViewMut2<Uninit<T>>,
    windows: &[Window],
    scratch: &mut Scratch<T>,
) -> Option<bool> {
    let n = full.len();
    let contiguous = out.ncols() <= 1 || out.strides()[1] == 1;
    if n < rows_first_lanes(isa) || !contiguous || !(2..=3).contains(&KW) {
        return None;
    }
    T::as_f32(&[])?;
    let rg = plan.rows.geometry?;
    list_cut_windows(plan, full, out.ncols(), scratch);
    let p = x86::MaxPlaneS2 {
        // SAFETY: row 0 of a non-empty plane (windows exist) is inside it.
        x: unsafe { x.row(0) }.cast::<f32>(),
        x_stride: x.row_stride(),
        rows: windows,
        row_step: plan.rows.step,
        prefetch_stride: scratch.streaming.then_some(rg.stride),
        cut: &scratch.cut_windows,
        col_step: plan.cols.step,
        full_start: full.start,
        n,
        base: plan.cols.windows[full.start].first,
        out: out.as_mut_ptr().cast::<f32>(),
        out_stride: out.strides()[0],
    };
    // SAFETY: `isa` was detected on this CPU (`Isa::available`; n >= 16 with AVX-512, 8
    // with AVX2); T is f32 (as_f32 above); the plan's windows lie inside the plane, the
    // whole ones up to base + 2 * n - 2 + KW; `out` holds windows.len() rows of contiguous
    // cells.
    Some(!unsafe {
        match isa {
            Isa::Avx512 => x86::max_plane_s2_avx512::<KW>(&p),
            _ => x86::max_plane_s2_avx2::<KW>(&p),
        }
    })
}

/// [`max_rows`]'s rows-first stride-1 path ([`x86::max_plane_s1_avx2`],
/// [`x86::max_plane_s1_avx512`]), the whole chunk in one call, when it applies: `f32`,
/// contiguous output rows, horizontal stride and dilation 1, any width. Whether it ran
/// clean (false: a NaN or a -0.0 where the order shows; the caller recomputes), or `None`
/// where it does not apply. Folding the rows' cells across once a row into a ring, then
/// down, cost more on small planes: with AVX-512, 0.66x the time for a 5x5 max over 20x20
/// maps, 0.69x for 3x3 over 28x28, 0.43x for 13x13 over 13x13 (one thread, Xeon).
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn max_plane_s1<T: Element>(
    isa: Isa,
    plan: &Plan,
    kw: usize,
    x: Plane<T>,
    out: &mut ArrayViewMut2<Uninit<T>>,
    windows: &[Window],
    scratch: &mut Scratch<T>,
) -> Option<bool> {
    let contiguous = out.ncols() <= 1 || out.strides()[1] == 1;
    if isa == Isa::Baseline || !contiguous {
        return None;
    }
    T::as_f32(&[])?;
    let g = plan.cols.geometry?;
    // Rows padded on the scale of the plane: a window far wider than its row goes to the
    // ring, which cuts it to the row.
    let modest = x.cols.saturating_mul(4).saturating_add(256);
    let lanes = rows_first_lanes(isa);
    let slot = x86::MaxPlaneS1::slot_len(lanes, x.cols, kw, g.pad_begin, out.ncols())
        .filter(|&slot| slot <= modest)?;
    let p = x86::MaxPlaneS1 {
        // SAFETY: row 0 of a non-empty plane (windows exist) is inside it.
        x: unsafe { x.row(0) }.cast::<f32>(),
        x_stride: x.row_stride(),
        width: x.cols,
        rows: windows,
        row_step: plan.rows.step,
        kw,
        pad_left: g.pad_begin,
        outputs: out.ncols(),
        out: out.as_mut_ptr().cast::<f32>(),
        out_stride: out.strides()[0],
        slot,
    };
    let len = x86::MAX_S1_GROUP * slot;
    scratch
        .elems
        .resize(scratch.elems.len().max(len), T::zero());
    let tmp = T::as_f32_mut(&mut scratch.elems)?;
    // SAFETY: the set was detected on this CPU (`Isa::available`); T is f32 (as_f32
    // above); the plan's windows lie inside the plane (stride and dilation 1: window o
    // starts at column o - pad_begin, cut to the row, and every window reads a cell, so
    // pad_begin < kw); `out` holds windows.len() rows of out.ncols() contiguous cells;
    // `slot` is slot_len for the set's lanes, and `tmp` holds MAX_S1_GROUP slots.
    Some(!unsafe {
        match isa {
            Isa::Avx512 => x86::max_plane_s1_avx512(&p, tmp),
            _ => x86::max_plane_s1_avx2(&p, tmp),
        }
    })
}

/// The row and column geometries, when the rows of `out` (rows of plane `x`) can be taken
/// as one flat line of outputs: AVX-512, stride 1 and dilation 1 both ways, windows at most
/// `max_side` a side, output rows as wide as the input's (padding that keeps the width),
/// input and output rows contiguous, and at most `max_cells` outputs in the whole plane.
#[cfg(target_arch = "x86_64")]
pub(crate) fn flat_geometry<T: Copy, U>(
    isa: Isa,
    plan: &Plan,
    x: Plane<T>,
    out: &ArrayViewMut2<U>,
    max_cells: usize,
    max_side: usize,
) -> Option<(crate::plan::AxisGeometry, crate::plan::AxisGeometry)> {
    let (count, outputs) = out.dim();
    let (rg, g) = (plan.rows.geometry?, plan.cols.geometry?);
    let unit =
        |g: &crate::plan::AxisGeometry| g.stride == 1 && g.dilation == 1 && g.kernel <= max_side;
    let flat = isa == Isa::Avx512
        && unit(&rg)
        && unit(&g)
        && g.pad_begin < g.kernel
        && outputs == x.cols
        && x.row_stride() == x.cols as isize
        && (out.stride_of(ndarray::Axis(0)) == outputs as isize || count == 1)
        && (out.stride_of(ndarray::Axis(1)) == 1 || outputs == 1)
        && plan.rows.windows.len() * outputs <= max_cells;
    flat.then_some((rg, g))
}

/// Planes of at most this many outputs take [`max_flat`] (its column table, 4 bytes a
/// cell, stays in the first-level cache).
#[cfg(target_arch = "x86_64")]
const FLAT_MAX_CELLS: usize = 4096;

/// [`max_rows`]'s flat stride-1 path ([`x86::max_flat_avx512`]), the whole chunk in one
/// call, when it applies: AVX-512, `f32`, stride and dilation 1 both ways, output rows as
/// wide as the input's (padding that keeps the width), input and output rows contiguous,
/// windows at most [`x86::FLAT_MAX_SIDE`] a side, at most [`FLAT_MAX_CELLS`] outputs a
/// plane. Whether it ran clean (false: a NaN or a -0.0 where the order shows; the caller
/// recomputes), or `None` where it does not apply.
#[cfg(target_arch = "x86_64")]
fn max_flat<T: Element>(
    isa: Isa,
    plan: &Plan,
    x: Plane<T>,
    out: &mut ArrayViewMut2<Uninit<T>>,
    oh0: usize,
    scratch: &mut Scratch<T>,
) -> Option<bool> {
    let outputs = out.ncols();
    let (rg, g) = flat_geometry(isa, plan, x, out, FLAT_MAX_CELLS, x86::FLAT_MAX_SIDE)?;
    T::as_f32(&[])?;
    // The same for every plane of the call: built once.
    let cells = plan.rows.windows.len() * outputs;
    let columns = &mut scratch.flat_columns32;
    if columns.0.len() < cells.next_multiple_of(16) {
        *columns = x86::flat_columns(outputs, cells);
    }
    let p = x86::FlatMax {
        // SAFETY: row 0 of a non-empty plane (windows exist) is inside it.
        x: unsafe { x.row(0) }.cast::<f32>(),
        rows: x.rows,
        width: x.cols,
        pad_rows: rg.pad_begin,
        kh: rg.kernel,
        pad: g.pad_begin,
        kw: g.kernel,
        first_row: oh0,
        count: out.nrows(),
        columns: columns.0[columns.1..].as_ptr(),
        out: out.as_mut_ptr().cast::<f32>(),
    };
    // SAFETY: AVX-512F and DQ were detected on this CPU (`Isa::available`); T is f32; the
    // plane and output rows are contiguous and as wide as each other; windows of at most
    // FLAT_MAX_SIDE a side, pad_begin < kernel; the plan's output rows each read an input
    // row; the column table covers the plane's outputs rounded up to 16.
    // The common windows with their taps unrolled (YOLO's 5x5, Inception's 3x3).
    Some(!unsafe {
        match (p.kw, p.pad) {
            (3, 1) => x86::max_flat_avx512::<3, 1>(&p),
            (5, 2) => x86::max_flat_avx512::<5, 2>(&p),
            _ => x86::max_flat_avx512::<0, 0>(&p),
        }
    })
}

/// The fewest full windows in a row for which [`max_rows`] takes the rows-first stride-2
/// path on `isa` (one vector of outputs); `usize::MAX` where it has none.
#[cfg(target_arch = "x86_64")]
fn rows_first_lanes(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => 16,
        Isa::Avx2 => 8,
        Isa::Baseline => usize::MAX,
    }
}

/// A window's taps along a row: `kw` taps `dw` apart, windows `sw` apart.
#[derive(Clone, Copy)]
struct ColTaps {
    kw: usize,
    sw: usize,
    dw: usize,
}

/// `fold[o]` = the [`later_max`] fold of `line[o * sw + j * dw]` over taps `j`, left to
/// right; every cell read goes into `poison`.
#[inline(always)]
fn fold_row_max<T: Element, const KW: usize, const SW: usize>(
    isa: Isa,
    taps: ColTaps,
    line: &[T],
    fold: &mut [T],
    poison: &mut Poison<T>,
) {
    let n = fold.len();
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    if KW != 0 {
        let line = &line[..(n - 1) * SW + KW];
        #[cfg(target_arch = "x86_64")]
        if let Some(nan) = fold_row_max_x86::<T, KW, SW>(isa, line, fold) {
            poison.flag(nan);
            return;
        }
        if n >= BLOCK {
            // Fixed-size blocks (the last moved back to end at n) compile to whole-vector
            // loads and shuffles; a loop over n would leave short rows to a scalar tail.
            // Every cell is some output's tap (KW >= SW), so probing the taps probes them all.
            let mut probe = [T::zero(); BLOCK];
            for o0 in block_starts(n, BLOCK) {
                let cells = &line[o0 * SW..o0 * SW + (BLOCK - 1) * SW + KW];
                let mut m = [T::zero(); BLOCK];
                for (i, (m, p)) in m.iter_mut().zip(&mut probe).enumerate() {
                    *m = cells[i * SW];
                    *p = *p + finite_probe(*m);
                }
                for j in 1..KW {
                    for (i, (m, p)) in m.iter_mut().zip(&mut probe).enumerate() {
                        let v = cells[i * SW + j];
                        *p = *p + finite_probe(v);
                        *m = later_max(*m, v);
                    }
                }
                fold[o0..o0 + BLOCK].copy_from_slice(&m);
            }
            poison.merge(&probe);
            return;
        }
    }
    let ColTaps { kw, sw, dw } = taps;
    let line = &line[..(n - 1) * sw + (kw - 1) * dw + 1];
    if sw == 1 && n >= BLOCK {
        // Stride 1, any width: a block of outputs reads each tap as a contiguous run, so
        // the blocks compile to whole-vector maxima (one output at a time, this was half
        // of a 5x5 stride-1 max's time on 20x20 maps).
        for o0 in block_starts(n, BLOCK) {
            let mut m = *block(&line[o0..]);
            for j in 1..kw {
                for (m, &v) in m.iter_mut().zip(block(&line[o0 + j * dw..])) {
                    *m = later_max(*m, v);
                }
            }
            fold[o0..o0 + BLOCK].copy_from_slice(&m);
        }
        poison.add(line);
        return;
    }
    // Short rows and other unspecialised windows: one output at a time (`taps` holds the
    // specialised width and stride too).
    for (o, f) in fold.iter_mut().enumerate() {
        let p = o * sw;
        let mut m = line[p];
        for j in 1..kw {
            m = later_max(m, line[p + j * dw]);
        }
        *f = m;
    }
    // Cells between the taps of a dilated or widely strided window are checked too: they
    // cannot change the result, and one contiguous pass is cheaper than gathering.
    poison.add(line);
}

/// [`fold_row_max`] by the hand-written stride-2 `f32` paths, when one applies: whether a
/// NaN was seen.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn fold_row_max_x86<T: Element, const KW: usize, const SW: usize>(
    isa: Isa,
    line: &[T],
    fold: &mut [T],
) -> Option<bool> {
    let n = fold.len();
    if SW != 2 || line.len() < 2 * n.max(1) - 2 + KW {
        return None;
    }
    let (line, fold) = (T::as_f32(line)?, T::as_f32_mut(fold)?);
    match isa {
        // SAFETY: the set was detected on this CPU (`Isa::available`), and the lengths are
        // as required.
        Isa::Avx512 if n >= 16 => Some(unsafe { x86::fold_row_max_s2_avx512::<KW>(line, fold) }),
        // SAFETY: as above.
        Isa::Avx2 if n >= 8 => Some(unsafe { x86::fold_row_max_s2_avx2::<KW>(line, fold) }),
        _ => None,
    }
}

/// `out[o]` = the [`later_max`] fold of `folds[s + o]` over the starts `s`, in order, in
/// blocks of outputs kept in registers.
#[inline(always)]
fn fold_rows_max<T: Element>(folds: &[T], starts: &[usize], out: &mut [Uninit<T>]) {
    let n = out.len();
    let run = |s: usize| &folds[s..s + n];
    let Some((&first, rest)) = starts.split_first() else {
        return;
    };
    if n < BLOCK {
        for (o, i) in out.iter_mut().zip(0..) {
            o.write(
                rest.iter()
                    .fold(folds[first + i], |m, &s| later_max(m, folds[s + i])),
            );
        }
        return;
    }
    for o0 in block_starts(n, BLOCK) {
        let mut acc = [T::zero(); BLOCK];
        acc.copy_from_slice(&run(first)[o0..o0 + BLOCK]);
        for &s in rest {
            for (a, &v) in acc.iter_mut().zip(&run(s)[o0..o0 + BLOCK]) {
                *a = later_max(*a, v);
            }
        }
        write_slice(&mut out[o0..o0 + BLOCK], &acc);
    }
}

/// The folds across each input row a chunk reads: `n` per row, from row `h_lo`.
struct RowFolds<'a, A> {
    folds: &'a [A],
    n: usize,
    h_lo: usize,
}

/// One output row of [`pool_rows`]: borders per output, whole windows from the row folds.
///
/// # Safety
/// As for [`pool_rows`]; `rows` holds the folds of every row `row` reads.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn fill_row<T: Element, R: Reduce<T>>(
    r: R,
    plan: &Plan,
    x: Plane<T>,
    full: &Range<usize>,
    row: &Window,
    rows: &RowFolds<R::Acc>,
    column: &mut [R::Acc],
    o: &mut [Uninit<T>],
) {
    // SAFETY: as for this function.
    unsafe { fill_borders(r, plan, x, full, row, o) };
    let n = rows.n;
    if n == 0 {
        return;
    }
    let divisor = plan.divisor_at(row, &plan.cols.windows[full.start]);
    let rows_of = |t: usize| {
        let h = row.first + t * plan.rows.step - rows.h_lo;
        &rows.folds[h * n..(h + 1) * n]
    };
    let o = &mut o[full.clone()];
    if n < BLOCK {
        column.iter_mut().for_each(|c| *c = r.init());
        for t in 0..row.taps {
            for (c, &f) in column.iter_mut().zip(rows_of(t)) {
                *c = r.merge(*c, f);
            }
        }
        for (o, &c) in o.iter_mut().zip(column.iter()) {
            o.write(r.finish(c, divisor));
        }
        return;
    }
    for o0 in block_starts(n, BLOCK) {
        let mut acc = [r.init(); BLOCK];
        for t in 0..row.taps {
            let f = &rows_of(t)[o0..o0 + BLOCK];
            for (a, &f) in acc.iter_mut().zip(f) {
                *a = r.merge(*a, f);
            }
        }
        for (o, &a) in o[o0..o0 + BLOCK].iter_mut().zip(&acc) {
            o.write(r.finish(a, divisor));
        }
    }
}

/// Splits `line` by column phase: `phases[p * len + i] = line[p + stride * i]`.
#[inline(always)]
fn split_phases<T: Copy, const STRIDE: usize>(
    line: &[T],
    stride: usize,
    len: usize,
    phases: &mut [T],
) {
    if STRIDE == 2 {
        let (even, odd) = phases.split_at_mut(len);
        let pairs = line.len() / 2;
        let (even, odd, whole) = (&mut even[..pairs], &mut odd[..pairs], &line[..2 * pairs]);
        for (i, (e, o)) in even.iter_mut().zip(odd.iter_mut()).enumerate() {
            // SAFETY: i < pairs, so 2 * i + 1 < whole.len() = 2 * pairs.
            unsafe {
                *e = *whole.get_unchecked(2 * i);
                *o = *whole.get_unchecked(2 * i + 1);
            }
        }
        if line.len() % 2 == 1 {
            phases[pairs] = line[line.len() - 1];
        }
        return;
    }
    for (c, &v) in line.iter().enumerate() {
        phases[(c % stride) * len + c / stride] = v;
    }
}

/// `folds[o] = fold over j of src[starts[j] + o]`, in blocks of outputs kept in registers.
#[inline(always)]
fn fold_taps<T: Element, R: Reduce<T>>(r: R, src: &[T], starts: &[usize], folds: &mut [R::Acc]) {
    let n = folds.len();
    let run = |j: usize| &src[starts[j]..starts[j] + n];
    if n < BLOCK {
        folds.iter_mut().for_each(|f| *f = r.init());
        for j in 0..starts.len() {
            for (f, &v) in folds.iter_mut().zip(run(j)) {
                *f = r.step(*f, v);
            }
        }
        return;
    }
    for o0 in block_starts(n, BLOCK) {
        let mut acc = [r.init(); BLOCK];
        for j in 0..starts.len() {
            for (a, &v) in acc.iter_mut().zip(&run(j)[o0..o0 + BLOCK]) {
                *a = r.step(*a, v);
            }
        }
        folds[o0..o0 + BLOCK].copy_from_slice(&acc);
    }
}

/// Where each tap of a row's whole windows is read from, as a contiguous run of the `n`
/// outputs: tap j of output o is column `base + o * stride + j * dw`. Stride 1 reads the
/// row itself; stride 2 splits the row into its even and odd columns once; any other
/// stride gathers each tap's run.
struct TapRuns<T> {
    stride: usize,
    dw: usize,
    base: usize,
    n: usize,
    phase_len: usize,
    buf: Vec<T>,
    starts: Vec<usize>,
}

impl<T: Element> TapRuns<T> {
    fn new(stride: usize, kw: usize, dw: usize, base: usize, n: usize, width: usize) -> Self {
        let phase_len = width.div_ceil(2);
        // Without a whole window there is nothing to read (and kw may exceed the row).
        let kw = if n == 0 { 0 } else { kw };
        let (buf, starts) = match stride {
            1 => (Vec::new(), (0..kw).map(|j| base + j * dw).collect()),
            2 => {
                let start = |c: usize| (c % 2) * phase_len + c / 2;
                (
                    vec![T::zero(); 2 * phase_len],
                    (0..kw).map(|j| start(base + j * dw)).collect(),
                )
            }
            _ => (vec![T::zero(); kw * n], (0..kw).map(|j| j * n).collect()),
        };
        TapRuns {
            stride,
            dw,
            base,
            n,
            phase_len,
            buf,
            starts,
        }
    }

    /// The runs' source for `line`, and where each tap's run starts in it.
    #[inline(always)]
    fn source<'s, const STRIDE: usize>(&'s mut self, line: &'s [T]) -> (&'s [T], &'s [usize]) {
        match self.stride {
            1 => (line, &self.starts),
            2 => {
                split_phases::<T, STRIDE>(line, 2, self.phase_len, &mut self.buf);
                (&self.buf, &self.starts)
            }
            stride => {
                let n = self.n;
                for (j, run) in self.buf.chunks_exact_mut(n.max(1)).enumerate() {
                    // Tap j of the n whole windows: cells c, c + stride, ... (no bounds
                    // check per cell: the last is inside the row, whole windows are).
                    let c = self.base + j * self.dw;
                    let taps = line[c..=c + (n - 1) * stride].chunks(stride);
                    for (v, cells) in run.iter_mut().zip(taps) {
                        *v = cells[0];
                    }
                }
                (&self.buf, &self.starts)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flat paths take the planes they are for with AVX-512, whole or in runs of rows:
    /// Inception's 3x3 averages (B4 and the 35x35, 17x17, 14x14 and 7x7 maps of its kin),
    /// YOLO's 5x5 and Inception's 3x3 max with padding that keeps the size; larger planes,
    /// wider max windows, strided input rows and other sets not.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn common_planes_take_the_flat_paths() {
        use super::super::sums::{FLAT_MAX_CELLS as SUM_CELLS, SUM_ROWS_MAX};
        use crate::PoolSpec;
        let flat = |isa: Isa, avg: bool, k: usize, side: usize, rows: usize, strided: bool| {
            let (spec, cells, sides) = if avg {
                let spec = PoolSpec::avg(k).padding(k / 2).count_include_pad(false);
                (spec, SUM_CELLS, SUM_ROWS_MAX)
            } else {
                (
                    PoolSpec::max(k).padding(k / 2),
                    FLAT_MAX_CELLS,
                    x86::FLAT_MAX_SIDE,
                )
            };
            let plan = crate::pool::Prepared::strided::<f32>(&spec.stride(1), &[1, 8, side, side])
                .expect("valid spec")
                .plan;
            // Rows `side` cells apart, or twice that.
            let wide = if strided { 2 * side } else { side };
            let x = ndarray::Array2::<f32>::zeros((side, wide));
            let plane = Plane::new(&x.slice(ndarray::s![.., ..side])).expect("unit columns");
            let mut out = ndarray::Array2::<f32>::uninit((rows, side));
            flat_geometry(isa, &plan, plane, &out.view_mut(), cells, sides).is_some()
        };
        let takes = [
            (true, 3, 7),
            (true, 3, 14),
            (true, 3, 17),
            (true, 3, 28),
            (true, 3, 35),
        ]
        .into_iter()
        .chain([
            (false, 5, 20),
            (false, 3, 28),
            (false, 3, 56),
            (false, 5, 13),
            (false, 7, 64),
        ]);
        for (avg, k, side) in takes {
            let what = format!(
                "{} {k}x{k} on {side}x{side}",
                if avg { "avg" } else { "max" }
            );
            assert!(flat(Isa::Avx512, avg, k, side, side, false), "{what}");
            assert!(flat(Isa::Avx512, avg, k, side, 2, false), "{what}, 2 rows");
            assert!(!flat(Isa::Avx2, avg, k, side, side, false), "{what}, AVX2");
            assert!(
                !flat(Isa::Avx512, avg, k, side, side, true),
                "{what}, strided rows"
            );
        }
        assert!(
            !flat(Isa::Avx512, true, 3, 46, 46, false),
            "avg 3x3 on 46x46: too large"
        );
        assert!(
            !flat(Isa::Avx512, false, 9, 20, 20, false),
            "max 9x9: too wide"
        );
        assert!(
            !flat(Isa::Avx512, false, 3, 65, 65, false),
            "max on 65x65: too large"
        );
    }
}
