"""Engine speed, as ratios measured side by side in one run (no absolute claims).

Reference run: 2-8-1 sigmoid on `coffee` (400 samples), full batch, plain SGD,
history every step. Compared with (1) a hand-written NumPy loop of the same
network doing the same work per step (forward, backward, update, record
parameters, gradients, train/test loss and accuracy), and (2) 32 such runs
side by side in one batched trainer.

    python bench/bench_engine.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from symbreak import Config, Trainer, load_dataset

STEPS = 400
REPEATS = 5
SIDE_BY_SIDE = 32


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


def time_it(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(1)
    config = Config.from_flat({"dataset": "coffee", "hidden": "8", "activation": "sigmoid", "init": "xavier_uniform",
                               "lr": "1.0"})
    data = load_dataset(config)
    f32 = np.float32
    x, y = data.x_train.astype(f32), data.y_train.astype(f32)
    xt, yt = data.x_test.astype(f32), data.y_test.astype(f32)
    single = Trainer(config, dataset=data)
    batch = Trainer([config.with_flat(seed=str(s)) for s in range(SIDE_BY_SIDE)], dataset=data)
    (w1, b1), (w2, b2) = single.parameters()

    def run_numpy() -> None:
        numpy_loop(x, y, xt, yt, w1.astype(f32), b1.astype(f32), w2.astype(f32), b2.astype(f32), 1.0, STEPS)

    def run_engine(trainer: Trainer) -> None:
        trainer.reset()
        trainer.step(STEPS)

    ratios_numpy, ratios_batch = [], []
    for _ in range(REPEATS):
        t_numpy = time_it(run_numpy)
        t_single = time_it(lambda: run_engine(single))
        t_batch = time_it(lambda: run_engine(batch))
        ratios_numpy.append(t_single / t_numpy)
        ratios_batch.append(t_batch / t_single)
    print(f"engine step / NumPy step (2-8-1 sigmoid, coffee, full batch, history every step): "
          f"{statistics.median(ratios_numpy):.2f}x (target <= 3x)")
    print(f"{SIDE_BY_SIDE} runs side by side / one run: {statistics.median(ratios_batch):.2f}x (target <= 6x)")


if __name__ == "__main__":
    main()
