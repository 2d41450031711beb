"""Lesson: the lottery ticket (Frankle & Carbin, 2019). Iterative magnitude pruning: train, prune the smallest 20%
of each layer's remaining weights, rewind the survivors to their starting values, train again. At each sparsity
the ticket (rewound to its own start) is compared with the same mask from a fresh random start and with the dense
network, over several seeds. A second, small run prunes a tied network: magnitudes cannot tell tied neurons apart.
`playground_configs` turns a round's ticket and its fresh start into settings the Playground trains (the mask).
Pure functions (no streamlit); results hold plain arrays and tables, so a page can cache them."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from symbreak.data.dataset import Dataset
from symbreak.engine.metrics import distinct, gap
from symbreak.engine.model import Layout, init_params
from symbreak.engine.trainer import Trainer, load_dataset
from symbreak.lessons.boundary import final
from symbreak.settings.config import Config
from symbreak.settings.explicit import explicit_json

TICKET_DATASET = "moons"
TICKET_WIDTH = 32
TICKET_STEPS = 300
TICKET_LR = 0.01
TICKET_INIT = "he_uniform"
TIED_INIT = "constant:0.5"
PRUNE_FRACTION = 0.2
TICKET_ROUNDS = 14    # 0.8^14 ≈ 4%: the last ticket keeps about 5% of the weights
TICKET_SEEDS = 5
FRESH_SEED_OFFSET = 1000  # a fresh start for seed s draws from seed s + this
TICKET_ROWS = 8  # history rows per run: only the end is read
TICKET, FRESH, DENSE = "ticket", "fresh start", "dense"


def ticket_config(seed: int, init: str = TICKET_INIT, steps: int = TICKET_STEPS) -> Config:
    """One relu layer of 32 on the moons, trained with Adam (lr 0.01), full batch, from `init` drawn by `seed`."""
    return Config.from_flat({"dataset": TICKET_DATASET, "hidden": str(TICKET_WIDTH), "activation": "relu",
                             "init": init, "bias_init": "zeros", "optimizer": "adam", "lr": repr(TICKET_LR),
                             "steps": str(steps), "seed": str(seed)})


def prune(layout: Layout, theta: torch.Tensor, mask: torch.Tensor, fraction: float = PRUNE_FRACTION) -> torch.Tensor:
    """A new mask [P] that also prunes, in each layer, the round(fraction × remaining) kept weights of smallest
    magnitude in θ [P]; ties go by position (the first in the layer first), biases stay kept."""
    pruned = mask.clone()
    for (weight, _), (keep, _) in zip(layout.views(theta), layout.views(pruned)):
        alive = torch.nonzero(keep.reshape(-1)).flatten()
        count = math.floor(fraction * alive.numel() + 0.5)
        order = torch.argsort(weight.reshape(-1)[alive].abs(), stable=True)
        keep.view(-1)[alive[order[:count]]] = 0.0
    return pruned


def weights_left(layout: Layout, mask: torch.Tensor) -> float:
    """The share of the weights (not biases) a mask [P] keeps."""
    kept = sum(int(w.sum()) for w, _ in layout.views(mask))
    return kept / sum(o * i for _, _, o, i in layout.slices)


@dataclass(frozen=True)
class Ticket:
    """The pruning experiment, a tied network pruned the same way, and what each took."""

    table: pd.DataFrame          # one row per round and seed: weights left, ticket, fresh and dense test accuracy
    summary: pd.DataFrame        # one row per round: mean, lowest and highest of each over the seeds
    layers: list[list[tuple[np.ndarray, np.ndarray]]]  # per round: seed 0's ticket (trained weight, mask) per layer
    tied_masks_distinct: int     # distinct mask patterns among the tied network's hidden neurons
    tied_distinct: int           # distinct hidden neurons after the tied ticket trained
    tied_gap: float              # largest difference between neurons that share a mask pattern
    seeds: int
    rounds: int
    networks: int
    seconds: float


def _trained(configs: list[Config], data: Dataset, masks: torch.Tensor | None, steps: int) -> Trainer:
    trainer = Trainer(configs, dataset=data, max_rows=TICKET_ROWS, mask=masks)
    trainer.step(steps)
    return trainer


def tied_ticket(data: Dataset, steps: int) -> tuple[int, int, float]:
    """Prune a network trained from a constant start, rewind it and train again: the neurons that share a mask
    pattern stay identical. Returns the mask patterns, the distinct neurons and the largest gap within a pattern."""
    config = ticket_config(0, TIED_INIT, steps)
    dense = _trained([config], data, None, steps)
    mask = prune(dense.layout, dense.theta[0].double(), torch.ones(dense.layout.n_params, dtype=torch.float64))
    ticket = _trained([config], data, mask, steps)
    (w1, _), (w2, _) = ticket.layout.views(mask)
    patterns = torch.cat([w1, w2.T], dim=1)  # neuron j: its input weights' mask and its output weight's
    groups: dict[tuple, list[int]] = {}
    for neuron, row in enumerate(patterns.tolist()):
        groups.setdefault(tuple(row), []).append(neuron)
    (w1, b1), (w2, _) = ticket.layout.views(ticket.theta[0].double())
    vectors = torch.cat([w1, b1.unsqueeze(-1), w2.T], dim=1).numpy()  # in weights, bias, out weight per neuron
    within = max(float(gap(vectors[members])) for members in groups.values())
    return len(groups), int(distinct(vectors, config.tol)), within


def lottery(seeds: int = TICKET_SEEDS, rounds: int = TICKET_ROUNDS, steps: int = TICKET_STEPS,
            progress: Callable[[float, str], None] | None = None) -> Ticket:
    """Iterative magnitude pruning over `rounds` rounds for each seed: one batched trainer per round holds every
    seed's ticket and its fresh start (the dense network is round 0's tickets)."""
    start = time.perf_counter()
    data = load_dataset(ticket_config(0))
    tickets = [ticket_config(s) for s in range(seeds)]
    fresh = [ticket_config(s + FRESH_SEED_OFFSET) for s in range(seeds)]
    dense = _trained(tickets, data, None, steps)
    layout = dense.layout
    masks = torch.ones(seeds, layout.n_params, dtype=torch.float64)
    rows, layers, trained, networks = [], [], dense, seeds
    dense_accuracy = [final(dense, "test_accuracy", s) for s in range(seeds)]
    for round_ in range(rounds + 1):
        if progress:
            progress(round_ / (rounds + 1), f"Round {round_} of {rounds}")
        if round_:
            masks = torch.stack([prune(layout, trained.theta[s].double(), masks[s]) for s in range(seeds)])
            trained = _trained(tickets + fresh, data, torch.cat([masks, masks]), steps)
            networks += 2 * seeds
        layers.append([(w.numpy().copy(), m.numpy().copy()) for (w, _), (m, _) in
                       zip(layout.views(trained.theta[0].double()), layout.views(masks[0]))])
        for s in range(seeds):
            rows.append({"round": round_, "seed": s, "weights left": weights_left(layout, masks[s]),
                         TICKET: final(trained, "test_accuracy", s),
                         FRESH: final(trained, "test_accuracy", seeds + s) if round_ else dense_accuracy[s],
                         DENSE: dense_accuracy[s]})
    table = pd.DataFrame(rows)
    summary = table.groupby("round").agg(**{"weights left": ("weights left", "mean")}, **{
        f"{name} {stat}": (name, stat) for name in (TICKET, FRESH, DENSE) for stat in ("mean", "min", "max")})
    patterns, tied_distinct, tied_gap = tied_ticket(data, steps)
    return Ticket(table, summary.reset_index(), layers, patterns, tied_distinct, tied_gap, seeds, rounds,
                  networks + 2, time.perf_counter() - start)


SAME = 0.01  # mean test accuracies closer than one point are "about the same"
ASKED_LEFT = 0.2  # the question's sparsity: 80% of the weights pruned
BETTER, SAME_ANSWER, WORSE = "better", "about the same", "worse"


def nearest_round(result: Ticket, left: float) -> pd.Series:
    """The summary row whose share of weights left is nearest to `left`."""
    summary = result.summary
    return summary.loc[(summary["weights left"] - left).abs().idxmin()]


def compare(ticket: float, fresh: float) -> str:
    """Whether the ticket's accuracy is better than, about the same as, or worse than the fresh start's."""
    return SAME_ANSWER if abs(ticket - fresh) < SAME else BETTER if ticket > fresh else WORSE


def _last_within(summary: pd.DataFrame, name: str, points: float) -> float:
    """The fewest weights left at which `name`'s mean, and every round's before it, stays within `points` of dense."""
    close = (summary[f"{DENSE} mean"] - summary[f"{name} mean"]) <= points
    upto = int(close.cumprod().sum())
    return float(summary["weights left"].iloc[max(upto - 1, 0)])


def ticket_sentences(result: Ticket) -> list[str]:
    """One sentence per finding, with the numbers this run measured."""
    s, first, last = result.summary, result.summary.iloc[0], result.summary.iloc[-1]
    asked = nearest_round(result, ASKED_LEFT)
    verdict = compare(asked[f"{TICKET} mean"], asked[f"{FRESH} mean"])
    return [
        f"**The dense network** (every weight) gets {first[f'{DENSE} mean']:.1%} of the test points right on "
        f"average over {result.seeds} seeds ({first[f'{DENSE} min']:.0%}–{first[f'{DENSE} max']:.0%}).",
        f"**With {asked['weights left']:.0%} of the weights left** the ticket gets {asked[f'{TICKET} mean']:.1%} "
        f"and the same mask from a fresh random start {asked[f'{FRESH} mean']:.1%}: the ticket does {verdict}"
        f"{'' if verdict == SAME_ANSWER else ' than the fresh start'}.",
        f"**At {last['weights left']:.1%} of the weights** the ticket gets {last[f'{TICKET} mean']:.1%} "
        f"({last[f'{TICKET} min']:.0%}–{last[f'{TICKET} max']:.0%}), the fresh start {last[f'{FRESH} mean']:.1%} "
        f"({last[f'{FRESH} min']:.0%}–{last[f'{FRESH} max']:.0%}).",
        f"**Within 2 points of the dense network**: the ticket down to {_last_within(s, TICKET, 0.02):.0%} of the "
        f"weights, the fresh start down to {_last_within(s, FRESH, 0.02):.0%}.",
        f"**From a tied start** (every weight 0.5) the trained neurons' weights take one size per input, so "
        f"magnitude cannot choose among them: the 20% cut goes by position in the list. The {TICKET_WIDTH} neurons "
        f"fall into {result.tied_masks_distinct} mask patterns; rewound and trained again they are "
        f"{result.tied_distinct} distinct neurons, and neurons sharing a pattern "
        f"{'stay bitwise identical' if result.tied_gap == 0 else f'differ by at most {result.tied_gap:.2g}'}. "
        f"The ticket is as tied as its start: only the arbitrary cut told neurons apart.",
    ]


def summary_json(result: Ticket) -> dict:
    """The experiment's numbers for the command line: one entry per round, the tied run, and the cost."""
    rounds = [{key.replace(" ", "_"): (int(v) if key == "round" else round(float(v), 6)) for key, v in row.items()}
              for row in result.summary.to_dict("records")]
    return {"seeds": result.seeds, "rounds": rounds, "networks": result.networks,
            "tied": {"mask_patterns": result.tied_masks_distinct, "distinct_neurons": result.tied_distinct,
                     "gap_within_patterns": result.tied_gap},
            "seconds": round(result.seconds, 2)}


def mask_json(layers: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """A round's mask (its (weight, mask) per layer, as in `Ticket.layers`) as the `mask` setting's JSON; '' when
    it prunes nothing. Biases are kept."""
    if all(mask.all() for _, mask in layers):
        return ""
    return explicit_json([(mask.astype(int).tolist(), [1] * mask.shape[0]) for _, mask in layers])


def playground_configs(result: Ticket, round_: int) -> tuple[Config, Config]:
    """Seed 0's ticket after `round_` as the Playground trains it (its mask on its own starting weights: the
    rewind), and the same mask on the fresh random start the lesson gave it (typed in, so that the data stay
    seed 0's). Trained for TICKET_STEPS, each reaches the test accuracy the lesson measured for it."""
    layers = result.layers[round_]
    ticket = ticket_config(0).with_flat(mask=mask_json(layers))
    layout = Layout((layers[0][0].shape[1], *(weight.shape[0] for weight, _ in layers)))
    fresh = init_params(ticket_config(FRESH_SEED_OFFSET), layout, torch.Generator().manual_seed(FRESH_SEED_OFFSET))
    start = explicit_json([(w.tolist(), b.tolist()) for w, b in layout.views(fresh)])
    return ticket, ticket.with_flat(init_weights=start)
