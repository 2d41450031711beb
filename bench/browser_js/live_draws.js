// [chart selector] -> [finished redraws, SVG hash] of the live chart (the first matching). The count alone
// cannot pass a measure: the caller also checks that the SVG changed.
(selector) => [chartDraws(selector)[0], chartHashes(selector)[0]]
