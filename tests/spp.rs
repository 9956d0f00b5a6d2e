//! Spatial pyramid pooling: bins are exact where promised, failures are reported where the
//! paper's rule breaks, and the output is the concatenation of the per-level pools.

mod common;

use common::{assert_bits, assert_ulps};
use ndpool::ndarray::{Array, Array4, Axis};
use ndpool::{
    adaptive_pool2d_with_layout, Binning, Layout, Mode, Padding, PoolError, PoolSpec, Spp,
};
use proptest::prelude::*;

/// Cells read by no range, by brute force.
fn unread(len: usize, ranges: &[std::ops::Range<usize>]) -> Vec<usize> {
    (0..len)
        .filter(|&i| !ranges.iter().any(|r| r.contains(&i)))
        .collect()
}

#[test]
fn the_14x14_question() {
    let paper = Spp::new([1, 2, 4])
        .binning(Binning::Paper)
        .plan(14, 14)
        .unwrap();
    assert!(paper.is_exact());
    assert!(!paper.covers_input());
    assert_eq!(paper.uncovered_rows(), vec![13]);
    assert_eq!(paper.uncovered_cols(), vec![13]);
    assert_eq!(paper.levels[2].rows, vec![0..4, 3..7, 6..10, 9..13]);
    let adaptive = Spp::new([1, 2, 4]).plan(14, 14).unwrap();
    assert!(adaptive.covers_input());
    assert_eq!(adaptive.levels[2].rows, vec![0..4, 3..7, 7..11, 10..14]);
    assert_eq!(adaptive.levels[2].max_overlap(), 1);
    let padded = Spp::new([1, 2, 4])
        .binning(Binning::Padded)
        .plan(14, 14)
        .unwrap();
    assert!(padded.covers_input());
    assert_eq!(padded.levels[2].rows, vec![0..3, 3..7, 7..11, 11..14]);
    assert_eq!(padded.levels[2].max_overlap(), 0);
}

#[test]
fn the_paper_rule_gives_six_bins_for_seven_cells() {
    let plan = Spp::new([4]).binning(Binning::Paper).plan(7, 7).unwrap();
    assert!(!plan.is_exact());
    assert_eq!(plan.levels[0].rows.len(), 6);
    let x = Array4::<f32>::zeros((1, 1, 7, 7));
    assert!(matches!(
        Spp::new([4]).binning(Binning::Paper).forward(&x),
        Err(PoolError::PaperBinCount {
            got: 6,
            bins: 4,
            size: 7,
            ..
        })
    ));
}

#[test]
fn paper_dimensions() {
    assert_eq!(Spp::new([6, 3, 2, 1]).output_len(256), 12_800);
    assert_eq!(Spp::new([4, 2, 1]).output_len(256), 5_376);
    let x = Array4::<f32>::ones((2, 256, 13, 13));
    assert_eq!(
        Spp::new([6, 3, 2, 1]).forward(&x).unwrap().shape(),
        &[2, 12_800]
    );
    assert_eq!(
        ndpool::spp(&x, &[4, 2, 1], Mode::Max).unwrap().shape(),
        &[2, 5_376]
    );
}

#[test]
fn forward_one_is_forward_of_a_batch_of_one() {
    let x = Array::from_shape_fn((3, 9, 11), |(c, h, w)| {
        ((c * 5 + h * 3 + w * 7) % 13) as f64
    });
    let spp = Spp::new([(1, 1), (2, 3), (3, 2)]).mode(Mode::Avg);
    let one = spp.forward_one(&x).unwrap();
    let batch = spp.forward(&x.clone().insert_axis(Axis(0))).unwrap();
    assert_eq!(one, batch.index_axis(Axis(0), 0));
}

fn binning() -> impl Strategy<Value = Binning> {
    prop_oneof![
        Just(Binning::Adaptive),
        Just(Binning::Padded),
        Just(Binning::Paper)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Bins along one axis, for a in 1..=512 and n in 1..=32 (rectangular levels draw the two
    /// axes independently).
    #[test]
    fn bins_are_as_promised(a in 1usize..=512, b in 1usize..=512, n in 1usize..=32, m in 1usize..=32, binning in binning()) {
        let spp = Spp::new([(n, m)]).binning(binning);
        let plan = spp.plan(a, b);
        for (len, bins, axis_rows) in [(a, n, true), (b, m, false)] {
            match binning {
                Binning::Adaptive => {
                    let plan = plan.as_ref().unwrap();
                    let level = &plan.levels[0];
                    let ranges = if axis_rows { &level.rows } else { &level.cols };
                    prop_assert_eq!(ranges.len(), bins);
                    prop_assert!(ranges.iter().all(|r| !r.is_empty() && r.end <= len));
                    prop_assert!(unread(len, ranges).is_empty());
                    prop_assert!(ranges.windows(2).all(|p| p[0].end <= p[1].start + 1 && p[0].start <= p[1].start));
                    prop_assert!(level.max_overlap() <= 1);
                }
                Binning::Padded => {
                    let k = len.div_ceil(bins);
                    let pad_begin = (k * bins - len).div_ceil(2);
                    if pad_begin >= k {
                        prop_assert!(matches!(plan, Err(PoolError::PaddedBinEmpty { .. })), "{:?}", plan);
                        continue;
                    }
                    let Ok(plan) = plan.as_ref() else { continue }; // the other axis failed
                    let level = &plan.levels[0];
                    let ranges = if axis_rows { &level.rows } else { &level.cols };
                    prop_assert_eq!(ranges.len(), bins);
                    prop_assert!(ranges.iter().all(|r| !r.is_empty() && r.end <= len));
                    prop_assert!(unread(len, ranges).is_empty());
                    prop_assert!(ranges.windows(2).all(|p| p[0].end == p[1].start));
                    prop_assert_eq!(level.max_overlap(), 0);
                }
                Binning::Paper => {
                    let (k, s) = (len.div_ceil(bins), len / bins);
                    if s == 0 {
                        prop_assert!(matches!(plan, Err(PoolError::MoreBinsThanCells { .. })), "{:?}", plan);
                        continue;
                    }
                    let Ok(plan) = plan.as_ref() else { continue };
                    let level = &plan.levels[0];
                    let ranges = if axis_rows { &level.rows } else { &level.cols };
                    let count = (len - k) / s + 1;
                    let formula: Vec<_> = (0..count).map(|i| i * s..i * s + k).collect();
                    prop_assert_eq!(ranges, &formula);
                    let reported = if axis_rows { level.uncovered_rows() } else { level.uncovered_cols() };
                    prop_assert_eq!(&reported, &unread(len, ranges));
                    // The rule is exact and reads every cell exactly when a mod n is 0 or 1.
                    prop_assert_eq!(ranges.len() == bins && reported.is_empty(), len % bins <= 1);
                }
            }
        }
        // Paper: forward fails exactly when some axis has the wrong bin count.
        if binning == Binning::Paper {
            if let Ok(plan) = &plan {
                let x = Array4::<f32>::zeros((1, 1, a, b));
                let result = spp.forward(&x);
                prop_assert_eq!(result.is_ok(), plan.is_exact());
                if let Ok(y) = result {
                    prop_assert_eq!(y.len(), n * m);
                }
            }
        }
    }
}

/// The per-level pool that SPP concatenates, computed with the public pooling functions.
fn level_pool(
    x: &Array4<f64>,
    levels: &[(usize, usize)],
    mode: Mode,
    binning: Binning,
    layout: Layout,
) -> Vec<f64> {
    let (ah, aw) = layout.spatial_axes(4).unwrap();
    let (h, w) = (x.shape()[ah], x.shape()[aw]);
    let mut out: Vec<Vec<f64>> = vec![Vec::new(); x.shape()[0]];
    for &(nh, nw) in levels {
        let y = match binning {
            Binning::Adaptive => adaptive_pool2d_with_layout(x, (nh, nw), mode, layout).unwrap(),
            Binning::Paper => {
                let spec =
                    PoolSpec::new(mode, (h.div_ceil(nh), w.div_ceil(nw))).stride((h / nh, w / nw));
                ndpool::pool2d(x, &spec.layout(layout)).unwrap()
            }
            Binning::Padded => {
                let (kh, kw) = (h.div_ceil(nh), w.div_ceil(nw));
                let (th, tw) = (kh * nh - h, kw * nw - w);
                let spec = PoolSpec::new(mode, (kh, kw)).padding(Padding::Explicit {
                    top: th.div_ceil(2),
                    bottom: th / 2,
                    left: tw.div_ceil(2),
                    right: tw / 2,
                });
                ndpool::pool2d(x, &spec.layout(layout)).unwrap()
            }
        };
        let y = match layout {
            Layout::ChannelsFirst => y,
            Layout::ChannelsLast => y.permuted_axes([0, 3, 1, 2]),
        };
        for (n, sample) in y.axis_iter(Axis(0)).enumerate() {
            out[n].extend(sample.iter().copied());
        }
    }
    out.concat()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn spp_is_the_concatenation_of_level_pools(
        levels in prop::collection::vec((1usize..6, 1usize..6), 1..4),
        n in 1usize..3, c in 1usize..4, h in 6usize..30, w in 6usize..30,
        mode in prop_oneof![Just(Mode::Max), Just(Mode::Avg), Just(Mode::Lp(2.0))],
        binning in binning(), channels_last in any::<bool>(), seed in 0u64..1000,
    ) {
        let layout = if channels_last { Layout::ChannelsLast } else { Layout::ChannelsFirst };
        let shape = if channels_last { (n, h, w, c) } else { (n, c, h, w) };
        let x = Array4::from_shape_fn(shape, |(a, b, y, z)| (((a * 31 + b * 17 + y * 7 + z * 3) as u64 * (seed + 1)) % 23) as f64 - 11.0);
        let spp = Spp::new(levels.clone()).mode(mode).binning(binning).layout(layout);
        let Ok(plan) = spp.plan(h, w) else { return Ok(()) };
        let result = spp.forward(&x);
        if !plan.is_exact() {
            prop_assert!(result.is_err());
            return Ok(());
        }
        let y = result.unwrap();
        prop_assert_eq!(y.shape(), &[n, spp.output_len(c)]);
        let want = Array::from_shape_vec((n, spp.output_len(c)), level_pool(&x, &levels, mode, binning, layout)).unwrap();
        match mode {
            Mode::Max => assert_bits(&y.view().into_dyn(), &want.view().into_dyn(), "spp"),
            _ => assert_ulps(&y.view().into_dyn(), &want.view().into_dyn(), 2.0, "spp"),
        }
        // Length does not depend on the map size.
        let x2 = Array4::<f64>::zeros(if channels_last { (n, h + 7, w + 3, c) } else { (n, c, h + 7, w + 3) });
        if let Ok(y2) = Spp::new(levels).mode(mode).layout(layout).forward(&x2) {
            prop_assert_eq!(y2.shape(), y.shape());
        }
    }
}
