// The chart component's entry: it loads the chart module (chart.js, served beside it) once per page and hands it
// every update, in order. Kept this small because Streamlit sends a component's script with each of its charts.
let chart = null;

export default function (args) {
  chart = chart || import(new URL(args.data.module, window.location.href).href);
  chart.then(module => module.default(args));
}
