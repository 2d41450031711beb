// [button label, chart selector] -> clicks the button; resolves with [ms until the run it caused is over, ms
// until every chart is also redrawn]. A chart counts as redrawn once its own draw counter moved (or, a chart
// Streamlit mounted afresh, once it has drawn at all) and its SVG differs from before the click; the SVGs are
// hashed only after every counter moved, so the measuring does not slow the page it measures.
// chartHashes and chartDraws come from tests/browser_js/charts.js.
([label, selector]) => new Promise((resolve, reject) => {
  const app = document.querySelector("[data-testid='stApp']");
  const target = Array.from(document.querySelectorAll('button')).find((b) => b.innerText.trim() === label);
  if (!target) return reject(new Error('no button ' + label));
  const before = chartHashes(selector);
  const drawsBefore = chartDraws(selector);
  const nodesBefore = Array.from(document.querySelectorAll(selector));
  const runs = window.__symbreakRuns;
  const start = performance.now();
  let done = null;
  let hashedAt = null;
  target.click();
  const poll = () => {
    if (window.__symbreakRuns > runs && app.getAttribute('data-test-script-state') === 'notRunning') {
      if (done === null) done = performance.now() - start;
      const counts = chartDraws(selector);
      const nodes = Array.from(document.querySelectorAll(selector));
      if (counts.length === drawsBefore.length
          && counts.every((n, i) => n > drawsBefore[i] || (nodes[i] !== nodesBefore[i] && n > 0))
          && counts.join() !== hashedAt) {
        hashedAt = counts.join();
        const now = chartHashes(selector);
        if (now.every((h, i) => h !== before[i])) return resolve([done, performance.now() - start]);
      }
    }
    if (performance.now() - start > 60000) {
      const now = chartHashes(selector);
      return reject(new Error(`no redraw within 60 s of clicking ${label}: ${window.__symbreakRuns - runs} runs `
        + `started, script ${app.getAttribute('data-test-script-state')}, charts ${before.length} -> `
        + `${now.length}, draws ${drawsBefore} -> ${chartDraws(selector)}, `
        + `unchanged: ${now.map((h, i) => h === before[i] ? i : -1).filter((i) => i >= 0)}`));
    }
    requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
})
