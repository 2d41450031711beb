"""Text in the Playground's charts keeps clear of other text, on a phone (390 × 844, touch) and a wide screen.

On a phone the live chart stacks its panels, and the trajectories' legend comes between the last trajectory
panel and the symmetry meter: it must end above the meter's title. In the weight-space view the y ticks of a
tied start need many digits (0.4995): the axis title must not run into them, at either width.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

SIZES = {"phone": ((390, 844), True), "wide": ((1400, 900), False)}
MIN_GAP_PX = 4
METER_TITLE = "Symmetry meter: largest gap"
WEIGHT_SPACE_TITLE = "Neurons in weight space"
CHART_DRAWN = "[data-testid=stMainBlockContainer] .js-plotly-plot .main-svg"

# Boxes [left, top, right, bottom] of a drawn chart's legends, annotations, y tick labels and y axis titles;
# the chart is the one whose text holds `title`.
BOXES_JS = """title => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const plot = [...document.querySelectorAll("[data-testid=stMainBlockContainer] .js-plotly-plot")]
    .find(p => p.textContent.includes(title));
  if (!plot) return null;
  return {
    legends: [...plot.querySelectorAll(".legend")].map(box),
    annotations: [...plot.querySelectorAll(".annotation")].map(a => ({text: a.textContent, box: box(a)})),
    yticks: [...plot.querySelectorAll(".ytick text")].filter(t => t.textContent).map(box),
    ytitles: [...plot.querySelectorAll(".g-ytitle text")].filter(t => t.textContent).map(box),
  };
}"""


def overlap(a: list[float], b: list[float]) -> bool:
    """Whether two boxes [left, top, right, bottom] share any area."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def chart_boxes(browser, app_url: str, size: str) -> dict[str, dict | None]:
    """The text boxes of the Playground's charts as it opens at one of SIZES: chart title → boxes."""
    (width, height), mobile = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile, has_touch=mobile)
    try:
        page = context.new_page()
        page.goto(app_url, wait_until="domcontentloaded")
        page.wait_for_function(f"() => document.querySelectorAll({CHART_DRAWN!r}).length >= 3", timeout=90_000)
        page.wait_for_timeout(500)  # the last chart's relayout
        return {title: page.evaluate(BOXES_JS, title) for title in (METER_TITLE, WEIGHT_SPACE_TITLE)}
    finally:
        context.close()


def test_the_live_charts_legend_ends_above_the_meters_title_on_a_phone(browser, app_url: str) -> None:
    live = chart_boxes(browser, app_url, "phone")[METER_TITLE]
    assert live is not None, "the live chart was not drawn"
    [title] = [a["box"] for a in live["annotations"] if a["text"] == METER_TITLE]
    [legend] = live["legends"]
    assert legend[3] + MIN_GAP_PX <= title[1], f"the legend {legend} runs into the meter's title {title}"


@pytest.mark.parametrize("size", list(SIZES))
def test_the_weight_space_y_title_keeps_clear_of_its_tick_labels(browser, app_url: str, size: str) -> None:
    view = chart_boxes(browser, app_url, size)[WEIGHT_SPACE_TITLE]
    assert view is not None, f"the weight-space view was not drawn ({size})"
    [title] = view["ytitles"]
    assert view["yticks"], "no y tick labels drawn"
    touching = [tick for tick in view["yticks"] if overlap([tick[0] - MIN_GAP_PX, *tick[1:]], title)]
    assert not touching, f"{size}: the y title {title} touches tick labels {touching}"
    assert title[0] >= 0, f"{size}: the y title is cut off at the left edge ({title})"
