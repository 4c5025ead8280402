import { api } from '../api.js';
import { barsElement, chartElement, drawBars, drawChart } from '../chart.js';
import { errorBox, formatBytes, formatNumber, h, table, fill } from '../dom.js';

const REFRESH_MS = 5000;
const KEEP = 120;

/** Prometheus's text format, as far as the console needs it: families with their help and samples. */
export function parseMetrics(text) {
  const families = new Map();
  const family = name => {
    if (!families.has(name)) families.set(name, { name, help: '', type: '', samples: [] });
    return families.get(name);
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const space = rest.indexOf(' ');
      family(rest.slice(0, space)).help = rest.slice(space + 1);
    } else if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      family(name).type = type;
    } else if (line && !line.startsWith('#')) {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!match) continue;
      // A histogram's _bucket, _sum and _count samples belong to the family without the suffix.
      const base = match[1].replace(/_(bucket|sum|count)$/, '');
      const owner = families.has(match[1]) ? match[1] : families.has(base) ? base : match[1];
      family(owner).samples.push({ name: match[1], labels: match[2] || '', value: Number(match[3]) });
    }
  }
  return [...families.values()];
}

const QUANTILES = [0.5, 0.9, 0.99];
const TIERS = [['hot', 'DuckDB files'], ['log', 'write log'], ['cold', 'Parquet (cold)'], ['other', 'tokens, journals']];

/** The value of `le` in a bucket sample's labels: a number, or Infinity for +Inf. */
function bound(labels) {
  const match = /le="([^"]*)"/.exec(labels);
  return !match ? NaN : match[1] === '+Inf' ? Infinity : Number(match[1]);
}

/**
 * A quantile of a Prometheus histogram from its cumulative buckets, interpolated linearly inside the bucket it falls
 * in (as PromQL's histogram_quantile): an estimate no finer than the buckets. Infinity when it falls past the last bound.
 */
export function quantile(q, buckets) {
  const total = buckets.length ? buckets[buckets.length - 1].count : 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Infinity) return Infinity;
      return lower + (le - lower) * (count === below ? 1 : (rank - below) / (count - below));
    }
    lower = le;
    below = count;
  }
  return Infinity;
}

function formatSeconds(seconds) {
  if (!isFinite(seconds)) return 'over 10 s';
  return seconds < 1 ? formatNumber(seconds * 1000, 2) + ' ms' : formatNumber(seconds, 2) + ' s';
}

/** The commit-latency histogram as percentiles and bars of the writes per bucket, and the disk bytes per tier. */
function drawStorage(families, latencyText, latencyBars, diskText, diskBars) {
  const latency = families.find(f => f.name === 'plexus_commit_duration_seconds');
  const buckets = (latency ? latency.samples : [])
    .filter(s => s.name.endsWith('_bucket'))
    .map(s => ({ le: bound(s.labels), count: s.value }))
    .filter(b => !isNaN(b.le))
    .sort((a, b) => a.le - b.le);
  const writes = buckets.length ? buckets[buckets.length - 1].count : 0;
  latencyText.textContent = writes === 0
    ? 'No write committed since the server started.'
    : QUANTILES.map(q => `p${q * 100} ≤ ${formatSeconds(quantile(q, buckets))}`).join(' · ') + ` over ${formatNumber(writes)} writes`;
  // The buckets from the first to the last that holds a write: the empty ones around them say nothing.
  const bars = buckets.map((b, i) => ({
    label: b.le === Infinity ? '> 10 s' : '≤ ' + formatSeconds(b.le),
    value: b.count - (i > 0 ? buckets[i - 1].count : 0),
    text: formatNumber(b.count - (i > 0 ? buckets[i - 1].count : 0)) + ' writes',
  }));
  const first = bars.findIndex(b => b.value > 0);
  const last = bars.findLastIndex(b => b.value > 0);
  drawBars(latencyBars, first < 0 ? [] : bars.slice(first, last + 1), { emptyText: 'No write committed yet', label: 'Writes per commit-latency bucket' });

  const disk = families.find(f => f.name === 'plexus_disk_bytes');
  const bytes = tier => (disk ? disk.samples.find(s => s.labels === `{tier="${tier}"}`) : null)?.value || 0;
  const total = disk ? (disk.samples.find(s => !s.labels)?.value || 0) : 0;
  diskText.textContent = formatBytes(total) + ' in the data folder';
  drawBars(diskBars, TIERS.map(([tier, what]) => ({ label: tier, value: bytes(tier), text: formatBytes(bytes(tier)) + ' (' + what + ')' })),
    { emptyText: 'No files yet', label: 'Bytes on disk per tier' });
}

/**
 * The server's own metrics (GET /metrics, what a Prometheus scrape sees), refreshed every 5 s, with the committed
 * points per second drawn over the time this page has been open.
 */
export function serverPage() {
  const chart = chartElement('Points committed per second while this page is open', 'server-chart');
  const rate = h('p', { id: 'server-rate' }, 'Measuring…');
  const body = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const latencyText = h('p', { id: 'commit-latency' }, 'Measuring…');
  const latencyBars = barsElement('Writes per commit-latency bucket', 'commit-latency-chart');
  const diskText = h('p', { id: 'disk-total' }, 'Measuring…');
  const diskBars = barsElement('Bytes on disk per tier', 'disk-tiers');
  const element = h('section', { 'aria-labelledby': 'server-title' },
    h('h1', { id: 'server-title' }, 'Server'),
    h('p', { class: 'muted' }, 'What GET /metrics answers, for Prometheus or any compatible scraper (docs/http-api.md).'),
    h('div', { class: 'panel' }, h('h2', {}, 'Points committed per second'), rate, chart),
    h('div', { class: 'panel' }, h('h2', {}, 'Commit latency'),
      h('p', { class: 'muted' }, 'From a write reaching the store to its durable commit, queueing included (estimated from the histogram buckets).'),
      latencyText, latencyBars),
    h('div', { class: 'panel' }, h('h2', {}, 'Disk'), diskText, diskBars),
    body);
  const history = [];
  let previous = null;
  let timer = null;

  async function load() {
    try {
      const families = parseMetrics(await api('/metrics', { accept: 'text/plain' }));
      const committed = families.find(f => f.name === 'plexus_points_committed_total');
      const total = committed ? committed.samples.reduce((sum, s) => sum + s.value, 0) : 0;
      const now = Date.now();
      if (previous) {
        const perSecond = Math.max(0, (total - previous.total) / ((now - previous.at) / 1000));
        history.push({ t: now, v: perSecond });
        if (history.length > KEEP) history.shift();
        rate.textContent = formatNumber(perSecond) + ' points/s now';
      }
      previous = { total, at: now };
      drawStorage(families, latencyText, latencyBars, diskText, diskBars);
      drawChart(chart, { points: history, emptyText: 'The first rate shows after ' + REFRESH_MS / 1000 + ' s', label: 'points per second' });
      fill(body, table([
        { label: 'Metric', cell: f => h('span', {}, h('code', {}, f.name), h('br', {}), h('span', { class: 'muted' }, f.help)) },
        { label: 'Type', cell: f => f.type, className: 'hide-narrow' },
        { label: 'Value', cell: f => h('span', {}, f.samples.filter(s => !s.name.endsWith('_bucket')).map(s => h('div', {}, (s.labels ? s.labels + ' ' : '') + (s.name !== f.name ? s.name.slice(f.name.length + 1) + ' ' : '') + formatNumber(s.value, 4)))) },
      ], families, 'Server metrics'));
    } catch (error) {
      fill(body, errorBox(error));
    }
  }

  load();
  timer = setInterval(load, REFRESH_MS);
  return { element, title: 'Server', leave: () => clearInterval(timer) };
}
