// The named benchmark shapes of BENCH_SHAPES.md, shared by the criterion benches and the
// peer comparison (`include!`d, so it names ndpool items by path).

/// What a shape computes.
#[allow(dead_code)]
pub enum Op {
    /// `pool2d` with this spec.
    Pool(ndpool::PoolSpec),
    /// `global_pool2d` with this mode.
    Global(ndpool::Mode),
    /// SPP with adaptive bins at these levels, max.
    Spp(&'static [usize]),
}

/// One named shape.
pub struct Shape {
    pub name: &'static str,
    pub input: [usize; 4],
    pub op: Op,
}

impl Shape {
    /// Input plus output bytes, for GB/s.
    #[allow(dead_code)]
    pub fn bytes(&self, output_len: usize) -> usize {
        (self.input.iter().product::<usize>() + output_len) * std::mem::size_of::<f32>()
    }
}

pub fn shapes() -> Vec<Shape> {
    use ndpool::{Layout, Mode, PoolSpec};
    vec![
        Shape {
            name: "B1_resnet_stem_max",
            input: [1, 64, 112, 112],
            op: Op::Pool(PoolSpec::max(3).stride(2).padding(1)),
        },
        Shape {
            name: "B2_vgg_max2x2",
            input: [1, 128, 112, 112],
            op: Op::Pool(PoolSpec::max(2)),
        },
        Shape {
            name: "B3_alexnet_overlap_max",
            input: [1, 96, 55, 55],
            op: Op::Pool(PoolSpec::max(3).stride(2)),
        },
        Shape {
            name: "B4_inception_avg3x3",
            input: [1, 192, 28, 28],
            op: Op::Pool(
                PoolSpec::avg(3)
                    .stride(1)
                    .padding(1)
                    .count_include_pad(false),
            ),
        },
        Shape {
            name: "B5_global_avg",
            input: [8, 2048, 7, 7],
            op: Op::Global(Mode::Avg),
        },
        Shape {
            name: "B6_spp_conv5",
            input: [1, 256, 13, 13],
            op: Op::Spp(&[1, 2, 4]),
        },
        Shape {
            name: "B7_box_mean15",
            input: [1, 16, 256, 256],
            op: Op::Pool(PoolSpec::avg(15).stride(1)),
        },
        Shape {
            name: "B8_resnet_stem_max_b16",
            input: [16, 64, 112, 112],
            op: Op::Pool(PoolSpec::max(3).stride(2).padding(1)),
        },
        Shape {
            name: "B9_resnet_stem_max_nhwc",
            input: [1, 112, 112, 64],
            op: Op::Pool(
                PoolSpec::max(3)
                    .stride(2)
                    .padding(1)
                    .layout(Layout::ChannelsLast),
            ),
        },
    ]
}

/// Deterministic input of the shape's size.
#[allow(dead_code)]
pub fn input(shape: &Shape) -> ndpool::ndarray::Array4<f32> {
    let [n, c, h, w] = shape.input;
    ndpool::ndarray::Array4::from_shape_fn((n, c, h, w), |(a, b, y, x)| {
        ((a * 7 + b * 13 + y * 31 + x * 17) % 101) as f32 * 0.25 - 12.0
    })
}

/// Runs the shape's operation once, returning the output length.
#[allow(dead_code)]
pub fn run(shape: &Shape, x: &ndpool::ndarray::Array4<f32>) -> usize {
    match &shape.op {
        Op::Pool(spec) => ndpool::pool2d(x, spec).unwrap().len(),
        Op::Global(mode) => ndpool::global_pool2d(x, *mode).unwrap().len(),
        Op::Spp(levels) => ndpool::spp(x, levels, ndpool::Mode::Max).unwrap().len(),
    }
}
