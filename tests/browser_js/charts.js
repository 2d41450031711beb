// Shared by the other scripts here (tests/browser_kit.py puts it in front of each): what the app's plotly
// charts show. A chart is an element of the class pages/charts.py gives (CHART in browser_kit.py).

// One hash per chart matching a CSS selector, in page order, of everything drawn in its SVG layers: it
// changes whenever the chart is redrawn with different data.
const chartHashes = (selector) => Array.from(document.querySelectorAll(selector), (chart) => {
  let h = 0;
  for (const svg of chart.querySelectorAll('.main-svg')) {
    const text = svg.innerHTML;
    for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
  }
  return h;
});

// How often each chart matching the selector has finished a redraw (its own counter, data-draws).
const chartDraws = (selector) => Array.from(document.querySelectorAll(selector), (chart) => Number(chart.dataset.draws || 0));
