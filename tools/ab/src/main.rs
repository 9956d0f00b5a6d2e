//! `ndpool-ab REPS [SHAPE_PREFIX]`: each named shape (`AB_SHAPES=more`: each of the more
//! common shapes) pooled by the work tree's ndpool and by
//! another revision's (`ndpool_old`), the two calls of a pair in alternating order, on the
//! same input (`AB_BLOCK=k`: blocks of k calls a side). Prints per shape each side's median time and the median, first and third
//! quartile of the per-pair ratios new/old. This machine's speed swings by 2x in phases of
//! seconds; a pair's two calls fall in the same phase, so their ratio does not swing.

use std::time::Instant;

mod new {
    #![allow(dead_code)]
    include!("../../../benches/shapes.rs");
}

mod old {
    #![allow(dead_code)]
    use ndpool_old as ndpool;
    include!("../../../benches/shapes.rs");
}

fn timed(f: impl FnOnce() -> usize) -> f64 {
    let start = Instant::now();
    std::hint::black_box(f());
    start.elapsed().as_secs_f64()
}

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let filter = std::env::args().nth(2).unwrap_or_default();
    // AB_SHAPES=more: the common shapes beyond the named ones (benches/shapes.rs).
    let more = std::env::var("AB_SHAPES").is_ok_and(|s| s == "more");
    let (news, olds) = if more {
        (new::more_shapes(), old::more_shapes())
    } else {
        (new::shapes(), old::shapes())
    };
    for (n, o) in news.iter().zip(&olds) {
        if !n.name.starts_with(&filter) {
            continue;
        }
        let x = new::input(n);
        let warm = Instant::now();
        while warm.elapsed().as_secs_f64() < 0.2 {
            std::hint::black_box((new::run(n, &x), old::run(o, &x)));
        }
        let (mut tn, mut to, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        // AB_BLOCK=k: k calls of one side, then k of the other (for effects that carry from
        // call to call, such as which thread's cache holds which planes).
        let block: usize = std::env::var("AB_BLOCK")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1)
            .max(1);
        for i in 0..reps.div_ceil(block) {
            let olds = || {
                (0..block)
                    .map(|_| timed(|| old::run(o, &x)))
                    .collect::<Vec<_>>()
            };
            let news = || {
                (0..block)
                    .map(|_| timed(|| new::run(n, &x)))
                    .collect::<Vec<_>>()
            };
            let (a, b) = if i % 2 == 0 {
                let b = olds();
                (news(), b)
            } else {
                let a = news();
                (a, olds())
            };
            for (a, b) in a.into_iter().zip(b) {
                tn.push(a);
                to.push(b);
                ratio.push(a / b);
            }
        }
        for v in [&mut tn, &mut to, &mut ratio] {
            v.sort_by(f64::total_cmp);
        }
        let q = |v: &[f64], k: usize| v[k * (v.len() - 1) / 4];
        println!(
            "{} old {:9.1} µs  new {:9.1} µs  new/old {:.3} (quartiles {:.3} {:.3})",
            &n.name[..2],
            q(&to, 2) * 1e6,
            q(&tn, 2) * 1e6,
            q(&ratio, 2),
            q(&ratio, 1),
            q(&ratio, 3),
        );
    }
}
