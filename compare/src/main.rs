//! burn (ndarray backend) and candle against ndpool on the named shapes, interleaved, one
//! thread count per run (`--threads N`); prints `TAG peer seconds` lines (median per call,
//! output allocation included) that `peers.py --rust-peers` merges into its table.

use std::time::Instant;

use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::{module, Device as BurnDevice, Tensor, TensorData};
use candle_core::{Device, Tensor as CTensor};

include!("../../benches/shapes.rs");

fn median(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = args.iter().position(|a| a == "--threads").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(1);
    let reps: usize = args.iter().position(|a| a == "--reps").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(30);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    let _ = pool;
    let burn_devices = [("burn-ndarray", BurnDevice::ndarray()), ("burn-flex", BurnDevice::flex())];
    for shape in shapes() {
        let tag = &shape.name[..2];
        let x = input(&shape);
        let nd = median(reps, || {
            std::hint::black_box(run(&shape, &x));
        });
        println!("{tag} ndpool {nd:e}");
        let [n, c, h, w] = shape.input;
        let data: Vec<f32> = x.iter().copied().collect();
        // burn: NCHW tensors (the NHWC input is given to burn as its NCHW transpose).
        for (label, device) in &burn_devices {
            let bx: Tensor<4> = Tensor::from_data(TensorData::new(data.clone(), [n, c, h, w]), device);
            let bx = if shape.name.starts_with("B9") { bx.permute([0, 3, 1, 2]) } else { bx };
            let burn_t = match &shape.op {
                Op::Pool(spec) => {
                    let k = spec.window_size();
                    let s = spec.stride_size();
                    let p = match spec.padding_value() {
                        ndpool::Padding::Explicit { top, .. } => top,
                        _ => 0,
                    };
                    match spec.mode_value() {
                        ndpool::Mode::Max => {
                            let o = MaxPoolOptions::new([k.h, k.w]).with_stride([s.h, s.w]).with_padding([p, p]);
                            Some(median(reps, || {
                                std::hint::black_box(module::max_pool2d(bx.clone(), o.clone()).into_data());
                            }))
                        }
                        _ => {
                            let o = AvgPoolOptions::new([k.h, k.w])
                                .with_stride([s.h, s.w])
                                .with_padding([p, p])
                                .with_count_include_pad(spec.counts_pad());
                            Some(median(reps, || {
                                std::hint::black_box(module::avg_pool2d(bx.clone(), o.clone()).into_data());
                            }))
                        }
                    }
                }
                Op::Global(_) => Some(median(reps, || {
                    std::hint::black_box(module::adaptive_avg_pool2d(bx.clone(), [1, 1]).into_data());
                })),
                Op::Spp(_) => None, // burn has no adaptive max pooling
            };
            if let Some(t) = burn_t {
                println!("{tag} {label} {t:e}");
            }
        }
        // candle: no padding, so the padded shapes are left out.
        let cx = CTensor::from_vec(data, (n, c, h, w), &Device::Cpu).unwrap();
        let candle_t = match &shape.op {
            Op::Pool(spec) if spec.padding_value() == ndpool::Padding::ZERO && spec.layout_value() == ndpool::Layout::ChannelsFirst => {
                let k = spec.window_size();
                let s = spec.stride_size();
                match spec.mode_value() {
                    ndpool::Mode::Max => Some(median(reps, || { std::hint::black_box(cx.max_pool2d_with_stride((k.h, k.w), (s.h, s.w)).unwrap()); })),
                    _ => Some(median(reps, || { std::hint::black_box(cx.avg_pool2d_with_stride((k.h, k.w), (s.h, s.w)).unwrap()); })),
                }
            }
            Op::Global(_) => Some(median(reps, || { std::hint::black_box(cx.mean_keepdim(3).unwrap().mean_keepdim(2).unwrap()); })),
            Op::Spp(levels) => Some(median(reps, || {
                let parts: Vec<CTensor> = levels.iter().map(|&l| {
                    let k = h.div_ceil(l);
                    let s = if l == 1 { h } else { h / l };
                    cx.max_pool2d_with_stride((k, k), (s, s)).unwrap().flatten_from(1).unwrap()
                }).collect();
                std::hint::black_box(CTensor::cat(&parts, 1).unwrap());
            })),
            _ => None,
        };
        if let Some(t) = candle_t { println!("{tag} candle {t:e}"); }
    }
}
