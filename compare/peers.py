#!/usr/bin/env python3
"""Times onnxruntime (MLAS) and PyTorch (ATen) on the named benchmark shapes of
BENCH_SHAPES.md, and ndpool through its `compare` example, interleaved in one run, and
prints one table of times, GB/s and ratios.

Run by hand with the pinned requirements installed in a virtualenv outside the repository:

    python3 -m venv ~/venv-ndpool && ~/venv-ndpool/bin/pip install -r compare/requirements.txt
    cargo build --release --example compare
    ~/venv-ndpool/bin/python compare/peers.py --threads 1 2 [--json out.json] [--chart chart.svg]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name, input shape (as stored), op, params
SHAPES = [
    ("B1", "resnet_stem_max", (1, 64, 112, 112), "max", dict(k=3, s=2, p=1)),
    ("B2", "vgg_max2x2", (1, 128, 112, 112), "max", dict(k=2, s=2, p=0)),
    ("B3", "alexnet_overlap_max", (1, 96, 55, 55), "max", dict(k=3, s=2, p=0)),
    ("B4", "inception_avg3x3", (1, 192, 28, 28), "avg", dict(k=3, s=1, p=1, cip=False)),
    ("B5", "global_avg", (8, 2048, 7, 7), "global_avg", {}),
    ("B6", "spp_conv5", (1, 256, 13, 13), "spp", dict(levels=(1, 2, 4))),
    ("B7", "box_mean15", (1, 16, 256, 256), "avg", dict(k=15, s=1, p=0, cip=True)),
    ("B8", "resnet_stem_max_b16", (16, 64, 112, 112), "max", dict(k=3, s=2, p=1)),
    ("B9", "resnet_stem_max_nhwc", (1, 112, 112, 64), "max_nhwc", dict(k=3, s=2, p=1)),
]


def out_elems(shape, op, prm):
    n, c, h, w = shape
    if op == "global_avg":
        return n * c
    if op == "spp":
        return n * c * sum(l * l for l in prm["levels"])
    if op == "max_nhwc":
        n, h, w, c = shape
    k, s, p = prm["k"], prm["s"], prm["p"]
    return n * c * ((h + 2 * p - k) // s + 1) * ((w + 2 * p - k) // s + 1)


def bench(fn, reps):
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    # Slow peers (PyTorch's NCHW max pool, tens of ms a call) get fewer calls: about 0.4 s.
    reps = max(5, min(reps, int(0.4 / max(first, 1e-9))))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def torch_fn(torch, x, op, prm):
    F = torch.nn.functional
    if op == "max":
        return lambda: F.max_pool2d(x, prm["k"], prm["s"], prm["p"])
    if op == "max_nhwc":
        return lambda: F.max_pool2d(x, prm["k"], prm["s"], prm["p"])
    if op == "avg":
        return lambda: F.avg_pool2d(x, prm["k"], prm["s"], prm["p"], count_include_pad=prm["cip"])
    if op == "global_avg":
        return lambda: F.adaptive_avg_pool2d(x, 1)
    if op == "spp":
        return lambda: torch.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in prm["levels"]], 1)


def ort_session(ort, onnx, shape, op, prm, threads, opset=19):
    from onnx import TensorProto, helper
    nodes, outputs = [], []
    if op in ("max", "avg"):
        attrs = dict(kernel_shape=[prm["k"]] * 2, strides=[prm["s"]] * 2, pads=[prm["p"]] * 4)
        if op == "avg":
            attrs["count_include_pad"] = int(prm["cip"])
        nodes.append(helper.make_node("MaxPool" if op == "max" else "AveragePool", ["x"], ["y"], **attrs))
        outputs = ["y"]
    elif op == "global_avg":
        nodes.append(helper.make_node("GlobalAveragePool", ["x"], ["y"]))
        outputs = ["y"]
    elif op == "spp":
        # onnxruntime has no adaptive pooling: three max pools, exact for 13x13 (as in BENCH_SHAPES.md).
        h = shape[2]
        flat = []
        for n in prm["levels"]:
            k = -(-h // n)
            s = h // n if n > 1 else h
            nodes.append(helper.make_node("MaxPool", ["x"], [f"p{n}"], kernel_shape=[k, k], strides=[s, s]))
            nodes.append(helper.make_node("Flatten", [f"p{n}"], [f"f{n}"], axis=1))
            flat.append(f"f{n}")
        nodes.append(helper.make_node("Concat", flat, ["y"], axis=1))
        outputs = ["y"]
    else:
        return None
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def copy_bandwidth(nbytes, reps=50):
    """Bytes read + written per second by a plain copy of an array of `nbytes`."""
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    t = bench(lambda: np.copyto(dst, src), reps)
    return 2 * nbytes / t


def rust_peer_times(threads, reps, exe):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([exe, "--threads", str(threads), "--reps", str(reps)], env=env, check=True,
                         capture_output=True, text=True).stdout
    times = {}
    for line in out.splitlines():
        tag, peer, secs = line.split()
        if peer != "ndpool":
            times.setdefault(tag, {})[peer] = float(secs)
    return times


def ndpool_times(threads, reps, exe, prefix=""):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([exe, str(reps), prefix], env=env, check=True, capture_output=True,
                         text=True).stdout
    times = {}
    for line in out.splitlines():
        name, secs = line.split()
        times[name] = float(secs)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best median per cell is kept")
    ap.add_argument("--rust-rounds", type=int, default=1,
                    help="rounds that also time burn and candle (tens to hundreds of times slower)")
    ap.add_argument("--json")
    ap.add_argument("--chart")
    args = ap.parse_args()

    import onnx
    import onnxruntime as ort
    import torch

    exe = os.path.join(ROOT, "target", "release", "examples", "compare")
    if not os.path.exists(exe):
        sys.exit("build it first: cargo build --release --example compare")
    rust_exe = os.path.join(ROOT, "compare", "target", "release", "ndpool-compare")
    if not os.path.exists(rust_exe):
        print("(no burn/candle: build compare/ with cargo build --release)", file=sys.stderr)
        rust_exe = None
    bandwidth = {"cache": copy_bandwidth(4 << 20), "memory": copy_bandwidth(256 << 20, reps=10)}
    rng = np.random.default_rng(0)
    results = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        inputs, sessions = {}, {}
        for tag, _, shape, op, prm in SHAPES:
            x = rng.standard_normal(shape).astype(np.float32)
            inputs[tag] = x
            # opset 11 runs MLAS's pooling kernels, opset 19 the newer reference-exact ones:
            # both are timed and the faster kept.
            sessions[tag] = [s for s in (ort_session(ort, onnx, shape, op, prm, threads, o) for o in (11, 19)) if s]
        for rnd in range(args.rounds):
            # The copy ceiling is measured every round too, the best kept, as for the cells.
            bandwidth["cache"] = max(bandwidth["cache"], copy_bandwidth(4 << 20))
            bandwidth["memory"] = max(bandwidth["memory"], copy_bandwidth(256 << 20, reps=5))
            for tag, name, shape, op, prm in SHAPES:
                # ndpool right beside the peers on the same shape: on a shared machine the
                # speed drifts over seconds, so a whole sweep apart would compare two speeds.
                # The pause lets the peers' pool threads stop spinning first (onnxruntime and
                # OpenMP keep them busy for a while after each call).
                time.sleep(0.3)
                nd = ndpool_times(threads, args.reps, exe, tag)
                x = inputs[tag]
                cell = results.setdefault((tag, threads), {})
                t = torch.from_numpy(x)
                if op == "max_nhwc":
                    t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2) * 0 + x.transpose(0, 3, 1, 2)))
                    t = t.contiguous(memory_format=torch.channels_last)
                with torch.no_grad():
                    tt = bench(torch_fn(torch, t, op, prm), args.reps)
                cell["pytorch"] = min(cell.get("pytorch", 1e9), tt)
                for sess in sessions[tag]:
                    feed = {"x": x}
                    to = bench(lambda: sess.run(None, feed), args.reps)
                    cell["onnxruntime"] = min(cell.get("onnxruntime", 1e9), to)
                cell["ndpool"] = min(cell.get("ndpool", 1e9), nd[tag])
            if rust_exe and rnd < args.rust_rounds:
                for tag, peers in rust_peer_times(threads, max(args.reps // 4, 10), rust_exe).items():
                    cell = results.setdefault((tag, threads), {})
                    for peer, t in peers.items():
                        cell[peer] = min(cell.get(peer, 1e9), t)
    # table
    peers_order = ["onnxruntime", "pytorch", "burn-ndarray", "burn-flex", "candle"]
    print(f"copy bandwidth (read + write): {bandwidth['cache'] / 1e9:.1f} GB/s for 4 MiB, "
          f"{bandwidth['memory'] / 1e9:.1f} GB/s for 256 MiB")
    print("| case | threads | ndpool µs | GB/s | % of copy | " + " | ".join(f"{p} µs" for p in peers_order)
          + " | fastest peer | ndpool speed-up |")
    print("|" + "---|" * (7 + len(peers_order)))
    rows = []
    for tag, name, shape, op, prm in SHAPES:
        for threads in args.threads:
            cell = results[(tag, threads)]
            bytes_ = (np.prod(shape) + out_elems(shape, op, prm)) * 4
            peers = {k: v for k, v in cell.items() if k != "ndpool"}
            best_peer = min(peers, key=peers.get)
            ratio = peers[best_peer] / cell["ndpool"]
            gbps = bytes_ / cell["ndpool"] / 1e9
            ceiling = bandwidth["memory" if tag == "B8" else "cache"] / 1e9
            cols = " | ".join(f"{cell[p] * 1e6:.0f}" if p in cell else "n/a" for p in peers_order)
            print(f"| {tag} {name} | {threads} | {cell['ndpool'] * 1e6:.0f} | {gbps:.1f} | {100 * gbps / ceiling:.0f} % | "
                  f"{cols} | {best_peer} | {ratio:.2f}x |")
            rows.append(dict(case=tag, name=name, threads=threads, ratio=ratio, best_peer=best_peer,
                             **{k: v * 1e6 for k, v in cell.items()}, gbps=gbps))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.chart:
        write_chart(rows, args.chart)


def write_chart(rows, path):
    """A bar chart (SVG, no plotting library needed): ndpool's speed-up over the fastest peer."""
    bar_h, gap, left, width = 16, 6, 190, 520
    top = 40
    max_ratio = max(max(r["ratio"] for r in rows), 2.0)
    height = top + len(rows) * (bar_h + gap) + 40
    scale = width / max_ratio
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{height}" font-family="sans-serif" font-size="12">',
             f'<text x="10" y="20" font-size="14">ndpool speed-up over the fastest peer (onnxruntime, PyTorch, burn, candle), same run</text>']
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        color = "#2a7" if r["ratio"] >= (1.5 if r["threads"] == 1 else 1.3) else "#d84"
        parts.append(f'<text x="10" y="{y + 12}">{r["case"]} {r["name"]} ({r["threads"]}t)</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{r["ratio"] * scale:.1f}" height="{bar_h}" fill="{color}"/>')
        parts.append(f'<text x="{left + r["ratio"] * scale + 4:.1f}" y="{y + 12}">{r["ratio"]:.2f}x vs {r["best_peer"]}</text>')
    for mark in (1.0, 1.5):
        x = left + mark * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top - 5}" x2="{x:.1f}" y2="{height - 30}" stroke="#555" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{x - 10:.1f}" y="{height - 15}">{mark}x</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts))


if __name__ == "__main__":
    main()
