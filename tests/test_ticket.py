"""The lottery-ticket lesson: pruning cuts exactly 20% of each layer's remaining weights, smallest first; a ticket
restarts from its own starting values bitwise; a ticket cut from a tied network stays tied; and its page asks
first, then shows what it measured."""

from __future__ import annotations

import json
import math
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import test_lesson_pages as lesson_pages  # also puts the app's folder on the path, as app.py runs
import torch
from test_lesson_pages import links, text

from symbreak.cli import main
from symbreak.engine.model import Layout
from symbreak.engine.trainer import Trainer, load_dataset
from symbreak.lessons import ticket
from symbreak.settings.config import Config

LAYOUT = Layout((2, ticket.TICKET_WIDTH, 1))
TIMEOUT = 180


def expected_kept(n: int, rounds: int) -> list[int]:
    kept = [n]
    for _ in range(rounds):
        kept.append(kept[-1] - math.floor(0.2 * kept[-1] + 0.5))
    return kept


def test_each_round_prunes_exactly_a_fifth_of_each_layers_remaining_weights_smallest_first() -> None:
    theta = torch.randn(LAYOUT.n_params, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    mask = torch.ones(LAYOUT.n_params, dtype=torch.float64)
    counts = [expected_kept(o * i, ticket.TICKET_ROUNDS) for _, _, o, i in LAYOUT.slices]
    for round_ in range(1, ticket.TICKET_ROUNDS + 1):
        before = mask
        mask = ticket.prune(LAYOUT, theta, mask)
        for layer, ((w, b), (old, _), (new, new_bias)) in enumerate(
                zip(LAYOUT.views(theta), LAYOUT.views(before), LAYOUT.views(mask))):
            assert int(new.sum()) == counts[layer][round_]
            assert bool((new_bias == 1).all()) and bool((new <= old).all())
            cut = (old == 1) & (new == 0)
            if cut.any():
                assert float(w[cut].abs().max()) <= float(w[new == 1].abs().min())
    left = sum(c[-1] for c in counts) / sum(c[0] for c in counts)
    assert ticket.weights_left(LAYOUT, mask) == left and 0.04 <= left <= 0.06


def test_the_lottery_table_reports_the_exact_share_left_each_round() -> None:
    result = ticket.lottery(seeds=2, rounds=3, steps=40)
    counts = [expected_kept(o * i, 3) for _, _, o, i in LAYOUT.slices]
    total = sum(c[0] for c in counts)
    expected = [sum(c[r] for c in counts) / total for r in range(4)]
    assert result.summary["weights left"].tolist() == expected
    assert len(result.table) == 2 * 4 and len(result.layers) == 4
    assert (result.table[ticket.DENSE] == result.table.loc[result.table["round"] == 0, ticket.TICKET].tolist() * 4).all()


def test_a_ticket_restarts_from_its_own_starting_values_bitwise() -> None:
    config = ticket.ticket_config(2, steps=50)
    dense = Trainer(config)
    start = dense.initial.clone()
    dense.step(50)
    mask = ticket.prune(dense.layout, dense.theta[0].double(), torch.ones(dense.layout.n_params, dtype=torch.float64))
    rewound = Trainer(config, dataset=dense.dataset, mask=mask)
    kept, pruned = mask == 1, mask == 0
    assert torch.equal(rewound.initial[0][kept], start[0][kept])
    assert pruned.any() and bool((rewound.initial[0][pruned] == 0).all())
    assert torch.equal(rewound.theta, rewound.initial)


def test_a_ticket_cut_from_a_tied_network_stays_tied() -> None:
    data = load_dataset(ticket.ticket_config(0))
    patterns, distinct, gap = ticket.tied_ticket(data, 200)
    assert 1 < patterns < ticket.TICKET_WIDTH
    assert distinct == patterns and gap == 0.0


def test_the_page_opens_on_its_question() -> None:
    at = lesson_pages.page("lesson_ticket", TIMEOUT)
    [radio] = [r for r in at.radio if r.key.endswith("_guess")]
    assert radio.value is None and list(radio.options) == [ticket.BETTER, ticket.SAME_ANSWER, ticket.WORSE]
    assert [b.label for b in at.button] == ["Show me"]
    assert not at.success and not at.warning and not links(at)


@pytest.fixture(scope="module")
def answered():
    return lesson_pages.page("lesson_ticket", TIMEOUT, predict="0")


def playground_links(at) -> dict[str, Config]:
    """Label → config of the page's Playground links (plain links: the page runs outside the app)."""
    return {label: Config.from_flat({k: v for k, v in parse_qsl(urlsplit(url).query) if k != "predict"})
            for label, url in re.findall(r"\[([^\]]+)\]\((/\?[^)]*)\)", text(at))}


def test_with_predict_off_the_page_shows_what_it_measured(answered) -> None:
    shown = text(answered)
    assert "The dense network" in shown and "From a tied start" in shown and "stay bitwise identical" in shown
    found = playground_links(answered)
    assert found["Open the dense network in the Playground"] == ticket.ticket_config(0)
    ticket_link, fresh = found["Open the ticket in the Playground"], found["The same mask from a fresh random start"]
    assert ticket_link == ticket.ticket_config(0).with_flat(mask=ticket_link.init.mask)  # its own start: the rewind
    assert fresh.init.mask == ticket_link.init.mask and fresh.init.explicit
    kept = [v for layer in json.loads(ticket_link.init.mask)["layers"] for row in layer["weight"] for v in row]
    shown_round = answered.select_slider(key="lesson_ticket_round").value
    assert sum(kept) / len(kept) == pytest.approx(0.8 ** shown_round, abs=0.02)  # the round the slider shows
    assert not answered.radio


def test_the_playground_links_retrain_the_lessons_ticket_and_fresh_start_exactly() -> None:
    """Each link's settings, trained in the Playground's own way (one Trainer, the link's data), start from the
    lesson's rewound or fresh values with its mask, and end at the test accuracy the lesson measured."""
    result = ticket.lottery(seeds=1, rounds=3)
    in_playground, fresh = ticket.playground_configs(result, 3)
    mask = torch.tensor([v for layer in json.loads(in_playground.init.mask)["layers"]
                         for v in [*(v for row in layer["weight"] for v in row), *layer["bias"]]], dtype=torch.float64)
    first_layer = mask[: 2 * ticket.TICKET_WIDTH].reshape(ticket.TICKET_WIDTH, 2)
    assert torch.equal(first_layer, torch.from_numpy(result.layers[3][0][1]))  # the lesson's round-3 mask
    lesson_start = Trainer(ticket.ticket_config(0), mask=mask).initial
    assert torch.equal(Trainer(in_playground).initial, lesson_start)
    for config, column in ((in_playground, ticket.TICKET), (fresh, ticket.FRESH)):
        trainer = Trainer(config)
        assert int(trainer.pruned.sum()) == int((mask == 0).sum())
        trainer.step(config.train.steps)
        assert float(trainer.history.metric("test_accuracy")[-1]) == result.table[column].iloc[-1]
    assert ticket.playground_configs(result, 0)[0] == ticket.ticket_config(0)  # round 0 prunes nothing


def test_the_page_shows_the_answer_whichever_way_it_came_out(answered) -> None:
    answered.query_params.clear()
    answered.run()
    answered.button[0].click().run()
    assert not answered.exception
    [answer] = answered.success if answered.success else answered.warning
    result = ticket.lottery()  # the page's numbers, recomputed: the run is deterministic
    asked = ticket.nearest_round(result, ticket.ASKED_LEFT)
    verdict = ticket.compare(asked[f"{ticket.TICKET} mean"], asked[f"{ticket.FRESH} mean"])
    assert answer.value.startswith(f"The run says: {verdict}.")
    assert f"the ticket {asked[f'{ticket.TICKET} mean']:.1%}" in answer.value


def test_the_ticket_command_prints_a_json_summary(capsys) -> None:
    assert main(["ticket", "--seeds", "1", "--rounds", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["seeds"] == 1 and [r["round"] for r in summary["rounds"]] == [0, 1, 2]
    assert summary["tied"]["gap_within_patterns"] == 0.0
    assert summary["tied"]["distinct_neurons"] == summary["tied"]["mask_patterns"]


@pytest.mark.parametrize("flags", [["--seeds", "0"], ["--rounds", "21"]])
def test_the_ticket_command_refuses_out_of_range_counts_in_one_line(flags: list[str], capsys) -> None:
    assert main(["ticket", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flags[0] in err
