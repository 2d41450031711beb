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
    """Gap against step for each student (log axis; an exact 0 is drawn on a floor line labelled 'identical')."""
    gaps = np.array([g for s in series for g in s["gaps"] if g is not None], dtype=float)
    floor = symmetry_floor(gaps)
    fig = go.Figure()
    shown: set[str] = set()
    present = [g for g in groups if any(s["breaker"] == g for s in series)]
    for s in series:
        index = groups.index(s["breaker"]) if s["breaker"] in groups else len(groups)
        style = group_style(index)
        y = [floor if g == 0 else g for g in s["gaps"]]
        fig.add_trace(go.Scatter(
            x=s["steps"], y=y, mode="lines+markers", name=s["breaker"], legendgroup=s["breaker"],
            showlegend=s["breaker"] not in shown, line=dict(color=style["color"], dash=style["dash"], width=2),
            marker=dict(symbol=style["symbol"], size=6, maxdisplayed=8),
            hovertemplate=f"{_hover_text(s['name'])}<br>step %{{x}}<br>gap %{{y:.3g}}<extra>{s['breaker']}</extra>"))
        shown.add(s["breaker"])
    fig.add_hline(y=floor, line=dict(color="#444444", width=1, dash="dot"),
                  annotation_text="identical (gap exactly 0)", annotation_position="bottom right")
    fig.update_layout(template=FRAMED_TEMPLATE, height=height, font=dict(size=FONT_SIZE),
                      title=dict(text="Every student's gap between neurons" if series else
                                 "No runs yet: the lines appear as students step"),
                      legend=dict(title=dict(text="what broke the tie"), traceorder="normal"),
                      margin=dict(l=70, r=20, t=60, b=60))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(type="log", title_text="largest gap between two neurons")
    fig.layout.meta = {"groups": present}
    return fig


def _hover_text(name: str) -> str:
    """A name for the hover box, with plotly's markup characters made harmless (a name is data)."""
    return name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("%", "%%").replace("{", "(")\
        .replace("}", ")")
