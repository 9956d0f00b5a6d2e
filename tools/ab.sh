#!/usr/bin/env bash
# Times the work tree's ndpool against revision REV, calls interleaved in one process:
#   tools/ab.sh REV [REPS] [SHAPE_PREFIX]        e.g. tools/ab.sh HEAD~1 400 B4
# AB_SHAPES=more times the common shapes beyond the named ones (more_shapes()) instead.
# RAYON_NUM_THREADS and NDPOOL_ISA apply to both sides; AB_BLOCK=k times blocks of k calls a
# side instead of alternating pairs (for effects that carry over from call to call).
set -euo pipefail
rev=${1:?usage: tools/ab.sh REV [REPS] [SHAPE_PREFIX]}
root=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
old="$root/tools/ab/target/old"
rm -rf "$old" && mkdir -p "$old"
git -C "$root" archive "$rev" | tar -x -C "$old"
# The other revision as a crate of another name, without its benches, examples and
# profiles (only the root package's profiles count).
sed -i 's/^name = "ndpool"$/name = "ndpool_old"/; /^\[profile\./,$d; /^\[\[bench\]\]/,$d' "$old/Cargo.toml"
rm -rf "$old/benches" "$old/examples"
cd "$root/tools/ab"
cargo build --release --quiet
exec target/release/ndpool-ab "${2:-200}" "${3:-}"
