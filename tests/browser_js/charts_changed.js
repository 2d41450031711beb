// [selector, hashes before] -> true once as many charts match and every one shows other content.
([selector, before]) => {
  const now = chartHashes(selector);
  return now.length === before.length && now.every((h, i) => h !== before[i]);
}
