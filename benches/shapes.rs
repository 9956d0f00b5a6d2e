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

/// Common shapes beyond `BENCH_SHAPES.md`, from the networks those come from and their
/// successors, timed against onnxruntime and PyTorch by `compare/more_shapes.py`: they keep
/// the kernels honest where the named shapes do not look.
#[allow(dead_code)]
pub fn more_shapes() -> Vec<Shape> {
    use ndpool::{Layout, PoolSpec};
    let shape = |name, input, spec| Shape {
        name,
        input,
        op: Op::Pool(spec),
    };
    let max = |k| PoolSpec::max(k);
    let avg = |k| PoolSpec::avg(k);
    vec![
        shape(
            "X1_yolo_sppf_max5",
            [1, 512, 20, 20],
            max(5).stride(1).padding(2),
        ),
        shape(
            "X2_inception_max3s1",
            [1, 256, 28, 28],
            max(3).stride(1).padding(1),
        ),
        shape("X3_densenet_avg2", [1, 256, 56, 56], avg(2)),
        shape(
            "X4_max2_nhwc",
            [1, 112, 112, 64],
            max(2).layout(Layout::ChannelsLast),
        ),
        shape(
            "X5_avg3s2p1",
            [1, 64, 112, 112],
            avg(3).stride(2).padding(1),
        ),
        shape(
            "X6_yolo_spp_max13",
            [1, 512, 13, 13],
            max(13).stride(1).padding(6),
        ),
        shape(
            "X7_rgb_max3s2",
            [1, 3, 224, 224],
            max(3).stride(2).padding(1),
        ),
        shape("X8_classifier_avg7", [1, 1024, 7, 7], avg(7)),
        shape("X9_vgg_max2_224", [1, 64, 224, 224], max(2)),
        shape(
            "XA_inception_aux_avg5s3",
            [1, 768, 17, 17],
            avg(5).stride(3),
        ),
        shape(
            "XB_max3s1_56",
            [1, 256, 56, 56],
            max(3).stride(1).padding(1),
        ),
        shape(
            "XC_avg3s1_nhwc",
            [1, 56, 56, 256],
            avg(3)
                .stride(1)
                .padding(1)
                .count_include_pad(false)
                .layout(Layout::ChannelsLast),
        ),
    ]
}

/// Deterministic input of the shape's size: standard normal values, the distribution
/// `compare/peers.py` feeds the peers (numpy's `standard_normal`). The data matters: the
/// running sums of large averaging windows (B7) depend on the spread of the exponents.
#[allow(dead_code)]
pub fn input(shape: &Shape) -> ndpool::ndarray::Array4<f32> {
    let [n, c, h, w] = shape.input;
    // splitmix64, then Box-Muller on pairs of uniforms in (0, 1).
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut uniform = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 * (1.0 / (1u64 << 53) as f64) + 0.5 / (1u64 << 53) as f64
    };
    let mut spare = None;
    let mut normal = move || match spare.take() {
        Some(v) => v,
        None => {
            let (r, t) = (
                (-2.0 * uniform().ln()).sqrt(),
                std::f64::consts::TAU * uniform(),
            );
            spare = Some((r * t.sin()) as f32);
            (r * t.cos()) as f32
        }
    };
    ndpool::ndarray::Array4::from_shape_simple_fn((n, c, h, w), &mut normal)
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
