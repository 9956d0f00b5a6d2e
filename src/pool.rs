//! The pooling functions: validate, plan, allocate, dispatch.

use std::mem::MaybeUninit;

use ndarray::{Array, ArrayBase, ArrayViewMut, Data, Dimension};

use crate::element::Element;
use crate::error::{PoolError, Result};
use crate::kernels::{self, Kernel, OutLayout};
use crate::plan::{Axis2, AxisWindows, Divisor, Plan};
use crate::spec::{Layout, Mode, PoolSpec, Size2};

/// A validated call: the plan and the full output shape.
pub(crate) struct Prepared {
    pub plan: Plan,
    pub layout: Layout,
    pub out_shape: Vec<usize>,
}

/// The input's spatial sizes and their axes, refusing too few axes and empty planes.
fn spatial(shape: &[usize], layout: Layout) -> Result<(usize, usize, usize, usize)> {
    let (ah, aw) = layout.spatial_axes(shape.len())?;
    let (h, w) = (shape[ah], shape[aw]);
    if h == 0 || w == 0 {
        return Err(PoolError::ZeroSizedInput {
            height: h,
            width: w,
        });
    }
    Ok((ah, aw, h, w))
}

/// The output shape, refusing one whose byte size does not fit in `isize`.
fn output_shape<T>(
    shape: &[usize],
    axes: (usize, usize),
    out: (usize, usize),
) -> Result<Vec<usize>> {
    let mut out_shape = shape.to_vec();
    out_shape[axes.0] = out.0;
    out_shape[axes.1] = out.1;
    // ndarray bounds the product of the non-zero axes (even when another axis is zero).
    let bytes = out_shape
        .iter()
        .filter(|&&n| n > 0)
        .try_fold(std::mem::size_of::<T>().max(1), |acc, &n| {
            acc.checked_mul(n)
        })
        .filter(|&b| b <= isize::MAX as usize);
    if bytes.is_none() {
        return Err(PoolError::Overflow {
            what: format!("output of shape {out_shape:?} has more bytes than isize::MAX"),
        });
    }
    Ok(out_shape)
}

impl Prepared {
    /// Plans `spec` over an input of `shape`.
    pub fn strided<T>(spec: &PoolSpec, shape: &[usize]) -> Result<Self> {
        spec.validate()?;
        let layout = spec.layout_value();
        let (ah, aw, h, w) = spatial(shape, layout)?;
        let rows = spec.axis_geometry(Axis2::Height, h)?;
        let cols = spec.axis_geometry(Axis2::Width, w)?;
        let out_shape = output_shape::<T>(shape, (ah, aw), (rows.output, cols.output))?;
        let listed = out_shape.iter().all(|&n| n > 0);
        let divisor = match (spec.divisor(), spec.counts_pad()) {
            (Some(d), _) => Divisor::Fixed(d),
            (None, true) => Divisor::Padded,
            (None, false) => Divisor::Valid,
        };
        Ok(Prepared {
            plan: Plan {
                mode: spec.mode_value(),
                rows: AxisWindows::strided(rows, listed)?,
                cols: AxisWindows::strided(cols, listed)?,
                divisor,
            },
            layout,
            out_shape,
        })
    }

    /// Plans adaptive pooling to `out` bins over an input of `shape`.
    pub fn adaptive<T>(out: Size2, mode: Mode, layout: Layout, shape: &[usize]) -> Result<Self> {
        PoolSpec::new(mode, 1).validate()?;
        let (ah, aw, h, w) = spatial(shape, layout)?;
        for (axis, n) in [(Axis2::Height, out.h), (Axis2::Width, out.w)] {
            if n == 0 {
                return Err(PoolError::ZeroOutputSize { axis });
            }
        }
        let out_shape = output_shape::<T>(shape, (ah, aw), (out.h, out.w))?;
        let listed = out_shape.iter().all(|&n| n > 0);
        Ok(Prepared {
            plan: Plan {
                mode,
                rows: AxisWindows::adaptive(Axis2::Height, h, out.h, listed)?,
                cols: AxisWindows::adaptive(Axis2::Width, w, out.w, listed)?,
                divisor: Divisor::Valid,
            },
            layout,
            out_shape,
        })
    }

    /// Checks that `out` has the output shape.
    fn check_out<A, D: Dimension>(&self, out: &ArrayViewMut<A, D>) -> Result<()> {
        if out.shape() != self.out_shape.as_slice() {
            return Err(PoolError::OutputShape {
                expected: self.out_shape.clone(),
                actual: out.shape().to_vec(),
            });
        }
        Ok(())
    }

    /// Allocates an output of the output shape with dimension type `D`, its cells left
    /// for the kernel to write.
    fn allocate<A, D: Dimension>(&self, like: &D) -> Result<Array<MaybeUninit<A>, D>> {
        let mut dim = like.clone();
        dim.slice_mut().copy_from_slice(&self.out_shape);
        let len: usize = self.out_shape.iter().product();
        let mut data = Vec::new();
        data.try_reserve_exact(len)
            .map_err(|_| PoolError::Allocation {
                bytes: len.saturating_mul(std::mem::size_of::<A>()),
            })?;
        data.resize_with(len, MaybeUninit::uninit);
        Array::from_shape_vec(dim, data).map_err(|e| PoolError::Overflow {
            what: format!("output of shape {:?}: {e}", self.out_shape),
        })
    }

    /// The kernel a fresh-output call on `x` runs.
    pub fn kernel<S, T, D>(&self, x: &ArrayBase<S, D>, indices: bool) -> Kernel
    where
        S: Data<Elem = T>,
        D: Dimension,
    {
        kernels::select(
            &self.plan,
            self.layout,
            &x.view().into_dyn(),
            OutLayout::FRESH,
            indices,
        )
    }

    /// Pools `x` into a new array.
    pub fn run_new<S, T, D>(&self, x: &ArrayBase<S, D>) -> Result<Array<T, D>>
    where
        S: Data<Elem = T>,
        T: Element,
        D: Dimension,
    {
        let out = self.allocate(&x.raw_dim())?;
        let (out, _) = kernels::run_new(&self.plan, self.layout, x.view().into_dyn(), out, None);
        Ok(out)
    }

    /// Pools `x` into `out`, after checking its shape.
    pub fn run_into<S, T, D>(&self, x: &ArrayBase<S, D>, out: ArrayViewMut<T, D>) -> Result<()>
    where
        S: Data<Elem = T>,
        T: Element,
        D: Dimension,
    {
        self.check_out(&out)?;
        kernels::run_into(&self.plan, self.layout, x.view().into_dyn(), out.into_dyn());
        Ok(())
    }

    /// Pools `x` into a new array with per-plane argmax indices.
    pub fn run_with_indices<S, T, D>(
        &self,
        x: &ArrayBase<S, D>,
    ) -> Result<(Array<T, D>, Array<usize, D>)>
    where
        S: Data<Elem = T>,
        T: Element,
        D: Dimension,
    {
        let out = self.allocate(&x.raw_dim())?;
        let indices = self.allocate(&x.raw_dim())?;
        match kernels::run_new(
            &self.plan,
            self.layout,
            x.view().into_dyn(),
            out,
            Some(indices),
        ) {
            (out, Some(indices)) => Ok((out, indices)),
            (_, None) => unreachable!("run_new returns the indices it is given"),
        }
    }
}

/// Pools the spatial axes of `x` as `spec` says, into a new array of the same
/// dimensionality whose non-spatial axes are those of `x`.
///
/// ```
/// use ndpool::{ndarray::array, pool2d, PoolSpec};
/// let x = array![[1.0f32, 2., 3., 4.], [5., 6., 7., 8.]];
/// assert_eq!(pool2d(&x, &PoolSpec::max(2)).unwrap(), array![[6.0f32, 8.]]);
/// assert_eq!(pool2d(&x, &PoolSpec::avg((1, 2))).unwrap(), array![[1.5f32, 3.5], [5.5, 7.5]]);
/// ```
pub fn pool2d<S, T, D>(x: &ArrayBase<S, D>, spec: &PoolSpec) -> Result<Array<T, D>>
where
    S: Data<Elem = T>,
    T: Element,
    D: Dimension,
{
    Prepared::strided::<T>(spec, x.shape())?.run_new(x)
}

/// [`pool2d`] into a caller-provided `out` (any strides). Every check runs before the first
/// write: on error `out` is untouched.
///
/// ```
/// use ndpool::{ndarray::{array, Array2}, pool2d_into, PoolSpec};
/// let x = array![[1.0f64, 2.], [3., 4.]];
/// let mut out = Array2::zeros((1, 1));
/// pool2d_into(&x, &PoolSpec::avg(2), out.view_mut()).unwrap();
/// assert_eq!(out[[0, 0]], 2.5);
/// assert!(pool2d_into(&x, &PoolSpec::avg(1), out.view_mut()).is_err());
/// ```
pub fn pool2d_into<S, T, D>(
    x: &ArrayBase<S, D>,
    spec: &PoolSpec,
    out: ArrayViewMut<T, D>,
) -> Result<()>
where
    S: Data<Elem = T>,
    T: Element,
    D: Dimension,
{
    Prepared::strided::<T>(spec, x.shape())?.run_into(x, out)
}

/// Max pooling with the argmax of each window: index `h * W + w` inside its own plane, as
/// PyTorch's `return_indices=True` (NaN wins, the last NaN; among equal maxima the first).
///
/// ```
/// use ndpool::{ndarray::array, max_pool2d_with_indices, PoolSpec};
/// let x = array![[1.0f32, 9., 3.], [4., 5., 9.]];
/// let (v, i) = max_pool2d_with_indices(&x, &PoolSpec::max(2).stride(1)).unwrap();
/// assert_eq!(v, array![[9.0f32, 9.]]);
/// assert_eq!(i, array![[1usize, 1]]);
/// ```
pub fn max_pool2d_with_indices<S, T, D>(
    x: &ArrayBase<S, D>,
    spec: &PoolSpec,
) -> Result<(Array<T, D>, Array<usize, D>)>
where
    S: Data<Elem = T>,
    T: Element,
    D: Dimension,
{
    if spec.mode_value() != Mode::Max {
        return Err(PoolError::IndicesNeedMax {
            mode: spec.mode_value(),
        });
    }
    Prepared::strided::<T>(spec, x.shape())?.run_with_indices(x)
}

/// Adaptive pooling of channels-first `x` to `out` bins (height, width) with PyTorch's bins:
/// bin `i` of `n` over an axis of length `a` spans `[floor(i*a/n), ceil((i+1)*a/n))`.
///
/// ```
/// use ndpool::{ndarray::Array, adaptive_pool2d, Mode};
/// let x = Array::from_shape_fn((3, 7, 7), |(c, h, w)| (c + h + w) as f32);
/// let y = adaptive_pool2d(&x, 4, Mode::Max).unwrap();
/// assert_eq!(y.shape(), &[3, 4, 4]);
/// assert_eq!(y[[0, 3, 3]], 12.0); // the last bin is [5, 7) on both axes
/// ```
pub fn adaptive_pool2d<S, T, D>(
    x: &ArrayBase<S, D>,
    out: impl Into<Size2>,
    mode: Mode,
) -> Result<Array<T, D>>
where
    S: Data<Elem = T>,
    T: Element,
    D: Dimension,
{
    adaptive_pool2d_with_layout(x, out, mode, Layout::ChannelsFirst)
}

/// [`adaptive_pool2d`] with the spatial axes placed by `layout`.
pub fn adaptive_pool2d_with_layout<S, T, D>(
    x: &ArrayBase<S, D>,
    out: impl Into<Size2>,
    mode: Mode,
    layout: Layout,
) -> Result<Array<T, D>>
where
    S: Data<Elem = T>,
    T: Element,
    D: Dimension,
{
    Prepared::adaptive::<T>(out.into(), mode, layout, x.shape())?.run_new(x)
}

/// Adaptive max pooling with per-plane argmax indices `h * W + w`.
pub fn adaptive_max_pool2d_with_indices<S, T, D>(
    x: &ArrayBase<S, D>,
    out: impl Into<Size2>,
    layout: Layout,
) -> Result<(Array<T, D>, Array<usize, D>)>
where
    S: Data<Elem = T>,
    T: Element,
    D: Dimension,
{
    Prepared::adaptive::<T>(out.into(), Mode::Max, layout, x.shape())?.run_with_indices(x)
}

/// Global pooling of channels-first `x`: every plane to 1x1.
///
/// ```
/// use ndpool::{ndarray::array, global_pool2d, Mode};
/// let x = array![[[1.0f32, 2.], [3., 6.]]];
/// assert_eq!(global_pool2d(&x, Mode::Avg).unwrap(), array![[[3.0f32]]]);
/// ```
pub fn global_pool2d<S, T, D>(x: &ArrayBase<S, D>, mode: Mode) -> Result<Array<T, D>>
where
    S: Data<Elem = T>,
    T: Element,
    D: Dimension,
{
    global_pool2d_with_layout(x, mode, Layout::ChannelsFirst)
}

/// [`global_pool2d`] with the spatial axes placed by `layout`.
pub fn global_pool2d_with_layout<S, T, D>(
    x: &ArrayBase<S, D>,
    mode: Mode,
    layout: Layout,
) -> Result<Array<T, D>>
where
    S: Data<Elem = T>,
    T: Element,
    D: Dimension,
{
    adaptive_pool2d_with_layout(x, 1, mode, layout)
}

/// The kernel [`pool2d`] runs for `x` and `spec` on this machine (see [`Kernel`]); for
/// tests, tuning and curiosity. Validates like `pool2d`.
///
/// ```
/// use ndpool::{ndarray::Array4, pool2d_kernel, Kernel, PoolSpec};
/// let x = Array4::<f32>::zeros((1, 64, 112, 112));
/// assert_eq!(
///     pool2d_kernel(&x, &PoolSpec::max(3).stride(2).padding(1)).unwrap(),
///     Kernel::MaxRows { width: 3, stride: 2 }
/// );
/// ```
pub fn pool2d_kernel<S, T, D>(x: &ArrayBase<S, D>, spec: &PoolSpec) -> Result<Kernel>
where
    S: Data<Elem = T>,
    T: Element,
    D: Dimension,
{
    Ok(Prepared::strided::<T>(spec, x.shape())?.kernel(x, false))
}

/// The kernel [`adaptive_pool2d_with_layout`] runs for these arguments on this machine.
pub fn adaptive_pool2d_kernel<S, T, D>(
    x: &ArrayBase<S, D>,
    out: impl Into<Size2>,
    mode: Mode,
    layout: Layout,
) -> Result<Kernel>
where
    S: Data<Elem = T>,
    T: Element,
    D: Dimension,
{
    Ok(Prepared::adaptive::<T>(out.into(), mode, layout, x.shape())?.kernel(x, false))
}
