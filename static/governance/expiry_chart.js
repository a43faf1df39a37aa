// The deletion-history chart of the retention and settings pages: data from the canvas's
// data-chart attribute (JSON), no inline script (the CSP allows none).
document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("expiry-chart");
  if (!canvas || typeof Chart === "undefined") return;
  const data = JSON.parse(canvas.dataset.chart);
  new Chart(canvas, {
    type: "bar",
    data: { labels: data.labels, datasets: data.series.map((s) => ({ label: s.label, data: s.data })) },
    options: { animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
  });
});
