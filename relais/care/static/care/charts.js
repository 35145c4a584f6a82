// Care analytics charts: the server draws each chart as SVG bars (readable without script);
// when uPlot is loaded (relais/web/static/vendor, from `make install`), it redraws them with
// day labels in the organisation's zone and values on hover.
(function () {
  "use strict";

  function draw(figure) {
    if (!window.uPlot) return;  // keep the server's SVG
    var data = JSON.parse(document.getElementById(figure.dataset.chart).textContent);
    var box = figure.querySelector(".chart-box");
    var xs = [], ys = [];
    data.points.forEach(function (p) { xs.push(p.t); ys.push(p.value); });
    var colour = data.red ? "#b42318" : "#4a6fa5";
    var bars = uPlot.paths.bars({ size: [0.8, 40] });
    var opts = {
      width: Math.max(260, box.clientWidth),
      height: 160,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), data.timezone); },
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(4, max * 1.1)]; } } },
      series: [{}, { label: data.title, stroke: colour, fill: colour, paths: bars, points: { show: false } }],
      axes: [{}, { size: 40 }]
    };
    box.textContent = "";
    var plot = new uPlot(opts, [xs, ys], box);
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(260, box.clientWidth), height: 160 });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("figure[data-chart]").forEach(draw);
  });
})();
