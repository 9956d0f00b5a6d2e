//! Kernels and the one function that picks among them, [`select`].
//!
//! Kernels see a [`Plan`] and raw 2-D planes or `(H, W, C)` blocks, nothing of the public
//! API. Each is one `#[inline(always)]` body compiled for the instruction set chosen at run
//! time ([`isa`]). [`reference`](mod@reference) is the oracle they are all tested against.

pub(crate) mod channels_last;
pub(crate) mod generic;
pub(crate) mod global;
pub(crate) mod isa;
pub(crate) mod reduce;
pub mod reference;
pub(crate) mod rows;
pub(crate) mod sums;
pub(crate) mod transpose;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

use std::mem::MaybeUninit;
use std::ops::Range;

use ndarray::{
    Array, ArrayBase, ArrayView, ArrayView2, ArrayViewD, ArrayViewMut, ArrayViewMut1,
    ArrayViewMut2, ArrayViewMut3, ArrayViewMutD, Axis, Dimension, Ix2, Ix3, IxDyn, RawData,
};

use self::channels_last::{pool_channels_last, Block};
use self::isa::{current_isa, multiversion, Isa};
use self::reduce::{MaxOp, Reduce, SumOp};
use self::rows::{full_columns, max_rows, pool_columns, pool_rows, Plane};
use self::sums::{sum_rows, sum_separable, SUM_ROWS_MAX};
use crate::element::Element;
use crate::plan::{AxisGeometry, AxisWindows, Plan};
use crate::spec::{Layout, Mode};

/// The kernel a call runs, as chosen per call from the plan, the layout and the memory
/// layouts of input and output ([`pool2d_kernel`](crate::pool2d_kernel) tells which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Table-driven, per output: any plan, any strides, argmax indices, Lp.
    Generic,
    /// Channels-first direct kernel: blocks of outputs along a row, every tap folded in
    /// registers; `stride` is the horizontal stride it is specialised for (0: any).
    Rows {
        /// Horizontal stride the kernel is specialised for; 0 for the general one.
        stride: usize,
    },
    /// Channels-first max: each input row folded across once into a ring shared by
    /// overlapping windows, then the rows of each window folded down (for `f32` with
    /// AVX-512 or AVX2, at stride 1 or 2: each window's rows maxed down first, then
    /// across), NaN-free with an exact fallback. `width` and `stride` are the window width and horizontal stride it
    /// is specialised for (`max_rows_w3_s2` for ResNet's and AlexNet's 3x3 stride 2); 0:
    /// any. With AVX-512, stride-1 windows up to 8x8 over small planes whose output rows
    /// are as wide as the input's run as one flat line of outputs.
    MaxRows {
        /// Window width the kernel is specialised for; 0 for any.
        width: usize,
        /// Horizontal stride the kernel is specialised for; 0 for any.
        stride: usize,
    },
    /// Channels-first max or average with a horizontal stride of 3 or more: each output
    /// row folds its window's rows down first, then across (the across fold, a gather,
    /// once per output row rather than once per input row); a max over cells holding a NaN
    /// or -0.0 is recomputed in row-major order.
    ColumnsFirst,
    /// Channels-first separable average: column and window sums running where exact (for
    /// `f32` on x86 both ways), elsewhere summed directly (small windows) or by doubling;
    /// `O(log k)` per output at most.
    SumSeparable,
    /// Channels-first average of small windows (sides up to 4, horizontal stride 1 or 2):
    /// each output row sums its window's rows down, then its columns across, in registers
    /// (with AVX-512, small planes whose output rows are as wide as the input's run as one
    /// flat line of outputs, without a loop per row).
    SumRows,
    /// Channels-last: whole runs of contiguous channels per tap.
    ChannelsLast,
    /// Global pooling as one reduction per contiguous plane.
    GlobalReduce,
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kernel::Generic => f.write_str("generic"),
            Kernel::Rows { stride: 0 } => f.write_str("rows_sn"),
            Kernel::Rows { stride } => write!(f, "rows_s{stride}"),
            Kernel::MaxRows { width, stride } => {
                let any = |v: &usize| {
                    if *v == 0 {
                        "n".to_string()
                    } else {
                        v.to_string()
                    }
                };
                write!(f, "max_rows_w{}_s{}", any(width), any(stride))
            }
            Kernel::SumSeparable => f.write_str("sum_separable"),
            Kernel::ColumnsFirst => f.write_str("columns_first"),
            Kernel::SumRows => f.write_str("sum_rows"),
            Kernel::ChannelsLast => f.write_str("channels_last"),
            Kernel::GlobalReduce => f.write_str("global_reduce"),
        }
    }
}

/// Below this many tap visits (about 50 µs of work) a call runs on the calling thread:
/// waking the pool costs more (measured on SPP's 13x13 levels).
#[cfg(feature = "rayon")]
const PARALLEL_MIN_WORK: usize = 1 << 17;

/// Moves the channel axis of a channels-last array in front of the spatial axes, so that
/// every layout reads "leading axes, then (H, W)".
pub(crate) fn spatial_last<S: RawData>(
    view: ArrayBase<S, IxDyn>,
    layout: Layout,
) -> ArrayBase<S, IxDyn> {
    match layout {
        Layout::ChannelsFirst => view,
        Layout::ChannelsLast => {
            let n = view.ndim();
            let mut order: Vec<usize> = (0..n - 3).collect();
            order.extend([n - 1, n - 3, n - 2]);
            view.permuted_axes(order)
        }
    }
}

/// Unit stride (or a single element) along the last axis.
fn last_axis_contiguous<S: RawData>(view: &ArrayBase<S, IxDyn>) -> bool {
    let n = view.ndim();
    view.shape()[n - 1] <= 1 || view.strides()[n - 1] == 1
}

/// What [`select`] needs to know of the output's memory layout.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutLayout {
    /// Row-major and contiguous.
    pub standard: bool,
    /// Unit stride along the last axis.
    pub last_axis_contiguous: bool,
}

impl OutLayout {
    /// A freshly allocated output.
    pub const FRESH: OutLayout = OutLayout {
        standard: true,
        last_axis_contiguous: true,
    };

    /// The layout of `out`.
    pub fn of<T>(out: &ArrayViewMutD<T>) -> OutLayout {
        OutLayout {
            standard: out.is_standard_layout(),
            last_axis_contiguous: last_axis_contiguous(out),
        }
    }
}

/// Picks the kernel for a call: the plan, the layout, and the input's and output's memory
/// layouts decide.
pub(crate) fn select<T>(
    plan: &Plan,
    layout: Layout,
    x: &ArrayViewD<T>,
    out: OutLayout,
    indices: bool,
) -> Kernel {
    if indices || matches!(plan.mode, Mode::Lp(_)) {
        return Kernel::Generic;
    }
    if layout == Layout::ChannelsLast && last_axis_contiguous(x) && out.last_axis_contiguous {
        return Kernel::ChannelsLast;
    }
    let x = spatial_last(x.view(), layout);
    if !last_axis_contiguous(&x) {
        return Kernel::Generic;
    }
    let reducible = x.is_standard_layout() && out.standard;
    let (rows, cols) = match (plan.rows.geometry, plan.cols.geometry) {
        (Some(r), Some(c)) => (r, c),
        _ => {
            let global = plan.rows.len() == 1 && plan.cols.len() == 1;
            return if global && reducible {
                Kernel::GlobalReduce
            } else {
                Kernel::Generic
            };
        }
    };
    if reducible && whole_plane(plan, &rows, &cols) {
        return Kernel::GlobalReduce;
    }
    let undilated = rows.dilation == 1 && cols.dilation == 1;
    // The separable average keeps zero-padded rows, as many as a chunk of output rows'
    // windows span: only for paddings (and so windows) on the scale of the plane.
    let modest_padding = |g: &AxisGeometry| {
        g.pad_begin.saturating_add(g.pad_end) <= g.input.saturating_mul(4).saturating_add(64)
    };
    let modest = modest_padding(&rows) && modest_padding(&cols);
    let small = rows.kernel <= SUM_ROWS_MAX && cols.kernel <= SUM_ROWS_MAX;
    if plan.mode == Mode::Avg && undilated && modest {
        match cols.stride {
            1 | 2 if small => return Kernel::SumRows,
            1 => return Kernel::SumSeparable,
            _ => {}
        }
    }
    // Wide steps across: the across fold gathers, so it is done once per output row.
    if cols.stride >= 3 {
        return Kernel::ColumnsFirst;
    }
    if plan.mode == Mode::Max {
        let specialised =
            cols.dilation == 1 && matches!(cols.kernel, 2 | 3) && matches!(cols.stride, 1 | 2);
        return if specialised {
            Kernel::MaxRows {
                width: cols.kernel,
                stride: cols.stride,
            }
        } else {
            Kernel::MaxRows {
                width: 0,
                stride: 0,
            }
        };
    }
    Kernel::Rows {
        stride: if cols.stride <= 2 { cols.stride } else { 0 },
    }
}

/// Whether a strided plan is global pooling in other words: one window per plane, over
/// every cell once, and (an average) divided by the plane's size. A 7x7 average over 7x7
/// maps, as at the end of many classifiers, then runs as one reduction a plane (0.2x the
/// time it took as a separable average of one output row).
fn whole_plane(plan: &Plan, rows: &AxisGeometry, cols: &AxisGeometry) -> bool {
    // All `input` cells are taps only if they are consecutive (dilation skips cells).
    let whole = |a: &AxisWindows, g: &AxisGeometry| match a.windows.as_slice() {
        [w] => w.taps == g.input,
        _ => false,
    };
    let (Some(row), Some(col)) = (plan.rows.windows.first(), plan.cols.windows.first()) else {
        return false;
    };
    let size = rows.input as f64 * cols.input as f64;
    whole(&plan.rows, rows)
        && whole(&plan.cols, cols)
        && (plan.mode == Mode::Max || plan.divisor_at(row, col) == size)
}

/// Splits `x` along its leading axes into views of dimension `D` (planes or blocks), the
/// last leading axis on a view of fixed dimension: views of dynamic dimension cost about as
/// much to make as a small plane to pool.
fn split<'a, T, D: Dimension>(x: ArrayViewD<'a, T>, out: &mut Vec<ArrayView<'a, T, D>>) {
    if Some(x.ndim()) == D::NDIM {
        out.extend(x.into_dimensionality::<D>().ok());
    } else if Some(x.ndim()) == D::NDIM.map(|n| n + 1) {
        if let Ok(x) = x.into_dimensionality::<D::Larger>() {
            out.extend(
                x.into_outer_iter()
                    .filter_map(|v| v.into_dimensionality().ok()),
            );
        }
    } else {
        for sub in x.into_outer_iter() {
            split(sub, out);
        }
    }
}

/// [`split`] for mutable views.
fn split_mut<'a, T, D: Dimension>(x: ArrayViewMutD<'a, T>, out: &mut Vec<ArrayViewMut<'a, T, D>>) {
    if Some(x.ndim()) == D::NDIM {
        out.extend(x.into_dimensionality::<D>().ok());
    } else if Some(x.ndim()) == D::NDIM.map(|n| n + 1) {
        if let Ok(x) = x.into_dimensionality::<D::Larger>() {
            out.extend(
                x.into_outer_iter_mut()
                    .filter_map(|v| v.into_dimensionality().ok()),
            );
        }
    } else {
        for sub in x.into_outer_iter_mut() {
            split_mut(sub, out);
        }
    }
}

/// How many row chunks to cut each of `units` outputs of `rows` rows into, so that there
/// is work for every thread even at batch 1.
fn chunk_rows(units: usize, rows: usize) -> usize {
    #[cfg(feature = "rayon")]
    let target = 4 * rayon::current_num_threads();
    #[cfg(not(feature = "rayon"))]
    let target: usize = 1;
    let per_unit = target.div_ceil(units.max(1)).clamp(1, rows.max(1));
    rows.div_ceil(per_unit).max(1)
}

/// Cuts `view` into chunks of `rows` along axis 0, each with its first row's index (an
/// iterator: a `Vec` per plane was 6 % of a 5x5 max over 512 20x20 maps).
fn split_rows<T, D: ndarray::RemoveAxis>(
    view: ArrayBase<ndarray::ViewRepr<&mut T>, D>,
    rows: usize,
) -> impl Iterator<Item = (ArrayBase<ndarray::ViewRepr<&mut T>, D>, usize)> {
    let (mut rest, mut start) = (Some(view), 0);
    std::iter::from_fn(move || {
        let view = rest.take()?;
        let first = start;
        if view.len_of(Axis(0)) > rows {
            let (head, tail) = view.split_at(Axis(0), rows);
            (rest, start) = (Some(tail), start + rows);
            Some((head, first))
        } else {
            Some((view, first))
        }
    })
}

/// Runs jobs on the thread pool when there is enough work, else in order here; `init`
/// makes the scratch each thread reuses from job to job.
///
/// The calling thread takes jobs too, from one queue it shares with the pool's threads:
/// handed whole to the pool, a call waited for a worker to wake, and then for the caller
/// to be woken in turn, which on B3 cost as much as a second thread saved. From a queue,
/// whichever thread is running takes the next job, so a worker that wakes late takes
/// fewer. The caller takes from the front and the pool's threads from the back: from call
/// to call each side mostly gets the same planes again, still in its core's cache (1-4 %
/// less time than taking turns, back to back on two threads). Each takes a share of the
/// jobs left at once, so that threads meet at the lock a few times per call rather than
/// once per plane (B3 and B4, 96 and 192 planes of about a microsecond each: 0.94 and 0.92
/// of the time on two threads).
fn for_each_job<J: Send, S>(
    jobs: Vec<J>,
    work: usize,
    init: impl Fn() -> S + Sync + Send,
    run: impl Fn(&mut S, J) + Sync + Send,
) {
    #[cfg(feature = "rayon")]
    {
        // With one thread in the pool, handing jobs to it only adds two context switches.
        let threads = rayon::current_num_threads().min(jobs.len());
        if work >= PARALLEL_MIN_WORK && threads > 1 {
            let queue = std::sync::Mutex::new(std::collections::VecDeque::from(jobs));
            // The guard is dropped before the job runs. A poisoned lock only says that a
            // job panicked (the panic goes on to the caller); the queue itself is whole.
            // A share of what is left at a time (guided scheduling): a few lock round trips
            // per call, not one per plane, with single jobs at the end to even out.
            let next = |caller: bool, batch: &mut Vec<J>| {
                let mut queue = queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let (len, take) = (queue.len(), queue.len().div_ceil(2 * threads));
                if caller {
                    batch.extend(queue.drain(..take));
                } else {
                    batch.extend(queue.drain(len - take..));
                }
            };
            let drain = |caller: bool| {
                let mut scratch = init();
                let mut batch = Vec::new();
                loop {
                    next(caller, &mut batch);
                    if batch.is_empty() {
                        break;
                    }
                    for job in batch.drain(..) {
                        run(&mut scratch, job);
                    }
                }
            };
            rayon::in_place_scope(|scope| {
                for _ in 1..threads {
                    scope.spawn(|_| drain(false));
                }
                drain(true);
            });
            return;
        }
    }
    let _ = work;
    let mut scratch = init();
    jobs.into_iter().for_each(|job| run(&mut scratch, job));
}

/// Buffers a plane kernel reuses from job to job of one call (their contents are whatever
/// the last job left: kernels write before they read, or keep what holds for the whole
/// call).
pub(crate) struct Scratch<T: Element> {
    /// Accumulators.
    pub acc: Vec<T::Acc>,
    /// Elements.
    pub elems: Vec<T>,
    /// Indices (for `sum_rows`, kept from job to job: per output row of the call, where its
    /// reciprocal divisors start in `scales`).
    pub tags: Vec<usize>,
    /// An output row, for outputs whose rows are not contiguous.
    pub row: Vec<Uninit<T>>,
    /// Rows of reciprocal divisors by row factor.
    pub scales: Scales<T::Acc>,
    /// How each output row of a separable average is summed (running or afresh).
    pub row_sums: Vec<sums::RowSums>,
    /// Per input row, the range of its cells' exponents (see `sums::row_sums`).
    pub exponents: Vec<(u32, u32)>,
    /// Running column sums of a separable average (`sums::sum_lazy_x86`).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub running: Vec<T::Acc>,
    /// The input is larger than the caches: kernels ask for the rows they read next ahead
    /// of time (in cache, the requests only cost: a quarter more time on B1). Only the x86
    /// paths ask so far.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub streaming: bool,
    /// The output columns whose windows the padding cuts, with their windows: the same for
    /// every plane of a call, so listed once (by the x86 stride-2 max).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub cut_windows: Vec<(usize, crate::plan::Window)>,
    /// Reciprocal divisors of a whole plane's outputs in order, for the flat small-window
    /// averages (the same for every plane of a call).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub flat_scales: Vec<T::Acc>,
    /// The flat small-window averages' column table and where it starts
    /// (`x86::flat_columns`).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub flat_columns: (Vec<i64>, usize),
    /// The flat stride-1 max's column table (`x86::flat_columns`).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub flat_columns32: (Vec<i32>, usize),
}

/// Inputs above this many bytes are taken to stream from main memory.
const STREAMING_BYTES: usize = 32 << 20;

/// Rows of reciprocal divisors, `rows[i * outputs..]` for the row factor `factors[i]`:
/// computed once per call, not once per plane.
pub(crate) struct Scales<A> {
    /// The row factors met so far.
    pub factors: Vec<f64>,
    /// One row of reciprocal divisors per factor.
    pub rows: Vec<A>,
}

impl<T: Element> Scratch<T> {
    fn new() -> Self {
        Scratch {
            acc: Vec::new(),
            elems: Vec::new(),
            tags: Vec::new(),
            row: Vec::new(),
            scales: Scales {
                factors: Vec::new(),
                rows: Vec::new(),
            },
            row_sums: Vec::new(),
            exponents: Vec::new(),
            running: Vec::new(),
            streaming: false,
            cut_windows: Vec::new(),
            flat_scales: Vec::new(),
            flat_columns: (Vec::new(), 0),
            flat_columns32: (Vec::new(), 0),
        }
    }
}

/// Outputs a portable kernel keeps in registers at once.
pub(crate) const BLOCK: usize = 16;

/// The first `BLOCK` cells of `s` (one bounds check for the whole block).
#[inline(always)]
pub(crate) fn block<A>(s: &[A]) -> &[A; BLOCK] {
    s[..BLOCK].try_into().expect("BLOCK cells")
}

/// [`block`], mutable.
#[inline(always)]
pub(crate) fn block_mut<A>(s: &mut [A]) -> &mut [A; BLOCK] {
    (&mut s[..BLOCK]).try_into().expect("BLOCK cells")
}

/// Starts of `width`-wide blocks covering `0..n` (`n >= width`), the last one moved back
/// to end at `n`: it then recomputes a few cells, with the same result.
#[inline(always)]
pub(crate) fn block_starts(n: usize, width: usize) -> impl Iterator<Item = usize> {
    (0..n / width)
        .map(move |b| b * width)
        .chain((!n.is_multiple_of(width)).then(|| n - width))
}

/// Cells a kernel writes without reading: outputs are never filled just to be overwritten.
pub(crate) type Uninit<T> = MaybeUninit<T>;

/// Runs `plan` over `x` into the fresh `out` (and `indices`), which it returns initialised.
/// Shapes were validated to match, with spatial axes placed by `layout`.
pub(crate) fn run_new<T: Element, D: Dimension>(
    plan: &Plan,
    layout: Layout,
    x: ArrayViewD<T>,
    mut out: Array<Uninit<T>, D>,
    mut indices: Option<Array<Uninit<usize>, D>>,
) -> (Array<T, D>, Option<Array<usize, D>>) {
    run(
        plan,
        layout,
        x,
        out.view_mut().into_dyn(),
        indices.as_mut().map(|i| i.view_mut().into_dyn()),
    );
    // SAFETY: every kernel writes every output cell (and, asked for indices, every index);
    // the sentinel tests of tests/kernels.rs check each kernel at every edge.
    unsafe { (out.assume_init(), indices.map(|i| i.assume_init())) }
}

/// Runs `plan` over `x` into the initialised `out`.
pub(crate) fn run_into<T: Element>(
    plan: &Plan,
    layout: Layout,
    x: ArrayViewD<T>,
    mut out: ArrayViewMutD<T>,
) {
    let cells = out.raw_view_mut().cast::<Uninit<T>>();
    // SAFETY: `MaybeUninit<T>` has `T`'s layout, the view borrows `out` exclusively and
    // lives only for this call, and kernels write only initialised values into it.
    let cells = unsafe { cells.deref_into_view_mut() };
    run(plan, layout, x, cells, None);
}

/// Runs `plan` over `x` into `out` (and `indices`), all already validated to have matching
/// shapes, with spatial axes placed by `layout`.
fn run<T: Element>(
    plan: &Plan,
    layout: Layout,
    x: ArrayViewD<T>,
    out: ArrayViewMutD<Uninit<T>>,
    indices: Option<ArrayViewMutD<Uninit<usize>>>,
) {
    if out.is_empty() {
        // Nothing to write (and the plan lists no windows for an empty output).
        return;
    }
    let kernel = select(plan, layout, &x, OutLayout::of(&out), indices.is_some());
    run_with(kernel, current_isa(), plan, layout, x, out, indices)
}

/// The cells to write output row `row` into: the row itself when contiguous, else `buf`,
/// which [`flush_row`] then copies across. (Not a closure-taking helper: a closure is not
/// inlined into the per-ISA copies of a kernel, so it would run without their features.)
#[inline(always)]
pub(crate) fn row_cells<'s, T: Copy>(
    row: &'s mut ArrayViewMut1<Uninit<T>>,
    buf: &'s mut Vec<Uninit<T>>,
) -> &'s mut [Uninit<T>] {
    let len = row.len();
    match row.as_slice_mut() {
        Some(cells) => cells,
        None => {
            buf.clear();
            buf.resize(len, MaybeUninit::uninit());
            buf
        }
    }
}

/// Copies `buf` into `row` when [`row_cells`] gave `buf` out.
#[inline(always)]
pub(crate) fn flush_row<T: Copy>(mut row: ArrayViewMut1<Uninit<T>>, buf: &[Uninit<T>]) {
    if row.as_slice_mut().is_none() {
        row.iter_mut().zip(buf).for_each(|(o, b)| *o = *b);
    }
}

/// Writes `src` into `dst` (of the same length).
#[inline(always)]
pub(crate) fn write_slice<T: Copy>(dst: &mut [Uninit<T>], src: &[T]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        d.write(s);
    }
}

/// [`run`] with a given kernel and instruction set (the kernel must be one `select` may
/// pick for these arguments).
pub(crate) fn run_with<T: Element>(
    kernel: Kernel,
    isa: Isa,
    plan: &Plan,
    layout: Layout,
    x: ArrayViewD<T>,
    out: ArrayViewMutD<Uninit<T>>,
    indices: Option<ArrayViewMutD<Uninit<usize>>>,
) {
    let outputs_per_plane = plan
        .rows
        .len()
        .max(1)
        .saturating_mul(plan.cols.len().max(1));
    let work = plan.work((out.len() / outputs_per_plane).max(1));
    let input_bytes = x.len().saturating_mul(std::mem::size_of::<T>());
    match kernel {
        Kernel::GlobalReduce => {
            let x = spatial_last(x, layout);
            let mut out = spatial_last(out, layout);
            if let (Some(xs), Some(os)) = (x.as_slice(), out.as_slice_mut()) {
                let size = (xs.len() / os.len().max(1)).max(1);
                let jobs: Vec<_> = xs.chunks(size * 256).zip(os.chunks_mut(256)).collect();
                let mode = plan.mode;
                for_each_job(
                    jobs,
                    work,
                    || (),
                    |_, (xs, os): (&[T], &mut [Uninit<T>])| {
                        if mode != Mode::Avg || !global::mean_planes_simd(isa, xs, size, os) {
                            run_global(isa, mode, size, xs, os)
                        }
                    },
                );
            } else {
                run_with(
                    Kernel::Generic,
                    isa,
                    plan,
                    Layout::ChannelsFirst,
                    x,
                    out,
                    None,
                );
            }
        }
        Kernel::ChannelsLast => {
            let mut xb = Vec::new();
            split::<T, Ix3>(x.view(), &mut xb);
            let Some(xb) = xb.iter().map(Block::new).collect::<Option<Vec<_>>>() else {
                return run_with(Kernel::Generic, isa, plan, layout, x, out, None);
            };
            let mut ob = Vec::new();
            split_mut::<Uninit<T>, Ix3>(out, &mut ob);
            let rows = chunk_rows(ob.len(), plan.rows.len());
            let jobs: Vec<_> = xb
                .into_iter()
                .zip(ob)
                .flat_map(|(x, o)| split_rows(o, rows).map(move |(o, oh0)| (x, o, oh0)))
                .collect();
            for_each_job(
                jobs,
                work,
                || (),
                |_, (block, o, oh0): (Block<T>, ArrayViewMut3<Uninit<T>>, usize)| {
                    run_block(isa, plan, block, o, oh0)
                },
            );
        }
        Kernel::Generic
        | Kernel::Rows { .. }
        | Kernel::MaxRows { .. }
        | Kernel::ColumnsFirst
        | Kernel::SumSeparable
        | Kernel::SumRows => {
            let mut xp = Vec::new();
            split::<T, Ix2>(spatial_last(x, layout), &mut xp);
            let mut op = Vec::new();
            split_mut::<Uninit<T>, Ix2>(spatial_last(out, layout), &mut op);
            let mut ip: Vec<Option<ArrayViewMut2<Uninit<usize>>>> = match indices {
                Some(indices) => {
                    let mut v = Vec::new();
                    split_mut::<Uninit<usize>, Ix2>(spatial_last(indices, layout), &mut v);
                    v.into_iter().map(Some).collect()
                }
                None => xp.iter().map(|_| None).collect(),
            };
            let rows = chunk_rows(op.len(), plan.rows.len());
            let full = full_columns(&plan.cols);
            let mut jobs = Vec::with_capacity(op.len());
            for ((x, o), i) in xp.into_iter().zip(op).zip(ip.drain(..)) {
                match i {
                    Some(i) => {
                        for ((o, oh0), (i, _)) in split_rows(o, rows).zip(split_rows(i, rows)) {
                            jobs.push((x, o, Some(i), oh0));
                        }
                    }
                    None => {
                        for (o, oh0) in split_rows(o, rows) {
                            jobs.push((x, o, None, oh0));
                        }
                    }
                }
            }
            let streaming = input_bytes > STREAMING_BYTES;
            let init = || Scratch {
                streaming,
                ..Scratch::new()
            };
            for_each_job(jobs, work, init, |scratch, (x, o, i, oh0)| {
                run_plane(isa, kernel, plan, &full, x, o, i, oh0, scratch)
            });
        }
    }
}

/// One plane job of a planes kernel.
#[allow(clippy::too_many_arguments)]
fn run_plane<T: Element>(
    isa: Isa,
    kernel: Kernel,
    plan: &Plan,
    full: &Range<usize>,
    x: ArrayView2<T>,
    mut out: ArrayViewMut2<Uninit<T>>,
    indices: Option<ArrayViewMut2<Uninit<usize>>>,
    oh0: usize,
    scratch: &mut Scratch<T>,
) {
    let Some(p) = Plane::new(&x) else {
        return generic::pool_plane(plan, x, out, indices, oh0);
    };
    let job = PlaneJob {
        isa,
        plan,
        full: full.clone(),
        x: p,
        oh0,
    };
    match (kernel, plan.mode) {
        (Kernel::MaxRows { width, stride }, Mode::Max) => {
            let finite = match (width, stride) {
                (2, 1) => run_kernel(isa, MaxRows::<2, 1>, &job, out.view_mut(), scratch),
                (2, 2) => run_kernel(isa, MaxRows::<2, 2>, &job, out.view_mut(), scratch),
                (3, 1) => run_kernel(isa, MaxRows::<3, 1>, &job, out.view_mut(), scratch),
                (3, 2) => run_kernel(isa, MaxRows::<3, 2>, &job, out.view_mut(), scratch),
                _ => run_kernel(isa, MaxRows::<0, 0>, &job, out.view_mut(), scratch),
            };
            if !finite {
                let cols = plan.cols.geometry.map_or(0, |g| g.stride);
                rows_exact(
                    isa,
                    MaxOp,
                    if cols <= 2 { cols } else { 0 },
                    &job,
                    out,
                    scratch,
                );
            }
        }
        (Kernel::Rows { stride }, Mode::Avg) => rows_exact(isa, SumOp, stride, &job, out, scratch),
        (Kernel::ColumnsFirst, Mode::Max) => {
            if !run_kernel(isa, Columns(MaxOp), &job, out.view_mut(), scratch) {
                rows_exact(isa, MaxOp, 0, &job, out, scratch);
            }
        }
        (Kernel::ColumnsFirst, Mode::Avg) => {
            run_kernel(isa, Columns(SumOp), &job, out, scratch);
        }
        (Kernel::SumSeparable, Mode::Avg) => {
            run_kernel(isa, SumSeparable, &job, out, scratch);
        }
        (Kernel::SumRows, Mode::Avg) => {
            run_kernel(isa, SumRows, &job, out, scratch);
        }
        _ => generic::pool_plane(plan, x, out, indices, oh0),
    }
}

/// The exact row kernel for `stride`.
fn rows_exact<T: Element, R: Reduce<T>>(
    isa: Isa,
    r: R,
    stride: usize,
    job: &PlaneJob<T>,
    out: ArrayViewMut2<Uninit<T>>,
    scratch: &mut Scratch<T>,
) {
    match stride {
        1 => run_kernel(isa, RowsExact::<R, 1>(r), job, out, scratch),
        2 => run_kernel(isa, RowsExact::<R, 2>(r), job, out, scratch),
        _ => run_kernel(isa, RowsExact::<R, 0>(r), job, out, scratch),
    };
}

/// What a plane kernel reads besides its output.
struct PlaneJob<'a, T> {
    isa: Isa,
    plan: &'a Plan,
    full: Range<usize>,
    x: Plane<'a, T>,
    oh0: usize,
}

/// A plane kernel, compiled per instruction set by [`run_kernel`].
trait PlaneKernel<T: Element>: Copy {
    /// Runs over the job's rows into `out`; false when it declined (the caller then runs
    /// an exact kernel).
    ///
    /// # Safety
    /// The job's plan was built for its plane's size, with the geometry the kernel needs.
    unsafe fn run(
        self,
        job: &PlaneJob<T>,
        out: ArrayViewMut2<Uninit<T>>,
        scratch: &mut Scratch<T>,
    ) -> bool;
}

#[derive(Clone, Copy)]
struct MaxRows<const KW: usize, const SW: usize>;
impl<T: Element, const KW: usize, const SW: usize> PlaneKernel<T> for MaxRows<KW, SW> {
    #[inline(always)]
    unsafe fn run(
        self,
        job: &PlaneJob<T>,
        out: ArrayViewMut2<Uninit<T>>,
        scratch: &mut Scratch<T>,
    ) -> bool {
        // SAFETY: the trait's contract.
        unsafe {
            max_rows::<T, KW, SW>(
                job.isa,
                job.plan,
                job.full.clone(),
                job.x,
                out,
                job.oh0,
                scratch,
            )
        }
    }
}

#[derive(Clone, Copy)]
struct RowsExact<R, const STRIDE: usize>(R);
impl<T: Element, R: Reduce<T>, const STRIDE: usize> PlaneKernel<T> for RowsExact<R, STRIDE> {
    #[inline(always)]
    unsafe fn run(
        self,
        job: &PlaneJob<T>,
        out: ArrayViewMut2<Uninit<T>>,
        scratch: &mut Scratch<T>,
    ) -> bool {
        // SAFETY: the trait's contract.
        unsafe {
            pool_rows::<T, R, STRIDE>(
                self.0,
                job.plan,
                job.full.clone(),
                job.x,
                out,
                job.oh0,
                scratch,
            )
        };
        true
    }
}

#[derive(Clone, Copy)]
struct Columns<R>(R);
impl<T: Element, R: Reduce<T>> PlaneKernel<T> for Columns<R> {
    #[inline(always)]
    unsafe fn run(
        self,
        job: &PlaneJob<T>,
        out: ArrayViewMut2<Uninit<T>>,
        scratch: &mut Scratch<T>,
    ) -> bool {
        // SAFETY: the trait's contract.
        unsafe {
            pool_columns(
                self.0,
                job.plan,
                job.full.clone(),
                job.x,
                out,
                job.oh0,
                scratch,
            )
        }
    }
}

#[derive(Clone, Copy)]
struct SumSeparable;
impl<T: Element> PlaneKernel<T> for SumSeparable {
    #[inline(always)]
    unsafe fn run(
        self,
        job: &PlaneJob<T>,
        out: ArrayViewMut2<Uninit<T>>,
        scratch: &mut Scratch<T>,
    ) -> bool {
        // SAFETY: the trait's contract.
        unsafe { sum_separable(job.isa, job.plan, job.x, out, job.oh0, scratch) };
        true
    }
}

#[derive(Clone, Copy)]
struct SumRows;
impl<T: Element> PlaneKernel<T> for SumRows {
    #[inline(always)]
    unsafe fn run(
        self,
        job: &PlaneJob<T>,
        out: ArrayViewMut2<Uninit<T>>,
        scratch: &mut Scratch<T>,
    ) -> bool {
        // SAFETY: the trait's contract.
        unsafe { sum_rows(job.isa, job.plan, job.x, out, job.oh0, scratch) };
        true
    }
}

multiversion! {
    /// Runs a plane kernel compiled for `isa`.
    fn run_kernel[T: Element, K: PlaneKernel<T>](kernel: K, job: &PlaneJob<T>, out: ArrayViewMut2<Uninit<T>>, scratch: &mut Scratch<T>) -> bool {
        // SAFETY: `select` chose the kernel for this plan's geometry, which was built for
        // this plane's size.
        unsafe { kernel.run(job, out, scratch) }
    }
}

multiversion! {
    /// One block job of the channels-last kernel.
    fn run_block[T: Element](plan: &Plan, block: Block<T>, out: ArrayViewMut3<Uninit<T>>, oh0: usize) -> () {
        match plan.mode {
            // SAFETY: the plan was built for this block's spatial size.
            Mode::Max => unsafe { pool_channels_last(MaxOp, plan, block, out, oh0) },
            _ => unsafe { pool_channels_last(SumOp, plan, block, out, oh0) },
        }
    }
}

multiversion! {
    /// Global pooling of consecutive contiguous planes of `size` cells.
    fn run_global[T: Element](mode: Mode, size: usize, xs: &[T], os: &mut [Uninit<T>]) -> () {
        for (plane, o) in xs.chunks(size).zip(os.iter_mut()) {
            o.write(match mode {
                Mode::Max => global::reduce_plane(MaxOp, plane, true),
                _ => global::reduce_plane(SumOp, plane, false),
            });
        }
    }
}
