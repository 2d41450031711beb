// True once there is a chart matching the selector and every one has drawn its SVG. Without a selector (null
// from Python's default argument) it is the class of the app's charts.
(selector) => {
  const charts = document.querySelectorAll(selector ?? '.symbreak-chart');
  return charts.length > 0 && Array.from(charts).every((chart) => chart.querySelector('.main-svg'));
}
