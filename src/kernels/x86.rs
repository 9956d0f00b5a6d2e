//! Hand-written x86-64 paths for what the compiler does not vectorise well on its own:
//! stride-2 rows, whose taps are the even and odd cells of a row, and means of short planes
//! (global pooling of 7x7 maps), whose per-plane reduction it leaves scalar, and the short
//! rows of small-window averages, where its bounds checks and tails cost more than the sums.
//!
//! Each function is compiled for its instruction set with `#[target_feature]`; callers
//! check the set at run time ([`Isa`](super::isa::Isa)) before calling.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;
use std::ops::Range;

use super::block_starts;
use crate::plan::Window;

/// `fold[o] = later_max` over `line[2 * o + j]`, `j < KW` (`KW` 2 or 3), left to right:
/// `_mm512_max_ps(b, a)` is `b > a ? b : a`, the earlier of equal values kept. Returns
/// whether a NaN was among the cells (the fold is then wrong; the caller recomputes).
///
/// # Safety
/// AVX-512F is available; `fold.len() >= 16` and `line.len() >= 2 * (fold.len() - 1) + KW`.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn fold_row_max_s2_avx512<const KW: usize>(
    line: &[f32],
    fold: &mut [f32],
) -> bool {
    let n = fold.len();
    debug_assert!(n >= 16 && (2..=3).contains(&KW) && line.len() >= 2 * (n - 1) + KW);
    let even_idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd_idx = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    let mut nan: __mmask16 = 0;
    for o0 in block_starts(n, 16) {
        // SAFETY: o0 <= n - 16, so cells 2 * o0 .. 2 * o0 + 32 lie below 2 * n <= line.len()
        // (KW >= 2), and with KW = 3 cell 2 * o0 + 32 <= 2 * n lies below 2 * n + 1.
        unsafe {
            let p = line.as_ptr().add(2 * o0);
            let a = _mm512_loadu_ps(p);
            let b = _mm512_loadu_ps(p.add(16));
            nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, b);
            let even = _mm512_permutex2var_ps(a, even_idx, b);
            let odd = _mm512_permutex2var_ps(a, odd_idx, b);
            let mut m = _mm512_max_ps(odd, even);
            if KW == 3 {
                let next = _mm512_set1_ps(*p.add(32));
                nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(next, next);
                // even[1..16] followed by the cell after the block.
                let shifted = _mm512_castsi512_ps(_mm512_alignr_epi32::<1>(
                    _mm512_castps_si512(next),
                    _mm512_castps_si512(even),
                ));
                m = _mm512_max_ps(shifted, m);
            }
            _mm512_storeu_ps(fold.as_mut_ptr().add(o0), m);
        }
    }
    nan != 0
}

/// [`fold_row_max_s2_avx512`] with AVX2, 8 outputs a block.
///
/// # Safety
/// AVX2 is available; `fold.len() >= 8` and `line.len() >= 2 * (fold.len() - 1) + KW`.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn fold_row_max_s2_avx2<const KW: usize>(line: &[f32], fold: &mut [f32]) -> bool {
    let n = fold.len();
    debug_assert!(n >= 8 && (2..=3).contains(&KW) && line.len() >= 2 * (n - 1) + KW);
    let mut nan = _mm256_setzero_ps();
    for o0 in block_starts(n, 8) {
        // SAFETY: as for the AVX-512 version, with blocks of 8: cells below 2 * o0 + 16
        // <= 2 * n, and with KW = 3 cell 2 * o0 + 16 <= 2 * n.
        unsafe {
            let p = line.as_ptr().add(2 * o0);
            let a = _mm256_loadu_ps(p);
            let b = _mm256_loadu_ps(p.add(8));
            nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(a, b));
            let (even, odd) = even_odd_avx2(a, b);
            let mut m = _mm256_max_ps(odd, even);
            if KW == 3 {
                let next = _mm256_set1_ps(*p.add(16));
                nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(next, next));
                m = _mm256_max_ps(shifted_in_avx2(even, next), m);
            }
            _mm256_storeu_ps(fold.as_mut_ptr().add(o0), m);
        }
    }
    _mm256_movemask_ps(nan) != 0
}

/// The even and the odd cells of the 16 cells `a` then `b`, each in order.
#[target_feature(enable = "avx2")]
#[inline]
fn even_odd_avx2(a: __m256, b: __m256) -> (__m256, __m256) {
    // Within each 128-bit half: a0 a2 b0 b2 | a4 a6 b4 b6; then the 64-bit pairs in order:
    // a0 a2 a4 a6 b0 b2 b4 b6.
    let in_order =
        |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)));
    (
        in_order(_mm256_shuffle_ps::<0b10_00_10_00>(a, b)),
        in_order(_mm256_shuffle_ps::<0b11_01_11_01>(a, b)),
    )
}

/// `v[1..8]` followed by `next`'s last lane: the cells one to the right.
#[target_feature(enable = "avx2")]
#[inline]
fn shifted_in_avx2(v: __m256, next: __m256) -> __m256 {
    let rotate = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
    _mm256_blend_ps::<0x80>(_mm256_permutevar8x32_ps(v, rotate), next)
}

/// `os[p]` = the mean of plane `p`, the `size` cells `xs[p * size..]`, summed in `f64`: two
/// 8-lane accumulators over 16-cell chunks (the last chunk masked, and widened only as far
/// as it holds cells: B5 6 % faster), then, eight planes at once, added across by a
/// transposition and multiplied by the reciprocal of `size`.
///
/// # Safety
/// AVX-512F is available; `size >= 1` and `xs.len() >= size * os.len()`.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn mean_planes_avx512(xs: &[f32], size: usize, os: &mut [MaybeUninit<f32>]) {
    debug_assert!(size >= 1 && xs.len() >= size * os.len());
    let (chunks, tail) = (size / 16, size % 16);
    let mask: __mmask16 = ((1u32 << tail) - 1) as u16;
    // SAFETY: plane p's cells are xs[p * size..(p + 1) * size]: the chunks read below
    // (p + 1) * size, the masked load reads only its `tail` lanes.
    let plane = |p: usize| unsafe {
        let base = xs.as_ptr().add(p * size);
        let (mut low, mut high) = (_mm512_setzero_pd(), _mm512_setzero_pd());
        for c in 0..chunks {
            let q = base.add(16 * c);
            low = _mm512_add_pd(low, _mm512_cvtps_pd(_mm256_loadu_ps(q)));
            high = _mm512_add_pd(high, _mm512_cvtps_pd(_mm256_loadu_ps(q.add(8))));
        }
        if tail > 0 {
            let v = _mm512_castps_pd(_mm512_maskz_loadu_ps(mask, base.add(16 * chunks)));
            let v_low = _mm512_castpd512_pd256(v);
            low = _mm512_add_pd(low, _mm512_cvtps_pd(_mm256_castpd_ps(v_low)));
            // The high half holds no cell when the tail is 8 or fewer (49-cell planes).
            if tail > 8 {
                let v_high = _mm512_extractf64x4_pd::<1>(v);
                high = _mm512_add_pd(high, _mm512_cvtps_pd(_mm256_castpd_ps(v_high)));
            }
        }
        _mm512_add_pd(low, high)
    };
    // [a0 + a1, b0 + b1, a2 + a3, b2 + b3, ..]: adjacent lanes of a and of b added.
    let pairs =
        |a: __m512d, b: __m512d| _mm512_add_pd(_mm512_unpacklo_pd(a, b), _mm512_unpackhi_pd(a, b));
    // Adjacent 128-bit blocks of a, then of b, added.
    let blocks = |a: __m512d, b: __m512d| {
        _mm512_add_pd(
            _mm512_shuffle_f64x2::<0b10_00_10_00>(a, b),
            _mm512_shuffle_f64x2::<0b11_01_11_01>(a, b),
        )
    };
    // A multiplication by the reciprocal, as in the AVX2 version.
    let reciprocal = _mm512_set1_pd(1.0 / size as f64);
    for (g, group) in os.chunks_mut(8).enumerate() {
        // A short last group is filled up with zero planes: every plane's lanes are added
        // in the same tree wherever it falls, so its mean does not depend on the batch.
        let n = group.len();
        // One call site, as in the AVX2 version.
        let mut s = [_mm512_setzero_pd(); 8];
        for (i, sums) in s.iter_mut().enumerate().take(n) {
            *sums = plane(8 * g + i);
        }
        let sums = blocks(
            blocks(pairs(s[0], s[1]), pairs(s[2], s[3])),
            blocks(pairs(s[4], s[5]), pairs(s[6], s[7])),
        );
        let means = _mm512_cvtpd_ps(_mm512_mul_pd(sums, reciprocal));
        // SAFETY: the group holds n <= 8 cells; the store writes lanes below n only.
        unsafe {
            let at = group.as_mut_ptr().cast::<f32>();
            _mm512_mask_storeu_ps(at, ((1u32 << n) - 1) as u16, _mm512_castps256_ps512(means));
        }
    }
}

/// [`mean_planes_avx512`] with AVX2: two 4-lane accumulators over 8-cell chunks, four planes
/// added across at once. Of the cells after the whole chunks, four go in by a plain load,
/// the rest by a masked one; a single cell left over goes in four planes at a time, one
/// widening for the four (B5, 49 cells a plane: 13 widenings a plane became 12.25, 0.97x
/// the time; gathering every leftover cell so was slower from four on: 1.04x on 14 x 14
/// planes, 1.12x on 5 x 11).
///
/// # Safety
/// AVX2 is available; `size >= 1` and `xs.len() >= size * os.len()`.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn mean_planes_avx2(xs: &[f32], size: usize, os: &mut [MaybeUninit<f32>]) {
    debug_assert!(size >= 1 && xs.len() >= size * os.len());
    let (chunks, tail) = (size / 8, size % 8);
    // Cells 8 * chunks + half .. size are `rest`.
    let half = if tail >= 4 { 4 } else { 0 };
    let rest = tail - half;
    let lane = |i: i32| if (i as usize) < rest { -1 } else { 0 };
    let mask = _mm_setr_epi32(lane(0), lane(1), lane(2), lane(3));
    // SAFETY: as for the AVX-512 version, with 8-cell chunks; the plain tail load reads 4
    // cells when the plane has them after its chunks, the masked one only its `rest` lanes.
    let plane = |p: usize| unsafe {
        let base = xs.as_ptr().add(p * size);
        let (mut low, mut high) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        for c in 0..chunks {
            let q = base.add(8 * c);
            low = _mm256_add_pd(low, _mm256_cvtps_pd(_mm_loadu_ps(q)));
            high = _mm256_add_pd(high, _mm256_cvtps_pd(_mm_loadu_ps(q.add(4))));
        }
        let q = base.add(8 * chunks);
        if half > 0 {
            high = _mm256_add_pd(high, _mm256_cvtps_pd(_mm_loadu_ps(q)));
        }
        if rest > 1 {
            low = _mm256_add_pd(low, _mm256_cvtps_pd(_mm_maskload_ps(q.add(half), mask)));
        }
        _mm256_add_pd(low, high)
    };
    // A multiplication by the reciprocal, as the separable averages do: the division was
    // 6 % of B5's time (the product is within an f64 ulp of the quotient).
    let reciprocal = _mm256_set1_pd(1.0 / size as f64);
    for (g, group) in os.chunks_mut(4).enumerate() {
        // As in the AVX-512 version, a short last group is filled up with zero planes.
        let n = group.len();
        // One call site: from four (array::from_fn), the sums went through memory.
        let mut s = [_mm256_setzero_pd(); 4];
        for (i, sums) in s.iter_mut().enumerate().take(n) {
            *sums = plane(4 * g + i);
        }
        // [s0[0] + s0[1], s1[0] + s1[1], s0[2] + s0[3], s1[2] + s1[3]], and for s2, s3.
        let (h01, h23) = (_mm256_hadd_pd(s[0], s[1]), _mm256_hadd_pd(s[2], s[3]));
        let mut sums = _mm256_add_pd(
            _mm256_permute2f128_pd::<0x20>(h01, h23),
            _mm256_permute2f128_pd::<0x31>(h01, h23),
        );
        if rest == 1 {
            // The last cell of each plane of the group (zero past a short group).
            let cell = |i: usize| {
                // SAFETY: plane 4g + i < os.len() holds `size` cells from (4g + i) * size.
                (i < n).then(|| unsafe { *xs.get_unchecked((4 * g + i + 1) * size - 1) })
            };
            let v = _mm_setr_ps(
                cell(0).unwrap_or(0.0),
                cell(1).unwrap_or(0.0),
                cell(2).unwrap_or(0.0),
                cell(3).unwrap_or(0.0),
            );
            sums = _mm256_add_pd(sums, _mm256_cvtps_pd(v));
        }
        let means = _mm256_cvtpd_ps(_mm256_mul_pd(sums, reciprocal));
        let at = group.as_mut_ptr().cast::<f32>();
        if n == 4 {
            // SAFETY: the group holds 4 cells.
            unsafe { _mm_storeu_ps(at, means) };
        } else {
            // A masked store: slow on AMD Zen, so only for a short last group.
            let lanes = _mm_cmpgt_epi32(_mm_set1_epi32(n as i32), _mm_setr_epi32(0, 1, 2, 3));
            // SAFETY: the group holds n < 4 cells; the store writes lanes below n only.
            unsafe { _mm_maskstore_ps(at, lanes, means) };
        }
    }
}

/// A run of output rows of one plane for [`sum_plane_avx512`] and [`sum_plane_avx2`].
pub(crate) struct SumPlane<'a> {
    /// Input row `h` is the `width` cells from `x + h * x_stride`.
    pub x: *const f32,
    pub x_stride: isize,
    pub width: usize,
    /// Zero columns before each input row (the left padding).
    pub pad: usize,
    /// Per output row, the input rows its window sums: `first..first + taps` (undilated,
    /// at most [`SUM_RING_ROWS`] rows).
    pub windows: &'a [Window],
    /// Per output row, where its reciprocal divisors (`outputs` cells) start in `scales`.
    pub scale_at: &'a [usize],
    pub scales: &'a [f64],
    /// Output row `i` is the `outputs` cells from `out + i * out_stride`.
    pub out: *mut f32,
    pub out_stride: isize,
    pub outputs: usize,
}

/// The blocks of a padded row that hold input columns ([`SumPlane::blocks`]): partial ones
/// as (block, first lane, end lane).
pub(crate) struct Blocks {
    head: Option<(usize, usize, usize)>,
    whole: std::ops::Range<usize>,
    tail: Option<(usize, usize, usize)>,
}

/// Input rows the small-window kernels hold widened to `f64` at once: at least the tallest
/// window ([`SUM_ROWS_MAX`](super::sums::SUM_ROWS_MAX)), a power of two.
pub(crate) const SUM_RING_ROWS: usize = 4;

impl SumPlane<'_> {
    /// Cells of one widened row: the padded row, with room for the widening's whole blocks
    /// of 16 and the vertical sums' block after the last output.
    #[inline]
    pub fn ring_len(&self) -> usize {
        (self.pad + self.width)
            .next_multiple_of(16)
            .max(self.outputs.next_multiple_of(8) + 8)
    }

    /// The padded-row blocks of `lanes` cells that hold input columns, split into a first
    /// block that holds only some (lanes `lo..`), whole blocks, and a last block that holds
    /// only some (lanes `..hi`).
    #[inline(always)]
    fn blocks(&self, lanes: usize) -> Blocks {
        let (begin, end) = (self.pad / lanes, (self.pad + self.width).div_ceil(lanes));
        // Lanes lo..hi of block k hold input columns.
        let held = |k: usize| {
            let first = (lanes * k) as isize - self.pad as isize;
            let lo = (-first).clamp(0, lanes as isize) as usize;
            let hi = (self.width as isize - first).clamp(0, lanes as isize) as usize;
            (lo, hi)
        };
        let whole = |k: usize| held(k) == (0, lanes);
        let head = (begin < end && !whole(begin)).then(|| held(begin));
        let whole_begin = begin + usize::from(head.is_some());
        let tail = (end > whole_begin && !whole(end - 1)).then(|| held(end - 1));
        Blocks {
            head: head.map(|(lo, hi)| (begin, lo, hi)),
            whole: whole_begin..end - usize::from(tail.is_some()),
            tail: tail.map(|(lo, hi)| (end - 1, lo, hi)),
        }
    }

    /// Where padded-row block `k` of `lanes` cells reads in input row `src`: its first
    /// lane's column, which may lie before the row.
    #[inline(always)]
    fn block_source(&self, src: *const f32, k: usize, lanes: usize) -> *const f32 {
        src.wrapping_offset((lanes * k) as isize - self.pad as isize)
    }

    /// Output row `i`'s reciprocal divisors and cells (`outputs` of each).
    #[inline(always)]
    fn output_row(&self, i: usize) -> (*const f64, *mut f32) {
        let scale = self.scales[self.scale_at[i]..self.scale_at[i] + self.outputs].as_ptr();
        // Row i lies inside the output (the struct's contract), so the offset stays in it.
        (
            scale,
            self.out.wrapping_offset(i as isize * self.out_stride),
        )
    }

    /// Widens the input rows output row `i`'s window needs into the ring at `ring` (slot
    /// `h % SUM_RING_ROWS`, tagged in `held`), unless held already, and returns where they
    /// start, top to bottom, in the first `taps` entries. With `ahead`, row `i + 1`'s rows
    /// are widened too when they fit beside them: a row then sits a whole output row
    /// between its stores and its first loads (for AVX-512 on AMD Zen 5, 0.92x the time on
    /// B4; loaded right after, a block waited on store forwarding. AVX2's stores there
    /// forward well, and it took 1.12x the time this way).
    ///
    /// # Safety
    /// `ring` is valid for [`SUM_RING_ROWS`] rows of [`ring_len`](Self::ring_len) cells;
    /// `widen(src, dst)` reads `width` cells from `src` and writes them as `f64`s, padded
    /// by `pad` zeros in front, from `dst`, within `ring_len` cells; input rows of the
    /// windows are inside the input.
    #[inline(always)]
    unsafe fn rows_of(
        &self,
        i: usize,
        ring: *mut f64,
        held: &mut [usize; SUM_RING_ROWS],
        widen: impl Fn(*const f32, *mut f64),
        ahead: bool,
    ) -> [*const f64; SUM_RING_ROWS] {
        let len = self.ring_len();
        let mut hold = |j: usize| {
            let w = self.windows[j];
            let mut rows = [std::ptr::null(); SUM_RING_ROWS];
            for (t, row) in rows.iter_mut().enumerate().take(w.taps) {
                let h = w.first + t;
                let slot = h % SUM_RING_ROWS;
                // The slot lies inside the ring (this function's contract).
                let cells = ring.wrapping_add(slot * len);
                if held[slot] != h {
                    held[slot] = h;
                    // SAFETY: row h is inside the input (this function's contract); the
                    // padded row lies inside the slot.
                    widen(unsafe { self.x.offset(h as isize * self.x_stride) }, cells);
                }
                *row = cells.cast_const();
            }
            rows
        };
        let rows = hold(i);
        if ahead && self.next_fits(i) {
            // Row i's rows keep their slots: row i + 1's lie among the same ring rows.
            hold(i + 1);
        }
        rows
    }

    /// Whether output rows `i` and `i + 1`'s windows lie within [`SUM_RING_ROWS`] input
    /// rows, so that both are held in the ring at once.
    #[inline(always)]
    fn next_fits(&self, i: usize) -> bool {
        let (Some(a), Some(b)) = (self.windows.get(i), self.windows.get(i + 1)) else {
            return false;
        };
        b.first >= a.first && b.first + b.taps <= a.first + SUM_RING_ROWS
    }
}

/// Averages over small windows with horizontal stride 1 ([`sum_rows`](super::sums::sum_rows)):
/// each input row is widened to `f64` once, into a ring of zero-padded rows; each output
/// row sums its window's rows down, 8 columns at a time in a register, and the window's
/// columns across by lane rotations of two such blocks (stored and reloaded one cell off,
/// they would stall on store forwarding), then one multiplication by the reciprocal
/// divisor. Sums start from zero and go down the rows in order, as the reference does.
///
/// # Safety
/// AVX-512F is available; `p`'s rows and windows are as its fields say; `ring` holds
/// [`SUM_RING_ROWS`] rows of `p.ring_len()` cells, zero everywhere but where rows are
/// widened; `held` says which input row each slot holds (`usize::MAX`: none); `1 <= KW <=
/// 8`.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn sum_plane_avx512<const KW: usize>(
    p: &SumPlane,
    ring: &mut [f64],
    held: &mut [usize; SUM_RING_ROWS],
) {
    debug_assert!((1..=8).contains(&KW) && ring.len() >= SUM_RING_ROWS * p.ring_len());
    // One pointer for the ring: the rows handed out stay valid while others are widened.
    let ring = ring.as_mut_ptr();
    let blocks = p.blocks(16);
    let head = blocks.head.map(|(k, lo, hi)| (k, lane_bits(lo, hi)));
    let tail = blocks.tail.map(|(k, lo, hi)| (k, lane_bits(lo, hi)));
    // Padded row block k, columns 16k..16k + 16, stored where the vertical sums load it: a
    // load spanning two stores would wait for both to retire.
    let widen = |src: *const f32, dst: *mut f64| {
        let store = |k: usize, v: __m512| {
            let v = _mm512_castps_pd(v);
            // SAFETY: cells 16k..16k + 16 <= (pad + width).next_multiple_of(16) lie inside
            // the slot (`ring_len`).
            unsafe {
                _mm512_storeu_pd(
                    dst.add(16 * k),
                    _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_castpd512_pd256(v))),
                );
                _mm512_storeu_pd(
                    dst.add(16 * k + 8),
                    _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(v))),
                );
            }
        };
        // SAFETY (the loads): a partial block reads only its lanes that hold input columns,
        // a whole block's lanes all do (`SumPlane::blocks`).
        if let Some((k, m)) = head {
            store(k, unsafe {
                _mm512_maskz_loadu_ps(m, p.block_source(src, k, 16))
            });
        }
        for k in blocks.whole.clone() {
            store(k, unsafe { _mm512_loadu_ps(p.block_source(src, k, 16)) });
        }
        if let Some((k, m)) = tail {
            store(k, unsafe {
                _mm512_maskz_loadu_ps(m, p.block_source(src, k, 16))
            });
        }
    };
    for i in 0..p.windows.len() {
        // SAFETY: the ring is as this function's contract says; `widen` keeps to the slot
        // (above); the windows are inside the input.
        let rows = unsafe { p.rows_of(i, ring, held, widen, true) };
        let (scale, out) = p.output_row(i);
        // SAFETY: the rows hold `ring_len` cells, `scale` and `out` `outputs` each.
        unsafe {
            match p.windows[i].taps {
                1 => sum_row_avx512::<KW, 1>(&rows, scale, out, p.outputs),
                2 => sum_row_avx512::<KW, 2>(&rows, scale, out, p.outputs),
                3 => sum_row_avx512::<KW, 3>(&rows, scale, out, p.outputs),
                _ => sum_row_avx512::<KW, 4>(&rows, scale, out, p.outputs),
            }
        }
    }
}

/// The window sums of `p[o + j .. o + j + 8]` for `j < kw`, from the blocks `a = p[o..o +
/// 8]` and `b = p[o + 8..o + 16]`.
#[target_feature(enable = "avx512f")]
#[inline]
fn window_avx512(a: __m512d, b: __m512d, kw: usize) -> __m512d {
    let (a, b) = (_mm512_castpd_si512(a), _mm512_castpd_si512(b));
    let shifted = |s: __m512i| _mm512_castsi512_pd(s);
    let mut sum = shifted(a);
    if kw > 1 {
        sum = _mm512_add_pd(sum, shifted(_mm512_alignr_epi64::<1>(b, a)));
    }
    if kw > 2 {
        sum = _mm512_add_pd(sum, shifted(_mm512_alignr_epi64::<2>(b, a)));
    }
    if kw > 3 {
        sum = _mm512_add_pd(sum, shifted(_mm512_alignr_epi64::<3>(b, a)));
    }
    if kw > 4 {
        sum = _mm512_add_pd(sum, shifted(_mm512_alignr_epi64::<4>(b, a)));
    }
    if kw > 5 {
        sum = _mm512_add_pd(sum, shifted(_mm512_alignr_epi64::<5>(b, a)));
    }
    if kw > 6 {
        sum = _mm512_add_pd(sum, shifted(_mm512_alignr_epi64::<6>(b, a)));
    }
    if kw > 7 {
        sum = _mm512_add_pd(sum, shifted(_mm512_alignr_epi64::<7>(b, a)));
    }
    sum
}

/// One output row of [`sum_plane_avx512`]: the window of `TAPS` widened rows, `KW` columns
/// wide, times the reciprocal divisors. Whole blocks of 8 outputs in the loop, the rest
/// after it (a per-block test of the count cost a tenth of the time on 28-cell rows).
///
/// # Safety
/// AVX-512F is available; `rows[..TAPS]` hold `outputs.next_multiple_of(8) + 8` cells
/// each; `scale` is valid for `outputs` reads and `out` for `outputs` writes.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn sum_row_avx512<const KW: usize, const TAPS: usize>(
    rows: &[*const f64; SUM_RING_ROWS],
    scale: *const f64,
    out: *mut f32,
    outputs: usize,
) {
    let down = |b: usize| {
        let mut sum = _mm512_setzero_pd();
        for &row in &rows[..TAPS] {
            // SAFETY: 8b + 8 <= outputs.next_multiple_of(8) + 8 (the callers' b).
            sum = _mm512_add_pd(sum, unsafe { _mm512_loadu_pd(row.add(8 * b)) });
        }
        sum
    };
    let whole = outputs / 8;
    let mut current = down(0);
    for b in 0..whole {
        let next = down(b + 1);
        let sums = window_avx512(current, next, KW);
        // SAFETY: 8b + 8 <= outputs.
        unsafe {
            let q = _mm512_loadu_pd(scale.add(8 * b));
            _mm256_storeu_ps(out.add(8 * b), _mm512_cvtpd_ps(_mm512_mul_pd(sums, q)));
        }
        current = next;
    }
    let (o, n) = (8 * whole, outputs % 8);
    if n > 0 {
        let sums = window_avx512(current, down(whole + 1), KW);
        let m = ((1u32 << n) - 1) as u8;
        // SAFETY: the lanes below n read scale[o..outputs] and write out[o..outputs].
        unsafe {
            let q = _mm512_maskz_loadu_pd(m, scale.add(o));
            let r = _mm512_cvtpd_ps(_mm512_mul_pd(sums, q));
            _mm512_mask_storeu_ps(out.add(o), u16::from(m), _mm512_castps256_ps512(r));
        }
    }
}

/// Averages of windows 2 wide with horizontal stride 2 ([`sum_rows`](super::sums::sum_rows):
/// DenseNet's 2x2 transitions) for every output row of a plane chunk, in registers: a
/// block of 8 outputs sums its window's rows down over its 16 cells, widened to `f64`
/// (cells outside the row masked off as zeros), takes the even and odd cells by one
/// two-vector permute each and adds them, then multiplies by the reciprocal divisor: the
/// same sums as [`sum_across_s2_avx512`], without the row of column sums in memory between
/// the passes or the work around it per output row (0.85x the time on DenseNet's 56x56
/// maps; 3 wide, with the third tap from the next block, it was no faster than that).
///
/// # Safety
/// AVX-512F is available; `p`'s rows, windows, scales and outputs are as its fields say
/// (window `o` reads columns `2o - pad` and `2o - pad + 1`, those inside the row).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn sum_plane_s2w2_avx512(p: &SumPlane) {
    let even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    let odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    let (width, pad) = (p.width as isize, p.pad as isize);
    for (i, w) in p.windows.iter().enumerate() {
        let rows: [*const f32; SUM_RING_ROWS] = std::array::from_fn(|t| {
            // Rows past the window's repeat its last; they are not summed.
            let h = w.first + t.min(w.taps - 1);
            p.x.wrapping_offset(h as isize * p.x_stride)
        });
        let (scale, out) = p.output_row(i);
        let mut o = 0;
        while o < p.outputs {
            // SAFETY: the window's rows lie inside the input (the contract).
            let (a, b) = unsafe { down_16_avx512(&rows, w.taps, 2 * o as isize - pad, width) };
            let sums = _mm512_add_pd(
                _mm512_permutex2var_pd(a, even, b),
                _mm512_permutex2var_pd(a, odd, b),
            );
            let n = (p.outputs - o).min(8);
            let m = ((1u32 << n) - 1) as u8;
            // SAFETY: scale and out hold the row's `outputs` cells; the last block's lanes
            // past them are masked off.
            unsafe {
                if n == 8 {
                    let means = _mm512_mul_pd(sums, _mm512_loadu_pd(scale.add(o)));
                    _mm256_storeu_ps(out.add(o), _mm512_cvtpd_ps(means));
                } else {
                    let means = _mm512_mul_pd(sums, _mm512_maskz_loadu_pd(m, scale.add(o)));
                    let r = _mm512_castps256_ps512(_mm512_cvtpd_ps(means));
                    _mm512_mask_storeu_ps(out.add(o), u16::from(m), r);
                }
            }
            o += 8;
        }
    }
}

/// The 16 cells from column `c` of the first `taps` of `rows`, summed down in `f64`: cells
/// `c..c + 8` and `c + 8..c + 16`, those outside columns `0..width` as zeros.
///
/// # Safety
/// AVX-512F is available; the first `taps` rows (1 to 4) have `width` readable cells.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn down_16_avx512(
    rows: &[*const f32; SUM_RING_ROWS],
    taps: usize,
    c: isize,
    width: isize,
) -> (__m512d, __m512d) {
    // SAFETY: AVX-512F is available (the contract); whole blocks lie inside the rows,
    // partial ones read only their lanes inside them (masked-off lanes are not read; the
    // pointer arithmetic wraps, so it is defined for any offset).
    unsafe {
        let halves = |v: __m512| {
            let v = _mm512_castps_pd(v);
            (
                _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_castpd512_pd256(v))),
                _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(v))),
            )
        };
        let load = |t: usize| {
            if c >= 0 && c + 16 <= width {
                halves(_mm512_loadu_ps(rows[t].offset(c)))
            } else {
                let m = lanes_inside(c, width, 16);
                halves(_mm512_maskz_loadu_ps(m, rows[t].wrapping_offset(c)))
            }
        };
        let (mut a, mut b) = load(0);
        for t in 1..taps.min(SUM_RING_ROWS) {
            let (x, y) = load(t);
            (a, b) = (_mm512_add_pd(a, x), _mm512_add_pd(b, y));
        }
        (a, b)
    }
}

/// Output rows of a small plane whose rows are as wide as the input's, for
/// [`sum_flat_avx512`]: input and output rows contiguous (each row starts where the last
/// ends), so that the rows are one flat line of cells, summed without a loop per row.
pub(crate) struct FlatPlane {
    /// The input plane: `rows` rows of `width` cells from `x`.
    pub x: *const f32,
    pub rows: usize,
    pub width: usize,
    /// Window rows and padding rows above: output row `i` sums input rows
    /// `i - pad_rows..i - pad_rows + KH` (those inside the plane).
    pub pad_rows: usize,
    /// The first output row and the number of them.
    pub first_row: usize,
    pub count: usize,
    /// Reciprocal divisors of the outputs, in order from the first output row's.
    pub scales: *const f64,
    /// The column of each output cell from the start of a row on: `0, 1, .., width - 1, 0,
    /// ..`, at least `count * width` rounded up to 8 of them, from a cache line.
    pub columns: *const i64,
    /// The outputs, `count * width` cells.
    pub out: *mut f32,
}

/// The column table of [`FlatPlane::columns`] and [`FlatMax::columns`] for `cells`
/// outputs (rounded up to 16), with a cache line of room in front to start it on one:
/// `(table, offset of its first cell)`.
pub(crate) fn flat_columns<I: Copy + Default + TryFrom<usize>>(
    width: usize,
    cells: usize,
) -> (Vec<I>, usize) {
    let front = 64 / std::mem::size_of::<I>();
    let mut table = vec![I::default(); cells.next_multiple_of(16) + front];
    let start = table.as_ptr().align_offset(64).min(front);
    for row in table[start..].chunks_mut(width) {
        for (c, cell) in row.iter_mut().enumerate() {
            // Columns of planes the flat paths take fit (they hold few cells).
            *cell = I::try_from(c).unwrap_or_default();
        }
    }
    (table, start)
}

/// Averages of small windows, stride 1, over a plane whose output rows are as wide as its
/// rows and which has few cells ([`sum_rows`](super::sums::sum_rows)): the output rows are
/// one flat line, taken 8 cells at a time, without the per-row work of
/// [`sum_plane_avx512`] (on Inception's 28x28 planes that work was half the time). A block's
/// window rows are the cells `width` apart above and below it in the flat line (masked off
/// outside the plane), summed down in `f64`; its neighbours across come from the blocks of
/// sums before and after it by a lane permute, masked off where they lie in another row
/// (by a comparison with each cell's column); then one multiplication by the reciprocal
/// divisor. `KW` columns wide, `PAD` of them left of the output's, at most 4 rows tall.
///
/// # Safety
/// AVX-512F is available; `p` is as its fields say, with `1 <= KW <= 8`, `PAD < KW`,
/// `1 <= kh <= 4`, and output rows `first_row..first_row + count` each summing at least one
/// input row.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn sum_flat_avx512<const KW: usize, const PAD: usize>(p: &FlatPlane, kh: usize) {
    debug_assert!((1..=8).contains(&KW) && PAD < KW && (1..=4).contains(&kh));
    let (w, cells) = (p.width as isize, p.count * p.width);
    let plane = p.rows as isize * w;
    // Where tap row u of output 0 starts in the flat plane (before it or past it when u
    // lies in the padding).
    let first = |u: usize| (p.first_row as isize + u as isize - p.pad_rows as isize) * w;
    let taps: [isize; 4] = std::array::from_fn(|u| first(u.min(kh - 1)));
    // Blocks from output o with every tap row's 8 cells inside the plane: o in fast.
    let fast = (-taps[0]).max(0)..plane - 8 - taps[kh - 1] + 1;
    let x = p.x;
    // The sums down of the 8 cells from output o.
    let down = |o: usize| {
        if fast.contains(&(o as isize)) {
            let tap = |u: usize| {
                // SAFETY: the block's cells lie inside the plane (`fast`).
                _mm512_cvtps_pd(unsafe { _mm256_loadu_ps(x.offset(taps[u] + o as isize)) })
            };
            let mut s = tap(0);
            if kh > 1 {
                s = _mm512_add_pd(s, tap(1));
            }
            if kh > 2 {
                s = _mm512_add_pd(s, tap(2));
            }
            if kh > 3 {
                s = _mm512_add_pd(s, tap(3));
            }
            s
        } else {
            // SAFETY: the plane is `plane` cells from x.
            unsafe { flat_down_masked_avx512(x, plane, &taps[..kh], o as isize) }
        }
    };
    let lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    // Tap t of a block is its sums shifted by d = t - PAD lanes, from the block before
    // (d < 0) or after; it lies in the output's row where 0 <= column + d < width.
    let shift = |t: usize| (t as i64 - PAD as i64).rem_euclid(8);
    let indices: [__m512i; KW] =
        std::array::from_fn(|t| _mm512_add_epi64(lane, _mm512_set1_epi64(shift(t))));
    let bounds: [__m512i; KW] = std::array::from_fn(|t| {
        let d = t as i64 - PAD as i64;
        _mm512_set1_epi64(if d < 0 { -d } else { w as i64 - d })
    });
    let mut before = _mm512_setzero_pd();
    let mut own = down(0);
    let mut o = 0;
    while o < cells {
        let after = down(o + 8);
        // SAFETY: the column table holds cells rounded up to 8 from a cache line.
        let column = unsafe { _mm512_load_si512(p.columns.add(o).cast()) };
        let mut sum = _mm512_setzero_pd();
        for t in 0..KW {
            let (shifted, inside) = if t < PAD {
                (
                    _mm512_permutex2var_pd(before, indices[t], own),
                    _mm512_cmpge_epi64_mask(column, bounds[t]),
                )
            } else if t == PAD {
                (own, u8::MAX)
            } else {
                (
                    _mm512_permutex2var_pd(own, indices[t], after),
                    _mm512_cmplt_epi64_mask(column, bounds[t]),
                )
            };
            sum = if t == 0 {
                _mm512_maskz_mov_pd(inside, shifted)
            } else {
                _mm512_mask_add_pd(sum, inside, sum, shifted)
            };
        }
        // SAFETY: outputs o..o + 8 (o..cells for the last block) are the run's.
        unsafe {
            if o + 8 <= cells {
                let means = _mm512_mul_pd(sum, _mm512_loadu_pd(p.scales.add(o)));
                _mm256_storeu_ps(p.out.add(o), _mm512_cvtpd_ps(means));
            } else {
                let m = ((1u32 << (cells - o)) - 1) as u8;
                let means = _mm512_mul_pd(sum, _mm512_maskz_loadu_pd(m, p.scales.add(o)));
                let r = _mm512_castps256_ps512(_mm512_cvtpd_ps(means));
                _mm512_mask_storeu_ps(p.out.add(o), u16::from(m), r);
            }
        }
        before = own;
        own = after;
        o += 8;
    }
}

/// [`sum_flat_avx512`]'s sums down for a block with cells outside the plane: tap row `u`'s
/// 8 cells from flat cell `taps[u] + o` of the `plane` cells from `x`, those outside it
/// taken as zeros.
///
/// # Safety
/// AVX-512F is available; the plane's `plane` cells are readable from `x`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn flat_down_masked_avx512(
    x: *const f32,
    plane: isize,
    taps: &[isize],
    o: isize,
) -> __m512d {
    let mut s = _mm512_setzero_pd();
    for &tap in taps {
        let from = tap + o;
        let m = lanes_inside(from, plane, 8);
        // SAFETY: lanes outside the plane are masked off, and masked-off lanes are not
        // read; the pointer arithmetic wraps, so it is defined for any offset.
        let v = unsafe { _mm512_maskz_loadu_ps(m, x.wrapping_offset(from)) };
        s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    }
    s
}

/// Output rows of a plane whose rows are as wide as the input's, for [`max_flat_avx512`]:
/// input and output rows contiguous, so that the rows are one flat line of cells.
pub(crate) struct FlatMax {
    /// The input plane: `rows` rows of `width` cells from `x`.
    pub x: *const f32,
    pub rows: usize,
    pub width: usize,
    /// Output row `i` takes input rows `i - pad_rows..i - pad_rows + kh` (those inside the
    /// plane), output column `c` input columns `c - pad..c - pad + kw` (those inside the
    /// row).
    pub pad_rows: usize,
    pub kh: usize,
    pub pad: usize,
    pub kw: usize,
    /// The first output row and the number of them.
    pub first_row: usize,
    pub count: usize,
    /// The column of each output cell from the start of a row on ([`flat_columns`]), at
    /// least `count * width` rounded up to 16 of them, from a cache line.
    pub columns: *const i32,
    /// The outputs, `count * width` cells.
    pub out: *mut f32,
}

/// Window sides [`max_flat_avx512`] takes (a window's neighbours lie within the vectors of
/// 16 lanes either side): with a permute and a masked max per column, a 13x13 window took
/// 1.4x the time of [`max_plane_s1_avx512`] on 13x13 maps.
pub(crate) const FLAT_MAX_SIDE: usize = 8;

/// Stride-1 max over a plane whose output rows are as wide as its rows (YOLO's 5x5 and
/// Inception's 3x3 with padding that keeps the size): the output rows are one flat line,
/// 16 cells at a time, without the per-row work of [`max_plane_s1_avx512`] (on 20x20 and
/// 28x28 maps, most of the time). A block's window rows are the cells `width` apart above
/// and below it in the flat line (-inf outside the plane), maxed down; its neighbours
/// across come from the blocks of maxima before and after it by a lane permute, masked off
/// where they lie in another row. The order of the maxima differs from the row-major one,
/// so one pass over the rows read first looks for NaN (then nothing is written) and -0.0;
/// whether a NaN, or a -0.0 in a chunk where some output is zero, was met: only then can
/// the order show, and the caller recomputes.
///
/// # Safety
/// AVX-512F and AVX-512DQ are available; `p` is as its fields say, with `1 <= kh, kw <=`
/// [`FLAT_MAX_SIDE`], `pad < kw`, and output rows `first_row..first_row + count` each
/// reading at least one input row.
#[target_feature(enable = "avx512f,avx512dq")]
pub(crate) unsafe fn max_flat_avx512<const KW: usize, const PAD: usize>(p: &FlatMax) -> bool {
    // KW = 0: the window's width and padding as `p` says.
    let (kh, kw, pad) = if KW == 0 {
        (p.kh, p.kw, p.pad)
    } else {
        (p.kh, KW, PAD)
    };
    debug_assert!((1..=FLAT_MAX_SIDE).contains(&kh) && (1..=FLAT_MAX_SIDE).contains(&kw));
    debug_assert!(pad < kw && (KW == 0 || (KW, PAD) == (p.kw, p.pad)));
    let (w, cells) = (p.width as isize, p.count * p.width);
    let plane = p.rows as isize * w;
    let first = |u: usize| (p.first_row as isize + u as isize - p.pad_rows as isize) * w;
    // The cells any tap reads, looked for NaN and -0.0 first: as integers, -0.0 is the
    // least and a NaN's magnitude above infinity's.
    let read = first(0).clamp(0, plane)..(first(kh - 1) + cells as isize).clamp(0, plane);
    let (mut least, mut magnitude) = (_mm512_set1_epi32(-1), _mm512_setzero_si512());
    let mut scan = |v: __m512i| {
        least = _mm512_min_epi32(least, v);
        magnitude = _mm512_max_epu32(magnitude, _mm512_and_si512(v, _mm512_set1_epi32(i32::MAX)));
    };
    let mut c = read.start;
    while c + 16 <= read.end {
        // SAFETY: cells c..c + 16 lie inside the plane.
        scan(unsafe { _mm512_loadu_si512(p.x.offset(c).cast()) });
        c += 16;
    }
    if c < read.end {
        let m = ((1u32 << (read.end - c)) - 1) as u16;
        // SAFETY: lanes c..read.end lie inside the plane (the others read as 0.0).
        scan(unsafe { _mm512_maskz_loadu_epi32(m, p.x.offset(c).cast()) });
    }
    if _mm512_reduce_max_epu32(magnitude) > f32::INFINITY.to_bits() {
        return true;
    }
    let negative_zero = _mm512_reduce_min_epi32(least) == i32::MIN;
    let mut taps = [0isize; FLAT_MAX_SIDE];
    for (u, tap) in taps.iter_mut().enumerate().take(kh) {
        *tap = first(u);
    }
    let taps = &taps[..kh];
    // Blocks from output o with every tap row's 16 cells inside the plane: o in fast.
    let fast = (-taps[0]).max(0)..plane - 16 - taps[kh - 1] + 1;
    let x = p.x;
    let neg_inf = _mm512_set1_ps(f32::NEG_INFINITY);
    let down = |o: usize| {
        let o = o as isize;
        let mut m = neg_inf;
        if fast.contains(&o) {
            for &tap in taps {
                // SAFETY: the block's cells lie inside the plane (`fast`).
                m = _mm512_max_ps(m, unsafe { _mm512_loadu_ps(x.offset(tap + o)) });
            }
        } else {
            for &tap in taps {
                let from = tap + o;
                let v = if from >= 0 && from + 16 <= plane {
                    // SAFETY: the 16 cells lie inside the plane.
                    unsafe { _mm512_loadu_ps(x.offset(from)) }
                } else {
                    // [`lanes_inside`] written out: through it, X1 took 1.05-1.09x the
                    // time (the code around it came out differently).
                    let (lo, hi) = ((-from).clamp(0, 16), (plane - from).clamp(0, 16));
                    let lanes = (((1u32 << hi) - 1) & !((1u32 << lo) - 1)) as u16;
                    // SAFETY: lanes outside the plane are masked off, and masked-off lanes
                    // are not read; the pointer arithmetic wraps, so it is defined for any
                    // offset.
                    unsafe { _mm512_mask_loadu_ps(neg_inf, lanes, x.wrapping_offset(from)) }
                };
                m = _mm512_max_ps(m, v);
            }
        }
        m
    };
    let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    // Tap t of a block is its maxima shifted by d = t - pad lanes, from the block before
    // (d < 0) or after; it lies in the output's row where 0 <= column + d < width.
    let mut indices = [lane; FLAT_MAX_SIDE];
    let mut bounds = [lane; FLAT_MAX_SIDE];
    for t in 0..kw {
        let d = t as i32 - pad as i32;
        indices[t] = _mm512_add_epi32(lane, _mm512_set1_epi32(d.rem_euclid(16)));
        bounds[t] = _mm512_set1_epi32(if d < 0 { -d } else { w as i32 - d });
    }
    let mut zero = 0u16;
    let mut before = neg_inf;
    let mut own = down(0);
    let mut o = 0;
    while o < cells {
        let after = down(o + 16);
        // SAFETY: the column table holds cells rounded up to 16 from a cache line.
        let column = unsafe { _mm512_load_si512(p.columns.add(o).cast()) };
        let mut m = own;
        for t in 0..pad {
            let inside = _mm512_cmpge_epi32_mask(column, bounds[t]);
            let v = _mm512_permutex2var_ps(before, indices[t], own);
            m = _mm512_mask_max_ps(m, inside, m, v);
        }
        for t in pad + 1..kw {
            let inside = _mm512_cmplt_epi32_mask(column, bounds[t]);
            let v = _mm512_permutex2var_ps(own, indices[t], after);
            m = _mm512_mask_max_ps(m, inside, m, v);
        }
        // SAFETY: outputs o..o + 16 (o..cells for the last block) are the run's.
        unsafe {
            if o + 16 <= cells {
                _mm512_storeu_ps(p.out.add(o), m);
                if negative_zero {
                    zero |= _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(m, _mm512_setzero_ps());
                }
            } else {
                let lanes = ((1u32 << (cells - o)) - 1) as u16;
                _mm512_mask_storeu_ps(p.out.add(o), lanes, m);
                zero |= _mm512_mask_cmp_ps_mask::<_CMP_EQ_OQ>(lanes, m, _mm512_setzero_ps());
            }
        }
        (before, own) = (own, after);
        o += 16;
    }
    negative_zero && zero != 0
}

/// [`sum_plane_avx512`] with AVX2: blocks of 4 `f64`, windows shifted by lane permutes.
///
/// # Safety
/// As for [`sum_plane_avx512`], with AVX2 available and `1 <= KW <= 4`.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn sum_plane_avx2<const KW: usize>(
    p: &SumPlane,
    ring: &mut [f64],
    held: &mut [usize; SUM_RING_ROWS],
) {
    debug_assert!((1..=4).contains(&KW) && ring.len() >= SUM_RING_ROWS * p.ring_len());
    // One pointer for the ring: the rows handed out stay valid while others are widened.
    let ring = ring.as_mut_ptr();
    let blocks = p.blocks(8);
    let head = blocks.head.map(|(k, lo, hi)| (k, lanes_between(lo, hi)));
    let tail = blocks.tail.map(|(k, lo, hi)| (k, lanes_between(lo, hi)));
    // As in the AVX-512 version, in blocks of 8.
    let widen = |src: *const f32, dst: *mut f64| {
        let store = |k: usize, v: __m256| {
            // SAFETY: cells 8k..8k + 8 lie inside the slot.
            unsafe {
                _mm256_storeu_pd(dst.add(8 * k), _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
                _mm256_storeu_pd(
                    dst.add(8 * k + 4),
                    _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)),
                );
            }
        };
        // SAFETY (the loads): as in the AVX-512 version.
        if let Some((k, m)) = head {
            store(k, unsafe {
                _mm256_maskload_ps(p.block_source(src, k, 8), m)
            });
        }
        for k in blocks.whole.clone() {
            store(k, unsafe { _mm256_loadu_ps(p.block_source(src, k, 8)) });
        }
        if let Some((k, m)) = tail {
            store(k, unsafe {
                _mm256_maskload_ps(p.block_source(src, k, 8), m)
            });
        }
    };
    for i in 0..p.windows.len() {
        // SAFETY: as for the AVX-512 version.
        let rows = unsafe { p.rows_of(i, ring, held, widen, false) };
        let (scale, out) = p.output_row(i);
        // SAFETY: as for the AVX-512 version.
        unsafe {
            match p.windows[i].taps {
                1 => sum_row_avx2::<KW, 1>(&rows, scale, out, p.outputs),
                2 => sum_row_avx2::<KW, 2>(&rows, scale, out, p.outputs),
                3 => sum_row_avx2::<KW, 3>(&rows, scale, out, p.outputs),
                _ => sum_row_avx2::<KW, 4>(&rows, scale, out, p.outputs),
            }
        }
    }
}

/// `out[o]` = `(Σ_{j < KW} down[2 * o + j]) * scale[o]`, as `f32`, for `o < outputs`: the
/// across step of a stride-2 average (`KW` 2 or 3), four outputs a block. Pairs are added
/// by one horizontal add, a third tap by one in-lane shuffle, and one lane permute puts
/// the four in order; the sums are the portable loop's, `(d0 + d1) + d2`. The last block
/// is the last four outputs again when they do not fall on a block.
///
/// # Safety
/// AVX2 is available; `outputs >= 4`; `down` holds `2 * outputs - 2 + KW` cells, `scale`
/// `outputs`; `out` is valid for `outputs` writes.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn sum_across_s2_avx2<const KW: usize>(
    down: &[f64],
    scale: &[f64],
    out: *mut f32,
    outputs: usize,
) {
    debug_assert!((2..=3).contains(&KW) && outputs >= 4);
    debug_assert!(down.len() >= 2 * outputs - 2 + KW && scale.len() >= outputs);
    let d = down.as_ptr();
    let block = |o: usize| {
        // SAFETY: o + 4 <= outputs: cells 2o..2o + 8 (and, for KW = 3, up to 2o + 8 =
        // 2 * outputs - 2 + KW - 1 at most) of `down`, o..o + 4 of scale and out.
        unsafe {
            // [d0 + d1, d4 + d5, d2 + d3, d6 + d7]: outputs 0, 2, 1, 3 of the block.
            let mut sums = _mm256_hadd_pd(
                _mm256_loadu_pd(d.add(2 * o)),
                _mm256_loadu_pd(d.add(2 * o + 4)),
            );
            if KW == 3 {
                // [d2, d6, d4, d8], in the same order.
                let third = _mm256_shuffle_pd::<0b1010>(
                    _mm256_loadu_pd(d.add(2 * o + 2)),
                    _mm256_loadu_pd(d.add(2 * o + 5)),
                );
                sums = _mm256_add_pd(sums, third);
            }
            let sums = _mm256_permute4x64_pd::<0b11_01_10_00>(sums);
            let v = _mm256_cvtpd_ps(_mm256_mul_pd(sums, _mm256_loadu_pd(scale.as_ptr().add(o))));
            _mm_storeu_ps(out.add(o), v);
        }
    };
    block_starts(outputs, 4).for_each(block);
}

/// [`sum_across_s2_avx2`] for AVX-512: eight outputs a block, their even and odd taps
/// picked by one two-vector permute each (the third tap: the even cells one further on);
/// the same sums, `(d0 + d1) + d2`.
///
/// # Safety
/// AVX-512F is available; `outputs >= 8`; `down` holds `2 * outputs - 2 + KW` cells,
/// `scale` `outputs`; `out` is valid for `outputs` writes.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn sum_across_s2_avx512<const KW: usize>(
    down: &[f64],
    scale: &[f64],
    out: *mut f32,
    outputs: usize,
) {
    debug_assert!((2..=3).contains(&KW) && outputs >= 8);
    debug_assert!(down.len() >= 2 * outputs - 2 + KW && scale.len() >= outputs);
    let d = down.as_ptr();
    let even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    let odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    let block = |o: usize| {
        // SAFETY: o + 8 <= outputs: cells 2o..2o + 16 of `down` (2o + 15 <= 2 * outputs -
        // 1), and for KW = 3 cells 2o + 2..2o + 17 (2o + 16 <= 2 * outputs); o..o + 8 of
        // scale and out.
        unsafe {
            let (a, b) = (
                _mm512_loadu_pd(d.add(2 * o)),
                _mm512_loadu_pd(d.add(2 * o + 8)),
            );
            let mut sums = _mm512_add_pd(
                _mm512_permutex2var_pd(a, even, b),
                _mm512_permutex2var_pd(a, odd, b),
            );
            if KW == 3 {
                let a = _mm512_loadu_pd(d.add(2 * o + 2));
                let b = _mm512_maskz_loadu_pd(0x7F, d.add(2 * o + 10));
                sums = _mm512_add_pd(sums, _mm512_permutex2var_pd(a, even, b));
            }
            let v = _mm512_cvtpd_ps(_mm512_mul_pd(sums, _mm512_loadu_pd(scale.as_ptr().add(o))));
            _mm256_storeu_ps(out.add(o), v);
        }
    };
    block_starts(outputs, 8).for_each(block);
}

/// Bits `lo..hi` set, the others clear (a mask of lanes `lo..hi`; none when `hi <= lo`).
#[inline(always)]
fn lane_bits(lo: usize, hi: usize) -> u16 {
    (((1u32 << hi) - 1) & !((1u32 << lo) - 1)) as u16
}

/// The mask of the `lanes` (at most 16) cells from `first` that lie inside `0..end`.
#[inline(always)]
fn lanes_inside(first: isize, end: isize, lanes: isize) -> u16 {
    let (lo, hi) = ((-first).clamp(0, lanes), (end - first).clamp(0, lanes));
    (((1u32 << hi) - 1) & !((1u32 << lo) - 1)) as u16
}

/// Lanes `lo..hi` of 8 `f32` (or, widened, of 4 + 4 `f64`) set, the others clear.
#[target_feature(enable = "avx2")]
#[inline]
fn lanes_between(lo: usize, hi: usize) -> __m256i {
    let index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let below = |n: usize| _mm256_cmpgt_epi32(_mm256_set1_epi32(n.min(8) as i32), index);
    _mm256_andnot_si256(below(lo), below(hi))
}

/// The window sums of `p[o + j .. o + j + 4]` for `j < kw`, from `a = p[o..o + 4]` and `b =
/// p[o + 4..o + 8]`.
#[target_feature(enable = "avx2")]
#[inline]
fn window_avx2(a: __m256d, b: __m256d, kw: usize) -> __m256d {
    let middle = _mm256_permute2f128_pd::<0x21>(a, b);
    let mut sum = a;
    if kw > 1 {
        sum = _mm256_add_pd(sum, _mm256_shuffle_pd::<0b0101>(a, middle));
    }
    if kw > 2 {
        sum = _mm256_add_pd(sum, middle);
    }
    if kw > 3 {
        sum = _mm256_add_pd(sum, _mm256_shuffle_pd::<0b0101>(middle, b));
    }
    sum
}

/// [`sum_row_avx512`] with AVX2: each block of 8 outputs as two halves of 4.
///
/// # Safety
/// As for [`sum_row_avx512`], with AVX2 available.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn sum_row_avx2<const KW: usize, const TAPS: usize>(
    rows: &[*const f64; SUM_RING_ROWS],
    scale: *const f64,
    out: *mut f32,
    outputs: usize,
) {
    // The column sums of cells c..c + 4.
    let down_at = |c: usize| {
        let mut sum = _mm256_setzero_pd();
        for &row in &rows[..TAPS] {
            // SAFETY: c + 4 <= outputs.next_multiple_of(8) + 8 (the callers' c).
            sum = _mm256_add_pd(sum, unsafe { _mm256_loadu_pd(row.add(c)) });
        }
        sum
    };
    let down = |b: usize| down_at(4 * b);
    let scaled = |sums: (__m256d, __m256d), q: (__m256d, __m256d)| {
        _mm256_set_m128(
            _mm256_cvtpd_ps(_mm256_mul_pd(sums.1, q.1)),
            _mm256_cvtpd_ps(_mm256_mul_pd(sums.0, q.0)),
        )
    };
    let whole = outputs / 8;
    let (mut low, mut high) = (down(0), down(1));
    for b in 0..whole {
        let next = down(2 * b + 2);
        let sums = (window_avx2(low, high, KW), window_avx2(high, next, KW));
        // SAFETY: 8b + 8 <= outputs.
        unsafe {
            let q = scale.add(8 * b);
            let r = scaled(sums, (_mm256_loadu_pd(q), _mm256_loadu_pd(q.add(4))));
            _mm256_storeu_ps(out.add(8 * b), r);
        }
        (low, high) = (next, down(2 * b + 3));
    }
    let (o, n) = (8 * whole, outputs % 8);
    if n > 0 && whole > 0 {
        // The last 8 outputs again, unmasked (a masked store costs as much as the rest of a
        // short row on AMD Zen): cells up to outputs + 4.
        let o = outputs - 8;
        let sums = (
            window_avx2(down_at(o), down_at(o + 4), KW),
            window_avx2(down_at(o + 4), down_at(o + 8), KW),
        );
        // SAFETY: o + 8 = outputs.
        unsafe {
            let q = scale.add(o);
            let r = scaled(sums, (_mm256_loadu_pd(q), _mm256_loadu_pd(q.add(4))));
            _mm256_storeu_ps(out.add(o), r);
        }
    } else if n > 0 {
        let next = down(2 * whole + 2);
        let sums = (window_avx2(low, high, KW), window_avx2(high, next, KW));
        let m = lanes_between(0, n);
        let widened = |m: __m128i| _mm256_cvtepi32_epi64(m);
        // SAFETY: the lanes below n read scale[o..outputs] and write out[o..outputs].
        unsafe {
            let q = scale.add(o);
            let q_low = _mm256_maskload_pd(q, widened(_mm256_castsi256_si128(m)));
            let q_high = _mm256_maskload_pd(q.add(4), widened(_mm256_extracti128_si256::<1>(m)));
            _mm256_maskstore_ps(out.add(o), m, scaled(sums, (q_low, q_high)));
        }
    }
}

/// `out[o] = (run[o] + .. + run[o + kw - 1]) * scale[o]` for `o < outputs`, each window's
/// sum the previous one's plus the cell entering and minus the cell leaving: blocks of 8
/// differences turned into sums by an in-register prefix sum, plus the last block's final
/// sum. `O(1)` per output whatever `kw`.
///
/// # Safety
/// AVX-512F and AVX2 are available; `kw >= 1`; `run.len() >= outputs + kw - 1`;
/// `scale.len() >= outputs`; `out` is valid for `outputs` writes. Exact (equal to summing
/// each window afresh) only when every sum of up to `2 * kw` cells of `run` is: the
/// caller's exactness check.
#[target_feature(enable = "avx512f,avx2")]
pub(crate) unsafe fn running_window_sums_avx512(
    run: &[f64],
    kw: usize,
    scale: &[f64],
    out: *mut f32,
    outputs: usize,
) {
    debug_assert!(kw >= 1 && run.len() + 1 >= outputs + kw && scale.len() >= outputs);
    let first: f64 = run[..kw].iter().sum();
    let r = run.as_ptr();
    let last = _mm512_set1_epi64(7);
    let up = |n: i64| _mm512_setr_epi64(-n, 1 - n, 2 - n, 3 - n, 4 - n, 5 - n, 6 - n, 7 - n);
    let (up1, up2, up4) = (up(1), up(2), up(4));
    // Inclusive prefix sum across the 8 lanes: each step adds the lanes rotated up into
    // the lanes above the rotation's wrap (a zeroing shift becomes `vexpandpd`, which made
    // this loop 3.5x slower on AMD Zen 5).
    let prefix = |x: __m512d| {
        let x = _mm512_mask_add_pd(x, 0xfe, x, _mm512_permutexvar_pd(up1, x));
        let x = _mm512_mask_add_pd(x, 0xfc, x, _mm512_permutexvar_pd(up2, x));
        _mm512_mask_add_pd(x, 0xf0, x, _mm512_permutexvar_pd(up4, x))
    };
    let mut carry = _mm512_setzero_pd();
    // The block of windows o..o + 8 from its differences `x`: the block's total is
    // broadcast off the carry's chain, leaving one add a block on it.
    let mut sums = |x: __m512d| {
        let x = prefix(x);
        let total = _mm512_permutexvar_pd(last, x);
        let sums = _mm512_add_pd(x, carry);
        carry = _mm512_add_pd(carry, total);
        sums
    };
    // SAFETY (all blocks): loads read run[o - 1..o - 1 + n] (lane 0 masked off when
    // o = 0) and run[o + kw - 1..o + kw - 1 + n], inside `run` as o + n <= outputs; scale
    // and the stores cover outputs o..o + n.
    unsafe {
        let tail = |o: usize, x: __m512d, n: usize| {
            let m = ((1u32 << n) - 1) as u8;
            let v = _mm512_cvtpd_ps(_mm512_mul_pd(
                x,
                _mm512_maskz_loadu_pd(m, scale.as_ptr().add(o)),
            ));
            let lanes = _mm256_cmpgt_epi32(
                _mm256_set1_epi32(n as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            );
            _mm256_maskstore_ps(out.add(o), lanes, v);
        };
        // The first block: its first difference is the first window's sum.
        let n = outputs.min(8);
        let m = ((1u32 << n) - 1) as u8;
        let entering = _mm512_maskz_loadu_pd(m, r.add(kw - 1));
        let leaving = _mm512_maskz_loadu_pd(m & !1, r.wrapping_sub(1));
        let x = _mm512_mask_mov_pd(_mm512_sub_pd(entering, leaving), 1, _mm512_set1_pd(first));
        tail(0, sums(x), n);
        let mut o = 8;
        while o + 8 <= outputs {
            let x = _mm512_sub_pd(
                _mm512_loadu_pd(r.add(o + kw - 1)),
                _mm512_loadu_pd(r.add(o - 1)),
            );
            let v = _mm512_cvtpd_ps(_mm512_mul_pd(
                sums(x),
                _mm512_loadu_pd(scale.as_ptr().add(o)),
            ));
            _mm256_storeu_ps(out.add(o), v);
            o += 8;
        }
        if o < outputs {
            let n = outputs - o;
            let m = ((1u32 << n) - 1) as u8;
            let x = _mm512_sub_pd(
                _mm512_maskz_loadu_pd(m, r.add(o + kw - 1)),
                _mm512_maskz_loadu_pd(m, r.add(o - 1)),
            );
            tail(o, sums(x), n);
        }
    }
}

/// [`running_window_sums_avx512`] with AVX2: blocks of 4, masked only for the first block
/// (which starts from the first window's sum) and the last (masked stores are slow on AMD
/// Zen); in between, 8 outputs a step, one carry addition for both halves.
///
/// # Safety
/// As for [`running_window_sums_avx512`], with AVX2 available.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn running_window_sums_avx2(
    run: &[f64],
    kw: usize,
    scale: &[f64],
    out: *mut f32,
    outputs: usize,
) {
    debug_assert!(kw >= 1 && run.len() + 1 >= outputs + kw && scale.len() >= outputs);
    let first: f64 = run[..kw].iter().sum();
    let r = run.as_ptr();
    let zero = _mm256_setzero_pd();
    let index = _mm256_setr_epi64x(0, 1, 2, 3);
    // Inclusive prefix sum across the 4 lanes (shifted up by 1, then by 2), and its total
    // in every lane.
    let prefix = |x: __m256d| {
        let up1 = _mm256_blend_pd::<0b0001>(_mm256_permute4x64_pd::<0b10_01_00_00>(x), zero);
        let x = _mm256_add_pd(x, up1);
        let x = _mm256_add_pd(x, _mm256_permute2f128_pd::<0x08>(x, x));
        (x, _mm256_permute4x64_pd::<0xFF>(x))
    };
    let scaled = |sums: __m256d, o: usize| {
        // SAFETY: callers pass o + 4 <= outputs.
        _mm256_cvtpd_ps(_mm256_mul_pd(sums, unsafe {
            _mm256_loadu_pd(scale.as_ptr().add(o))
        }))
    };
    // Outputs o..o + n (n <= 4), by masked loads and stores: the first block, whose first
    // lane is the first window's sum, and the last.
    let masked = |o: usize, n: usize, carry: __m256d| {
        let lanes = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), index);
        // SAFETY: as for the AVX-512 version: lanes below n read run[o + kw - 1..outputs +
        // kw - 1] and run[o - 1..] (from run[0] at o = 0, lane 0 left out) and
        // scale[o..outputs], and write out[o..outputs].
        unsafe {
            let entering = _mm256_maskload_pd(r.add(o + kw - 1), lanes);
            let leaving_lanes = if o == 0 {
                _mm256_and_si256(lanes, _mm256_setr_epi64x(0, -1, -1, -1))
            } else {
                lanes
            };
            let leaving = _mm256_maskload_pd(r.wrapping_add(o).wrapping_sub(1), leaving_lanes);
            let mut x = _mm256_sub_pd(entering, leaving);
            if o == 0 {
                x = _mm256_blend_pd::<0b0001>(x, _mm256_set1_pd(first));
            }
            let (x, total) = prefix(x);
            let q = _mm256_maskload_pd(scale.as_ptr().add(o), lanes);
            let v = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_add_pd(x, carry), q));
            // The 64-bit lane masks, narrowed to the four 32-bit lanes of the result.
            let narrow =
                _mm256_permutevar8x32_epi32(lanes, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
            _mm_maskstore_ps(out.add(o), _mm256_castsi256_si128(narrow), v);
            _mm256_add_pd(carry, total)
        }
    };
    let mut carry = masked(0, outputs.min(4), zero);
    let mut o = 4;
    while o + 8 <= outputs {
        // SAFETY: o >= 4 and o + 8 <= outputs: cells o - 1 .. o + 7 + kw - 1 of run, o .. o
        // + 8 of scale and out.
        unsafe {
            let x = |o: usize| {
                _mm256_sub_pd(
                    _mm256_loadu_pd(r.add(o + kw - 1)),
                    _mm256_loadu_pd(r.add(o - 1)),
                )
            };
            let (low, low_total) = prefix(x(o));
            let (high, high_total) = prefix(x(o + 4));
            let low = _mm256_add_pd(low, carry);
            let high = _mm256_add_pd(_mm256_add_pd(high, low_total), carry);
            carry = _mm256_add_pd(carry, _mm256_add_pd(low_total, high_total));
            _mm256_storeu_ps(
                out.add(o),
                _mm256_set_m128(scaled(high, o + 4), scaled(low, o)),
            );
        }
        o += 8;
    }
    while o < outputs {
        carry = masked(o, (outputs - o).min(4), carry);
        o += 4;
    }
}

/// Stride-2 max windows of width `KW` (2 or 3) over the `lines` (a window's rows), rows
/// first: `out[o]` = the max of `line[base + 2 * o + j]` over the lines and `j < KW`, for
/// `o < n`. The lines' maxima are taken first, so each output row reads its input rows once
/// and pays for the even/odd split once. Returns whether a NaN or a -0.0 was among the
/// cells: only then can the order of the fold show in the result (which NaN, which zero),
/// and the caller recomputes in row-major order.
///
/// # Safety
/// AVX-512F and DQ are available; `n >= 16`; every line has `base + 2 * n - 2 + KW`
/// readable cells; `out` is valid for `n` writes.
#[target_feature(enable = "avx512f,avx512dq")]
pub(crate) unsafe fn max_rows_s2_avx512<const KW: usize>(
    lines: &[*const f32],
    base: usize,
    out: *mut f32,
    n: usize,
) -> bool {
    debug_assert!(n >= 16 && (2..=3).contains(&KW));
    let even_idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd_idx = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    // Quiet NaN (0x01), -0.0 (0x04), signalling NaN (0x80): one instruction for the three.
    let special = |v: __m512| _mm512_fpclass_ps_mask::<0x85>(v);
    let mut seen: __mmask16 = 0;
    for o0 in block_starts(n, 16) {
        let lowest = _mm512_set1_ps(f32::NEG_INFINITY);
        let (mut a, mut b, mut next) = (lowest, lowest, lowest);
        for &line in lines {
            // SAFETY: o0 <= n - 16: cells base + 2 * o0 .. + 32 lie below base + 2 * n, and
            // with KW = 3 cell base + 2 * o0 + 32 <= base + 2 * n is readable too.
            unsafe {
                let p = line.add(base + 2 * o0);
                let (la, lb) = (_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16)));
                seen |= special(la) | special(lb);
                a = _mm512_max_ps(la, a);
                b = _mm512_max_ps(lb, b);
                if KW == 3 {
                    let c = _mm512_set1_ps(*p.add(32));
                    seen |= special(c);
                    next = _mm512_max_ps(c, next);
                }
            }
        }
        let even = _mm512_permutex2var_ps(a, even_idx, b);
        let odd = _mm512_permutex2var_ps(a, odd_idx, b);
        let mut m = _mm512_max_ps(odd, even);
        if KW == 3 {
            // even[1..16] followed by the column after the block.
            let shifted = _mm512_castsi512_ps(_mm512_alignr_epi32::<1>(
                _mm512_castps_si512(next),
                _mm512_castps_si512(even),
            ));
            m = _mm512_max_ps(shifted, m);
        }
        // SAFETY: o0 + 16 <= n.
        unsafe { _mm512_storeu_ps(out.add(o0), m) };
    }
    seen != 0
}

/// [`max_rows_s2_avx512`] with AVX2, 8 outputs a block, over `LINES` lines (0: as many as
/// `lines` holds; a fixed count unrolls the fold over them). Without a class test, NaN
/// shows in an unordered compare of the cells, and -0.0 is looked for only in blocks with
/// a zero maximum (only there can the order of the fold show). With `KW = 3`, a block's
/// last output takes its third tap from the next block's first even cell, already at hand.
///
/// # Safety
/// AVX2 is available; `n >= 8`; `lines` holds at least `LINES` lines, each with `base + 2 *
/// n - 2 + KW` readable cells; `out` is valid for `n` writes.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn max_rows_s2_avx2<const KW: usize, const LINES: usize>(
    lines: impl AsRef<[*const f32]>,
    base: usize,
    out: *mut f32,
    n: usize,
) -> bool {
    debug_assert!(n >= 8 && (2..=3).contains(&KW));
    let lines = lines.as_ref();
    let lines = if LINES == 0 { lines } else { &lines[..LINES] };
    let mut unordered = _mm256_setzero_ps();
    // The lines' maxima over cells base + 2 * o0 .. + 16, as even and odd cells in order.
    let mut columns = |o0: usize| {
        let lowest = _mm256_set1_ps(f32::NEG_INFINITY);
        let (mut a, mut b) = (lowest, lowest);
        for &line in lines {
            // SAFETY: callers pass o0 <= n - 8: cells below base + 2 * n.
            let (la, lb) = unsafe {
                let p = line.add(base + 2 * o0);
                (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)))
            };
            unordered = _mm256_or_ps(unordered, _mm256_cmp_ps::<_CMP_UNORD_Q>(la, lb));
            a = _mm256_max_ps(la, a);
            b = _mm256_max_ps(lb, b);
        }
        even_odd_avx2(a, b)
    };
    // Whether some cell was a NaN, or a -0.0 in a block with a zero maximum.
    let mut special = false;
    // Whether a block with a zero maximum read a -0.0.
    let negative_zero_in = |o0: usize| {
        let sign = _mm256_set1_epi32(i32::MIN);
        lines.iter().any(|&line| {
            // SAFETY: as in `columns`; with KW = 3, cell base + 2 * o0 + 16 <= base + 2 * n.
            unsafe {
                let p = line.add(base + 2 * o0);
                let hit = |v: __m256| _mm256_cmpeq_epi32(_mm256_castps_si256(v), sign);
                let cells =
                    _mm256_or_si256(hit(_mm256_loadu_ps(p)), hit(_mm256_loadu_ps(p.add(8))));
                _mm256_movemask_epi8(cells) != 0 || (KW == 3 && (*p.add(16)).to_bits() == 1 << 31)
            }
        })
    };
    let mut store = |o0: usize, m: __m256| {
        if _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(m, _mm256_setzero_ps())) != 0 {
            special |= negative_zero_in(o0);
        }
        // SAFETY: o0 + 8 <= n.
        unsafe { _mm256_storeu_ps(out.add(o0), m) };
    };
    let whole = n / 8;
    let (mut even, mut odd) = columns(0);
    for k in 1..=whole {
        let o0 = if k < whole {
            8 * k
        } else if !n.is_multiple_of(8) {
            n - 8
        } else {
            break;
        };
        let (next_even, next_odd) = columns(o0);
        let mut m = _mm256_max_ps(odd, even);
        if KW == 3 {
            // even[1..8] then the even cell after the block, next_even's first when the
            // blocks abut. When the last block overlaps this one, the lane is another cell,
            // but the only output it goes into (8 * k - 1) is stored again with that block.
            let high = _mm256_permute2f128_ps::<0x21>(even, next_even);
            let shifted = _mm256_castsi256_ps(_mm256_alignr_epi8::<4>(
                _mm256_castps_si256(high),
                _mm256_castps_si256(even),
            ));
            m = _mm256_max_ps(shifted, m);
        }
        store(8 * (k - 1), m);
        (even, odd) = (next_even, next_odd);
    }
    // The last block, o0 = n - 8, whose third tap reaches cell 2 * n.
    let o0 = n - 8;
    let mut m = _mm256_max_ps(odd, even);
    if KW == 3 {
        let mut last = f32::NEG_INFINITY;
        let mut nan = false;
        for &line in lines {
            // SAFETY: cell base + 2 * n is readable when KW = 3.
            let v = unsafe { *line.add(base + 2 * n) };
            nan |= v.is_nan();
            last = if v > last { v } else { last };
        }
        m = _mm256_max_ps(shifted_in_avx2(even, _mm256_set1_ps(last)), m);
        if nan {
            return true;
        }
    }
    store(o0, m);
    special || _mm256_movemask_ps(unordered) != 0
}

/// How far ahead, in output rows, [`max_plane_s2`] asks for the rows of inputs beyond the
/// caches: 8 took B8 0.65-0.69x the time of 2, the distance before (one thread, AMD Zen 5),
/// and B8 then took about as long as a plain read of its input (1.6 ms against 1.4-1.6).
const PREFETCH_OUTPUT_ROWS: usize = 8;

/// The output rows of one plane chunk for [`max_plane_s2_avx2`].
pub(crate) struct MaxPlaneS2<'a> {
    /// Input row `h` starts at `x + h * x_stride`.
    pub x: *const f32,
    pub x_stride: isize,
    /// Per output row, its window's rows: `first + t * row_step`, `t < taps`.
    pub rows: &'a [Window],
    pub row_step: usize,
    /// The vertical stride, when rows ahead are to be prefetched (inputs beyond the caches).
    pub prefetch_stride: Option<usize>,
    /// The output columns whose windows the padding cuts, with their columns (taps
    /// `col_step` apart).
    pub cut: &'a [(usize, Window)],
    pub col_step: usize,
    /// The whole windows: outputs `full_start..full_start + n`, the first from column
    /// `base`.
    pub full_start: usize,
    pub n: usize,
    pub base: usize,
    /// Output row `i` is contiguous from `out + i * out_stride`.
    pub out: *mut f32,
    pub out_stride: isize,
}

/// Stride-2 max for every output row of a plane chunk in one call, rows first
/// ([`max_rows_s2_avx2`]), the windows cut by the padding one by one beside it: the
/// per-row work (finding the rows, the call, the row views) was a quarter of B1's time.
/// Returns whether a NaN, or a -0.0 where the order shows, was met (the caller then
/// recomputes the chunk in row-major order).
///
/// # Safety
/// AVX2 is available; `p` describes rows inside the input and output as its fields say;
/// `n >= 8` and the whole windows' cells lie inside every row (up to `base + 2 * n - 2 +
/// KW`).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn max_plane_s2_avx2<const KW: usize>(p: &MaxPlaneS2) -> bool {
    // SAFETY: this function's contract is max_plane_s2's with AVX2 rows.
    unsafe { max_plane_s2::<KW, false>(p) }
}

/// [`max_plane_s2_avx2`] with AVX-512 rows ([`max_rows_s2_avx512`]).
///
/// # Safety
/// As for [`max_plane_s2_avx2`], with AVX-512F and DQ available and `n >= 16`.
#[target_feature(enable = "avx512f,avx512dq")]
pub(crate) unsafe fn max_plane_s2_avx512<const KW: usize>(p: &MaxPlaneS2) -> bool {
    // SAFETY: this function's contract is max_plane_s2's with AVX-512 rows.
    unsafe { max_plane_s2::<KW, true>(p) }
}

/// One output row's whole stride-2 windows for [`max_plane_s2`], by [`max_rows_s2_avx512`]
/// or [`max_rows_s2_avx2`]: `out[o]` = the max of `line[base + 2 * o + j]` over `lines`
/// (`LINES` of them, 0: any number) and `j < KW`, for `o < n`; whether a NaN or a -0.0 was
/// among the cells.
///
/// # Safety
/// As for the kernel `AVX512` picks.
#[inline(always)]
unsafe fn max_rows_s2<const KW: usize, const LINES: usize, const AVX512: bool>(
    lines: impl AsRef<[*const f32]>,
    base: usize,
    out: *mut f32,
    n: usize,
) -> bool {
    // SAFETY: this function's contract.
    unsafe {
        if AVX512 {
            max_rows_s2_avx512::<KW>(lines.as_ref(), base, out, n)
        } else {
            max_rows_s2_avx2::<KW, LINES>(lines, base, out, n)
        }
    }
}

/// [`max_rows_s2`] for windows taller than three rows (rare), listed in `tall`, out of the
/// way of the others (inline, the list's upkeep slowed B2 by 3 %).
///
/// # Safety
/// As for [`max_rows_s2`].
#[inline(never)]
#[cold]
unsafe fn max_rows_tall<const KW: usize, const AVX512: bool>(
    tall: &mut Vec<*const f32>,
    lines: impl Iterator<Item = *const f32>,
    base: usize,
    out: *mut f32,
    n: usize,
) -> bool {
    tall.clear();
    tall.extend(lines);
    // SAFETY: this function's contract.
    unsafe { max_rows_s2::<KW, 0, AVX512>(&tall[..], base, out, n) }
}

/// The body of [`max_plane_s2_avx2`] and [`max_plane_s2_avx512`], each output row's whole
/// windows by [`max_rows_s2`].
///
/// # Safety
/// As for the callers, with the instruction set `AVX512` picks available and `n` at least
/// its lanes.
#[inline(always)]
unsafe fn max_plane_s2<const KW: usize, const AVX512: bool>(p: &MaxPlaneS2) -> bool {
    let mut tall = Vec::new();
    for (i, row) in p.rows.iter().enumerate() {
        // A window's rows lie inside the input (the contract).
        let line = |t: usize| {
            p.x.wrapping_offset((row.first + t * p.row_step) as isize * p.x_stride)
        };
        // SAFETY: row i lies inside the output (the contract).
        let o = unsafe { p.out.offset(i as isize * p.out_stride) };
        let mut nan = false;
        for &(ow, w) in p.cut {
            let mut m = f32::NEG_INFINITY;
            for t in 0..row.taps {
                let line = line(t);
                for j in 0..w.taps {
                    // SAFETY: a window's cells lie inside its rows.
                    let v = unsafe { *line.add(w.first + j * p.col_step) };
                    nan |= v.is_nan();
                    m = if v > m { v } else { m };
                }
            }
            // SAFETY: ow is an output column of row i.
            unsafe { *o.add(ow) = m };
        }
        if let Some(stride) = p.prefetch_stride {
            // The new rows of the output row PREFETCH_OUTPUT_ROWS - 1 rows on, past the
            // plane's last row too: in a contiguous batch that is the next plane, whose
            // first rows would otherwise arrive late (any other address is only a wasted
            // hint). At most 4 rows a step, as a stride can be as large as usize allows.
            let below = row.first + row.taps.saturating_sub(1) * p.row_step + 1;
            let ahead = below.saturating_add(stride.saturating_mul(PREFETCH_OUTPUT_ROWS - 1));
            for h in ahead..ahead.saturating_add(stride.min(4)) {
                prefetch_row(
                    p.x.wrapping_offset((h as isize).wrapping_mul(p.x_stride)),
                    p.base + 2 * p.n + 1,
                );
            }
        }
        // SAFETY: outputs full_start..full_start + n of row i, the whole windows, over the
        // window's rows (the contract).
        let special = unsafe {
            let (out, base, n) = (o.add(p.full_start), p.base, p.n);
            match row.taps {
                3 => max_rows_s2::<KW, 3, AVX512>([line(0), line(1), line(2)], base, out, n),
                2 => max_rows_s2::<KW, 2, AVX512>([line(0), line(1)], base, out, n),
                1 => max_rows_s2::<KW, 1, AVX512>([line(0)], base, out, n),
                taps => max_rows_tall::<KW, AVX512>(&mut tall, (0..taps).map(line), base, out, n),
            }
        };
        if special || nan {
            return true;
        }
    }
    false
}

/// The output rows of one plane chunk for [`max_plane_s1_avx2`] and
/// [`max_plane_s1_avx512`].
pub(crate) struct MaxPlaneS1<'a> {
    /// Input row `h` starts at `x + h * x_stride`; each has `width` cells.
    pub x: *const f32,
    pub x_stride: isize,
    pub width: usize,
    /// Per output row, its window's rows: `first + t * row_step`, `t < taps`.
    pub rows: &'a [Window],
    pub row_step: usize,
    /// Window `o < outputs` of a row covers columns `o - pad_left .. o - pad_left + kw`, cut
    /// to the row.
    pub kw: usize,
    pub pad_left: usize,
    pub outputs: usize,
    /// Output row `i` is contiguous from `out + i * out_stride`.
    pub out: *mut f32,
    pub out_stride: isize,
    /// Cells of an output row's slot in the buffer: [`MaxPlaneS1::slot_len`] or more.
    pub slot: usize,
}

/// Output rows whose column maxima the rows-first stride-1 max keeps at once.
pub(crate) const MAX_S1_GROUP: usize = 8;

impl MaxPlaneS1<'_> {
    /// Cells of one output row's slot in the buffer of the rows-first stride-1 max with
    /// vectors of `lanes`: the row at `pad_left`, rounded up to whole vectors, and every
    /// window of every vector of outputs (`None` past `usize`).
    pub fn slot_len(
        lanes: usize,
        width: usize,
        kw: usize,
        pad_left: usize,
        outputs: usize,
    ) -> Option<usize> {
        let vectors = |n: usize| n.div_ceil(lanes).checked_mul(lanes);
        let row = pad_left.checked_add(vectors(width)?)?;
        let windows = vectors(outputs)?.checked_add(kw.checked_sub(1)?)?;
        Some(row.max(windows))
    }

    /// The rows the windows read, and with dilation the rows between them.
    fn rows_read(&self) -> Range<usize> {
        let read = self.rows.iter().filter(|r| r.taps > 0);
        let first = read.clone().map(|r| r.first).min().unwrap_or(0);
        let end = read
            .map(|r| r.first + (r.taps - 1) * self.row_step + 1)
            .max();
        first..end.unwrap_or(first)
    }

    /// Input row `h`.
    fn line(&self, h: usize) -> *const f32 {
        self.x.wrapping_offset(h as isize * self.x_stride)
    }
}

/// Stride-1 max (horizontal dilation 1, any width) for every output row of a plane chunk,
/// rows first. A group of output rows takes its window rows' maxima column by column into
/// slots of `tmp`, at `pad_left` between cells of -inf (which no window's maximum can
/// differ by: every window reads a cell); then every output, cut by the padding or not, is
/// the maximum of `kw` neighbours in its row's slot, a vector of outputs at a time, the
/// last one masked. A group's slots are all written before any is read back: read right
/// after its (overlapping, unaligned) store, a vector waits for the store to retire. One
/// pass over the rows first looks for NaN (then nothing is written) and -0.0. Whether a
/// NaN, or a -0.0 in a chunk where some output is zero, was met: only then can the order
/// of the fold show (which NaN, which zero), and the caller recomputes the chunk in
/// row-major order.
///
/// # Safety
/// AVX2 is available; `p` describes rows inside the input and output as its fields say;
/// `p.slot` is at least `slot_len` for 8 lanes, and `tmp.len() >= MAX_S1_GROUP * p.slot`.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn max_plane_s1_avx2(p: &MaxPlaneS1, tmp: &mut [f32]) -> bool {
    // SAFETY: this function's contract.
    unsafe { max_plane_s1::<Avx2>(p, tmp) }
}

/// [`max_plane_s1_avx2`] for AVX-512: 16 lanes, masks for the tails, NaN and -0.0 found by
/// `fpclass`, and the 2-, 3- and 5-wide windows unrolled.
///
/// # Safety
/// AVX-512F and AVX-512DQ are available; `p` describes rows inside the input and output as
/// its fields say; `p.slot` is at least `slot_len` for 16 lanes, and `tmp.len() >=
/// MAX_S1_GROUP * p.slot`.
#[target_feature(enable = "avx512f,avx512dq")]
pub(crate) unsafe fn max_plane_s1_avx512(p: &MaxPlaneS1, tmp: &mut [f32]) -> bool {
    // SAFETY: this function's contract.
    unsafe { max_plane_s1::<Avx512>(p, tmp) }
}

/// The vector steps of the rows-first stride-1 max on one instruction set (inlined into
/// its `#[target_feature]` entry point).
trait MaxS1Steps {
    /// Outputs a vector.
    const LANES: usize;
    /// `None` when a cell of the rows `p` reads is NaN; else whether one is -0.0.
    ///
    /// # Safety
    /// The set is available; `p` describes rows inside the input.
    unsafe fn specials(p: &MaxPlaneS1) -> Option<bool>;
    /// A vector of `LANES` cells.
    type Vector: Copy;
    /// -inf in every lane.
    fn neg_inf() -> Self::Vector;
    /// The lane-wise maximum of `m` and the vector at `src`.
    ///
    /// # Safety
    /// The set is available; `src` holds `LANES` cells.
    unsafe fn max_loaded(m: Self::Vector, src: *const f32) -> Self::Vector;
    /// The lane-wise maximum.
    ///
    /// # Safety
    /// The set is available.
    unsafe fn max(a: Self::Vector, b: Self::Vector) -> Self::Vector;
    /// Stores `v` at `dst`.
    ///
    /// # Safety
    /// The set is available; `dst` holds `LANES` cells.
    unsafe fn store(dst: *mut f32, v: Self::Vector);
    /// [`column_maxima`]'s last vector, columns `c..width` of fewer than `LANES`, -inf in
    /// the lanes beyond.
    ///
    /// # Safety
    /// The set is available; `row`'s rows lie inside the input; `dst` holds `LANES` cells.
    unsafe fn last_column_maxima(p: &MaxPlaneS1, row: &Window, c: usize, dst: *mut f32);
    /// `out[o]` = the maximum of `src[o..o + kw]` for `o < n`: whether one is zero.
    ///
    /// # Safety
    /// The set is available; `src` holds `n` rounded up to whole vectors `+ kw - 1` cells,
    /// `out` `n`.
    unsafe fn across(src: *const f32, kw: usize, n: usize, out: *mut f32) -> bool;
}

/// The maxima of `row`'s window rows, column by column, into `dst`: `width` cells, then
/// -inf up to a whole vector. Whole vectors by plain loads, the rows in two chains: without
/// NaN ([`MaxS1Steps::specials`] rules it out) the order of the maxima only decides the sign
/// of a zero, and a plane with -0.0 and a zero output is redone exactly. X2 0.89x and XB
/// 0.86x the time with AVX-512 (0.94x, 0.95x with AVX2) against a masked load per row
/// into one chain (AMD Zen 5).
///
/// # Safety
/// `S`'s set is available; `row`'s rows lie inside the input; `dst` is valid for `width`
/// cells rounded up to whole vectors.
#[inline(always)]
unsafe fn column_maxima<S: MaxS1Steps>(p: &MaxPlaneS1, row: &Window, dst: *mut f32) {
    let whole = p.width - p.width % S::LANES;
    // SAFETY (all): the rows lie inside the input, and whole vectors inside their rows;
    // dst holds `width` rounded up to whole vectors.
    let line = |k: usize| p.line(row.first + k * p.row_step);
    for c in (0..whole).step_by(S::LANES) {
        let (mut m0, mut m1) = (S::neg_inf(), S::neg_inf());
        let mut k = 0;
        while k + 2 <= row.taps {
            unsafe {
                m0 = S::max_loaded(m0, line(k).add(c));
                m1 = S::max_loaded(m1, line(k + 1).add(c));
            }
            k += 2;
        }
        if k < row.taps {
            m0 = unsafe { S::max_loaded(m0, line(k).add(c)) };
        }
        unsafe { S::store(dst.add(c), S::max(m0, m1)) };
    }
    if whole < p.width {
        unsafe { S::last_column_maxima(p, row, whole, dst.add(whole)) };
    }
}

/// [`max_plane_s1_avx2`]'s body, on the set `S`.
///
/// # Safety
/// As for [`max_plane_s1_avx2`], with `S`'s set and lanes.
#[inline(always)]
unsafe fn max_plane_s1<S: MaxS1Steps>(p: &MaxPlaneS1, tmp: &mut [f32]) -> bool {
    let len = p.slot;
    debug_assert!(
        Some(len) >= MaxPlaneS1::slot_len(S::LANES, p.width, p.kw, p.pad_left, p.outputs)
            && tmp.len() >= MAX_S1_GROUP * len
            && p.pad_left < p.kw
    );
    let tmp = &mut tmp[..MAX_S1_GROUP * len];
    tmp.fill(f32::NEG_INFINITY);
    let t = tmp.as_mut_ptr();
    // SAFETY: `p` describes rows inside the input (the contract).
    let Some(negative_zero) = (unsafe { S::specials(p) }) else {
        return true;
    };
    let mut zero = false;
    for (g, rows) in p.rows.chunks(MAX_S1_GROUP).enumerate() {
        for (r, row) in rows.iter().enumerate() {
            // SAFETY: a window's rows lie inside the input; slot r < MAX_S1_GROUP holds
            // `len` cells, pad_left + width rounded up to whole vectors at most.
            unsafe { column_maxima::<S>(p, row, t.add(r * len + p.pad_left)) };
        }
        for r in 0..rows.len() {
            // SAFETY: row g * MAX_S1_GROUP + r lies inside the output (the contract), and
            // slot r holds the windows of every vector of its outputs.
            zero |= unsafe {
                let o = p.out.offset((g * MAX_S1_GROUP + r) as isize * p.out_stride);
                S::across(t.add(r * len), p.kw, p.outputs, o)
            };
        }
    }
    negative_zero && zero
}

/// [`MaxS1Steps`] with AVX2.
struct Avx2;

impl MaxS1Steps for Avx2 {
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn specials(p: &MaxPlaneS1) -> Option<bool> {
        // SAFETY: AVX2 is available; row h lies between rows of windows, inside the input;
        // the lanes cover columns c..width (the rest read as 0.0).
        unsafe {
            let sign = _mm256_set1_epi32(i32::MIN);
            let (mut nan, mut negative_zero) = (_mm256_setzero_ps(), _mm256_setzero_si256());
            for h in p.rows_read() {
                for c in (0..p.width).step_by(8) {
                    let v = _mm256_maskload_ps(p.line(h).add(c), lanes_between(0, p.width - c));
                    nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
                    let bits = _mm256_castps_si256(v);
                    negative_zero = _mm256_or_si256(negative_zero, _mm256_cmpeq_epi32(bits, sign));
                }
            }
            (_mm256_movemask_ps(nan) == 0).then(|| _mm256_movemask_epi8(negative_zero) != 0)
        }
    }

    type Vector = __m256;

    #[inline(always)]
    fn neg_inf() -> __m256 {
        // SAFETY: AVX is available wherever this set is used (the trait's contract).
        unsafe { _mm256_set1_ps(f32::NEG_INFINITY) }
    }

    #[inline(always)]
    unsafe fn max_loaded(m: __m256, src: *const f32) -> __m256 {
        // SAFETY: the trait's contract.
        unsafe { _mm256_max_ps(_mm256_loadu_ps(src), m) }
    }

    #[inline(always)]
    unsafe fn max(a: __m256, b: __m256) -> __m256 {
        // SAFETY: the trait's contract.
        unsafe { _mm256_max_ps(a, b) }
    }

    #[inline(always)]
    unsafe fn store(dst: *mut f32, v: __m256) {
        // SAFETY: the trait's contract.
        unsafe { _mm256_storeu_ps(dst, v) }
    }

    #[inline(always)]
    unsafe fn last_column_maxima(p: &MaxPlaneS1, row: &Window, c: usize, dst: *mut f32) {
        // SAFETY: AVX2 is available; the lanes cover columns c..width of rows inside the
        // input (the rest read as 0.0, replaced by -inf); dst holds 8 cells.
        unsafe {
            let mask = lanes_between(0, p.width - c);
            let mut m = Self::neg_inf();
            for k in 0..row.taps {
                let v = _mm256_maskload_ps(p.line(row.first + k * p.row_step).add(c), mask);
                m = _mm256_max_ps(v, m);
            }
            _mm256_storeu_ps(
                dst,
                _mm256_blendv_ps(Self::neg_inf(), m, _mm256_castsi256_ps(mask)),
            );
        }
    }

    #[inline(always)]
    unsafe fn across(src: *const f32, kw: usize, n: usize, out: *mut f32) -> bool {
        // SAFETY: AVX2 is available; cells c..c + kw + 7 of `src`; the lanes (a whole
        // vector, or those of the mask) cover outputs c..n.
        unsafe {
            let mut zeros = _mm256_setzero_ps();
            for c in (0..n).step_by(8) {
                let mut m = _mm256_loadu_ps(src.add(c));
                for j in 1..kw {
                    m = _mm256_max_ps(_mm256_loadu_ps(src.add(c + j)), m);
                }
                let zero = _mm256_cmp_ps::<_CMP_EQ_OQ>(m, _mm256_setzero_ps());
                if n - c >= 8 {
                    zeros = _mm256_or_ps(zeros, zero);
                    _mm256_storeu_ps(out.add(c), m);
                } else {
                    let mask = lanes_between(0, n - c);
                    zeros = _mm256_or_ps(zeros, _mm256_and_ps(zero, _mm256_castsi256_ps(mask)));
                    _mm256_maskstore_ps(out.add(c), mask, m);
                }
            }
            _mm256_movemask_ps(zeros) != 0
        }
    }
}

/// [`MaxS1Steps`] with AVX-512F and AVX-512DQ.
struct Avx512;

impl Avx512 {
    /// `fpclass` classes: quiet and signalling NaN; -0.0.
    const NAN: i32 = 0x01 | 0x80;
    const NEGATIVE_ZERO: i32 = 0x04;

    /// Whether a cell of the rows `p` reads falls in the classes `CLASS`.
    ///
    /// # Safety
    /// AVX-512F and AVX-512DQ are available; `p` describes rows inside the input.
    #[inline(always)]
    unsafe fn classes_met<const CLASS: i32>(p: &MaxPlaneS1) -> bool {
        let mut met: __mmask16 = 0;
        for h in p.rows_read() {
            for c in (0..p.width).step_by(16) {
                // SAFETY: row h lies between rows of windows, inside the input (the
                // contract); the lanes cover columns c..width.
                let v = unsafe { _mm512_maskz_loadu_ps(lanes16(c, p.width), p.line(h).add(c)) };
                met |= _mm512_fpclass_ps_mask::<CLASS>(v);
            }
        }
        met != 0
    }
}

impl MaxS1Steps for Avx512 {
    const LANES: usize = 16;

    #[inline(always)]
    unsafe fn specials(p: &MaxPlaneS1) -> Option<bool> {
        // One pass looks for both classes, a second tells them apart when one was met.
        // SAFETY: the trait's contract.
        unsafe {
            if !Self::classes_met::<{ Self::NAN | Self::NEGATIVE_ZERO }>(p) {
                return Some(false);
            }
            (!Self::classes_met::<{ Self::NAN }>(p)).then_some(true)
        }
    }

    type Vector = __m512;

    #[inline(always)]
    fn neg_inf() -> __m512 {
        // SAFETY: AVX-512F is available wherever this set is used (the trait's contract).
        unsafe { _mm512_set1_ps(f32::NEG_INFINITY) }
    }

    #[inline(always)]
    unsafe fn max_loaded(m: __m512, src: *const f32) -> __m512 {
        // SAFETY: the trait's contract.
        unsafe { _mm512_max_ps(_mm512_loadu_ps(src), m) }
    }

    #[inline(always)]
    unsafe fn max(a: __m512, b: __m512) -> __m512 {
        // SAFETY: the trait's contract.
        unsafe { _mm512_max_ps(a, b) }
    }

    #[inline(always)]
    unsafe fn store(dst: *mut f32, v: __m512) {
        // SAFETY: the trait's contract.
        unsafe { _mm512_storeu_ps(dst, v) }
    }

    #[inline(always)]
    unsafe fn last_column_maxima(p: &MaxPlaneS1, row: &Window, c: usize, dst: *mut f32) {
        // SAFETY: AVX-512F is available; the lanes cover columns c..width of rows inside
        // the input (the rest read as -inf); dst holds 16 cells.
        unsafe {
            let neg_inf = Self::neg_inf();
            let mask = lanes16(c, p.width);
            let mut m = neg_inf;
            for k in 0..row.taps {
                let line = p.line(row.first + k * p.row_step);
                m = _mm512_max_ps(_mm512_mask_loadu_ps(neg_inf, mask, line.add(c)), m);
            }
            _mm512_storeu_ps(dst, m);
        }
    }

    #[inline(always)]
    unsafe fn across(src: *const f32, kw: usize, n: usize, out: *mut f32) -> bool {
        // SAFETY: the trait's contract.
        let zeros = unsafe {
            match kw {
                2 => max_across_avx512::<2>(src, kw, n, out),
                3 => max_across_avx512::<3>(src, kw, n, out),
                5 => max_across_avx512::<5>(src, kw, n, out),
                _ => max_across_avx512::<0>(src, kw, n, out),
            }
        };
        zeros != 0
    }
}

/// Lanes `c..n` of a vector of 16 from `c`.
#[inline(always)]
fn lanes16(c: usize, n: usize) -> __mmask16 {
    if n - c >= 16 {
        u16::MAX
    } else {
        (1 << (n - c)) - 1
    }
}

/// `out[o]` = the maximum of `src[o..o + kw]` for `o < n`, 16 outputs a vector (the last
/// one masked): which lanes are zero. `KW` is `kw` when specialised, 0 for any.
///
/// # Safety
/// AVX-512F is available; `src` holds `n.div_ceil(16) * 16 + kw - 1` cells, `out` `n`.
#[inline(always)]
unsafe fn max_across_avx512<const KW: usize>(
    src: *const f32,
    kw: usize,
    n: usize,
    out: *mut f32,
) -> __mmask16 {
    let kw = if KW == 0 { kw } else { KW };
    let mut zeros = 0;
    for c in (0..n).step_by(16) {
        // SAFETY: c + kw - 1 + 16 cells of `src` (the contract).
        let m = unsafe {
            let mut m = _mm512_loadu_ps(src.add(c));
            for j in 1..kw {
                m = _mm512_max_ps(_mm512_loadu_ps(src.add(c + j)), m);
            }
            m
        };
        let mask = lanes16(c, n);
        zeros |= _mm512_mask_cmp_ps_mask::<_CMP_EQ_OQ>(mask, m, _mm512_setzero_ps());
        // SAFETY: the lanes cover outputs c..n.
        unsafe { _mm512_mask_storeu_ps(out.add(c), mask, m) };
    }
    zeros
}

/// `dst[j * dst_stride + i] = src[i * src_stride + j]` for `i, j < 8`: an 8 x 8 block
/// transposed in registers (pairs unpacked, then quadruples shuffled, then halves swapped).
///
/// # Safety
/// AVX2 is available; the 8 rows of 8 cells at `src` are readable and those at `dst`
/// writable.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn transpose_8x8_avx2(
    src: *const f32,
    src_stride: usize,
    dst: *mut f32,
    dst_stride: usize,
) {
    // SAFETY: row i < 8 of the source lies inside it (the contract).
    let r: [__m256; 8] =
        std::array::from_fn(|i| unsafe { _mm256_loadu_ps(src.add(i * src_stride)) });
    let t: [__m256; 8] = std::array::from_fn(|k| {
        let (a, b) = (r[2 * (k / 2)], r[2 * (k / 2) + 1]);
        if k % 2 == 0 {
            _mm256_unpacklo_ps(a, b)
        } else {
            _mm256_unpackhi_ps(a, b)
        }
    });
    // Within each 128-bit half, s[4q + k] holds column k (of that half) of rows 4q..4q + 4.
    let s: [__m256; 8] = std::array::from_fn(|k| {
        let q = 4 * (k / 4);
        let (a, b) = (t[q + (k % 4) / 2], t[q + 2 + (k % 4) / 2]);
        if k % 2 == 0 {
            _mm256_shuffle_ps::<0x44>(a, b)
        } else {
            _mm256_shuffle_ps::<0xEE>(a, b)
        }
    });
    for j in 0..8 {
        let (low, high) = (s[j % 4], s[4 + j % 4]);
        let v = if j < 4 {
            _mm256_permute2f128_ps::<0x20>(low, high)
        } else {
            _mm256_permute2f128_ps::<0x31>(low, high)
        };
        // SAFETY: row j < 8 of the destination lies inside it (the contract).
        unsafe { _mm256_storeu_ps(dst.add(j * dst_stride), v) };
    }
}

/// Asks for the `len` cells from `row` to be brought into the cache: the rows an output
/// row will read next, so that main-memory latency overlaps this row's work.
#[inline(always)]
pub(crate) fn prefetch_row(row: *const f32, len: usize) {
    for offset in (0..len).step_by(16) {
        // SAFETY: a prefetch never faults or changes memory; the address is only a hint.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(offset).cast::<i8>()) };
    }
}
