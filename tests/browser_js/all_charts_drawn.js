// True once there is a chart matching the selector and every one has drawn its SVG. Without an argument the
// selector is the class of the app's charts.
(selector = '.symbreak-chart') => {
  const charts = document.querySelectorAll(selector);
  return charts.length > 0 && Array.from(charts).every((chart) => chart.querySelector('.main-svg'));
}
