// Listening charts: messages per bucket drawn with uPlot; bursts (scored at or above the
// detector's threshold) in red; a click on a bar opens that bucket's messages.
(function () {
  "use strict";

  function draw(figure) {
    var data = JSON.parse(document.getElementById(figure.dataset.chart).textContent);
    var box = figure.querySelector(".chart-box");
    var xs = [], counts = [], bursts = [];
    data.points.forEach(function (p) {
      xs.push(p.t);
      counts.push(p.count);
      bursts.push(p.score !== null && p.score >= data.threshold ? p.count : null);
    });
    var bars = uPlot.paths.bars({ size: [0.9, 40] });
    var opts = {
      width: Math.max(280, box.clientWidth),
      height: 220,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), data.timezone); },
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(4, max * 1.1)]; } } },
      series: [
        {},
        { label: "messages", stroke: "#0b5cad", fill: "rgba(11,92,173,.35)", paths: bars, points: { show: false } },
        { label: "burst", stroke: "#b3261e", fill: "rgba(179,38,30,.8)", paths: bars, points: { show: false } }
      ],
      axes: [{}, { size: 40 }]
    };
    var plot = new uPlot(opts, [xs, counts, bursts], box);
    if (data.drill) {
      plot.over.style.cursor = "pointer";
      plot.over.addEventListener("click", function () {
        var i = plot.cursor.idx;
        if (i === null || i === undefined) return;
        var from = xs[i], to = from + data.granularity;
        window.location = data.drill + "?hours=" + data.hours + "&from=" + from + "&to=" + to;
      });
    }
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(280, box.clientWidth), height: 220 });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("figure[data-chart]").forEach(draw);
  });
})();
