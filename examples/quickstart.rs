//! ndpool in a minute: pool a feature map the ways a CNN does, then turn maps of two
//! different sizes into vectors of one length with spatial pyramid pooling.
//!
//! cargo run --release --example quickstart

use ndpool::ndarray::{Array, Array4};
use ndpool::{pool2d, spp, Mode, Padding, PoolSpec};

fn main() -> ndpool::Result<()> {
    // One image, one channel, 6x6, values 0..36 row by row.
    let x: Array4<f32> = Array::from_shape_fn((1, 1, 6, 6), |(_, _, h, w)| (h * 6 + w) as f32);
    println!(
        "input (1x1x6x6):\n{}\n",
        x.index_axis(ndpool::ndarray::Axis(0), 0)
    );

    let general = pool2d(&x, &PoolSpec::max(2))?;
    println!(
        "max 2x2 (stride = window, non-overlapping):\n{}\n",
        general.index_axis(ndpool::ndarray::Axis(0), 0)
    );

    let overlapping = pool2d(&x, &PoolSpec::max(3).stride(2))?;
    println!(
        "max 3x3 stride 2 (overlapping, AlexNet):\n{}\n",
        overlapping.index_axis(ndpool::ndarray::Axis(0), 0)
    );

    let same = pool2d(
        &x,
        &PoolSpec::avg(3)
            .stride(2)
            .padding(Padding::Same)
            .count_include_pad(false),
    )?;
    println!(
        "avg 3x3 stride 2, SAME padding, padding not counted:\n{}\n",
        same.index_axis(ndpool::ndarray::Axis(0), 0)
    );

    let (_, argmax) = ndpool::max_pool2d_with_indices(&x, &PoolSpec::max(3).stride(2).padding(1))?;
    println!(
        "argmax of max 3x3 s2 p1 (index h*W + w):\n{}\n",
        argmax.index_axis(ndpool::ndarray::Axis(0), 0)
    );

    // SPP: any map size to a fixed-length vector (levels 1x1, 2x2, 4x4).
    for (h, w) in [(13, 13), (14, 9)] {
        let fmap = Array4::<f32>::from_shape_fn((2, 256, h, w), |(n, c, y, x)| {
            ((n + c + y * x) % 7) as f32
        });
        let v = spp(&fmap, &[1, 2, 4], Mode::Max)?;
        println!("SPP of a 2x256x{h}x{w} map -> {:?}", v.shape());
    }
    Ok(())
}
