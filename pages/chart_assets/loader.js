// The chart component's entry: it loads the chart module (chart.js, served beside it) once per page and hands it
// every update, in order. Kept this small because Streamlit sends a component's script with each of its charts.
// A chart's data comes as the UTF-8 bytes of one JSON document (pages/charts.py `payload`).
let chart = null;
const utf8 = new TextDecoder();

export default function (args) {
  const data = JSON.parse(utf8.decode(args.data));
  chart = chart || import(new URL(data.module, window.location.href).href);
  chart.then(module => module.default(Object.assign({}, args, {data})));
}
