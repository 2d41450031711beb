// [selector] -> one hash per chart matching it (chartHashes in charts.js).
(selector) => chartHashes(selector)
