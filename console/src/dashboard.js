// The dashboard: bucket size by storage class and objects per day, requests, errors and
// latency per minute (buckets with a metrics configuration), and the month's cost against the
// budget, with the alarm's state; the scrubber's findings and the disk's free space. Data:
// GET /api/dashboard (needs cloudwatch:GetMetricData).
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { Chart, registerables } from 'chart.js';

Chart.register(...registerables);
const html = htm.bind(h);

const dateLabel = (ms, withTime) => {
  const d = new Date(ms);
  return withTime ? d.toISOString().slice(11, 16) : d.toISOString().slice(0, 10);
};
const money = (v) => (v == null ? '–' : `$${v < 1 ? v.toFixed(4) : v.toFixed(2)}`);
const gib = (b) => (b >= 1 << 30 ? `${(b / (1 << 30)).toFixed(2)} GiB` : b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

// The scrubber's last pass and the data directory's free space (GET /api/dashboard `health`).
function Health({ health }) {
  const s = health.scrub;
  const d = health.disk;
  const last = s.last;
  const damaged = last ? last.damaged_count : 0;
  const when = (ms) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
  const integrity = !s.enabled ? 'off' : last ? (damaged ? `${damaged} damaged` : 'no damage found') : 'first pass running';
  return html`
    <div class="grid" id="health">
      <article id="health-scrub"><small>Integrity (scrubber)</small>
        <h3 class=${damaged ? 'alarm' : ''}>${integrity}</h3>
        <small>${last ? `last pass ${when(last.finished_ms)} UTC: ${last.versions_checked} versions, ${gib(last.bytes_checked)} read` : ''}${s.running ? ` · running: ${s.running.versions_checked} checked` : ''}</small>
        ${last && last.damaged.length
          ? html`<ul>${last.damaged.slice(0, 5).map((x) => html`<li><code>${x.bucket}/${x.key}</code> ${x.version_id}</li>`)}</ul>`
          : null}
      </article>
      <article id="health-disk"><small>Disk (data directory)</small>
        <h3 class=${d && d.level !== 'ok' ? 'alarm' : ''}>${d ? `${d.free_percent.toFixed(1)}% free` : '–'}</h3>
        <small>${d ? `${gib(d.free_bytes)} of ${gib(d.total_bytes)}${d.level !== 'ok' ? ` · ${d.level}` : ''}` : ''}</small>
      </article>
    </div>`;
}

function LineChart({ id, title, datasets, withTime, yLabel, format, min, max }) {
  const canvas = useRef(null);
  useEffect(() => {
    const chart = new Chart(canvas.current, {
      type: 'line',
      data: { datasets: datasets.map((d) => ({ ...d, data: d.points.map(([x, y]) => ({ x, y })), pointRadius: 2 })) },
      options: {
        animation: false,
        parsing: true,
        plugins: { title: { display: true, text: title }, legend: { position: 'bottom' } },
        scales: {
          x: { type: 'linear', min, max, ticks: { callback: (v) => dateLabel(v, withTime), maxTicksLimit: 8 } },
          y: { beginAtZero: true, title: { display: !!yLabel, text: yLabel }, ticks: format ? { callback: format } : {} },
        },
      },
    });
    canvas.current.dataset.points = String(datasets.reduce((n, d) => n + d.points.length, 0));
    return () => chart.destroy();
  }, [JSON.stringify(datasets)]);
  return html`<figure class="chart"><canvas id=${id} ref=${canvas}></canvas></figure>`;
}

export function AlarmBanner({ data }) {
  if (!data || !data.budget.fired.length) return null;
  return html`<p class="alarm" id="budget-alarm" role="alert">
    Budget alarm (${data.cost.month}): ${data.budget.fired.join(', ')} of ${money(data.budget.limit)} —
    month to date ${money(data.cost.actual)}, forecast ${money(data.cost.forecast)}.</p>`;
}

export function Dashboard({ api }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    const load = () => api('GET', '/api/dashboard').then((d) => live && setData(d)).catch((e) => live && setError(e));
    load();
    const timer = setInterval(load, 10000);
    return () => { live = false; clearInterval(timer); };
  }, []);
  if (error) return html`<p class="error" id="dashboard-error">${error.message}</p>`;
  if (!data) return html`<p aria-busy="true">Loading metrics…</p>`;
  const storage = Object.entries(data.storage).flatMap(([bucket, types]) =>
    Object.entries(types).map(([type, points]) => ({ label: `${bucket} ${type}`, points })));
  const objects = Object.entries(data.objects).map(([bucket, points]) => ({ label: bucket, points }));
  const requestSets = (names) => Object.entries(data.requests).flatMap(([name, m]) =>
    names.filter((n) => m[n]).map((n) => ({ label: `${name} ${n}`, points: m[n] })));
  const limit = data.budget.limit;
  const costSets = [
    { label: 'month to date', points: data.cost.byDay, fill: false },
    { label: `budget ${money(limit)}`, points: [[data.cost.monthStart, limit], [data.cost.monthEnd, limit]], borderDash: [6, 4] },
  ];
  const withTime = data.dayMs < 3600000;
  const days = { min: data.now - 30 * data.dayMs, max: data.now };
  const hour = { min: data.now - 3600000, max: data.now };
  return html`
    <section id="dashboard">
      <${AlarmBanner} data=${data} />
      <div class="grid">
        <article><small>Month to date</small><h3 id="cost-actual">${money(data.cost.actual)}</h3></article>
        <article><small>Forecast</small><h3 id="cost-forecast">${money(data.cost.forecast)}</h3></article>
        <article><small>Budget</small><h3>${money(limit)}</h3>
          <small>${data.budget.fired.length ? `fired: ${data.budget.fired.join(', ')}` : 'no alarm this month'}</small></article>
      </div>
      <${Health} health=${data.health} />
      <${LineChart} id="chart-cost" title=${`Cost, ${data.cost.month} (prices ${data.cost.prices.region}, ${data.cost.prices.taken})`}
        datasets=${costSets} withTime=${withTime} format=${money} min=${data.cost.monthStart} max=${data.cost.monthEnd} />
      <${LineChart} id="chart-storage" title="Bucket size by storage class (daily)" datasets=${storage} withTime=${withTime} format=${gib} ...${days} />
      <${LineChart} id="chart-objects" title="Objects (daily)" datasets=${objects} withTime=${withTime} ...${days} />
      ${Object.keys(data.requests).length
        ? html`
          <${LineChart} id="chart-requests" title="Requests and errors per minute" withTime=${true} ...${hour}
            datasets=${requestSets(['AllRequests', '4xxErrors', '5xxErrors'])} />
          <${LineChart} id="chart-latency" title="Latency per minute (ms, average)" withTime=${true} ...${hour}
            datasets=${requestSets(['FirstByteLatency', 'TotalRequestLatency'])} />`
        : html`<p class="muted" id="no-request-metrics">No bucket has a metrics configuration: request metrics are off
            (<code>aws s3api put-bucket-metrics-configuration</code> turns them on).</p>`}
    </section>`;
}
