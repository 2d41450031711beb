"""The `mask` setting: a weight mask travels in the Config, a Playground link and the run's export; a bad one is
refused in one clear line; a masked Playground run holds its pruned weights at exactly 0.0 and says how many it
prunes; the charts mark exactly the masked weights as pruned (checked against the mask's own JSON)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import test_playground as pg  # the Playground's AppTest helpers (and the app's folder on the path)

from pages.links import config_from_query, query_for_config
from symbreak import Config
from symbreak.cli import main
from symbreak.engine.trainer import Trainer
from symbreak.figures import live as F
from symbreak.figures import tabs as T
from symbreak.figures.parts import PRUNED_TEXT
from symbreak.settings.values import ConfigError

NET = {"dataset": "xor", "hidden": "3", "activation": "tanh", "init": "xavier_uniform", "lr": "0.5"}
# 2-3-1: neuron 1 loses its weight from x2, neuron 3 both inputs, and the output its weight from neuron 2.
LAYERS = [{"weight": [[1, 0], [1, 1], [0, 0]], "bias": [1, 1, 1]}, {"weight": [[1, 0, 1]], "bias": [1]}]
MASK = json.dumps({"layers": LAYERS})


def zeros_in(layers: list[dict]) -> set[tuple[int, int, int]]:
    """(layer, out, in) of every 0 in a mask's weights, read from its JSON alone."""
    return {(n, o, i) for n, layer in enumerate(layers) for o, row in enumerate(layer["weight"])
            for i, value in enumerate(row) if value == 0}


def test_a_mask_round_trips_through_the_config_a_link_and_the_export() -> None:
    config = Config.from_flat({**NET, "mask": MASK})
    assert config.init.mask == MASK and config.to_flat()["mask"] == MASK
    assert Config.from_flat(config.to_flat()) == config
    assert Config.from_json(config.to_json()) == config  # the Config (JSON) download
    query = query_for_config(config)
    assert query["mask"] == MASK
    back, problems = config_from_query(query)
    assert back == config and not problems
    assert "mask" not in query_for_config(Config.from_flat(NET))  # no mask: nothing in the link


@pytest.mark.parametrize(("mask", "message"), [
    (json.dumps({"layers": [{"weight": [[1, 2]], "bias": [1]}]}), "mask: layer 0 holds 2; a mask holds 1 (keep) or 0 "
                                                                 "(prune)"),
    (json.dumps({"layers": [{"weight": [[1, "keep"]], "bias": [1]}]}), "mask: layer 0 holds 'keep'; a mask holds 1"),
    (json.dumps({"layers": [{"weight": [[1, True]], "bias": [1]}]}), "mask: layer 0 holds True; a mask holds 1"),
    (json.dumps({"layers": [{"weight": [[1, 0.5]], "bias": [1]}]}), "mask: layer 0 holds 0.5; a mask holds 1"),
    ("keep the first half", "mask: not valid JSON"),
    ('{"weights": []}', 'mask: expected {"layers": [{"weight": [[...]], "bias": [...]}, ...]}'),
    (json.dumps({"layers": [{"weight": [[1, 0], [1]], "bias": [1, 1]}]}), "mask: layer 0 'weight' rows have "
                                                                        "different lengths"),
    ("[" * 5000 + "]" * 5000, "mask: "),
])
def test_a_bad_mask_is_refused_in_one_line_that_names_it(mask: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Config.from_flat({**NET, "mask": mask})
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)
    config, problems = config_from_query({"mask": mask, "lr": "0.5"})
    assert config == Config.from_flat({"lr": "0.5"})  # the rest of the link is used
    assert len(problems) == 1 and problems[0].startswith("Link setting ignored: mask:"), problems


def test_a_mask_of_another_networks_shape_is_refused_with_both_shapes() -> None:
    config = Config.from_flat({**NET, "hidden": "4", "mask": MASK})  # the JSON is fine: its shape is known later
    with pytest.raises(ConfigError, match=r"^mask: the network's weights are \[4×2\] \[1×4\] \(out × in\), but the "
                                          r"mask gives \[3×2\] \[1×3\]"):
        Trainer(config)


def test_the_command_line_reads_a_mask_file_and_a_saved_config_with_one(tmp_path, capsys) -> None:
    mask = tmp_path / "mask.json"
    mask.write_text(MASK)
    weights = tmp_path / "weights.json"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in NET.items()]
    assert main(["run", *flags, "--steps", "20", "--mask", str(mask), "--out-weights", str(weights)]) == 0
    trained = json.loads(weights.read_text())["layers"]
    assert {(n, o, i) for n, layer in enumerate(trained) for o, row in enumerate(layer["weight"])
            for i, value in enumerate(row) if value == 0.0} == zeros_in(LAYERS)
    saved = tmp_path / "config.json"
    saved.write_text(Config.from_flat({**NET, "mask": MASK}).to_json())
    capsys.readouterr()
    assert main(["run", "--config", str(saved), "--steps", "20", "--out-weights", str(weights)]) == 0
    assert json.loads(weights.read_text())["layers"] == trained


def masked_trainer(steps: int = 60) -> Trainer:
    trainer = Trainer(Config.from_flat({**NET, "mask": MASK}))
    trainer.step(steps)
    return trainer


def test_the_trajectories_draw_exactly_the_masked_weights_as_pruned() -> None:
    fig = F.trajectories_figure(masked_trainer().history)  # hidden layer 1: panels x1, x2, bias
    panels = {"x": 0, "x2": 1, "x3": 2}
    marked = {(0, j - 1, panels[t.xaxis]) for t in fig.data if t.name == PRUNED_TEXT for j in t.meta}
    assert marked == {z for z in zeros_in(LAYERS) if z[0] == 0}
    legend = [t for t in fig.data if t.name == PRUNED_TEXT and t.showlegend is not False]
    assert len(legend) == 1 and legend[0].legendrank < min(t.legendrank or 1000 for t in fig.data
                                                           if t.name != PRUNED_TEXT)  # one entry, shown first
    for trace in (t for t in fig.data if t.name != PRUNED_TEXT):  # no weight line where the weight is pruned
        assert (0, int(trace.name[1:]) - 1, panels[trace.xaxis]) not in marked
    assert all(np.all(np.asarray(t.y) == 0) and PRUNED_TEXT in t.hovertemplate
               for t in fig.data if t.name == PRUNED_TEXT)
    output = F.trajectories_figure(masked_trainer().history, layer=1)
    assert {(1, 0, int(t.xaxis[1:] or 1) - 1) for t in output.data if t.name == PRUNED_TEXT} == {(1, 0, 1)}


def test_the_network_diagram_draws_exactly_the_masked_weights_as_pruned() -> None:
    fig = T.network_figure(masked_trainer().history)
    [hover] = [t for t in fig.data if t.mode == "markers" and t.text and "w = " in " ".join(t.text)]
    assert sum(text == PRUNED_TEXT for text in hover.text) == len(zeros_in(LAYERS))
    [dotted] = [t for t in fig.data if t.name == PRUNED_TEXT]
    assert dotted.line.dash == "dot" and len(dotted.x) == 3 * len(zeros_in(LAYERS))  # two ends and a gap each
    assert "dotted grey = pruned" in fig.layout.title.text
    assert "pruned" not in T.network_figure(Trainer(Config.from_flat(NET)).history).layout.title.text


def test_a_masked_playground_run_holds_its_pruned_weights_at_zero_and_says_how_many() -> None:
    at = pg.open_app(**NET, mask=MASK)
    assert pg.config(at).init.mask == MASK and not pg.errors(at)
    assert "content_cut: 4 of 9 weights pruned]" in at.markdown[1].value
    assert "1 neuron has no weight left coming in" in at.markdown[1].value  # n3
    pg.click(at, "stepn")
    trainer = pg.state(at, "trainer")
    assert trainer.step_count == 100
    history, pruned = trainer.history, trainer.pruned[0]
    params = history.params[: history.count, 0]
    assert bool((params[:, pruned] == 0.0).all()) and int(pruned.sum()) == len(zeros_in(LAYERS))
    assert not bool((params[-1, ~pruned] == params[0, ~pruned]).all())  # the kept weights trained
    assert at.query_params["mask"] == MASK


def test_the_sidebar_sets_a_mask_and_a_new_width_removes_it() -> None:
    at = pg.open_app(**NET)
    at.session_state["playground.x.mask"] = True
    at.run()
    at.text_area(key="playground.w.mask").set_value(MASK).run()
    pg.assert_clean(at)
    assert pg.config(at).init.mask == MASK and pg.new_run_note(at) == "New run: pruning mask set"
    at.number_input(key="playground.w.width").set_value(4).run()
    pg.assert_clean(at)
    assert pg.config(at).init.mask == "" and not pg.errors(at)
    assert "pruning mask removed" in pg.new_run_note(at)


def test_a_link_whose_mask_does_not_fit_says_so_and_starts_the_default() -> None:
    at = pg.open_app(**{**NET, "hidden": "4"}, mask=MASK)
    assert any("could not start" in m and "mask: the network's weights are" in m for m in pg.errors(at)), \
        pg.errors(at)
