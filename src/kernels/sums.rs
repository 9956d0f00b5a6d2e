//! Separable averages: windows with dilation 1 and horizontal stride 1 (any vertical
//! stride), in the accumulator type: sums over the window's rows, then over its columns,
//! each by doubling (`O(log k)` adds per output, whatever the window), then one
//! multiplication by the reciprocal of the divisor. Every output is a fixed tree of
//! additions of its own cells, so no cancellation between windows can creep in.

use std::mem::MaybeUninit;

use ndarray::{s, ArrayViewMut2};
use num_traits::{Float, Zero};

use super::isa::Isa;
#[cfg(target_arch = "x86_64")]
use super::rows::flat_geometry;
use super::rows::Plane;
#[cfg(target_arch = "x86_64")]
use super::x86;
use super::{block, block_mut, block_starts, flush_row, row_cells, Scratch, Uninit, BLOCK};
use crate::element::Element;
use crate::plan::{AxisGeometry, Divisor, Plan, Window};

/// Averages over output rows `oh0..oh0 + out.nrows()` of one plane. Tall windows keep
/// their column sums running (an add and a subtract per cell and output row) wherever that
/// is exact, [`RowSums`] says where; the other rows are summed afresh, directly by
/// [`sum_down_across`] for windows up to [`DOWN_ACROSS_MAX`] in height plus width, else by
/// [`sum_chunks`].
///
/// # Safety
/// `plan` was built for `x`'s size, has strided geometry on both axes, horizontal stride 1
/// and dilation 1 on both axes.
#[inline(always)]
pub(crate) unsafe fn sum_separable<T: Element>(
    isa: Isa,
    plan: &Plan,
    x: Plane<T>,
    mut out: ArrayViewMut2<Uninit<T>>,
    oh0: usize,
    scratch: &mut Scratch<T>,
) {
    let Some(rg) = plan.rows.geometry else {
        return;
    };
    let total = out.nrows();
    if total == 0 {
        return;
    }
    // Short or disjoint windows have nothing to run; nor has an element type as wide as
    // its accumulator (no sum of its cells is sure to be exact).
    if rg.kernel <= 4 || rg.stride >= rg.kernel || T::MANTISSA_DIGITS >= T::ACC_MANTISSA_DIGITS {
        // SAFETY: this function's contract.
        return unsafe { sum_chunks(plan, x, out, oh0, None, scratch) };
    }
    let Some(g) = plan.cols.geometry else {
        return;
    };
    #[cfg(target_arch = "x86_64")]
    // SAFETY: this function's contract.
    if unsafe { sum_lazy_x86(isa, plan, x, out.view_mut(), oh0, scratch) } {
        return;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    let mut kinds = std::mem::take(&mut scratch.row_sums);
    row_sums(plan, x, oh0, total, &mut kinds, &mut scratch.exponents);
    let mut r = 0;
    while r < total {
        let fresh = kinds[r] == RowSums::Fresh;
        let end = kinds[r..]
            .iter()
            .position(|&k| (k == RowSums::Fresh) != fresh)
            .map_or(total, |n| r + n);
        if fresh && rg.kernel + g.kernel <= DOWN_ACROSS_MAX {
            // A few rows among running ones (their windows hold cells far apart in
            // magnitude): summed directly, without the chunk buffers' passes.
            // SAFETY: this function's contract.
            unsafe {
                sum_down_across::<T, 1>(
                    isa,
                    plan,
                    x,
                    out.slice_mut(s![r..end, ..]),
                    oh0 + r,
                    scratch,
                )
            };
            r = end;
            continue;
        }
        let running = (!fresh).then_some(&kinds[r..end]);
        // SAFETY: as for this function.
        unsafe {
            sum_chunks(
                plan,
                x,
                out.slice_mut(s![r..end, ..]),
                oh0 + r,
                running,
                scratch,
            )
        };
        r = end;
    }
    scratch.row_sums = kinds;
}

/// How an output row's column sums (over its window's rows) are had.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RowSums {
    /// Summed afresh by a fixed tree: running sums would not be exact.
    Fresh,
    /// Running, started afresh from the window's rows (each sum exact).
    Start,
    /// Running, moved from the previous output row's window (each step exact).
    Step,
}

impl RowSums {
    /// The kind of an output row whose window spans input rows `lines`, `previous` the
    /// window of the row before when that row ran, by `exact` (whether running sums over
    /// some input rows are exact): the window must be exact alone to run, and together
    /// with the previous window to step from it.
    #[inline(always)]
    fn decide(
        exact: impl Fn(std::ops::Range<usize>) -> bool,
        lines: std::ops::Range<usize>,
        previous: Option<std::ops::Range<usize>>,
    ) -> RowSums {
        if !exact(lines.clone()) {
            RowSums::Fresh
        } else if previous.is_some_and(|p| exact(p.start..lines.end)) {
            RowSums::Step
        } else {
            RowSums::Start
        }
    }
}

/// [`RowSums`] for output rows `oh0..oh0 + total` of a plane, from the range of exponents
/// of each input row (`exponents`, scratch): a row's window must be exact alone to be
/// summed running, and together with the previous row's window to step from it. So a few
/// rows of outliers send only the rows whose windows hold them to the fixed tree.
#[inline(always)]
fn row_sums<T: Element>(
    plan: &Plan,
    x: Plane<T>,
    oh0: usize,
    total: usize,
    kinds: &mut Vec<RowSums>,
    exponents: &mut Vec<(u32, u32)>,
) {
    kinds.clear();
    let (Some(rg), Some(g)) = (plan.rows.geometry, plan.cols.geometry) else {
        return kinds.resize(total, RowSums::Fresh);
    };
    let rows = |i: usize| window_rows(&rg, x.rows, i);
    let first = rows(oh0).start;
    let last = rows(oh0 + total - 1).end;
    exponents.clear();
    // SAFETY: h < last <= rows.
    exponents.extend((first..last).map(|h| exponent_range(unsafe { x.line(h) })));
    let exact = |lines: std::ops::Range<usize>| {
        window_is_exact::<T>(&exponents[lines.start - first..lines.end - first], &rg, &g)
    };
    for i in oh0..oh0 + total {
        let after_running = i > oh0 && kinds.last() != Some(&RowSums::Fresh);
        let kind = RowSums::decide(exact, rows(i), after_running.then(|| rows(i - 1)));
        kinds.push(kind);
    }
}

/// The input rows of output row `i`'s window (padding rows hold zeros: they do not count).
fn window_rows(rg: &AxisGeometry, rows: usize, i: usize) -> std::ops::Range<usize> {
    let top = (i * rg.stride) as isize - rg.pad_begin as isize;
    let clamp = |v: isize| v.clamp(0, rows as isize) as usize;
    clamp(top)..clamp(top + rg.kernel as isize)
}

/// Cells in a zero-padded row of a plane `width` cells wide: room for every window,
/// ceil-mode overhang included.
fn padded_len(g: &AxisGeometry, width: usize) -> usize {
    (g.pad_begin + width + g.pad_end).max(g.output.saturating_sub(1) * g.stride + g.kernel)
}

/// Whether running sums over rows with these ranges of exponents are exact: running both
/// ways, the partial sums are differences of two window sums at most.
#[inline(always)]
fn window_is_exact<T: Element>(ranges: &[(u32, u32)], rg: &AxisGeometry, g: &AxisGeometry) -> bool {
    let terms = rg
        .kernel
        .saturating_mul(g.kernel)
        .saturating_mul(2)
        .saturating_add(1);
    let range = ranges
        .iter()
        .fold((u32::MAX, 0), |(lo, hi), &(l, h)| (lo.min(l), hi.max(h)));
    sums_are_exact::<T>(range, terms)
}

/// Averages over output rows `oh0..oh0 + out.nrows()` of one plane, a chunk of output rows
/// at a time. The chunk's input rows are widened into a zero-padded buffer (padding rows
/// and columns are zeros, so every window sums `kh x kw` cells); then the sums over `kh`
/// rows and over `kw` columns are each one pass over the whole flattened buffer (no short
/// row loops), by [`window_sums`] with a distance of one padded row and of one cell. With
/// `running` (one [`RowSums`] per output row, none fresh), the column sums run instead.
///
/// # Safety
/// As for [`sum_separable`]; with `running`, every running sum is exact.
#[inline(always)]
unsafe fn sum_chunks<T: Element>(
    plan: &Plan,
    x: Plane<T>,
    mut out: ArrayViewMut2<Uninit<T>>,
    oh0: usize,
    running: Option<&[RowSums]>,
    scratch: &mut Scratch<T>,
) {
    let (Some(g), Some(rg)) = (plan.cols.geometry, plan.rows.geometry) else {
        return;
    };
    let (width, kh, kw, sh, outputs) = (x.cols, rg.kernel, g.kernel, rg.stride, g.output);
    let zero = T::Acc::zero();
    let stride = padded_len(&g, width);
    // Output rows per chunk: about 64 KiB of padded rows, a few windows' worth when the
    // chunk's rows are summed afresh; 16 KiB when running.
    let chunk = if running.is_some() {
        2048 / stride
    } else {
        (8192 / stride).max(2 * kh)
    };
    let chunk = chunk.min(out.nrows()).max(1);
    let in_rows = (chunk - 1) * sh + kh;
    // Every buffer is written before it is read (the padding too, per chunk).
    let need = 4 * in_rows * stride + stride;
    scratch.acc.resize(need.max(scratch.acc.len()), zero);
    let (run, rest) = scratch.acc[..need].split_at_mut(stride);
    run.fill(zero);
    let mut running_rows = RunningRows::default();
    let (padded, rest) = rest.split_at_mut(in_rows * stride);
    let (vert, rest) = rest.split_at_mut(in_rows * stride);
    let (pow, rest) = rest.split_at_mut(in_rows * stride);
    let next = &mut rest[..in_rows * stride];
    let row_out = &mut scratch.row;
    let total = out.nrows();
    let mut r0 = 0;
    while r0 < total {
        let rows = chunk.min(total - r0);
        // Padded row p of the buffer is input row top + p (a zero row outside the plane).
        let top = ((oh0 + r0) * sh) as isize - rg.pad_begin as isize;
        let used = (rows - 1) * sh + kh;
        let vlen = ((rows - 1) * sh + 1) * stride;
        if let Some(kinds) = running {
            for (i, &kind) in kinds[r0..r0 + rows].iter().enumerate() {
                if kind == RowSums::Start {
                    running_rows.restart();
                }
                let cols = &mut run[g.pad_begin..g.pad_begin + width];
                running_rows.advance(cols, x, (oh0 + r0 + i) * sh, kh, rg.pad_begin);
                vert[i * sh * stride..(i * sh + 1) * stride].copy_from_slice(run);
            }
        }
        for (p, line) in padded
            .chunks_exact_mut(stride)
            .take(if running.is_some() { 0 } else { used })
            .enumerate()
        {
            let h = top + p as isize;
            // The previous chunk's column sums were written over this buffer.
            let (left, rest) = line.split_at_mut(g.pad_begin);
            let (cells, right) = rest.split_at_mut(width);
            left.fill(zero);
            right.fill(zero);
            if (0..x.rows as isize).contains(&h) {
                // SAFETY: 0 <= h < rows.
                for (c, &v) in cells.iter_mut().zip(unsafe { x.line(h as usize) }) {
                    *c = v.to_acc();
                }
            } else {
                cells.fill(zero);
            }
        }
        // Sums over kh rows, for every padded row a window may start on; then over kw cells.
        if running.is_none() {
            window_sums(
                &padded[..used * stride],
                kh,
                stride,
                &mut vert[..vlen],
                pow,
                next,
            );
        }
        let hlen = vlen - (kw - 1);
        window_sums(&vert[..vlen], kw, 1, &mut padded[..hlen], pow, next);
        for (i, mut out_row) in out
            .slice_mut(s![r0..r0 + rows, ..])
            .rows_mut()
            .into_iter()
            .enumerate()
        {
            let row = plan.rows.windows[oh0 + r0 + i];
            let scale = scale_row(&mut scratch.scales, plan, row_factor(plan.divisor, &row));
            let sums = &padded[i * sh * stride..i * sh * stride + outputs];
            let o = row_cells(&mut out_row, row_out);
            for ((o, &s), &q) in o.iter_mut().zip(sums).zip(scale.iter()) {
                o.write(T::from_acc(s * q));
            }
            flush_row(out_row, row_out);
        }
        r0 += rows;
    }
}

/// Largest window height plus width whose rows that cannot run [`sum_separable`] sums
/// directly ([`sum_down_across`]): `O(kh + kw)` per output beats the chunk buffers' passes
/// for a few rows (B7's 15 x 15: a tenth of the time on normal data, before).
const DOWN_ACROSS_MAX: usize = 32;

/// Largest window side [`sum_rows`] takes: its cost grows with the window, the doubling
/// of [`sum_separable`] does not.
pub(crate) const SUM_ROWS_MAX: usize = 4;

/// Planes of at most this many outputs are averaged as one flat line when their rows are
/// as wide as the input's (`x86::sum_flat_avx512`): the column sums and reciprocal divisors
/// of a plane then stay in the first-level cache (16 KiB each).
#[cfg(target_arch = "x86_64")]
pub(crate) const FLAT_MAX_CELLS: usize = 2048;

/// `acc[i] += v[i]` in the accumulator type.
#[inline(always)]
fn add_cells<T: Element>(acc: &mut [T::Acc; BLOCK], v: &[T; BLOCK]) {
    for i in 0..BLOCK {
        acc[i] = acc[i] + v[i].to_acc();
    }
}

/// `acc[i] += v[i]`.
#[inline(always)]
fn add_sums<A: Float>(acc: &mut [A; BLOCK], v: &[A; BLOCK]) {
    for i in 0..BLOCK {
        acc[i] = acc[i] + v[i];
    }
}

/// Averages over small windows (sides up to [`SUM_ROWS_MAX`], dilation 1, horizontal
/// stride 1 or 2), one output row at a time: the window's input rows are summed down into
/// a zero-padded row, then `kw` neighbours of it across, each in blocks of cells kept in
/// registers; one multiplication by the reciprocal divisor. `O(kh + kw)` per output with
/// no pass over a whole buffer: what the small planes of Inception-style 3x3 layers need,
/// and DenseNet's 2x2 stride-2 transitions.
///
/// # Safety
/// As for [`sum_separable`], but with a horizontal stride of 1 or 2.
#[inline(always)]
pub(crate) unsafe fn sum_rows<T: Element>(
    isa: Isa,
    plan: &Plan,
    x: Plane<T>,
    out: ArrayViewMut2<Uninit<T>>,
    oh0: usize,
    scratch: &mut Scratch<T>,
) {
    #[cfg(target_arch = "x86_64")]
    let mut out = out;
    #[cfg(target_arch = "x86_64")]
    if let Some(g) = plan.cols.geometry {
        // SAFETY: this function's contract.
        if unsafe { sum_plane_x86(isa, plan, x, &mut out, oh0, g, scratch) } {
            return;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    // SAFETY: this function's contract.
    unsafe {
        if plan.cols.geometry.is_some_and(|g| g.stride == 2) {
            sum_down_across::<T, 2>(isa, plan, x, out, oh0, scratch)
        } else {
            sum_down_across::<T, 1>(isa, plan, x, out, oh0, scratch)
        }
    }
}

/// [`sum_rows`]'s portable body, for windows of any size: each output row's window rows
/// summed down into a zero-padded row, then `kw` neighbours of it across (windows `SW`
/// cells apart), in blocks of cells; `O(kh + kw)` per output, each output a fixed tree of
/// its own cells.
///
/// # Safety
/// As for [`sum_separable`], with a horizontal stride of `SW`.
#[inline(always)]
unsafe fn sum_down_across<T: Element, const SW: usize>(
    isa: Isa,
    plan: &Plan,
    x: Plane<T>,
    mut out: ArrayViewMut2<Uninit<T>>,
    oh0: usize,
    scratch: &mut Scratch<T>,
) {
    let Some(g) = plan.cols.geometry else {
        return;
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    let (width, kw, outputs) = (x.cols, g.kernel, g.output);
    let zero = T::Acc::zero();
    let len = padded_len(&g, width);
    // The padding cells of `down` stay zero: only the plane's columns are written.
    scratch.acc.clear();
    scratch.acc.resize(len, zero);
    let down = &mut scratch.acc[..];
    // Reciprocal divisors, one row per row factor met (the plan is the call's, so they
    // hold for every plane the scratch serves).
    let scales = &mut scratch.scales;
    for (i, mut out_row) in out.rows_mut().into_iter().enumerate() {
        let row = plan.rows.windows[oh0 + i];
        let factor = row_factor(plan.divisor, &row);
        let scale = scale_row(scales, plan, factor);
        // SAFETY: a window's rows lie inside the plane.
        let line = |t: usize| unsafe { x.line(row.first + t * plan.rows.step) };
        let cells = &mut down[g.pad_begin..g.pad_begin + width];
        if width < BLOCK {
            for (c, cell) in cells.iter_mut().enumerate() {
                *cell = (0..row.taps).fold(zero, |a, t| a + line(t)[c].to_acc());
            }
        } else {
            for c0 in block_starts(width, BLOCK) {
                let mut acc = [zero; BLOCK];
                for t in 0..row.taps {
                    add_cells(&mut acc, block(&line(t)[c0..]));
                }
                *block_mut(&mut cells[c0..]) = acc;
            }
        }
        let o = row_cells(&mut out_row, &mut scratch.row);
        #[cfg(target_arch = "x86_64")]
        if SW == 2 && across_s2_x86(isa, kw, down, scale, o) {
            flush_row(out_row, &scratch.row);
            continue;
        }
        if outputs < BLOCK {
            for (ow, o) in o.iter_mut().enumerate() {
                let sum = down[ow * SW..ow * SW + kw].iter().fold(zero, |a, &v| a + v);
                o.write(T::from_acc(sum * scale[ow]));
            }
        } else {
            for o0 in block_starts(outputs, BLOCK) {
                let mut acc;
                if SW == 1 {
                    acc = *block(&down[o0..]);
                    for j in 1..kw {
                        add_sums(&mut acc, block(&down[o0 + j..]));
                    }
                } else {
                    let cells = &down[o0 * SW..o0 * SW + (BLOCK - 1) * SW + kw];
                    acc = [zero; BLOCK];
                    for j in 0..kw {
                        for (i, a) in acc.iter_mut().enumerate() {
                            *a = *a + cells[i * SW + j];
                        }
                    }
                }
                let q = block(&scale[o0..]);
                // Whole-block stores: cell by cell, the conversions stay scalar.
                *block_mut(&mut o[o0..]) =
                    std::array::from_fn(|i| MaybeUninit::new(T::from_acc(acc[i] * q[i])));
            }
        }
        flush_row(out_row, &scratch.row);
    }
}

/// [`sum_down_across`]'s across step for horizontal stride 2 by the hand-written `f32` paths
/// ([`x86::sum_across_s2_avx2`], [`x86::sum_across_s2_avx512`]), when one applies: whether
/// it ran.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn across_s2_x86<T: Element>(
    isa: Isa,
    kw: usize,
    down: &mut [T::Acc],
    scale: &mut [T::Acc],
    o: &mut [Uninit<T>],
) -> bool {
    let outputs = o.len();
    if isa == Isa::Baseline || !(2..=3).contains(&kw) || outputs < 4 {
        return false;
    }
    let (Some(o), Some(down), Some(scale)) = (
        T::as_f32_cells(o),
        T::acc_as_f64_mut(down),
        T::acc_as_f64_mut(scale),
    ) else {
        return false;
    };
    let out = o.as_mut_ptr().cast::<f32>();
    // SAFETY: the set was detected on this CPU (`Isa::available`; AVX2 is there with
    // AVX-512 too); `down` is the padded row, room for every window: `2 * outputs - 2 + kw`
    // cells at least; `scale` and `o` hold the row's `outputs` cells (8 or more with
    // AVX-512, 4 or more with AVX2).
    unsafe {
        match (isa, kw) {
            (Isa::Avx512, 2) if outputs >= 8 => {
                x86::sum_across_s2_avx512::<2>(down, scale, out, outputs)
            }
            (Isa::Avx512, _) if outputs >= 8 => {
                x86::sum_across_s2_avx512::<3>(down, scale, out, outputs)
            }
            (_, 2) => x86::sum_across_s2_avx2::<2>(down, scale, out, outputs),
            _ => x86::sum_across_s2_avx2::<3>(down, scale, out, outputs),
        }
    }
    true
}

/// [`sum_rows`] by the hand-written `f32` paths, when one applies (an `f32` plane into
/// output rows with contiguous cells; at stride 2 across, AVX-512 and windows 2 wide):
/// whether they ran.
///
/// # Safety
/// As for [`sum_rows`]; `g` is the plan's column geometry.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn sum_plane_x86<T: Element>(
    isa: Isa,
    plan: &Plan,
    x: Plane<T>,
    out: &mut ArrayViewMut2<Uninit<T>>,
    oh0: usize,
    g: AxisGeometry,
    scratch: &mut Scratch<T>,
) -> bool {
    use x86::{SumPlane, SUM_RING_ROWS};
    let (pad, kw) = (g.pad_begin, g.kernel);
    let (count, outputs) = out.dim();
    let is_f32 = T::as_f32(&[]).is_some();
    if isa == Isa::Baseline || !is_f32 || x.rows == 0 || count == 0 || outputs == 0 {
        return false;
    }
    let stride2 = g.stride == 2;
    if stride2 && (isa != Isa::Avx512 || kw != 2) {
        return false;
    }
    if out.stride_of(ndarray::Axis(1)) != 1 && outputs > 1 {
        return false;
    }
    debug_assert!(plan.rows.step == 1 && (1..=SUM_ROWS_MAX).contains(&kw));
    let windows = &plan.rows.windows[oh0..oh0 + count];
    let Scratch {
        acc,
        tags,
        scales,
        flat_scales,
        flat_columns,
        ..
    } = scratch;
    // Where each output row's reciprocal divisors start, for every output row of the call
    // (the scratch serves one call): found once, not once per plane (a search per row was
    // a seventh of the time on B4).
    if tags.len() != plan.rows.windows.len() {
        tags.clear();
        for w in &plan.rows.windows {
            let index = scale_index(scales, plan, row_factor(plan.divisor, w));
            tags.push(index * plan.cols.windows.len());
        }
    }
    let Some(scales) = T::acc_as_f64_mut(&mut scales.rows) else {
        return false;
    };
    if let Some((rg, _)) = flat_geometry(isa, plan, x, out, FLAT_MAX_CELLS, SUM_ROWS_MAX) {
        let cells = plan.rows.windows.len() * outputs;
        // The same for every plane of the call: built once.
        if flat_scales.len() != cells {
            flat_scales.clear();
            for &at in tags.iter() {
                let row = scales[at..at + outputs].iter();
                flat_scales.extend(row.map(|&q| T::acc_from_f64(q)));
            }
            *flat_columns = x86::flat_columns(outputs, cells);
        }
        let Some(flat_scales) = T::acc_as_f64_mut(flat_scales) else {
            return false;
        };
        let plane = x86::FlatPlane {
            // T is f32 (checked above), so its cells are f32 cells.
            // SAFETY: the plane has a row 0.
            x: unsafe { x.row(0) }.cast::<f32>(),
            rows: x.rows,
            width: x.cols,
            pad_rows: rg.pad_begin,
            first_row: oh0,
            count,
            scales: flat_scales[oh0 * outputs..].as_ptr(),
            // Runs start on a row: their columns are those from the plane's start.
            columns: flat_columns.0[flat_columns.1..].as_ptr(),
            out: out.as_mut_ptr().cast::<f32>(),
        };
        macro_rules! flat {
            ($($kw:literal: $($pad:literal)*;)*) => {
                match (kw, pad) {
                    $($(($kw, $pad) => x86::sum_flat_avx512::<$kw, $pad>(&plane, rg.kernel),)*)*
                    // Not met by a plan whose output rows are as wide as its input's.
                    _ => return false,
                }
            };
        }
        // SAFETY: AVX-512F was detected on this CPU (`Isa::available`); input and output
        // rows are contiguous, `outputs` = width (so pad < kw), stride 1 and dilation 1
        // both ways, rows at most SUM_ROWS_MAX tall; the scales cover the plane's
        // outputs from row oh0 on and the columns the whole plane's (so the run's).
        unsafe { flat!(1: 0; 2: 0 1; 3: 0 1 2; 4: 0 1 2 3;) }
        return true;
    }
    let plane = SumPlane {
        // T is f32 (checked above), so its cells are f32 cells.
        // SAFETY: the plane has a row 0.
        x: unsafe { x.row(0) }.cast::<f32>(),
        x_stride: x.row_stride(),
        width: x.cols,
        pad,
        windows,
        scale_at: &tags[oh0..oh0 + count],
        scales,
        out: out.as_mut_ptr().cast::<f32>(),
        out_stride: out.stride_of(ndarray::Axis(0)),
        outputs,
    };
    if stride2 {
        // SAFETY: AVX-512F was detected on this CPU (`Isa::available`); the windows' rows
        // lie inside the plane (at most SUM_ROWS_MAX of them, undilated), every output row
        // holds `outputs` contiguous cells; windows 2 wide (above).
        unsafe { x86::sum_plane_s2w2_avx512(&plane) };
        return true;
    }
    // The ring's padding cells are zeros; rows are widened into the others. It starts on a
    // cache line (its rows are whole lines), so no load or store of a block of 8 cells
    // straddles two.
    let len = SUM_RING_ROWS * plane.ring_len();
    acc.clear();
    acc.resize(len + 8, T::Acc::zero());
    let Some(cells) = T::acc_as_f64_mut(acc) else {
        return false;
    };
    let start = cells.as_ptr().align_offset(64).min(8);
    let ring = &mut cells[start..start + len];
    let mut held = [usize::MAX; SUM_RING_ROWS];
    macro_rules! plane {
        ($path:ident) => {
            // SAFETY: the set was detected on this CPU (`Isa::available`); the windows'
            // rows lie inside the plane (at most SUM_ROWS_MAX of them, undilated), every
            // output row holds `outputs` contiguous cells, and the ring is as the kernels
            // require.
            unsafe {
                match kw {
                    1 => x86::$path::<1>(&plane, ring, &mut held),
                    2 => x86::$path::<2>(&plane, ring, &mut held),
                    3 => x86::$path::<3>(&plane, ring, &mut held),
                    _ => x86::$path::<4>(&plane, ring, &mut held),
                }
            }
        };
    }
    match isa {
        Isa::Avx512 => plane!(sum_plane_avx512),
        _ => plane!(sum_plane_avx2),
    }
    true
}

/// Column sums over the rows of a window, moved from one output row's window to the next
/// by adding the rows that enter and subtracting those that leave.
#[derive(Default)]
struct RunningRows {
    /// Padded rows `lo..hi` are summed (padded row `p` is input row `p - pad`).
    lo: usize,
    hi: usize,
    started: bool,
}

impl RunningRows {
    /// The next [`advance`](Self::advance) sums its window afresh.
    fn restart(&mut self) {
        self.started = false;
    }

    /// Moves the sums in `cols` (one per plane column) to padded rows `lo..lo + kh`.
    ///
    /// # Safety
    /// None beyond `cols.len() == x.cols`; exact only when the plane passed the exactness
    /// check.
    #[inline(always)]
    fn advance<T: Element>(
        &mut self,
        cols: &mut [T::Acc],
        x: Plane<T>,
        lo: usize,
        kh: usize,
        pad: usize,
    ) {
        self.advance_scanning(cols, x, lo, kh, pad, None);
    }

    /// [`advance`](Self::advance), pushing each entering row's [`exponent_range`] to
    /// `scan` when given (for `f32` in the same pass that adds the row).
    #[inline(always)]
    fn advance_scanning<T: Element>(
        &mut self,
        cols: &mut [T::Acc],
        x: Plane<T>,
        lo: usize,
        kh: usize,
        pad: usize,
        mut scan: Option<&mut Vec<(u32, u32)>>,
    ) {
        // Input rows of padded rows a..b: padding rows hold zeros and are skipped without
        // being visited (a window may span far more padding than input).
        let input_rows = |a: usize, b: usize| {
            let end = pad.saturating_add(x.rows);
            a.clamp(pad, end) - pad..b.clamp(pad, end) - pad
        };
        let end = lo.saturating_add(kh);
        if !self.started || lo >= self.hi {
            cols.fill(T::Acc::zero());
            (self.lo, self.hi, self.started) = (lo, lo, true);
        }
        let mut leaving = input_rows(self.lo, lo);
        let mut entering = input_rows(self.hi, end);
        // Adding, subtracting, and the difference of two cells are all exact here; a row
        // entering and a row leaving (the usual step) go in one pass.
        loop {
            match (entering.next(), leaving.next()) {
                (Some(e), l) => {
                    // SAFETY: e, l < rows.
                    let (e, l) = unsafe { (x.line(e), l.map(|l| x.line(l))) };
                    if let Some(scan) = scan.as_deref_mut() {
                        let leave = l.map(T::as_f32);
                        if let (Some(c), Some(a), None | Some(Some(_))) =
                            (T::acc_as_f64_mut(cols), T::as_f32(e), leave)
                        {
                            scan.push(step_scanning(c, a, leave.flatten()));
                            continue;
                        }
                        scan.push(exponent_range(e));
                    }
                    match l {
                        Some(l) => {
                            for ((c, &a), &b) in cols.iter_mut().zip(e).zip(l) {
                                *c = *c + (a.to_acc() - b.to_acc());
                            }
                        }
                        None => {
                            for (c, &v) in cols.iter_mut().zip(e) {
                                *c = *c + v.to_acc();
                            }
                        }
                    }
                }
                (None, Some(h)) => {
                    // SAFETY: h < rows.
                    for (c, &v) in cols.iter_mut().zip(unsafe { x.line(h) }) {
                        *c = *c - v.to_acc();
                    }
                }
                (None, None) => break,
            }
        }
        (self.lo, self.hi) = (lo, end);
    }
}

/// `cols[c] += enter[c] - leave[c]` (`leave` absent: zeros), returning `enter`'s
/// [`exponent_range`], in one pass (magnitude bits: the highest is the largest magnitude's
/// exponent, the lowest the smallest non-zero magnitude's, subnormals counting as 1).
#[inline(always)]
fn step_scanning(cols: &mut [f64], enter: &[f32], leave: Option<&[f32]>) -> (u32, u32) {
    let (mut lowest, mut highest) = (u32::MAX, 0u32);
    let mut scan = |v: f32| {
        let magnitude = v.to_bits() & 0x7fff_ffff;
        highest = highest.max(magnitude);
        // Zero wraps to the largest value: it never lowers the minimum.
        lowest = lowest.min(magnitude.wrapping_sub(1));
    };
    match leave {
        Some(leave) => {
            for ((c, &a), &b) in cols.iter_mut().zip(enter).zip(leave) {
                *c += f64::from(a) - f64::from(b);
                scan(a);
            }
        }
        None => {
            for (c, &a) in cols.iter_mut().zip(enter) {
                *c += f64::from(a);
                scan(a);
            }
        }
    }
    let lowest = match lowest {
        u32::MAX => u32::MAX,
        m => ((m + 1) >> 23).max(1),
    };
    (lowest, highest >> 23)
}

/// [`sum_separable`] for `f32` with the hand-written paths, [`RowSums`] decided row by row
/// as the sums run: each input row's exponents are found in the pass that adds it to the
/// column sums (a separate scan of the plane first was a fifth of B7's time). A step that
/// the row's decision then rules out is undone: the row starts afresh, or, when its window
/// alone is not exact, is summed directly. The decisions are [`row_sums`]'s. Whether it
/// ran.
///
/// # Safety
/// As for [`sum_separable`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn sum_lazy_x86<T: Element>(
    isa: Isa,
    plan: &Plan,
    x: Plane<T>,
    mut out: ArrayViewMut2<Uninit<T>>,
    oh0: usize,
    scratch: &mut Scratch<T>,
) -> bool {
    let (Some(g), Some(rg)) = (plan.cols.geometry, plan.rows.geometry) else {
        return false;
    };
    if isa == Isa::Baseline || T::as_f32(&[]).is_none() {
        return false;
    }
    let (width, kh, kw, outputs) = (x.cols, rg.kernel, g.kernel, g.output);
    let stride = padded_len(&g, width);
    // The column sums; the scratch's `acc` is left to `sum_down_across`.
    let mut sums = std::mem::take(&mut scratch.running);
    sums.clear();
    sums.resize(stride, T::Acc::zero());
    let mut exponents = std::mem::take(&mut scratch.exponents);
    exponents.clear();
    let first = window_rows(&rg, x.rows, oh0).start;
    let mut running_rows = RunningRows::default();
    let mut previous = RowSums::Fresh;
    for i in 0..out.nrows() {
        let row = oh0 + i;
        let lines = window_rows(&rg, x.rows, row);
        let cols = &mut sums[g.pad_begin..g.pad_begin + width];
        let stepped = previous != RowSums::Fresh;
        if stepped {
            let scan = Some(&mut exponents);
            running_rows.advance_scanning(cols, x, row * rg.stride, kh, rg.pad_begin, scan);
        }
        // Rows no step has scanned: the first window's, those after a fresh row.
        let scanned = first + exponents.len();
        // SAFETY: h < lines.end <= rows.
        exponents.extend(
            (scanned..lines.end.max(scanned)).map(|h| exponent_range(unsafe { x.line(h) })),
        );
        let exact = |l: std::ops::Range<usize>| {
            window_is_exact::<T>(&exponents[l.start - first..l.end - first], &rg, &g)
        };
        let before = stepped.then(|| window_rows(&rg, x.rows, row - 1));
        let kind = RowSums::decide(exact, lines, before);
        previous = kind;
        match kind {
            RowSums::Fresh => {
                // SAFETY: as for this function.
                unsafe {
                    sum_down_across::<T, 1>(
                        isa,
                        plan,
                        x,
                        out.slice_mut(s![i..i + 1, ..]),
                        row,
                        scratch,
                    )
                };
                continue;
            }
            RowSums::Start => {
                running_rows.restart();
                running_rows.advance(cols, x, row * rg.stride, kh, rg.pad_begin);
            }
            RowSums::Step => {}
        }
        let window = plan.rows.windows[row];
        let scale = scale_row(&mut scratch.scales, plan, row_factor(plan.divisor, &window));
        let mut out_row = out.row_mut(i);
        let o = row_cells(&mut out_row, &mut scratch.row);
        let (Some(o), Some(run), Some(scale)) = (
            T::as_f32_cells(o),
            T::acc_as_f64_mut(&mut sums),
            T::acc_as_f64_mut(scale),
        ) else {
            return false;
        };
        let out = o.as_mut_ptr().cast::<f32>();
        // SAFETY: the set was detected on this CPU (`Isa::available`; AVX-512F comes with
        // AVX2 there); `run` holds `stride >= outputs + kw - 1` cells, `scale` `outputs`,
        // and `o` is the row's `outputs` cells; the sums are exact (the row's decision).
        unsafe {
            match isa {
                Isa::Avx512 => x86::running_window_sums_avx512(run, kw, scale, out, outputs),
                _ => x86::running_window_sums_avx2(run, kw, scale, out, outputs),
            }
        }
        flush_row(out_row, &scratch.row);
    }
    scratch.running = sums;
    scratch.exponents = exponents;
    true
}

/// Which row of `scales.rows` holds the reciprocal divisors for `factor` (the divisor's
/// factor from a row window): computed on first use.
#[inline(always)]
fn scale_index<A: Float>(scales: &mut super::Scales<A>, plan: &Plan, factor: f64) -> usize {
    match scales.factors.iter().position(|&f| f == factor) {
        Some(index) => index,
        None => {
            let f = A::from(factor).unwrap_or_else(A::nan);
            scales.rows.extend(plan.cols.windows.iter().map(|w| {
                A::one() / (f * A::from(column_factor(plan.divisor, w)).unwrap_or_else(A::nan))
            }));
            scales.factors.push(factor);
            scales.factors.len() - 1
        }
    }
}

/// The row of reciprocal divisors for `factor` (see [`scale_index`]).
#[inline(always)]
fn scale_row<'s, A: Float>(
    scales: &'s mut super::Scales<A>,
    plan: &Plan,
    factor: f64,
) -> &'s mut [A] {
    let outputs = plan.cols.windows.len();
    let index = scale_index(scales, plan, factor);
    &mut scales.rows[index * outputs..(index + 1) * outputs]
}

/// The divisor's factor from a row window (the whole divisor when it is fixed).
fn row_factor(divisor: Divisor, row: &Window) -> f64 {
    match divisor {
        Divisor::Valid => row.taps as f64,
        Divisor::Padded => row.padded_taps as f64,
        Divisor::Fixed(d) => d as f64,
    }
}

/// The divisor's factor from a column window (1 when the divisor is fixed).
fn column_factor(divisor: Divisor, col: &Window) -> f64 {
    match divisor {
        Divisor::Valid => col.taps as f64,
        Divisor::Padded => col.padded_taps as f64,
        Divisor::Fixed(_) => 1.0,
    }
}

/// `out[i] = Σ_{j<k} c[i + j * d]` for every `i < out.len()`. Small `k`: `k` passes of adds;
/// larger: by doubling, sums of `2^b` terms built from sums of `2^(b-1)`, and the bits of
/// `k` pick which to add (`O(log k)` passes). `pow` and `next` are scratch at least as long
/// as `c`, which holds `out.len() + (k - 1) * d` terms.
#[inline(always)]
fn window_sums<'s, A: Float>(
    c: &[A],
    k: usize,
    d: usize,
    out: &mut [A],
    mut pow: &'s mut [A],
    mut next: &'s mut [A],
) {
    let n = out.len();
    debug_assert!(c.len() >= n + (k - 1) * d && pow.len() >= c.len() && next.len() >= c.len());
    if k == 3 {
        for (i, o) in out.iter_mut().enumerate() {
            *o = c[i] + c[i + d] + c[i + 2 * d];
        }
        return;
    }
    if k <= 4 {
        out.copy_from_slice(&c[..n]);
        for j in 1..k {
            for (o, &v) in out.iter_mut().zip(&c[j * d..j * d + n]) {
                *o = *o + v;
            }
        }
        return;
    }
    out.fill(A::zero());
    let mut len = c.len();
    pow[..len].copy_from_slice(c);
    let (mut span, mut offset, mut bits) = (d, 0usize, k);
    loop {
        if bits & 1 == 1 {
            for (o, &s) in out.iter_mut().zip(&pow[offset..offset + n]) {
                *o = *o + s;
            }
            offset += span;
        }
        bits >>= 1;
        if bits == 0 {
            return;
        }
        // next[i] = pow[i] + pow[i + span]: sums of twice as many terms.
        len -= span;
        for ((t, &a), &b) in next[..len].iter_mut().zip(&pow[..len]).zip(&pow[span..]) {
            *t = a + b;
        }
        std::mem::swap(&mut pow, &mut next);
        span *= 2;
    }
}

/// The lowest and highest raw exponents of a line's cells, for [`sums_are_exact`]: zeros
/// do not count, subnormals count as the smallest normal (`(u32::MAX, 0)` for zeros only).
#[inline(always)]
fn exponent_range<T: Element>(line: &[T]) -> (u32, u32) {
    let (mut lowest, mut highest) = (u32::MAX, 0u32);
    // One branch-free pass (it vectorises).
    for &v in line {
        let e = v.raw_exponent();
        highest = highest.max(e);
        let zero = u32::from(v == T::zero());
        let effective = if e != 0 { e } else { 1 | zero.wrapping_neg() };
        lowest = lowest.min(effective);
    }
    (lowest, highest)
}

/// Whether every partial sum of up to `terms` cells whose raw exponents lie in
/// `lowest..=highest` ([`exponent_range`]) is exact in the accumulator: all are finite and
/// their exponents close enough that the sums fit in its mantissa. Then running sums
/// (adding rows as they enter a window and subtracting them as they leave) give exactly
/// the reference's sums.
fn sums_are_exact<T: Element>((lowest, highest): (u32, u32), terms: usize) -> bool {
    if highest == 0 {
        return true;
    }
    let growth = usize::BITS - terms.leading_zeros();
    highest != T::RAW_EXPONENT_MAX
        && (highest - lowest.min(highest)) + T::MANTISSA_DIGITS + growth <= T::ACC_MANTISSA_DIGITS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan folded into a step gives the plain scan's range, and the step's sums.
    #[test]
    fn step_scanning_matches_exponent_range() {
        let specials = [
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            f32::MIN_POSITIVE / 8.0,
            -f32::from_bits(1),
            f32::MAX,
            f32::INFINITY,
            f32::NAN,
            1.0e-30,
            -3.5,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as u32
        };
        for len in 0..40 {
            for _ in 0..50 {
                let mut cell = || match next() % 4 {
                    0 => specials[next() as usize % specials.len()],
                    1 => 0.0,
                    _ => f32::from_bits(next() & 0x7fff_ffff | (next() & 1) << 31),
                };
                let enter: Vec<f32> = (0..len).map(|_| cell()).collect();
                let leave: Vec<f32> = (0..len).map(|_| cell()).collect();
                let start: Vec<f64> = (0..len).map(|i| i as f64 * 0.5 - 3.0).collect();
                for with_leave in [false, true] {
                    let mut cols = start.clone();
                    let range = step_scanning(&mut cols, &enter, with_leave.then_some(&leave[..]));
                    assert_eq!(range, exponent_range(&enter), "{enter:?}");
                    for i in 0..len {
                        let left = if with_leave { f64::from(leave[i]) } else { 0.0 };
                        let want = start[i] + (f64::from(enter[i]) - left);
                        assert!(
                            cols[i].to_bits() == want.to_bits()
                                || cols[i].is_nan() && want.is_nan()
                        );
                    }
                }
            }
        }
    }
}
