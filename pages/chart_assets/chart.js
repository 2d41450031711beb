// The chart module of pages/charts.py (loaded by loader.js): one plotly chart per key, updated in place with
// Plotly.react. Every value it needs (the plot's class, the frame rate, the narrow width) comes in `data`.

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

// A chart somewhat narrower than its figure's minimum width (a 1024-pixel projector with the sidebar open) is
// drawn at that width and scaled down as a whole, so its panel titles and ticks shrink instead of running into
// each other. Scaled further than `minScale` its text would be too small to read: such a box (a phone) is narrow,
// and gets the figure's narrow layout instead, unscaled.
function isNarrow(box) {
  const width = box.clientWidth, o = box.__options;
  if (!width) return box.__narrow || false;
  return width < Math.max(o.narrow_width, (box.__minWidth || 0) * o.min_scale);
}

function fit(box, height) {
  const min = box.__minWidth, width = box.clientWidth, plot = box.__plot;
  const scale = !box.__narrow && min && width && width < min ? width / min : 1;
  plot.style.width = scale < 1 ? min + "px" : "";
  plot.style.transform = scale < 1 ? "scale(" + scale + ")" : "";
  box.style.height = Math.ceil(height * scale) + "px";
}

// ---------------------------------------------------------------- the narrow layout
// Panels that sit side by side are stacked, one to a row (two for many small multiples, or in a box wide enough
// for two: a projector's column beside the open sidebar), at a fixed height each. Everything placed on the
// paper (panel and part titles) moves with the panel it belongs to; legends go under the last panel whose
// traces they name, laid out across.

const AXIS = /^xaxis(\d*)$/;

function panelsOf(layout) {
  const panels = [];
  for (const key of Object.keys(layout)) {
    const match = AXIS.exec(key);
    if (!match) continue;
    const x = layout[key], y = layout["yaxis" + match[1]];
    if (!y || x.overlaying) continue;
    const [x0, x1] = x.domain || [0, 1], [y0, y1] = y.domain || [0, 1];
    panels.push({suffix: match[1], x0, x1, y0, y1, header: 0});
  }
  return panels;
}

function sideBySide(panels) {
  return panels.some(a => panels.some(b => a !== b && a.x1 <= b.x0 && a.y0 < b.y1 && b.y0 < a.y1));
}

// The panel a paper point belongs to: the one it is inside or nearest.
function nearest(panels, x, y) {
  let best = null, distance = Infinity;
  for (const p of panels) {
    const dx = Math.max(p.x0 - x, 0, x - p.x1), dy = Math.max(p.y0 - y, 0, y - p.y1);
    const d = dx * dx + dy * dy;
    if (d < distance - 1e-12) { best = p; distance = d; }
  }
  return best;
}

// A title longer than the room it has (`width` pixels) is broken at spaces into lines (plotly does not wrap
// text); the number of lines.
function wrap(annotation, width, o) {
  const size = (annotation.font && annotation.font.size) || o.font_size;
  const fits = Math.max(8, Math.floor(width / (size * o.char_em)));
  const text = String(annotation.text || "");
  if (text.length <= fits || text.includes("<br>")) return 1;
  const lines = [""];
  for (const word of text.split(" ")) {
    const last = lines[lines.length - 1];
    if (last && (last + " " + word).replace(/<[^>]*>/g, "").length > fits) lines.push(word);
    else lines[lines.length - 1] = last ? last + " " + word : word;
  }
  annotation.text = lines.join("<br>");
  if (annotation.xanchor === "left" || annotation.xanchor === "right") annotation.align = annotation.xanchor;
  return lines.length;
}

// A figure of one column keeps its panels; a legend on its right goes under it, laid out across, so the plot
// keeps the box's width.
function legendBelow(figure, o) {
  const layout = figure.layout, legend = layout.legend;
  if (layout.showlegend === false || !legend || !(legend.x >= 1) || legend.orientation === "h") return figure;
  const margin = layout.margin || {};
  const plot = (layout.height || o.default_height) - (margin.t || 0) - (margin.b || 0);
  const below = Object.assign({}, legend, {orientation: "h", x: 0, xanchor: "left", y: -o.legend_below_px / plot,
                                          yanchor: "top"});
  return Object.assign({}, figure, {layout: Object.assign({}, layout, {legend: below})});
}

function narrowFigure(figure, o, width) {
  const layout = figure.layout;
  const panels = panelsOf(layout);
  if (panels.length < 2 || !sideBySide(panels)) return legendBelow(figure, o);
  panels.sort((a, b) => (b.y1 - a.y1) || (a.x0 - b.x0));
  const cols = panels.length > o.single_column_max || width >= o.two_column_width ? 2 : 1;
  const bySuffix = new Map(panels.map(p => [p.suffix, p]));
  const gap = o.column_gap;
  const share = (1 - gap * (cols - 1)) / cols;
  panels.forEach((p, i) => { p.nx0 = (i % cols) * (share + gap); });
  const plotWidth = width - o.margin_left - o.margin_right;
  // Paper annotations move with their panel; a title gets the room from its anchor to the edge it faces.
  const annotations = (layout.annotations || []).map(a => Object.assign({}, a));
  const owner = new Map();
  for (const a of annotations) {
    if ((a.xref || "paper") !== "paper" || (a.yref || "paper") !== "paper") continue;
    const p = nearest(panels, a.x, a.y);
    owner.set(a, p);
    const x = Math.min(1, Math.max(0, p.nx0 + (a.x - p.x0) * (p.x1 > p.x0 ? share / (p.x1 - p.x0) : 1)));
    a.x = x;
    const room = a.xanchor === "left" ? 1 - x : a.xanchor === "right" ? x : 2 * Math.min(x, 1 - x);
    const lines = wrap(a, Math.max(room, share) * plotWidth, o);
    if (a.y >= p.y1 - 1e-6) p.header = Math.max(p.header, (a.yshift || 0) + o.title_px * lines);
  }
  const legendNames = new Set(), counted = new Set();
  for (const trace of figure.data) {
    const p = bySuffix.get((trace.xaxis || "x").slice(1));
    const legend = trace.legend || "legend";
    if (!p) continue;
    legendNames.add(legend);
    const item = legend + "\u0000" + (trace.legendgroup || trace.name);
    if (trace.showlegend !== false) counted.add(item);
  }
  // Each legend goes under the lowest panel that draws one of its entries.
  const home = new Map();
  for (const trace of figure.data) {
    const p = bySuffix.get((trace.xaxis || "x").slice(1));
    const legend = trace.legend || "legend";
    if (!p || !counted.has(legend + "\u0000" + (trace.legendgroup || trace.name))) continue;
    const now = home.get(legend);
    if (!now || panels.indexOf(p) > panels.indexOf(now)) home.set(legend, p);
  }
  const legendItems = new Map();
  for (const item of counted) {
    const legend = item.split("\u0000")[0];
    legendItems.set(legend, (legendItems.get(legend) || 0) + 1);
  }
  const shown = layout.showlegend !== false;
  const title = layout.title && layout.title.text;
  const margin = {l: o.margin_left, r: o.margin_right, t: title ? o.title_margin : o.margin_top, b: o.margin_bottom};
  // Rows from the top, in pixels: a header (titles), the panel, a footer (ticks, axis title, legends).
  const rows = [];
  for (let i = 0; i < panels.length; i += cols) rows.push(panels.slice(i, i + cols));
  let top = 0;
  const placed = [];
  for (const row of rows) {
    const header = Math.max(o.title_px, ...row.map(p => p.header));
    let footer = o.footer_px;
    const legends = [];
    for (const p of row) {
      for (const [legend, p2] of home) {
        if (p2 === p && shown && legendItems.get(legend)) legends.push(legend);
      }
    }
    const legendTop = footer;
    for (const legend of legends) footer += Math.ceil(legendItems.get(legend) / o.legend_per_row) * o.legend_row_px;
    placed.push({row, top: top + header, bottom: top + header + o.panel_px, legends, legendTop});
    top += header + o.panel_px + footer;
  }
  const plotHeight = top;
  const out = Object.assign({}, layout, {height: plotHeight + margin.t + margin.b, margin});
  const fy = px => 1 - px / plotHeight;
  const map = new Map();
  for (const {row, top: t, bottom, legends, legendTop} of placed) {
    row.forEach(p => {
      const x0 = p.nx0, y0 = fy(bottom), y1 = fy(t);
      map.set(p, {x0, x1: x0 + share, y0, y1});
      out["xaxis" + p.suffix] = Object.assign({}, layout["xaxis" + p.suffix], {domain: [x0, x0 + share]});
      out["yaxis" + p.suffix] = Object.assign({}, layout["yaxis" + p.suffix], {domain: [y0, y1]});
    });
    let y = bottom + legendTop;
    for (const legend of legends) {
      out[legend] = Object.assign({}, layout[legend], {
        orientation: "h", x: home.get(legend).nx0, xanchor: "left", y: fy(y), yanchor: "top"});
      y += Math.ceil(legendItems.get(legend) / o.legend_per_row) * o.legend_row_px;
    }
  }
  for (const legend of legendNames) {
    if (!home.has(legend) && out[legend]) out[legend] = Object.assign({}, out[legend], {visible: false});
  }
  for (const a of annotations) {
    const p = owner.get(a);
    if (!p) continue;
    const to = map.get(p);
    const sy = p.y1 > p.y0 ? (to.y1 - to.y0) / (p.y1 - p.y0) : 1;
    a.y = a.y >= p.y1 ? to.y1 + (a.y - p.y1) * sy : to.y0 + (a.y - p.y0) * sy;
  }
  out.annotations = annotations;
  return Object.assign({}, figure, {layout: out});
}

// The figure's own title, broken into lines like a panel's (see `wrap`), with room made for them above the plot.
function wrapTitle(figure, o, width) {
  const layout = figure.layout, title = layout.title;
  if (!title || !title.text) return figure;
  const line = Object.assign({font: {size: o.title_font_size}}, title, {xanchor: "left"});
  const extra = (wrap(line, width - o.margin_left - o.margin_right, o) - 1) * o.title_font_size * o.line_em;
  if (!extra) return figure;
  const margin = Object.assign({}, layout.margin || {}), top = margin.t || 0;
  margin.t = top + extra;
  const text = Object.assign({}, title, {text: line.text});
  return Object.assign({}, figure, {layout: Object.assign({}, layout, {
    title: text, margin, height: (layout.height || o.default_height) + extra})});
}

function shown(box, figure) {
  if (!box.__narrow) return figure;
  return wrapTitle(narrowFigure(figure, box.__options, box.clientWidth), box.__options, box.clientWidth);
}

// ---------------------------------------------------------------- what a screen reader gets
// The plot is an image named by its figure's title (for figures joined into one, their parts' titles, in
// layout.meta.label). A figure that describes itself (layout.meta.description, the live chart's sentence on the
// run) is spoken by a polite live region: at once for a plain update (a Step), at most every `speak_ms` while
// frames play, the newest sentence last.

// Text without markup: plotly titles may hold <b>, <br> and entities. Parsed in an inert document (nothing in
// it loads or runs).
function plainText(html) {
  const text = String(html).replace(/<br\s*\/?>/gi, " ");
  return new DOMParser().parseFromString(text, "text/html").body.textContent.trim();
}

function describe(box, figure, now) {
  const layout = figure.layout, meta = layout.meta || {};
  const name = plainText((layout.title && layout.title.text) || meta.label || "Chart");
  const sentence = meta.description ? plainText(meta.description) : "";
  box.__plot.setAttribute("role", "img");
  box.__plot.setAttribute("aria-label", sentence ? name + ". " + sentence : name);
  const drawing = box.__plot.querySelector(".svg-container");  // plotly's own SVGs: ticks and labels, unnamed
  if (drawing) drawing.setAttribute("aria-hidden", "true");
  if (!sentence) return;
  if (!box.__live) {
    box.__live = document.createElement("div");
    box.__live.className = box.__options.sr_only_class;
    box.__live.setAttribute("role", "status");
    box.__live.setAttribute("aria-live", "polite");
    box.__live.setAttribute("aria-atomic", "true");
    box.appendChild(box.__live);
  }
  box.__toSay = sentence;
  clearTimeout(box.__speakTimer);
  const wait = now ? 0 : (box.__spokenAt || -Infinity) + box.__options.speak_ms - performance.now();
  if (wait > 0) box.__speakTimer = setTimeout(() => say(box), wait);
  else say(box);
}

function say(box) {
  if (box.__live.textContent === box.__toSay) return;
  box.__live.textContent = box.__toSay;
  box.__spokenAt = performance.now();
}

// With prefers-reduced-motion a redraw is never animated (plotly animates nothing unless a layout asks).
function stillLayout(layout) {
  if (!window.matchMedia("(prefers-reduced-motion: reduce)").matches) return layout;
  return Object.assign({}, layout, {transition: {duration: 0}});
}

// ---------------------------------------------------------------- the sound ("Listen to the neurons")
// Off unless the page asks (data.sound = {volume: 0 to 1}). One sine tone per group of tied neurons
// (layout.meta.tones), its pitch following the group's offset from the layer's mean: tied neurons are one note,
// a split parts it into a chord. It sounds while frames play and for a moment after a Step, and stops when Play
// stops and when the page is hidden. The box's data-tones holds the size of the last chord (for the tests).
const BASE_HZ = 262, MAX_OCTAVES = 2, NOTE_MS = 800, GLIDE_SECONDS = 0.05, RELEASE_SECONDS = 0.3;

function toneHz(offset) {
  return BASE_HZ * Math.pow(2, Math.sign(offset) * Math.min(MAX_OCTAVES, Math.log10(1 + Math.abs(offset) * 1e4) / 2));
}

function sound(box, figure, playing) {
  const tones = box.__sound && (figure.layout.meta || {}).tones;
  if (!tones || document.hidden) return silence(box);
  const audio = box.__audio || (box.__audio = new AudioContext());
  audio.resume();
  const voices = box.__voices || (box.__voices = []), now = audio.currentTime;
  while (voices.length > tones.length) release(audio, voices.pop());
  while (voices.length < tones.length) {
    const osc = audio.createOscillator(), gain = audio.createGain();
    gain.gain.value = 0;
    osc.connect(gain).connect(audio.destination);
    osc.start();
    voices.push({osc, gain});
  }
  const level = box.__sound.volume / tones.length;  // a chord no louder than one note
  voices.forEach((voice, i) => {
    voice.osc.frequency.setTargetAtTime(toneHz(tones[i]), now, GLIDE_SECONDS);
    voice.gain.gain.setTargetAtTime(level, now, GLIDE_SECONDS);
  });
  box.dataset.tones = String(tones.length);
  clearTimeout(box.__soundTimer);
  if (!playing) box.__soundTimer = setTimeout(() => silence(box), NOTE_MS);
  if (!box.__hiddenWatch) {
    box.__hiddenWatch = true;
    document.addEventListener("visibilitychange", () => { if (document.hidden) silence(box); });
  }
}

function release(audio, voice) {
  voice.gain.gain.setTargetAtTime(0, audio.currentTime, GLIDE_SECONDS);
  voice.osc.stop(audio.currentTime + RELEASE_SECONDS);
}

function silence(box) {
  clearTimeout(box.__soundTimer);
  for (const voice of box.__voices || []) release(box.__audio, voice);
  box.__voices = [];
}

// Draws the queued figures one after another, at most `fps` a second. The first frame of a batch asks for
// the next batch as it starts, so the server trains and builds it while this one is on screen.
async function drawQueue(box) {
  box.__busy = true;
  try {
    const Plotly = await loadPlotly(box.__src);
    while (box.__queue.length) {
      const wait = (box.__last || 0) + 1000 / box.__options.fps - performance.now();
      if (wait > 0) await sleep(wait);
      const item = box.__queue.shift();
      if (!item) break;
      box.__last = performance.now();
      if (item.first && item.batch !== null && item.batch === box.__batch) {
        box.__report("drawn", item.batch);
        await sleep(0);  // lets the report go out before this frame is drawn
      }
      await draw(Plotly, box, item.figure, item.batch === null);
    }
  } catch (error) {
    box.__plot.textContent = "This chart could not be drawn: " + error.message;
  } finally {
    box.__busy = false;
  }
}

async function draw(Plotly, box, figure, interactive) {
  box.__figure = figure;
  box.__interactive = interactive;
  box.__narrow = isNarrow(box);
  box.dataset.narrow = box.__narrow ? "1" : "0";
  const drawn = shown(box, figure);
  // Animation frames are drawn static (no hover layers to rebuild): cheaper, and nobody hovers a moving line.
  const config = interactive ? box.__config : Object.assign({}, box.__config, {staticPlot: true});
  box.__height = drawn.layout.height || box.__options.default_height;
  fit(box, box.__height);
  await Plotly.react(box.__plot, drawn.data, stillLayout(drawn.layout), config);
  describe(box, figure, interactive);
  sound(box, figure, !interactive);
  box.dataset.draws = String(Number(box.dataset.draws || 0) + 1);
}

export default function ({ parentElement, data, setTriggerValue }) {
  const options = data.options;
  let box = parentElement.querySelector("." + options.box_class);
  if (!box) {
    box = document.createElement("div");
    box.className = options.box_class;
    box.__queue = [];
    box.__plot = document.createElement("div");
    box.__plot.className = options.plot_class;
    box.appendChild(box.__plot);
    parentElement.appendChild(box);
    // Follow the column's width (window resized, sidebar opened or closed): this replaces plotly's "responsive".
    // A chart that is not on screen (its page left, its tab closed) reports width 0: plotly cannot resize it
    // then, and it keeps the width it had; it is resized when it comes back at another width. Crossing the
    // narrow width redraws the last figure in the other layout.
    let width = null;
    new ResizeObserver(entries => {
      const now = Math.round(entries[0].contentRect.width);
      if (!box.isConnected || now === 0) return;
      if (width !== null && now !== width && window.Plotly && box.__plot.layout) {
        if (isNarrow(box) !== box.__narrow && !box.__busy) {
          draw(window.Plotly, box, box.__figure, box.__interactive);
        } else {
          fit(box, box.__height);
          window.Plotly.Plots.resize(box.__plot);
        }
      }
      width = now;
    }).observe(box);
  }
  box.__options = options;
  box.__minWidth = data.min_width || 0;
  box.__src = data.src;
  box.__config = data.config;
  box.__report = setTriggerValue;
  box.__sound = data.sound || null;
  const batch = data.batch === undefined ? null : data.batch;
  if (batch !== null && batch === box.__batch) return;  // a batch sent again: already queued or drawn
  // An array sent once for several traces: each place gets its own copy of it.
  const shared = data.shared || [];
  const unshare = value => {
    if (Array.isArray(value)) return value.map(unshare);
    if (value === null || typeof value !== "object") return value;
    if (typeof value[options.shared_key] === "number") return Object.assign({}, shared[value[options.shared_key]]);
    for (const key in value) value[key] = unshare(value[key]);
    return value;
  };
  const frames = data.figures.map((parsed, i) => {
    const figure = unshare(parsed);
    figure.layout.autosize = true;
    delete figure.layout.width;
    return {figure, batch, first: i === 0};
  });
  // The room is kept while plotly.js loads.
  if (!box.__plot.layout) box.style.height = (frames[0].figure.layout.height || options.default_height) + "px";
  if (batch === null) {
    box.__batch = null;
    box.__queue = frames;  // a plain update replaces whatever was still queued
  } else {
    box.__batch = batch;
    box.__queue = box.__queue.filter(item => item.batch !== null).slice(-frames.length).concat(frames);
  }
  if (!box.__busy) drawQueue(box);
}
