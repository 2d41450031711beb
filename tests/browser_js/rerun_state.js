// () -> [runs finished, the script state, ms since the page last changed]: what a wait for a rerun saw.
() => [
  window.__symbreakRuns,
  document.querySelector("[data-testid='stApp']")?.getAttribute('data-test-script-state'),
  Math.round(performance.now() - window.__symbreakChanged),
]
