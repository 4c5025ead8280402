import { api } from '../api.js';
import { chartElement, drawChart } from '../chart.js';
import { errorBox, formatNumber, h, table, fill } from '../dom.js';

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

/**
 * The server's own metrics (GET /metrics, what a Prometheus scrape sees), refreshed every 5 s, with the committed
 * points per second drawn over the time this page has been open.
 */
export function serverPage() {
  const chart = chartElement('Points committed per second while this page is open', 'server-chart');
  const rate = h('p', { id: 'server-rate' }, 'Measuring…');
  const body = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const element = h('section', { 'aria-labelledby': 'server-title' },
    h('h1', { id: 'server-title' }, 'Server'),
    h('p', { class: 'muted' }, 'What GET /metrics answers, for Prometheus or any compatible scraper (docs/http-api.md).'),
    h('div', { class: 'panel' }, h('h2', {}, 'Points committed per second'), rate, chart),
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
