"""Engine speed, as ratios measured side by side in one run (no absolute claims).

Reference run: 2-8-1 sigmoid on `coffee` (400 samples), full batch, plain SGD,
history every step. Compared with (1) a hand-written NumPy loop of the same
network doing the same work per step (forward, backward, update, record
parameters, gradients, train/test loss and accuracy), (2) 32 such runs
side by side in one batched trainer, and (3) the same run with half of its
weights pruned by a `mask` setting (the Playground's and `run --mask`'s path).

With `--against REV`, also the CPU time of `step(100)` on the Playground's default preset at steady state
(the history recording every step) in this tree against REV's engine (`git archive` into a temporary
folder): one worker process per tree, asked in turns A, B, A, B, each turn timing a few `step(100)` with
`time.process_time` after stepping a fresh trainer to the same start; the ratio is of the medians.

    python bench/bench_engine.py [--against REV]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from symbreak import Config, Trainer, load_dataset
from symbreak.settings.explicit import explicit_json

STEPS = 400
REPEATS = 5
SIDE_BY_SIDE = 32
ROOT = Path(__file__).resolve().parent.parent
TURNS, PER_TURN, WARM_STEPS = 12, 5, 1200
# A worker: read a line per turn, step a fresh trainer to WARM_STEPS, print the CPU seconds of each step(100).
WORKER = """
import json, sys, time
import torch
torch.set_num_threads(1)
from symbreak.settings.presets import DEFAULT_PRESET, preset
from symbreak.engine.trainer import Trainer
trainer = Trainer(preset(DEFAULT_PRESET))
warm, per_turn = int(sys.argv[1]), int(sys.argv[2])
for _ in sys.stdin:
    trainer.reset()
    trainer.step(warm)
    times = []
    for _ in range(per_turn):
        start = time.process_time()
        trainer.step(100)
        times.append(time.process_time() - start)
    print(json.dumps(times), flush=True)
"""


def numpy_loop(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray, w1: np.ndarray, b1: np.ndarray,
               w2: np.ndarray, b2: np.ndarray, lr: float, steps: int) -> None:
    """The same 2-8-1 network with matmuls and a hand-written chain rule, recording every step."""
    n_params = w1.size + b1.size + w2.size + b2.size
    params = np.zeros((steps + 1, n_params), dtype=np.float32)
    grads = np.zeros_like(params)
    metrics = np.zeros((steps + 1, 4), dtype=np.float32)

    def sigmoid(z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-z))

    def evaluate(inputs: np.ndarray, target: np.ndarray) -> tuple[float, float]:
        logit = (sigmoid(inputs @ w1.T + b1) @ w2.T + b2)[:, 0]
        loss = np.mean(np.maximum(logit, 0) - logit * target + np.log1p(np.exp(-np.abs(logit))))
        return loss, np.mean((logit > 0) == target)

    for step in range(steps):
        h = sigmoid(x @ w1.T + b1)
        logit = (h @ w2.T + b2)[:, 0]
        dz2 = ((sigmoid(logit) - y) / len(y))[:, None]
        g_w2, g_b2 = dz2.T @ h, dz2.sum(0)
        dz1 = (dz2 @ w2) * h * (1 - h)
        g_w1, g_b1 = dz1.T @ x, dz1.sum(0)
        w1 -= lr * g_w1
        b1 -= lr * g_b1
        w2 -= lr * g_w2
        b2 -= lr * g_b2
        params[step + 1] = np.concatenate([w1.ravel(), b1, w2.ravel(), b2])
        grads[step + 1] = np.concatenate([g_w1.ravel(), g_b1, g_w2.ravel(), g_b2])
        metrics[step + 1] = (*evaluate(x, y), *evaluate(xt, yt))


def half_mask(trainer: Trainer) -> str:
    """A mask setting that prunes every other weight of each layer (a checkerboard), biases kept."""
    layers = []
    for weight, bias in trainer.parameters():
        rows, cols = np.indices(weight.shape)
        layers.append((((rows + cols) % 2 == 0).astype(int).tolist(), [1] * len(bias)))
    return explicit_json(layers)


def time_it(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def checkout(rev: str, folder: Path) -> Path:
    """REV's symbreak package, unpacked into folder."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "symbreak"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def step_100_ratio(rev: str) -> tuple[float, float, float]:
    """(this tree's median step(100) CPU seconds, REV's, their ratio), measured in alternating turns."""
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this": ROOT, rev: checkout(rev, Path(tmp))}
        workers = {}
        for name, tree in trees.items():
            env = {**os.environ, "PYTHONPATH": str(tree)}
            workers[name] = subprocess.Popen([sys.executable, "-c", WORKER, str(WARM_STEPS), str(PER_TURN)],
                                             cwd=tree, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             text=True)
        times: dict[str, list[float]] = {name: [] for name in trees}
        try:
            for _ in range(TURNS):
                for name, worker in workers.items():
                    worker.stdin.write("\n")
                    worker.stdin.flush()
                    times[name] += json.loads(worker.stdout.readline())
        finally:
            for worker in workers.values():
                worker.stdin.close()
                worker.wait()
    mine, theirs = statistics.median(times["this"]), statistics.median(times[rev])
    return mine, theirs, theirs / mine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="also time step(100) against this commit's engine")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = Config.from_flat({"dataset": "coffee", "hidden": "8", "activation": "sigmoid", "init": "xavier_uniform",
                               "lr": "1.0"})
    data = load_dataset(config)
    f32 = np.float32
    x, y = data.x_train.astype(f32), data.y_train.astype(f32)
    xt, yt = data.x_test.astype(f32), data.y_test.astype(f32)
    single = Trainer(config, dataset=data)
    batch = Trainer([config.with_flat(seed=str(s)) for s in range(SIDE_BY_SIDE)], dataset=data)
    masked = Trainer(config.with_flat(mask=half_mask(single)), dataset=data)
    (w1, b1), (w2, b2) = single.parameters()

    def run_numpy() -> None:
        numpy_loop(x, y, xt, yt, w1.astype(f32), b1.astype(f32), w2.astype(f32), b2.astype(f32), 1.0, STEPS)

    def run_engine(trainer: Trainer) -> None:
        trainer.reset()
        trainer.step(STEPS)

    ratios_numpy, ratios_batch, ratios_masked = [], [], []
    for _ in range(REPEATS):
        t_numpy = time_it(run_numpy)
        t_single = time_it(lambda: run_engine(single))
        t_batch = time_it(lambda: run_engine(batch))
        t_masked = time_it(lambda: run_engine(masked))
        ratios_numpy.append(t_single / t_numpy)
        ratios_batch.append(t_batch / t_single)
        ratios_masked.append(t_masked / t_single)
    print(f"engine step / NumPy step (2-8-1 sigmoid, coffee, full batch, history every step): "
          f"{statistics.median(ratios_numpy):.2f}x (target <= 3x)")
    print(f"{SIDE_BY_SIDE} runs side by side / one run: {statistics.median(ratios_batch):.2f}x (target <= 6x)")
    print(f"masked run (half the weights pruned) / dense run, step time: {statistics.median(ratios_masked):.2f}x "
          f"(target <= 1.2x)")
    if args.against:
        mine, theirs, ratio = step_100_ratio(args.against)
        print(f"step(100) CPU time, default preset at steady state: {args.against} {theirs * 1e3:.2f} ms / "
              f"this tree {mine * 1e3:.2f} ms = {ratio:.2f}x fewer CPU seconds here "
              f"(medians of {TURNS} alternating turns x {PER_TURN})")


if __name__ == "__main__":
    main()
