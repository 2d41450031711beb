"""The class board's chart: every student's gap against step on a log axis, one line each, coloured by what broke
the tie (the groups of the lesson "What breaks symmetry"). Takes the board's series (plain lists), returns a figure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from symbreak.figures.live import symmetry_floor
from symbreak.figures.style import DASHES, FONT_SIZE, FRAMED_TEMPLATE, OKABE_ITO, SYMBOLS

# One colour, dash and marker per group, in the order the lesson lists them: never told by colour alone.
GROUP_STYLE_ORDER = (6, 3, 0, 2, 4, 5, 1)


def group_style(index: int) -> dict[str, Any]:
    i = GROUP_STYLE_ORDER[index % len(GROUP_STYLE_ORDER)]
    return {"color": OKABE_ITO[i], "dash": DASHES[index % len(DASHES)], "symbol": SYMBOLS[index % len(SYMBOLS)]}


def board_figure(series: Sequence[dict[str, Any]], groups: Sequence[str], height: int = 460) -> go.Figure:
    """Gap against step for each student (log axis; an exact 0 is drawn on a floor line labelled 'identical').

    One trace per group, its students' lines joined by a gap (None) between them: the chart looks the same as one
    trace per student, and a board of sixty students is built in a few milliseconds rather than seventy."""
    gaps = np.array([g for s in series for g in s["gaps"] if g is not None], dtype=float)
    floor = symmetry_floor(gaps)
    fig = go.Figure()
    by_group: dict[str, list[dict[str, Any]]] = {}
    for s in series:
        by_group.setdefault(s["breaker"], []).append(s)
    order = sorted(by_group, key=lambda g: groups.index(g) if g in groups else len(groups))
    for group in order:
        members = by_group[group]
        style = group_style(groups.index(group) if group in groups else len(groups))
        x: list[Any] = []
        y: list[Any] = []
        text: list[str] = []
        for s in members:
            if x:  # the pen lifts between two students
                x.append(None)
                y.append(None)
                text.append("")
            x.extend(s["steps"])
            y.extend(floor if g == 0 else g for g in s["gaps"])
            text.extend([_plain(s["name"])] * len(s["steps"]))
        fig.add_trace(go.Scatter(  # arrays, not lists: plotly checks a list item by item
            x=np.array(x, dtype=float), y=np.array(y, dtype=float), text=np.array(text, dtype=object), mode="lines+markers", name=group, legendgroup=group,
            line=dict(color=style["color"], dash=style["dash"], width=2),
            marker=dict(symbol=style["symbol"], size=6, maxdisplayed=8 * len(members)),
            hovertemplate=f"%{{text}}<br>step %{{x}}<br>gap %{{y:.3g}}<extra>{_hover_text(group)}</extra>"))
    fig.add_hline(y=floor, line=dict(color="#444444", width=1, dash="dot"),
                  annotation_text="identical (gap exactly 0)", annotation_position="bottom right")
    fig.update_layout(template=FRAMED_TEMPLATE, height=height, font=dict(size=FONT_SIZE),
                      title=dict(text="Every student's gap between neurons" if series else
                                 "No runs yet: the lines appear as students step"),
                      legend=dict(title=dict(text="what broke the tie"), traceorder="normal"),
                      margin=dict(l=70, r=20, t=60, b=60))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(type="log", title_text="largest gap between two neurons")
    fig.layout.meta = {"groups": order}
    return fig


def _plain(name: str) -> str:
    """A name as a hover box's text value, with plotly's markup characters made harmless (a name is data)."""
    return name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _hover_text(name: str) -> str:
    """A name for the hover box, with plotly's markup characters made harmless (a name is data)."""
    return name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("%", "%%").replace("{", "(")\
        .replace("}", ")")


def poll_figure(choices: Sequence[str], rounds: dict[int, dict[str, int]], right: str | None = None,
                height: int = 380) -> go.Figure:
    """The class's answers to one poll: a bar per answer for each round side by side, the right one marked once
    the answer is revealed (by a label, not by colour alone)."""
    answers = list(dict.fromkeys([*choices, *(a for counts in rounds.values() for a in counts)]))
    fig = go.Figure()
    for i, (round_, counts) in enumerate(sorted(rounds.items())):
        style = group_style(i + 1)
        fig.add_trace(go.Bar(
            x=[_wrap(a) for a in answers], y=[counts.get(a, 0) for a in answers], name=f"round {round_}",
            marker=dict(color=style["color"], pattern=dict(shape=["", "/", "x", "."][i % 4])),
            text=[counts.get(a, 0) for a in answers], textposition="outside",
            hovertemplate="%{y} students<extra>round " + str(round_) + "</extra>"))
    if right is not None and right in answers:  # said under its bars in words, not by colour
        fig.update_xaxes(tickvals=[_wrap(a) for a in answers],
                         ticktext=[_wrap(a) + ("<br><b>✓ the run's answer</b>" if a == right else "") for a in answers])
    most = max([1, *(c for counts in rounds.values() for c in counts.values())])
    fig.update_layout(template=FRAMED_TEMPLATE, height=height, font=dict(size=FONT_SIZE), barmode="group",
                      legend=dict(orientation="h", y=1.12, x=0), margin=dict(l=60, r=20, t=50, b=110),
                      title=dict(text="" if rounds else "No answers yet"))
    fig.update_yaxes(title_text="students", range=[0, most * 1.25], dtick=max(1, most // 5))
    return fig


def _wrap(text: str, width: int = 22) -> str:
    """An answer as an axis label of short lines (HTML-escaped: a label is drawn as markup)."""
    words, lines, line = text.replace("&", "&amp;").replace("<", "&lt;").split(), [], ""
    for word in words:
        if line and len(line) + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join([*lines, line])
