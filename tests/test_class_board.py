"""The class's view of a run, without a browser or a store: a summary says what it measures (checked against NumPy
on the recorded weights), names what broke the tie, a replay rebuilds the run bit for bit, and the board's table,
counts, exports and figures are made from plain rows."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch

from symbreak import preset
from symbreak.classroom import board as B
from symbreak.classroom import summary as S
from symbreak.figures.board import board_figure, poll_figure

STARTS = {
    S.STILL_TIED: {},
    S.DROPOUT: {"dropout": "0.2"},
    S.RANDOM_START: {"init": "he_normal"},
    S.BIASES: {"bias_init": "normal:0.1"},
    S.PERTURBATION: {"perturb": "0.001"},
}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    out = []
    for i, changes in enumerate(STARTS.values()):
        row = S.summarise(S.replay(preset("constant").with_flat(**changes).to_flat(), 40))
        row["name"] = f"=cmd{i} <b>*x*</b>"
        out.append(row)
    return out


@pytest.mark.parametrize("expected", list(STARTS))
def test_each_start_is_grouped_by_what_broke_its_tie(rows: list[dict], expected: str) -> None:
    row = rows[list(STARTS).index(expected)]
    assert row["breaker"] == expected
    assert (row["gap"][0] == 0) == (expected == S.STILL_TIED)


def test_a_summary_measures_the_recorded_weights_as_numpy_does() -> None:
    trainer = S.replay(preset("constant").with_flat(dropout="0.3", hidden="6").to_flat(), 25)
    row = S.summarise(trainer)
    weight, bias = trainer.history.layer_params(0)
    vectors = np.concatenate([weight[-1], bias[-1][:, None]], axis=1).astype(np.float64)
    gaps = np.abs(vectors[:, None, :] - vectors[None, :, :]).max(axis=2)
    assert row["gap"][0] == pytest.approx(float(np.sqrt(((vectors[:, None] - vectors[None]) ** 2).sum(-1)).max()))
    assert row["neurons"] == [6] and 1 <= row["distinct"][0] <= 6 and gaps.max() > 0
    assert row["step"] == 25 and row["settings"]["dropout"] == "0.3"
    json.dumps(row, allow_nan=False)  # a row is JSON as the store keeps it


def test_a_replay_is_bitwise_the_run_it_summarises() -> None:
    flat = preset("constant").with_flat(dropout="0.2", optimizer="adam", lr="0.05").to_flat()
    first, again = S.replay(flat, 120), S.replay(flat, 120)
    assert torch.equal(first.history.params[: first.history.count], again.history.params[: again.history.count])
    assert torch.equal(first.theta, again.theta)
    assert S.summarise(first) == S.summarise(again)


def test_a_summary_changes_only_with_what_it_says() -> None:
    trainer = S.replay(preset("constant").to_flat(), 5)
    row = S.summarise(trainer)
    assert not S.changed(row, S.summarise(trainer)) and S.changed(None, row)
    trainer.step(1)
    assert S.changed(row, S.summarise(trainer))


def test_the_board_counts_and_tables_the_rows_in_join_order(rows: list[dict]) -> None:
    joined = [*rows, {"name": "Late"}]
    assert B.counts(joined) == {"joined": 6, "tied": 1, "split": 4, "diverged": 0}
    table = B.table(joined)
    assert list(table["name"]) == [r["name"] for r in joined] and list(table["state"])[-1] == "joined"
    assert list(B.table(joined, anonymise=True)["name"]) == [f"Student {i}" for i in range(1, 7)]


def test_the_csv_neutralises_formulas_and_carries_each_poll_round(rows: list[dict]) -> None:
    polls = B.poll_summary("Which?", {1: {rows[0]["name"]: "=SUM(1)", rows[1]["name"]: "b"}}, False)
    text = B.export_csv(rows, polls=polls)
    read = list(csv.DictReader(io.StringIO(text)))
    assert read[0]["name"] == "'=cmd0 <b>*x*</b>" and read[0]["Which? (round 1)"] == "'=SUM(1)"
    assert read[1]["Which? (round 1)"] == "b" and read[2]["Which? (round 1)"] == ""
    hidden = B.export_csv(rows, anonymise=True, polls=polls)
    assert "cmd" not in hidden and "Student 1" in hidden
    document = json.loads(B.export_json("ABCDEF", rows, polls))
    assert document["polls"] == [{"question": "Which?", "round": 1, "counts": {"=SUM(1)": 1, "b": 1},
                                  "answers": {rows[0]["name"]: "=SUM(1)", rows[1]["name"]: "b"}}]
    assert [s["step"] for s in document["students"]] == [40] * len(rows)


def test_the_board_figures_are_built_from_plain_data(rows: list[dict]) -> None:
    series = B.series(rows)
    fig = board_figure(series, S.BREAKERS)
    assert fig.layout.yaxis.type == "log" and {t.name for t in fig.data} == set(STARTS)
    assert len(fig.data) == len({s["breaker"] for s in series}), "one trace per group"
    for trace in fig.data:  # each student's line, in order, the pen lifted (None) between two students
        members = [s for s in series if s["breaker"] == trace.name]
        lines, line = [], []
        for x, y, text in zip(trace.x, trace.y, trace.text):
            if x is None:
                lines.append(line)
                line = []
            else:
                line.append((x, y, text))
        lines.append(line)
        assert [[p[0] for p in line] for line in lines] == [s["steps"] for s in members]
        # a name is text in the hover box, not markup: "=cmd0 <b>*x*</b>" shows as typed
        assert [{p[2] for p in line} for line in lines] == \
            [{s["name"].split(" ")[0] + " &lt;b&gt;*x*&lt;/b&gt;"} for s in members]
    empty = board_figure([], S.BREAKERS)
    assert not empty.data and "No runs yet" in empty.layout.title.text
    poll = poll_figure(["a", "b <i>"], {1: {"a": 3}, 2: {"a": 1, "b <i>": 4}}, right="a")
    assert [list(t.y) for t in poll.data] == [[3, 0], [1, 4]] and "b &lt;i>" in poll.data[0].x[1]
    assert [("run's answer" in t) for t in poll.layout.xaxis.ticktext] == [True, False]
