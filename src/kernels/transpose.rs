//! The channels-last copy of a channels-first sample (SPP pools channels-last: channels in
//! vector lanes), in tiles that stay in L1.

#[cfg(target_arch = "x86_64")]
use super::isa::{current_isa, Isa};
use std::ops::Range;

use crate::element::Element;

/// `out[p * c + ch] = sample[ch * plane + p]`: `c` planes of `plane` cells, transposed.
pub(crate) fn to_channels_last<T: Element>(sample: &[T], c: usize, plane: usize, out: &mut [T]) {
    assert!(sample.len() >= c * plane && out.len() >= c * plane);
    let (c_done, p_done) = vector_tiles(sample, c, plane, out);
    // The rest, TILE x TILE at a time (channels x positions): the tile's source rows and
    // destination lines all stay in L1. Channel by channel, every write landed on another
    // line a plane apart, and the transpose took 3.5 ns a cell on 256 x 13 x 13 maps.
    const TILE: usize = 16;
    let copy = |out: &mut [T], channels: Range<usize>, positions: Range<usize>| {
        // Positions outer, as for the vector tiles.
        for p0 in positions.clone().step_by(TILE) {
            let p1 = (p0 + TILE).min(positions.end);
            for c0 in channels.clone().step_by(TILE) {
                let c1 = (c0 + TILE).min(channels.end);
                if c1 - c0 == TILE && p1 - p0 == TILE {
                    // Whole tiles with fixed sizes: no bounds checks or calls inside.
                    let tile: [[T; TILE]; TILE] = std::array::from_fn(|i| {
                        let start = (c0 + i) * plane + p0;
                        sample[start..start + TILE].try_into().expect("TILE cells")
                    });
                    for (j, cells) in out[p0 * c..].chunks_exact_mut(c).take(TILE).enumerate() {
                        let cell: &mut [T; TILE] =
                            (&mut cells[c0..c1]).try_into().expect("TILE cells");
                        *cell = std::array::from_fn(|i| tile[i][j]);
                    }
                    continue;
                }
                for p in p0..p1 {
                    for (ch, o) in (c0..c1).zip(&mut out[p * c + c0..p * c + c1]) {
                        *o = sample[ch * plane + p];
                    }
                }
            }
        }
    };
    // Below the vector tiles' channels: the last positions; then the last channels.
    copy(out, 0..c_done, p_done..plane);
    copy(out, c_done..c, 0..plane);
}

/// Transposes what 8 x 8 vector tiles cover, when this CPU and `T` have them: the first
/// `c_done` channels' first `p_done` positions, returned.
#[cfg(target_arch = "x86_64")]
fn vector_tiles<T: Element>(sample: &[T], c: usize, plane: usize, out: &mut [T]) -> (usize, usize) {
    let (Some(src), Some(dst)) = (T::as_f32(sample), T::as_f32_mut(out)) else {
        return (0, 0);
    };
    if current_isa() == Isa::Baseline {
        return (0, 0);
    }
    let (c_done, p_done) = (c - c % 8, plane - plane % 8);
    // Positions outer: the tiles of one pass then write whole destination lines in turn.
    // Channels outer, a pass wrote a piece of every position's line, lines a channel count
    // apart that share a few cache sets: 6x the time on 256 x 13 x 13 maps (AMD Zen 5).
    for p0 in (0..p_done).step_by(8) {
        for c0 in (0..c_done).step_by(8) {
            // SAFETY: AVX2 was detected (`Isa::available`); rows c0..c0 + 8 of the source
            // from cell p0, and rows p0..p0 + 8 of the destination from cell c0, hold 8
            // cells each inside the slices (c0 + 8 <= c, p0 + 8 <= plane).
            unsafe {
                super::x86::transpose_8x8_avx2(
                    src.as_ptr().add(c0 * plane + p0),
                    plane,
                    dst.as_mut_ptr().add(p0 * c + c0),
                    c,
                );
            }
        }
    }
    (c_done, p_done)
}

/// No vector tiles off x86-64: the portable loops do it all.
#[cfg(not(target_arch = "x86_64"))]
fn vector_tiles<T: Element>(_: &[T], _: usize, _: usize, _: &mut [T]) -> (usize, usize) {
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::isa::{force_isa, Isa};

    #[test]
    fn every_cell_lands_once_whatever_the_tiling() {
        for &isa in Isa::available() {
            force_isa(Some(isa));
            for (c, plane) in [
                (1, 1),
                (8, 8),
                (16, 169),
                (13, 7),
                (9, 17),
                (256, 169),
                (3, 64),
            ] {
                let sample: Vec<f32> = (0..c * plane).map(|i| i as f32).collect();
                let mut out = vec![-1.0f32; c * plane + 3];
                to_channels_last(&sample, c, plane, &mut out);
                for p in 0..plane {
                    for ch in 0..c {
                        assert_eq!(
                            out[p * c + ch],
                            (ch * plane + p) as f32,
                            "{isa:?} {c}x{plane} at {p},{ch}"
                        );
                    }
                }
                assert_eq!(
                    &out[c * plane..],
                    &[-1.0; 3],
                    "{isa:?} {c}x{plane}: stray write"
                );
            }
            force_isa(None);
        }
    }
}
