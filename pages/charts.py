"""Plotly figures drawn by a small component that keeps each chart and updates it in place.

`st.plotly_chart` rebuilds a chart from scratch on every rerun: on a classroom
laptop that costs more than the drawing itself, so Step and Play felt slow.
This component keeps one chart element per key and hands each new figure to
`Plotly.react`, which only redraws what changed. plotly.js comes from the
plotly Python package (its bundled `plotly.min.js`), served by Streamlit's
component file route, so no network is needed.

While the Playground plays, the chart also paces the animation. The server
sends frames in small batches; the browser draws them one by one (at most
`MAX_FPS` a second) and asks for the next batch as it starts on the current
one. So the server works while the browser draws, a rerun's cost is shared by
a few frames, and a slow laptop gets fewer frames instead of a backlog.

An array that several traces share (the steps of every curve) is sent once
per chart update, under "shared", and put back in each place by the browser.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly
import plotly.graph_objects as go
import streamlit as st
from streamlit.components.v1 import declare_component

PLOTLY_JS = "plotly.min.js"
PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
COMPONENT = "symbreak_chart"
CHART_CLASS = "symbreak-chart"
MAX_FPS = 20
# How a base64 array (plotly's "typed array spec") starts in figure JSON.
TYPED_ARRAY = '{"dtype":"'
# An array this long or longer that appears more than once in one chart update is sent once.
SHARED_MIN_CHARS = 200
SHARED_KEY = "sharedArray"
# Declaring a (never drawn) classic component makes Streamlit serve plotly's own folder at /component/<name>/.
_PLOTLY_FILES = declare_component("plotly_files", path=str(PLOTLY_DIR))

_JS = """
function loadPlotly(src) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__symbreakPlotly) {
    window.__symbreakPlotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.async = true;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => {
        window.__symbreakPlotly = null;
        reject(new Error("plotly.js could not be loaded from " + src));
      };
      document.head.appendChild(script);
    });
  }
  return window.__symbreakPlotly;
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

// A chart narrower than its figure's minimum width (a 1024-pixel projector with the sidebar open) is drawn at
// that width and scaled down as a whole, so its panel titles and ticks shrink instead of running into each other.
function fit(box, height) {
  const min = box.__minWidth, width = box.clientWidth, plot = box.__plot;
  const scale = min && width && width < min ? width / min : 1;
  plot.style.width = scale < 1 ? min + "px" : "100%%";
  plot.style.transform = scale < 1 ? "scale(" + scale + ")" : "";
  box.style.height = Math.ceil(height * scale) + "px";
}

// Draws the queued figures one after another, at most MAX_FPS a second. The first frame of a batch asks for
// the next batch as it starts, so the server trains and builds it while this one is on screen.
async function drawQueue(box) {
  box.__busy = true;
  try {
    const Plotly = await loadPlotly(box.__src);
    while (box.__queue.length) {
      const wait = (box.__last || 0) + 1000 / %(fps)d - performance.now();
      if (wait > 0) await sleep(wait);
      const item = box.__queue.shift();
      if (!item) break;
      box.__last = performance.now();
      if (item.first && item.batch !== null && item.batch === box.__batch) {
        box.__report("drawn", item.batch);
        await sleep(0);  // lets the report go out before this frame is drawn
      }
      // Animation frames are drawn static (no hover layers to rebuild): cheaper, and nobody hovers a moving line.
      const config = item.batch === null ? box.__config : Object.assign({}, box.__config, {staticPlot: true});
      box.__height = item.figure.layout.height || 450;
      fit(box, box.__height);
      await Plotly.react(box.__plot, item.figure.data, item.figure.layout, config);
      box.dataset.draws = String(Number(box.dataset.draws || 0) + 1);
    }
  } catch (error) {
    box.__plot.textContent = "This chart could not be drawn: " + error.message;
  } finally {
    box.__busy = false;
  }
}

export default function ({ parentElement, data, setTriggerValue }) {
  let box = parentElement.querySelector(".%(cls)s");
  if (!box) {
    box = document.createElement("div");
    box.className = "%(cls)s";
    box.style.width = "100%%";
    box.style.overflow = "hidden";
    box.__queue = [];
    box.__plot = document.createElement("div");
    box.__plot.style.transformOrigin = "top left";
    box.appendChild(box.__plot);
    parentElement.appendChild(box);
    // Follow the column's width (window resized, sidebar opened or closed): this replaces plotly's "responsive".
    // A chart that is not on screen (its page left, its tab closed) reports width 0: plotly cannot resize it
    // then, and it keeps the width it had; it is resized when it comes back at another width.
    let width = null;
    new ResizeObserver(entries => {
      const now = Math.round(entries[0].contentRect.width);
      if (!box.isConnected || now === 0) return;
      if (width !== null && now !== width && window.Plotly && box.__plot.layout) {
        fit(box, box.__height);
        window.Plotly.Plots.resize(box.__plot);
      }
      width = now;
    }).observe(box);
  }
  box.__minWidth = data.min_width || 0;
  box.__src = data.src;
  box.__config = data.config;
  box.__report = setTriggerValue;
  const batch = data.batch === undefined ? null : data.batch;
  if (batch !== null && batch === box.__batch) return;  // a batch sent again: already queued or drawn
  // An array sent once for several traces: each place gets its own copy of it.
  const shared = (data.shared || []).map(text => JSON.parse(text));
  const unshare = value => {
    if (Array.isArray(value)) return value.map(unshare);
    if (value === null || typeof value !== "object") return value;
    if (typeof value.%(shared)s === "number") return Object.assign({}, shared[value.%(shared)s]);
    for (const key in value) value[key] = unshare(value[key]);
    return value;
  };
  const frames = data.figures.map((text, i) => {
    const figure = unshare(JSON.parse(text));
    figure.layout.autosize = true;
    delete figure.layout.width;
    return {figure, batch, first: i === 0};
  });
  // The room is kept while plotly.js loads.
  if (!box.__plot.layout) box.style.height = (frames[0].figure.layout.height || 450) + "px";
  if (batch === null) {
    box.__batch = null;
    box.__queue = frames;  // a plain update replaces whatever was still queued
  } else {
    box.__batch = batch;
    box.__queue = box.__queue.filter(item => item.batch !== null).slice(-frames.length).concat(frames);
  }
  if (!box.__busy) drawQueue(box);
}
""" % {"fps": MAX_FPS, "cls": CHART_CLASS, "shared": SHARED_KEY}

_component = None


def plotly_src() -> str:
    """The URL path of plotly.min.js on this server (honours `server.baseUrlPath`)."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return ("/" + base if base else "") + f"/component/{_PLOTLY_FILES.name}/{PLOTLY_JS}"


def show(figures: go.Figure | Sequence[go.Figure | str], key: str, config: Mapping[str, Any] | None = None,
         batch: int | None = None, on_drawn: Callable[[], None] | None = None, min_width: int = 0) -> None:
    """Draw a figure (or, for an animation, a batch of frames) full width; the same key updates the same chart.

    In a column narrower than `min_width` pixels the figure is drawn that wide and scaled down to fit.

    Frames may be given as figures or as their JSON text (`fig.to_json()`,
    `figures.live_json`), so a batch that is sent again is not serialised again.

    With `batch` (a number that grows by one per batch) the frames are queued
    after the ones still on their way to the screen, and the browser reports
    `batch` as the trigger `drawn` when it starts drawing its first frame:
    that rerun (with `on_drawn`) makes the next batch. A batch sent again with
    the same number is ignored, so a rerun may repeat itself without a cost.
    """
    global _component
    if _component is None:
        _component = st.components.v2.component(COMPONENT, js=_JS, isolate_styles=False)
    figures = [figures] if isinstance(figures, (go.Figure, str)) else list(figures)
    figures, shared = share_arrays([f if isinstance(f, str) else f.to_json() for f in figures])
    data = {"figures": figures, "shared": shared, "config": dict(config or {}), "src": plotly_src(), "batch": batch,
            "min_width": min_width}
    _component(key=key, data=data, on_drawn_change=on_drawn or _ignore)


def share_arrays(figures: Sequence[str]) -> tuple[list[str], list[str]]:
    """The figures' JSON texts with each base64 array that appears more than once (and is at least
    SHARED_MIN_CHARS long) replaced by {SHARED_KEY: index}, and the list of those arrays' JSON texts."""
    spans = [_typed_arrays(text) for text in figures]
    counts = Counter(text[start:end] for text, found in zip(figures, spans) for start, end in found)
    shared = {spec: i for i, spec in enumerate(s for s, n in counts.items() if n > 1 and len(s) >= SHARED_MIN_CHARS)}
    parts = []
    for text, found in zip(figures, spans):
        pieces, done = [], 0
        for start, end in found:
            index = shared.get(text[start:end])
            if index is not None:
                pieces += [text[done:start], f'{{"{SHARED_KEY}":{index}}}']
                done = end
        parts.append("".join(pieces) + text[done:])
    return parts, list(shared)


def _typed_arrays(text: str) -> list[tuple[int, int]]:
    """Where plotly's base64 arrays ({"dtype": …, "bdata": …}) sit in a figure's JSON text."""
    found = []
    start = text.find(TYPED_ARRAY)
    while start >= 0:
        end = text.index("}", start) + 1
        found.append((start, end))
        start = text.find(TYPED_ARRAY, end)
    return found


def drawn_batch(key: str) -> int | None:
    """The last batch number the chart under `key` reported (None before any report)."""
    value = st.session_state.get(key)
    drawn = value.get("drawn") if isinstance(value, Mapping) else getattr(value, "drawn", None)
    return None if drawn is None else int(drawn)


def _ignore() -> None:
    """The default `on_drawn` callback: the rerun the report causes is all that is needed."""

