// [selector, hash before] -> true once the first chart matching the selector shows other content.
([selector, before]) => {
  const now = chartHashes(selector);
  return now.length > 0 && now[0] !== before;
}
