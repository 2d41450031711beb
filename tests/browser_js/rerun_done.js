// [runs before, quiet ms] -> true once a run after the first `before` ones has finished, the script is idle
// and the page has not changed for `quiet` ms (counters of run_counter.js).
([before, quiet]) => {
  const app = document.querySelector("[data-testid='stApp']");
  return window.__symbreakRuns > before && app !== null && app.getAttribute('data-test-script-state') === 'notRunning'
    && performance.now() - window.__symbreakChanged >= quiet;
}
