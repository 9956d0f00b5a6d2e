//! Kernels and the one function that picks among them.
//!
//! Kernels see a plan and 2-D planes and nothing of the public API. [`reference`](mod@reference) is the
//! oracle they are all tested against.

pub(crate) mod generic;
pub mod reference;

use ndarray::{
    ArrayBase, ArrayView2, ArrayViewD, ArrayViewMut2, ArrayViewMutD, Ix2, IxDyn, RawData,
};

use crate::element::Element;
use crate::plan::Plan;
use crate::spec::Layout;

/// Below this many tap visits a call runs on the calling thread: spawning costs more.
#[cfg(feature = "rayon")]
const PARALLEL_MIN_WORK: usize = 1 << 15;

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

fn planes<'a, T>(x: ArrayViewD<'a, T>, out: &mut Vec<ArrayView2<'a, T>>) {
    if x.ndim() == 2 {
        out.extend(x.into_dimensionality::<Ix2>().ok());
    } else {
        for sub in x.into_outer_iter() {
            planes(sub, out);
        }
    }
}

fn planes_mut<'a, T>(x: ArrayViewMutD<'a, T>, out: &mut Vec<ArrayViewMut2<'a, T>>) {
    if x.ndim() == 2 {
        out.extend(x.into_dimensionality::<Ix2>().ok());
    } else {
        for sub in x.into_outer_iter_mut() {
            planes_mut(sub, out);
        }
    }
}

/// Runs `plan` over every plane of `x` into `out` (and `indices`), all three already
/// validated to have matching shapes, with spatial axes placed by `layout`.
pub(crate) fn run<T: Element>(
    plan: &Plan,
    layout: Layout,
    x: ArrayViewD<T>,
    out: ArrayViewMutD<T>,
    indices: Option<ArrayViewMutD<usize>>,
) {
    let mut inputs = Vec::new();
    planes(spatial_last(x, layout), &mut inputs);
    let mut outputs = Vec::new();
    planes_mut(spatial_last(out, layout), &mut outputs);
    let mut index_planes: Vec<Option<ArrayViewMut2<usize>>> = match indices {
        Some(indices) => {
            let mut v = Vec::new();
            planes_mut(spatial_last(indices, layout), &mut v);
            v.into_iter().map(Some).collect()
        }
        None => inputs.iter().map(|_| None).collect(),
    };
    let jobs: Vec<_> = inputs
        .into_iter()
        .zip(outputs)
        .zip(index_planes.drain(..))
        .map(|((x, o), i)| (x, o, i))
        .collect();
    let run_one = |(x, o, i): (
        ArrayView2<T>,
        ArrayViewMut2<T>,
        Option<ArrayViewMut2<usize>>,
    )| { generic::pool_plane(plan, x, o, i) };
    #[cfg(feature = "rayon")]
    {
        if plan.work(jobs.len()) >= PARALLEL_MIN_WORK {
            use rayon::prelude::*;
            jobs.into_par_iter().for_each(run_one);
            return;
        }
    }
    jobs.into_iter().for_each(run_one);
}
