//! Draws the bins each SPP binning lays over a map: which rows and columns each bin reads,
//! which cells no bin reads, and where bins overlap.
//!
//! cargo run --example spp_bins                     # 13x13 and 14x14, levels 1,2,4
//! cargo run --example spp_bins -- 7x7 4            # sizes HxW..., then levels (n or nhxnw)
//! cargo run --example spp_bins -- 14x14 1,2,4 6x3

use ndpool::{Binning, LevelPlan, Size2, Spp};

const LABELS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn parse_pair(s: &str) -> Option<(usize, usize)> {
    match s.split_once('x') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => s.parse().ok().map(|n| (n, n)),
    }
}

/// One character per cell: the bin reading it, `+` where several bins do, `.` where none does.
fn draw(level: &LevelPlan, h: usize, w: usize) {
    let bins_of = |ranges: &[std::ops::Range<usize>], i: usize| -> Vec<usize> {
        ranges
            .iter()
            .enumerate()
            .filter(|(_, r)| r.contains(&i))
            .map(|(b, _)| b)
            .collect()
    };
    let nw = level.cols.len();
    for r in 0..h {
        let rows = bins_of(&level.rows, r);
        let line: String = (0..w)
            .map(|c| {
                let cols = bins_of(&level.cols, c);
                match rows.len() * cols.len() {
                    0 => '.',
                    1 => LABELS
                        .get(rows[0] * nw + cols[0])
                        .map_or('*', |&b| b as char),
                    _ => '+',
                }
            })
            .flat_map(|ch| [ch, ' '])
            .collect();
        println!("      {line}  row {r:>2}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut sizes: Vec<(usize, usize)> = Vec::new();
    let mut levels: Vec<Size2> = Vec::new();
    for arg in &args {
        if arg.contains(',') || (!sizes.is_empty() && levels.is_empty() && !arg.contains('x')) {
            levels.extend(arg.split(',').filter_map(parse_pair).map(Size2::from));
        } else if let Some(pair) = parse_pair(arg) {
            if levels.is_empty() && (arg.contains('x') || sizes.is_empty()) {
                sizes.push(pair);
            } else {
                levels.push(pair.into());
            }
        } else {
            eprintln!("cannot read {arg:?}: give sizes as HxW and levels as n, nhxnw or n,n,n");
            std::process::exit(2);
        }
    }
    if sizes.is_empty() {
        sizes = vec![(13, 13), (14, 14)];
    }
    if levels.is_empty() {
        levels = vec![1.into(), 2.into(), 4.into()];
    }
    for &(h, w) in &sizes {
        for binning in [Binning::Adaptive, Binning::Padded, Binning::Paper] {
            println!("== {h}x{w}, {binning:?} bins ==");
            let plan = match Spp::new(levels.iter().copied()).binning(binning).plan(h, w) {
                Ok(plan) => plan,
                Err(e) => {
                    println!("   refused: {e}\n");
                    continue;
                }
            };
            for level in &plan.levels {
                let (nh, nw) = level.bins;
                let got = (level.rows.len(), level.cols.len());
                let verdict = if !level.is_exact() {
                    format!(
                        "WRONG COUNT: {}x{} bins instead of {nh}x{nw} (forward fails)",
                        got.0, got.1
                    )
                } else if !level.covers_input() {
                    format!(
                        "{nh}x{nw} bins, UNREAD rows {:?} cols {:?}",
                        level.uncovered_rows(),
                        level.uncovered_cols()
                    )
                } else {
                    format!("{nh}x{nw} bins, every cell read")
                };
                println!(
                    "   level {nh}x{nw}: {verdict}; largest overlap {} cell(s)",
                    level.max_overlap()
                );
                println!("   rows {:?}\n   cols {:?}", level.rows, level.cols);
                draw(level, h, w);
            }
            println!();
        }
    }
    println!("legend: a character names the bin reading a cell (row-major), + = read by several bins, . = read by none");
}
