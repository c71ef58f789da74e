"""Time one PyTorch training step with 1 vs 2 (or more) intra-op threads.

Why: on small CPU machines (2 cores, shared with the notebook kernel, the browser and
other tenants) PyTorch's OpenMP threads busy-wait for each other; with two threads one
slow core stalls every op. This script measures it so ``coursekit.device.configure_threads``
can choose its default from numbers, not folklore.

Each configuration runs in a fresh subprocess (``torch.set_num_threads`` cannot reliably
shrink an OpenMP pool that was already started at a larger size). Rounds alternate
between thread counts so load from other processes hits all of them alike.

Usage::

    python benchmarks/threads.py                # 1 vs 2 threads, MLP and CNN
    python benchmarks/threads.py --threads 1 2 4 --rounds 5 --steps 200
    python benchmarks/threads.py --load 1       # with one busy process beside it

``--load K`` starts K busy-looping processes for the duration, standing in for what
shares the cores in practice: the Jupyter kernel's other work, a browser, another user.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# Workloads sized like the course's CPU defaults: an MLP on flat digits (64-128-128-10)
# and a small CNN on 1x8x8 digit images, both with batches of 64 and Adam.
_WORKER = r"""
import json, sys, time
import torch
from torch import nn

threads, model_name, steps = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
B = 64
if model_name == "mlp":
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    x = torch.randn(B, 64)
else:
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
    )
    x = torch.randn(B, 1, 8, 8)
y = torch.randint(0, 10, (B,))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

def step():
    opt.zero_grad()
    loss_fn(model(x), y).backward()
    opt.step()

for _ in range(20):  # warm-up: allocator, thread pool
    step()
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"threads": torch.get_num_threads(), "times_ms": times}))
"""


def run_one(threads: int, model: str, steps: int) -> list[float]:
    """Run ``steps`` timed training steps in a fresh interpreter; returns per-step ms."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run(
        [sys.executable, "-c", _WORKER, str(threads), model, str(steps)],
        env=env, capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["times_ms"]


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation."""
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo, hi = int(pos), min(int(pos) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--models", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per configuration")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per process")
    parser.add_argument("--load", type=int, default=0, help="busy processes running beside it")
    args = parser.parse_args(argv)

    print(
        f"cores: {os.cpu_count()}, rounds: {args.rounds}, steps per round: {args.steps}, "
        f"busy processes beside it: {args.load}"
    )
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        return _measure(args)
    finally:
        for hog in hogs:  # only the processes started above
            hog.kill()
            hog.wait()


def _measure(args: argparse.Namespace) -> int:
    results: dict[tuple[str, int], list[float]] = {}
    round_medians: dict[tuple[str, int], list[float]] = {}
    t_start = time.perf_counter()
    for model in args.models:
        for _ in range(args.rounds):
            for threads in args.threads:  # interleaved so background load is shared fairly
                times = run_one(threads, model, args.steps)
                results.setdefault((model, threads), []).extend(times)
                round_medians.setdefault((model, threads), []).append(statistics.median(times))

    header = f"{'model':<6}{'threads':>8}{'median ms':>11}{'p90 ms':>9}{'max ms':>9}  per-round medians ms"
    print(header)
    print("-" * len(header))
    for (model, threads), times in results.items():
        rounds = " ".join(f"{m:.2f}" for m in round_medians[(model, threads)])
        print(
            f"{model:<6}{threads:>8}{statistics.median(times):>11.2f}"
            f"{percentile(times, 90):>9.2f}{max(times):>9.2f}  {rounds}"
        )
    print(f"total wall time: {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
