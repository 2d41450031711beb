"""Step-by-step training of K runs at once, with recording and a divergence stop.

The network's arithmetic is a `model.Workspace`'s and the updates are `optim.Optimizer`'s; the trainer draws
the batches and dropout masks, steps, records and stops a run that diverges (what the run is told is made by
`divergence` from the history, the config and the run's step 0).

The K runs share data and architecture (and optimizer, batch size, dtype, arithmetic); each has its own
starting parameters, dropout rate, learning rate, weight decay and seed. Every operation is batched over K,
and each run's random draws come from its own generator, so K runs side by side give the same numbers as K
separate runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from symbreak.data.builtin import make_builtin
from symbreak.data.csv_files import load_csv
from symbreak.data.dataset import Dataset
from symbreak.engine import divergence, model, pruning
from symbreak.engine.history import COLUMN, History
from symbreak.engine.model import Layout
from symbreak.engine.optim import Optimizer
from symbreak.settings.config import Config
from symbreak.settings.explicit import explicit_json
from symbreak.settings.values import ConfigError

TRAIN_SEED_OFFSET = 1
TEST_CHUNK_ELEMENTS = 1 << 21  # elements per layer activation when recorded rows are scored on the test set together


def load_dataset(config: Config, source: object = None) -> Dataset:
    """The config's dataset: a built-in, or a CSV from `source` (bytes, file) or `config.data.path`."""
    data = config.data
    if data.dataset == "csv":
        if source is None and not data.path:
            raise ConfigError("dataset: csv needs a file (--data FILE.csv, or an upload)")
        return load_csv(source if source is not None else data.path, name=data.path or "data.csv",
                        target=data.target, task=data.task, standardize=data.standardize,
                        test_fraction=data.test_fraction, seed=config.seed)
    return make_builtin(data.dataset, n_samples=data.n_samples, noise=data.noise,
                        test_fraction=data.test_fraction, seed=config.seed)


def _shared_key(config: Config) -> tuple:
    t = config.train
    return (config.data, config.model, t.optimizer, t.batch_size, t.dtype, t.arithmetic)


class Trainer:
    """Trains K compatible configurations step by step and records everything; a weight `mask` [P] or [K, P]
    (1 keep, 0 prune), and each config's own, hold the pruned weights at 0.0 from the start, whatever the init."""

    def __init__(self, configs: Config | Sequence[Config], dataset: Dataset | None = None,
                 max_rows: int | None = None, mask: torch.Tensor | None = None) -> None:
        configs = [configs] if isinstance(configs, Config) else list(configs)
        if not configs:
            raise ConfigError("trainer: give at least one configuration")
        key = _shared_key(configs[0])
        for c in configs[1:]:
            if _shared_key(c) != key:
                raise ConfigError(
                    "side by side: runs must share data, hidden layers, activation, optimizer, batch size, "
                    "dtype and arithmetic; use run_side_by_side to group them"
                )
        self.configs = configs
        self.config = configs[0]
        self.k = len(configs)
        self.dataset = dataset if dataset is not None else load_dataset(self.config)
        self.task = self.dataset.task
        self.dtype = torch.float64 if self.config.train.dtype == "float64" else torch.float32
        self.activation = self.config.model.activation
        self.layout = Layout((self.dataset.n_features, *self.config.model.hidden, self.dataset.n_outputs))
        self.net = model.MLP(self.layout, self.activation, self.task, self.config.train.arithmetic == "exact")
        self._set_data()
        self.initial = torch.stack([
            model.init_params(c, self.layout, torch.Generator().manual_seed(c.seed)) for c in configs
        ]).to(self.dtype)
        self.pruned = pruning.pruned(self.layout, configs, mask)
        if self.pruned is not None:
            self.initial.masked_fill_(self.pruned, 0.0)
        self.optimizer = Optimizer(self.config.train.optimizer, self._per_run([c.train.lr for c in configs]),
                                   self._per_run([c.train.weight_decay for c in configs]), self.initial,
                                   self.pruned)
        self.keep = [1.0 - c.train.dropout for c in configs]
        self.uses_dropout = any(k < 1.0 for k in self.keep) and self.layout.n_layers > 1
        batch = self.config.train.batch_size
        self.batch_size = batch if 0 < batch < self.n_train else self.n_train
        self.history = History(self.layout, self.k, self.dtype, max_rows, pruned=self.pruned)
        self._zero_grad = torch.zeros(self.k, self.layout.n_params, dtype=self.dtype)
        self.reset()

    # ---------------------------------------------------------------- set-up
    def _per_run(self, values: list[float]) -> torch.Tensor:
        return torch.tensor(values, dtype=self.dtype).unsqueeze(-1)

    def _set_data(self) -> None:
        def tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
            xt = torch.as_tensor(np.ascontiguousarray(x), dtype=self.dtype).unsqueeze(0)
            yt = torch.as_tensor(y, dtype=self.dtype)
            onehot = None
            if self.task == "multiclass":
                onehot = torch.nn.functional.one_hot(yt.long(), self.dataset.n_outputs).to(self.dtype)
            return xt, yt, onehot

        self.x_train, self.y_train, self.onehot_train = tensors(self.dataset.x_train, self.dataset.y_train)
        self.x_test, self.y_test, self.onehot_test = tensors(self.dataset.x_test, self.dataset.y_test)
        self.x_train_t = self.x_train.transpose(-1, -2).contiguous()
        self.n_train = self.x_train.shape[1]

    def reset(self) -> None:
        """Back to the same initial parameters, generators and an empty history."""
        # gradient, θ and metrics in one buffer laid out as a history row: one copy records them, and one sum
        # checks θ with the train loss after it
        self._state = torch.full((self.history.width,), float("nan"), dtype=self.dtype)
        self.grad, self.theta, self._metrics_row = self.history.split(self._state)
        self.grad.zero_()
        self.theta.copy_(self.initial)
        self._train_loss = self._metrics_row[COLUMN["train_loss"]]
        self._checked = self._state[self.grad.numel(): self.grad.numel() + self.theta.numel() + self.k]
        # the whole train set without dropout, for records and such steps: kept when small, else made for each state
        self._work: model.Workspace | None = self._workspace(self.n_train, dropout=False)
        self._keep_work = self._work.small
        self._fast = not self.uses_dropout and self.batch_size >= self.n_train
        self._stepping: dict[int, model.Workspace] = {}  # with dropout or mini-batches: per batch length, if small
        self.optimizer.reset(self.theta)
        self.step_count = 0
        self.diverged_at: list[int | None] = [None] * self.k
        self.diverged_reason = [""] * self.k
        self.frozen = torch.zeros(self.k, 1, dtype=torch.bool)
        self._held = torch.zeros(self.k, 1, dtype=torch.bool)  # frozen runs moved back by `_hold`
        self.any_frozen = False
        self._previous = self.theta.clone()
        self.generators = [torch.Generator().manual_seed(c.seed + TRAIN_SEED_OFFSET) for c in self.configs]
        self.order: torch.Tensor | None = None
        self._fresh = False  # whether the workspace a step takes holds the forward pass at θ
        self.history.clear()
        self._unscored = 0
        self._train_out: dict[int, torch.Tensor] = {}
        with torch.inference_mode():
            self._record(on_stride=True)
            self._score_recorded()

    # ------------------------------------------------------------ the network
    def _workspace(self, n: int, dropout: bool) -> model.Workspace:
        """A workspace stepping the trainer's θ on n examples per run: the train set, or buffers for mini-batches."""
        inputs = (self.x_train, self.y_train, self.onehot_train, self.x_train_t)
        if n < self.n_train:
            k, width, classes = self.k, self.layout.sizes[0], self.dataset.n_outputs
            inputs = (torch.empty(k, n, width, dtype=self.dtype), torch.empty(k, n, dtype=self.dtype),
                      None if self.onehot_train is None else torch.empty(k, n, classes, dtype=self.dtype),
                      torch.empty(k, width, n, dtype=self.dtype))
        return self.net.workspace(self.theta, *inputs, self.grad, dropout)

    def forward(self, theta: torch.Tensor, x: torch.Tensor, for_backward: bool = False) -> model.Workspace:
        """The network at θ [K, P] after a forward pass on inputs x [1 or K, M, in]: each hidden layer's
        activations (`post`) and the output logits (`out`). With `for_backward`, on the train inputs, it is
        ready for `backward()` into a gradient of its own (`grad`)."""
        if for_backward and x is not self.x_train:
            raise ValueError("forward: a backward pass is taken on the train inputs")
        train = (self.y_train, self.onehot_train, self.x_train_t, torch.zeros_like(theta)) if for_backward else ()
        work = self.net.workspace(theta, x, *train)
        work.forward()
        return work

    def gradients(self, theta: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-batch loss [K] and gradient [K, P] at θ, without dropout and without stepping."""
        theta = self.theta if theta is None else theta.to(self.dtype)
        with torch.inference_mode():
            work = self.forward(theta, self.x_train, for_backward=True)
            loss = model.output_loss(self.task, work.out, self.y_train, self.onehot_train)
            work.backward()
            return loss, work.grad

    # --------------------------------------------------------------- stepping
    def _batch(self) -> model.Workspace:
        """This step's workspace: on the whole train set (with dropout), or holding each run's next mini-batch."""
        if self.batch_size >= self.n_train:
            return self._stepper(self.n_train)
        per_epoch = math.ceil(self.n_train / self.batch_size)
        position = self.step_count % per_epoch
        if position == 0 or self.order is None:
            self.order = torch.stack([torch.randperm(self.n_train, generator=g) for g in self.generators])
        rows = self.order[:, position * self.batch_size: (position + 1) * self.batch_size]
        work = self._stepper(rows.shape[1])
        work.load(rows, self.x_train[0], self.y_train, self.onehot_train)
        return work

    def _stepper(self, n: int) -> model.Workspace:
        """The workspace for steps with dropout or on mini-batches of n examples: kept when small."""
        work = self._stepping.get(n) or self._workspace(n, self.uses_dropout)
        if work.small:
            self._stepping[n] = work
        return work

    def _full_batch(self) -> model.Workspace:
        """The workspace on the whole train set without dropout: the kept one, or one made for this state."""
        self._work = self._work or self._workspace(self.n_train, dropout=False)
        return self._work

    def _masks(self, n: int) -> list[torch.Tensor] | None:
        if not self.uses_dropout:
            return None
        masks = []
        for width in self.config.model.hidden:
            mask = torch.ones(self.k, n, width, dtype=self.dtype)
            for run, (keep, gen) in enumerate(zip(self.keep, self.generators)):
                if keep < 1.0:
                    mask[run] = (torch.rand(n, width, generator=gen, dtype=self.dtype) < keep).to(self.dtype) / keep
            masks.append(mask)
        return masks

    def step(self, n: int = 1, seconds: float | None = None) -> int:
        """Advance exactly n optimizer updates (fewer only if every run diverged); returns how many.

        With `seconds`, stop early after the first update that ends past that time budget (at least one is
        made), so a page can train a long request in slices and redraw in between.
        """
        if n < 0:
            raise ValueError("step: n must be 0 or more")
        start = self.step_count
        deadline = None if seconds is None else time.monotonic() + seconds
        with torch.inference_mode():
            for _ in range(n):
                if self.all_diverged:
                    break
                self._one_step()
                if deadline is not None and time.monotonic() >= deadline:
                    break
            if self.history.step_index[self.history.count - 1] != self.step_count and not self.all_diverged:
                self._record(on_stride=False)
            self._score_recorded()
        return self.step_count - start

    def _one_step(self) -> None:
        if self._fast:
            work = self._work or self._full_batch()
            if not self._fresh:
                work.forward()
            work.backward()
        else:
            work = self._batch()
            masks = self._masks(work.x.shape[-2])
            work.forward(masks)
            work.backward(masks)
        self._previous.copy_(self.theta)
        self.optimizer.update(self.theta, self.grad, self.step_count)
        self.step_count += 1
        self._fresh = False
        if not self._keep_work:
            self._work = None
        record = self.history.wants(self.step_count)
        if not record:  # a record checks θ with the loss after it, in one sum
            self._check_weights()
        if self.any_frozen:
            self.theta.copy_(torch.where(self.frozen, self._previous, self.theta))
        if record and not self.all_diverged:
            self._record(on_stride=True, check_weights=True)

    def _check_weights(self) -> None:
        if not math.isfinite(float(self.theta.sum())):
            nan = torch.isnan(self.theta).any(-1).tolist()
            self._diverge(~torch.isfinite(self.theta).all(-1, keepdim=True),
                          ["a weight became NaN" if n else "a weight overflowed to infinity" for n in nan])

    def _diverge(self, bad: torch.Tensor, reasons: list[str]) -> None:
        """Stop the bad runs at their last finite state (the one before this step) and say why."""
        bad = bad & ~self.frozen
        for run in torch.nonzero(bad[:, 0]).flatten().tolist():
            self.diverged_at[run] = self.step_count
            self.diverged_reason[run] = reasons[run]
        self.frozen |= bad
        self.any_frozen = bool(self.frozen.any())
        self.theta.copy_(torch.where(self.frozen, self._previous, self.theta))
        if self.all_diverged and self.step_count > 0:
            self.step_count -= 1

    def _record(self, on_stride: bool, check_weights: bool = False) -> None:
        """Evaluate the train loss at θ and write a history row; its accuracies and test loss come later.

        The test set is scored for all rows recorded by one `step(n)` together, and the train accuracy from the
        outputs kept until then (see `_score_recorded`): a separate forward pass per step cost about as much as
        the step itself, and the accuracy alone about a tenth of a step. With `check_weights`, θ is checked here
        too, before the loss, as a step checks it before recording.
        """
        out = self._train_output()
        # A run found bad is frozen at the state before this step, and that state's loss evaluated in turn: a
        # newly bad run is frozen in its turn, a frozen run whose loss is not finite is held earlier (`_hold`).
        while self.step_count > 0:
            if math.isfinite(float((self._checked if check_weights else self._train_loss).sum())):
                break
            if check_weights:
                self._check_weights()
                check_weights = False
            elif not self._freeze_losses():
                break  # each run left with a non-finite loss is held at its start: no finite state to go back to
            if self.all_diverged:
                return
            out = self._train_output()
        history = self.history
        held = len(self._train_out) * out.numel()
        if history.count - history.tail == history.capacity or held >= TEST_CHUNK_ELEMENTS:
            self._score_recorded()  # the rows are about to be thinned and moved, or the outputs kept are many
        grad, state = (self.grad, self._state) if self.step_count else (self._zero_grad, None)
        history.record(self.step_count, self.theta, grad, self._metrics_row, on_stride, state)
        self._unscored = min(self._unscored, history.count - 1)
        if self.task != "regression":
            self._train_out[history.count - 1] = out  # a tail row recorded again replaces its entry

    def _train_output(self) -> torch.Tensor:
        """The train outputs at θ, with their loss written into the metrics row."""
        out, self._fresh = (self._work or self._full_batch()).forward(), self._fast
        if not (self._keep_work or self._fast):
            self._work = None  # no step takes its forward pass
        model.output_loss(self.task, out, self.y_train, self.onehot_train, out=self._train_loss)
        return out

    def _freeze_losses(self) -> bool:
        """Freeze the runs whose train loss is not finite; False when each of them is held for good already."""
        loss = self._train_loss
        bad = ~torch.isfinite(loss).unsqueeze(-1)
        if (bad & ~self.frozen).any():
            self._diverge(bad, [f"the loss became {'NaN' if math.isnan(v) else 'infinite'}" for v in loss.tolist()])
            return True
        return self._hold(bad & ~self._held)

    def _hold(self, runs: torch.Tensor) -> bool:
        """Move frozen runs [K, 1] whose state has a non-finite loss to an earlier state, and say so.

        A run is frozen at the state before the step that failed, whose loss was evaluated only if that step
        was recorded (each one at first, every `stride` steps once the history has thinned, and the last of a
        `step(n)`). When that loss is not finite either, the run goes back to its last recorded row with a
        finite loss, or to its start if there is none (a loss not finite from the start), and stays there.
        """
        for run in torch.nonzero(runs[:, 0]).flatten().tolist():
            row = self.history.last_finite(run)
            state = self.initial[run] if row is None else self.history.params[row, run]
            self.theta[run], self._previous[run] = state, state
            held = None if row is None else int(self.history.step_index[row])
            self.diverged_reason[run] += divergence.held_reason(self.diverged_at[run], held)
        self._held |= runs
        return bool(runs.any())

    def _score_recorded(self) -> None:
        """Train accuracy, and test loss and accuracy, of every row recorded since the last call.

        The train outputs kept by `_record` are scored stacked, and the rows' parameters run on the test set
        stacked as runs. Runs are evaluated independently of how many are stacked (the premise of side-by-side
        training), and an accuracy is a count of correct predictions over N, so the numbers equal a per-step
        evaluation.
        """
        history, start = self.history, self._unscored
        if self._train_out:
            rows = list(self._train_out)
            outputs = torch.stack([self._train_out[row] for row in rows])
            accuracy = model.accuracy(self.task, outputs, self.y_train)
            history.metrics[rows, COLUMN["train_accuracy"]] = accuracy.to(self.dtype)
            self._train_out.clear()
        self._unscored = history.count
        if start >= history.count or not self.y_test.shape[0]:
            return
        n_params = self.layout.n_params
        widest = max(self.layout.sizes)
        per_row = self.k * self.y_test.shape[0] * widest
        chunk = max(1, TEST_CHUNK_ELEMENTS // per_row)
        for first in range(start, history.count, chunk):
            last = min(first + chunk, history.count)
            theta = history.params[first:last].reshape(-1, n_params)
            out = self.forward(theta, self.x_test).out
            metrics = history.metrics[first:last]
            loss = model.output_loss(self.task, out, self.y_test, self.onehot_test)
            metrics[:, COLUMN["test_loss"]] = loss.view(-1, self.k)
            if self.task != "regression":
                metrics[:, COLUMN["test_accuracy"]] = model.accuracy(self.task, out, self.y_test).view(-1, self.k)

    # ------------------------------------------------------------- reporting
    @property
    def diverged(self) -> bool:
        """Whether the first (or only) run has diverged."""
        return self.diverged_at[0] is not None

    @property
    def all_diverged(self) -> bool:
        return None not in self.diverged_at

    def start(self, run: int = 0) -> divergence.Start:
        """What the run saw at step 0 that can explain a blow-up (see `divergence`)."""
        return divergence.Start.of(self.initial[run], self.dataset.x_train)

    def divergence_message(self, run: int = 0) -> str:
        """What happened and what to change, for the user; empty if the run is fine."""
        return divergence.divergence_message(self.history, run, self.configs[run], self.start(run),
                                             self.diverged_at[run], self.diverged_reason[run])

    def overshoot_message(self, run: int = 0) -> str:
        """A warning when the loss blew up but stayed finite; empty otherwise (see `divergence`)."""
        return divergence.overshoot_message(self.history, run, self.configs[run], self.start(run),
                                            self.diverged_at[run] is not None)

    def parameters(self, run: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """Current (weight [out, in], bias [out]) per layer as float64 arrays."""
        return [(w.double().numpy().copy(), b.double().numpy().copy()) for w, b in self.layout.views(self.theta[run])]

    def weights_json(self, run: int = 0) -> str:
        """Current parameters in the `--init-weights` JSON format."""
        return explicit_json([(w.tolist(), b.tolist()) for w, b in self.parameters(run)])

    def layer_outputs(self, x: np.ndarray, row: int | None = None, run: int = 0) -> list[np.ndarray]:
        """Each hidden layer's activations [M, width] and the prediction [M, n_out] on inputs x [M, d].

        Uses the parameters of history row `row` (default: the current ones). The prediction is a probability
        for binary, class probabilities for multiclass, and the value for regression.
        """
        theta = self.theta[run: run + 1] if row is None else self.history.params[row, run: run + 1]
        inputs = torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=self.dtype).unsqueeze(0)
        with torch.inference_mode():
            outputs = self.net.outputs(theta, inputs)
        return [a[0].double().numpy().copy() for a in outputs]

    @property
    def final_loss(self) -> list[float]:
        row = self.history.count - 1
        return self.history.metrics[row, COLUMN["train_loss"]].double().tolist()


def run_side_by_side(configs: Sequence[Config], dataset: Dataset | None = None,
                     max_rows: int | None = None) -> list[tuple[Trainer, int]]:
    """Batch the configs into as few trainers as their shared fields allow.

    Returns, for each config in order, its trainer and its run index there. Configs that differ only in init,
    dropout, learning rate, weight decay or seed share one batched computation.
    """
    if not configs:
        return []
    dataset = dataset if dataset is not None else load_dataset(configs[0])
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault(_shared_key(replace(c, data=configs[0].data)), []).append(i)
    placement: list[tuple[Trainer, int]] = [None] * len(configs)  # type: ignore[list-item]
    for members in groups.values():
        trainer = Trainer([configs[i] for i in members], dataset=dataset, max_rows=max_rows)
        for run, i in enumerate(members):
            placement[i] = (trainer, run)
    return placement
