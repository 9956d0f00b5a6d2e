#!/usr/bin/env python3
"""Times ndpool against onnxruntime (MLAS) and PyTorch (ATen) on common shapes beyond
BENCH_SHAPES.md (`more_shapes()` in benches/shapes.rs), interleaved shape by shape, and
prints one table of times and ratios: the best of the rounds for each library.

Run by hand, as compare/peers.py:

    cargo build --release --example compare
    ~/venv-ndpool/bin/python compare/more_shapes.py [--threads 1] [--rounds 3] [--reps 100]
"""
import argparse
import os
import subprocess

import numpy as np

import peers

# tag, input shape (as stored), op, params: the same as more_shapes() in benches/shapes.rs.
SHAPES = [
    ("X1", "yolo_sppf_max5", (1, 512, 20, 20), "max", dict(k=5, s=1, p=2)),
    ("X2", "inception_max3s1", (1, 256, 28, 28), "max", dict(k=3, s=1, p=1)),
    ("X3", "densenet_avg2", (1, 256, 56, 56), "avg", dict(k=2, s=2, p=0, cip=True)),
    ("X4", "max2_nhwc", (1, 112, 112, 64), "max_nhwc", dict(k=2, s=2, p=0)),
    ("X5", "avg3s2p1", (1, 64, 112, 112), "avg", dict(k=3, s=2, p=1, cip=True)),
    ("X6", "yolo_spp_max13", (1, 512, 13, 13), "max", dict(k=13, s=1, p=6)),
    ("X7", "rgb_max3s2", (1, 3, 224, 224), "max", dict(k=3, s=2, p=1)),
    ("X8", "classifier_avg7", (1, 1024, 7, 7), "avg", dict(k=7, s=7, p=0, cip=True)),
    ("X9", "vgg_max2_224", (1, 64, 224, 224), "max", dict(k=2, s=2, p=0)),
    ("XA", "inception_aux_avg5s3", (1, 768, 17, 17), "avg", dict(k=5, s=3, p=0, cip=True)),
    ("XB", "max3s1_56", (1, 256, 56, 56), "max", dict(k=3, s=1, p=1)),
    ("XC", "avg3s1_nhwc", (1, 56, 56, 256), "avg_nhwc", dict(k=3, s=1, p=1, cip=False)),
]


def torch_fn(torch, x, op, prm):
    F = torch.nn.functional
    if op.startswith("max"):
        return lambda: F.max_pool2d(x, prm["k"], prm["s"], prm["p"])
    return lambda: F.avg_pool2d(x, prm["k"], prm["s"], prm["p"], count_include_pad=prm["cip"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=100)
    args = ap.parse_args()
    import onnxruntime as ort
    import torch
    torch.set_num_threads(args.threads)
    exe = os.path.join(peers.ROOT, "target", "release", "examples", "compare")
    print(f"threads {args.threads}, best of {args.rounds} rounds, median of {args.reps} calls; "
          f"onnxruntime {ort.__version__}, torch {torch.__version__}")
    print("| case | input | operation | ndpool µs | onnxruntime µs | pytorch µs | fastest peer | ndpool speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for tag, name, shape, op, prm in SHAPES:
        best = {}
        x = rng.standard_normal(shape).astype(np.float32)
        tx = torch.from_numpy(x)
        if op.endswith("nhwc"):
            # PyTorch's channels_last: the same memory, seen as (N, C, H, W).
            tx = tx.permute(0, 3, 1, 2)
        session = None
        if op in ("max", "avg"):
            # onnxruntime has no float NHWC pooling. opset 11: its MLAS pooling.
            session = peers.ort_session(ort, None, shape, op, prm, args.threads, opset=11)
        for _ in range(args.rounds):
            nd = peers.ndpool_times(args.threads, args.reps, exe, tag)[tag]
            best["ndpool"] = min(best.get("ndpool", nd), nd)
            if session is not None:
                t = peers.bench(lambda: session.run(None, {"x": x}), args.reps)
                best["onnxruntime"] = min(best.get("onnxruntime", t), t)
            t = peers.bench(torch_fn(torch, tx, op, prm), args.reps)
            best["pytorch"] = min(best.get("pytorch", t), t)
        peer, peer_t = min(((k, v) for k, v in best.items() if k != "ndpool"), key=lambda kv: kv[1])
        ops = f"{op} {prm['k']}x{prm['k']} s{prm['s']} p{prm['p']}"
        if "cip" in prm and not prm["cip"]:
            ops += ", padding not counted"
        cell = lambda k: f"{best[k] * 1e6:.1f}" if k in best else "n/a"
        print(f"| {tag} {name} | {'x'.join(map(str, shape))} | {ops} | {cell('ndpool')} | "
              f"{cell('onnxruntime')} | {cell('pytorch')} | {peer} | {peer_t / best['ndpool']:.2f}x |",
              flush=True)


if __name__ == "__main__":
    main()
