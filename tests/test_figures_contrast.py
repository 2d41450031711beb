"""WCAG 2.1 1.4.11 (non-text contrast): every line, marker, bar and reference line the figures draw is at least
3:1 against the figure's background.

The contrast ratio is computed here from the WCAG 2.1 definition (relative luminance of linearised sRGB), checked
against two known values, then applied to the style module's palette and to the colours that actually reach the
traces and shapes of real figures, built by the builders the pages call. A colour with alpha, or on a trace or
shape with opacity, is first composited over the background. Exempt: the area of a heatmap, and a band's fill
(`fill` with no line) whose information a line also carries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from symbreak import Config, Trainer, preset
from symbreak.classroom import board as B
from symbreak.classroom import summary as S
from symbreak.engine import probe as P
from symbreak.engine.trainer import load_dataset
from symbreak.figures import board, duplicates, lessons, live, starts, style, tabs, ticket
from symbreak.lessons import breakers, course, gradients, init_scale, no_hidden, split_speed, wasted
from symbreak.lessons import duplicates as dup
from symbreak.lessons import ticket as ticket_lesson

RGB = tuple[float, float, float]
WHITE: RGB = (255.0, 255.0, 255.0)
NAMED = {"white": WHITE, "black": (0.0, 0.0, 0.0)}


# ------------------------------------------------------------------ WCAG 2.1 contrast, written out
def relative_luminance(rgb: RGB) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour given as 0–255 channels."""
    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4  # WCAG 2.0 printed 0.03928: same for 8 bits
    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    """(L1 + 0.05) / (L2 + 0.05), the lighter colour's luminance L1 on top."""
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def parse(colour: str) -> tuple[RGB, float]:
    """'#rgb', '#rrggbb', 'rgb(r, g, b)', 'rgba(r, g, b, a)' or white/black as (0–255 channels, alpha)."""
    text = colour.strip().lower()
    if text in NAMED:
        return NAMED[text], 1.0
    if re.fullmatch(r"#[0-9a-f]{3}", text):
        return tuple(float(int(ch * 2, 16)) for ch in text[1:]), 1.0
    if re.fullmatch(r"#[0-9a-f]{6}", text):
        return tuple(float(int(text[i: i + 2], 16)) for i in (1, 3, 5)), 1.0
    found = re.fullmatch(r"rgba?\(([^)]*)\)", text)
    if found:
        parts = [float(p) for p in found.group(1).split(",")]
        if len(parts) in (3, 4):
            return tuple(parts[:3]), parts[3] if len(parts) == 4 else 1.0
    raise ValueError(f"a colour this test cannot read: {colour!r} (add its form to parse())")


def over(rgb: RGB, alpha: float, background: RGB) -> RGB:
    """The colour seen when `rgb` at `alpha` is drawn over `background`."""
    return tuple(alpha * c + (1 - alpha) * b for c, b in zip(rgb, background))


def ratio(colour: str, background: RGB = WHITE, opacity: float = 1.0) -> float:
    """Contrast of `colour`, drawn at `opacity` (times its own alpha) over `background`, against that background."""
    rgb, alpha = parse(colour)
    return contrast(over(rgb, alpha * opacity, background), background)


def test_contrast_matches_known_values() -> None:
    assert contrast((0, 0, 0), WHITE) == pytest.approx(21.0)
    assert ratio("#777777") == pytest.approx(4.48, abs=0.005)
    assert ratio("#FFF") == pytest.approx(1.0)
    assert ratio("rgba(0, 0, 0, 0)") == pytest.approx(1.0)  # fully transparent is the background itself
    assert ratio("rgba(0,0,0,0.5)") == pytest.approx(ratio("rgb(127.5,127.5,127.5)"))
    assert ratio("#0072B2", opacity=0.5) < ratio("#0072B2")


# ------------------------------------------------------------------ the palette
PALETTE = {
    **{f"OKABE_ITO[{i}]": c for i, c in enumerate(style.OKABE_ITO)},
    **{name: getattr(style, name) for name in ("POSITIVE", "NEGATIVE", "NEUTRAL", "FAINT", "MARKER_LINE")},
    **{f"RAMP[{i}]": c for i, c in enumerate(style.RAMP)},
}


@pytest.mark.parametrize("name", list(PALETTE))
def test_every_palette_colour_is_three_to_one_on_white(name: str) -> None:
    assert ratio(PALETTE[name]) >= style.MIN_CONTRAST, f"{name} {PALETTE[name]}: {ratio(PALETTE[name]):.2f}:1"


def test_the_figures_background_is_white() -> None:
    """The ratios above are against white: the templates' background."""
    for template in (style.TEMPLATE, style.FRAMED_TEMPLATE):
        assert {parse(template["layout"][key])[0] for key in ("paper_bgcolor", "plot_bgcolor")} == {WHITE}


# ------------------------------------------------------------------ the colours real figures draw
def _trained(config: Config | str, steps: int = 30) -> Trainer:
    trainer = Trainer(preset(config) if isinstance(config, str) else config)
    trainer.step(steps)
    return trainer


def _playground(trainer: Trainer, prefix: str) -> dict[str, go.Figure | str]:
    """The Playground's figures (the hot ones as the JSON it sends) and the Compare page's, for one trainer."""
    history, tol, names = trainer.history, trainer.config.tol, trainer.dataset.feature_names
    probe = P.of_run(trainer)
    return {
        f"{prefix} live": live.live_json(history, tol=tol, names=names),
        f"{prefix} loss": live.loss_json(history, task=trainer.task),
        f"{prefix} weight space": tabs.weight_space_json(history, tol=tol, names=names),
        f"{prefix} trajectories": live.trajectories_figure(history, tol=tol, names=names),
        f"{prefix} symmetry meter": live.symmetry_figure(history, tol=tol),
        f"{prefix} distances": tabs.distance_figure(history),
        f"{prefix} gradients": tabs.gradient_figure(history, names=names),
        f"{prefix} network": tabs.network_figure(history, tol=tol, names=names),
        f"{prefix} input plane": tabs.activation_maps_figure(probe, history, activation=trainer.activation,
                                                             names=names, tol=tol),
        f"{prefix} prediction": tabs.decision_figure(probe, trainer.dataset, history),
    }


def _lessons() -> dict[str, go.Figure]:
    """Each lesson's figures, from short runs of the lesson's own computation."""
    speed = split_speed.split_speed(steps=60)
    matrix = breakers.breaker_matrix(20)
    tie = wasted.wasted("circles", width=4, steps=20)
    scale = init_scale.init_scale("tanh", sigma=init_scale.SCALE_SIGMA, depth=3, steps=20)
    hidden = no_hidden.no_hidden(steps=20)
    courses = course.course_experiment(steps=20, seeds=(0, 1))
    copies = dup.duplicates(steps=20, widths=(4, 8), seeds=(0,))
    lottery = ticket_lesson.lottery(seeds=2, rounds=2, steps=20)
    twins = _trained("untied-outgoing", 5)
    layer = copies.layers[dup.HE, 8, 0]
    xs, ys, pre = dup.plane(copies, dup.HE, 8, 0)
    points = load_dataset(tie.configs[wasted.ONE])
    return {
        "gradients: weights": lessons.twins_figure(gradients.param_series_221(twins), gradients.WEIGHTS_221, "t", "w"),
        "gradients: gradients": lessons.twins_figure(gradients.gradient_series_221(twins), gradients.WEIGHTS_221,
                                                     "t", "dJ/dw"),
        "breakers": lessons.breaker_figure(matrix.table, matrix.series, matrix.series_steps),
        "no hidden: classes": lessons.plane_figure(hidden.class_rows, ["class 0", "class 1", "class 2"], "t",
                                                   show_centre=True),
        "no hidden: hidden": lessons.plane_figure(hidden.hidden, [f"n{i + 1}" for i in range(hidden.hidden.shape[1])],
                                                  "t"),
        "no hidden: sums": lessons.column_sums_figure(hidden),
        "split speed: curves": lessons.split_curves_figure(speed),
        "split speed: times": lessons.split_time_figure(speed),
        "wasted: data": starts.data_figure(points.x_train, points.y_train, points.classes, "t"),
        "wasted: boundaries": starts.boundaries_figure(tie.boundaries, list(tie.boundaries), points.classes),
        "wasted: sweep": starts.sweep_figure(tie.sweep, 0.6),
        "init scale: std": starts.layer_std_figure(scale.act_std[:, -1], scale.grad_std[:, -1], scale.labels,
                                                   int(scale.steps[-1])),
        "init scale: loss": starts.curves_figure(scale.steps, scale.loss, scale.labels, "t", "loss"),
        "init scale: gap": starts.curves_figure(scale.steps, scale.gap, scale.labels, "t", "gap", log_y=True),
        "init scale: histograms": starts.histograms_figure([a[0] for a in scale.first], "t"),
        "course: draws": starts.draws_figure(courses.steps, courses.loss, list(courses.runs["start"]), "t", "loss",
                                             log_y=True),
        "duplicates: counts": duplicates.counts_figure(dup.summary(copies), dup.THRESHOLD),
        "duplicates: maps": duplicates.maps_figure(xs, ys, pre, dup.clusters(layer), copies.dataset.x_train, "t"),
        "ticket: accuracy": ticket.accuracy_figure(lottery.summary, lottery.seeds),
        "ticket: network": ticket.network_figure(lottery.layers[-1], "t"),
    }


def _class() -> dict[str, go.Figure]:
    """The Teach page's board (one student per way of breaking the tie) and a poll."""
    rows = [S.summarise(S.replay(preset("constant").with_flat(**changes).to_flat(), 20))
            for changes in ({}, {"dropout": "0.2"}, {"init": "he_normal"}, {"bias_init": "normal:0.1"},
                            {"perturb": "0.001"})]
    return {"board": board.board_figure(B.series(rows), S.BREAKERS),
            "poll": board.poll_figure(["a", "b", "c"], {1: {"a": 3, "b": 1}, 2: {"a": 2, "c": 4}}, right="a")}


@pytest.fixture(scope="module")
def figures() -> dict[str, dict]:
    """Every figure built here as the dict plotly.js receives."""
    built: dict[str, go.Figure | str] = {}
    for name in ("random", "constant", "constant-dropout", "softmax-zero"):
        built.update(_playground(_trained(name), name))
    built.update(_playground(_trained(Config.from_flat({"dataset": "sine", "lr": "0.1"}), 5), "sine"))
    built.update(_lessons())
    built.update(_class())
    return {name: json.loads(fig) if isinstance(fig, str) else fig.to_dict() for name, fig in built.items()}


def _background(layout: dict) -> RGB:
    template = layout.get("template", {}).get("layout", {})
    colour = layout.get("plot_bgcolor") or template.get("plot_bgcolor") or layout.get("paper_bgcolor") \
        or template.get("paper_bgcolor") or "white"
    return parse(colour)[0]


def _colours(value: object) -> list[str]:
    """A colour property as a list of colours: a string, or one per point."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    values = list(np.asarray(value, dtype=object).ravel())
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"a colour given as numbers (through a colour scale): {values[:3]}… — check its scale")
    return list(dict.fromkeys(values))


def drawn(data: dict) -> Iterator[tuple[str, str, float]]:
    """(where, colour, opacity) for every line, marker, bar and line shape a figure (as a dict) draws."""
    layout = data.get("layout", {})
    shape_defaults = layout.get("template", {}).get("layout", {}).get("shapedefaults", {})
    for i, trace in enumerate(data.get("data", [])):
        if trace.get("visible", True) is not True:
            continue
        kind, opacity = trace.get("type", "scatter"), trace.get("opacity", 1.0)
        where = f"trace {i} ({kind} {trace.get('name') or ''})"
        line, marker = trace.get("line", {}), trace.get("marker", {})
        if kind == "heatmap":
            continue  # an area: what it shows is read from the colour bar or the points on it
        if kind == "contour":
            if trace.get("contours", {}).get("coloring") == "none":
                yield from ((where + " line", c, opacity) for c in _colours(line.get("color")))
            continue
        if kind == "bar":
            colours = _colours(marker.get("color"))
            assert colours, f"{where}: a bar without a colour takes plotly's default colourway"
            yield from ((where + " bar", c, opacity * marker.get("opacity", 1.0)) for c in colours)
            continue
        mode = trace.get("mode") or "lines+markers"
        if trace.get("fill", "none") != "none" and line.get("width") == 0:
            continue  # a band's fill, its information carried by a line (ticket.accuracy_figure's seed range)
        line_colour = line.get("color") or (marker.get("color") if isinstance(marker.get("color"), str) else None)
        if "lines" in mode and line.get("width", 2) > 0:
            assert line_colour, f"{where}: a line without a colour takes plotly's default colourway"
            yield where + " line", line_colour, opacity
        marker_opacity = marker.get("opacity", 1.0)
        if "markers" in mode and np.max(marker_opacity) > 0:
            colours = _colours(marker.get("color")) or ([line_colour] if line_colour else [])
            assert colours, f"{where}: a marker without a colour takes plotly's default colourway"
            yield from ((where + " marker", c, opacity * float(np.min(marker_opacity))) for c in colours)
    for i, shape in enumerate(layout.get("shapes", [])):
        if shape.get("type", "line") == "line" and shape.get("line", {}).get("color"):
            yield (f"shape {i}", shape["line"]["color"],
                   shape.get("opacity", shape_defaults.get("opacity", 1.0)))


def test_the_figures_draw_every_palette_colour(figures: dict[str, dict]) -> None:
    """The walk below sees what it should: the eight neuron colours, both signs and the ramp's ends."""
    seen = {parse(colour)[0] for fig in figures.values() for _, colour, _ in drawn(fig)}
    for name, colour in PALETTE.items():
        assert parse(colour)[0] in seen, f"{name} {colour} is drawn by none of the figures built here"


def test_every_line_marker_and_bar_is_three_to_one_on_the_background(figures: dict[str, dict]) -> None:
    failures = []
    for name, fig in figures.items():
        background = _background(fig.get("layout", {}))
        for where, colour, opacity in drawn(fig):
            measured = ratio(colour, background, opacity)
            if measured < style.MIN_CONTRAST:
                failures.append(f"{name}, {where}: {colour} at opacity {opacity:g} is {measured:.2f}:1")
    assert not failures, "below 3:1 (WCAG 2.1 1.4.11):\n" + "\n".join(failures)


def test_a_fill_left_light_has_its_line() -> None:
    """The exemption above holds only while each light band sits under a line of its own colour."""
    summary = pd.DataFrame({"weights left": [1.0, 0.5], **{f"{n} {s}": [0.9, 0.8] for n in
                            (ticket_lesson.TICKET, ticket_lesson.FRESH, ticket_lesson.DENSE)
                            for s in ("mean", "min", "max")}})
    traces = ticket.accuracy_figure(summary, 2).data
    bands = [t for t in traces if t.fill == "toself"]
    lines = {parse(t.line.color)[0] for t in traces if t.fill is None}
    assert bands and all(parse(t.fillcolor)[0] in lines for t in bands)
