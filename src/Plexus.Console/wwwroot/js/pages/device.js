import { api, stream } from '../api.js';
import { chartElement, drawChart } from '../chart.js';
import { clear, errorBox, formatTime, h, table, fill } from '../dom.js';
import { may } from '../session.js';

const RANGES = [['15 minutes', 900], ['1 hour', 3600], ['6 hours', 21600], ['24 hours', 86400], ['7 days', 604800]];
const LIVE_WINDOW_MS = 5 * 60 * 1000;

// Plexus's own records of the device (connectivity, refused messages): shown as its status, not as its data.
const INTERNAL = new Set(['state_history', 'dead_letters']);

/** A SQL identifier in double quotes and a string literal in single quotes, each with its quote doubled. */
const ident = name => '"' + String(name).replaceAll('"', '""') + '"';
const literal = text => "'" + String(text).replaceAll("'", "''") + "'";

export function devicePage(id, query = new URLSearchParams()) {
  const info = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const values = h('div', { id: 'last-values' });
  const liveStatus = h('p', { class: 'muted', id: 'live-status', role: 'status' }, 'Connecting to live data…');
  const fieldSelect = h('select', { id: 'chart-field' });
  const rangeSelect = h('select', { id: 'chart-range' }, RANGES.map(([label, seconds]) => h('option', { value: String(seconds) }, label)));
  // The range is part of the address (#/devices/truck-7?range=604800), so a chosen view can be linked.
  rangeSelect.value = RANGES.some(([, seconds]) => String(seconds) === query.get('range')) ? query.get('range') : '3600';
  const liveChart = chartElement('Live values of the chosen field, last 5 minutes', 'live-chart');
  const rangeChart = chartElement('Minimum and maximum of the chosen field per pixel over the chosen range', 'history-chart');
  const rangeError = h('div', { 'aria-live': 'polite', id: 'history-error' });
  const alarms = h('div', {});
  const element = h('section', { 'aria-labelledby': 'device-title' },
    h('h1', { id: 'device-title' }, 'Device ', h('code', {}, id)),
    info,
    h('h2', {}, 'Last values'), liveStatus, values,
    h('div', { class: 'panel' },
      h('div', { class: 'filters' },
        h('div', {}, h('label', { for: 'chart-field' }, 'Field'), fieldSelect),
        h('div', {}, h('label', { for: 'chart-range' }, 'Range'), rangeSelect)),
      h('h2', {}, 'Live'), liveChart,
      h('h2', {}, 'History'), rangeChart, rangeError),
    h('h2', {}, 'Alarms'), alarms);

  // measurement → field → {value, time}; the live stream updates it in place.
  const last = new Map();
  const live = new Map();

  function keyOf(measurement, field) {
    return measurement + '.' + field;
  }

  function renderValues() {
    const rows = [];
    for (const [measurement, fields] of last) {
      for (const [field, entry] of fields) rows.push({ measurement, field, ...entry });
    }
    if (rows.length === 0) {
      fill(values, h('div', { class: 'notice' },
        h('p', {}, 'No data from this device yet. Publish a value with its token and it appears here at once:'),
        h('pre', {}, `mosquitto_pub -h ${location.hostname} -p 1883 -i ${id} -u ${id} -P '<device token>' \\\n  -t devices/${id}/telemetry -m '{"temperature": 21.5}'`)));
      return;
    }
    fill(values, table([
      { label: 'Measurement', cell: r => r.measurement },
      { label: 'Field', cell: r => r.field },
      { label: 'Value', cell: r => h('span', { 'data-key': keyOf(r.measurement, r.field) }, String(r.value)), className: 'num' },
      { label: 'Time', cell: r => formatTime(r.time) },
    ], rows, 'Last values'));
    const chosen = fieldSelect.value;
    const numeric = rows.filter(r => typeof r.value === 'number').map(r => keyOf(r.measurement, r.field));
    if (numeric.join() !== [...fieldSelect.options].map(o => o.value).join()) {
      fieldSelect.replaceChildren(...numeric.map(key => h('option', { value: key }, key)));
      fieldSelect.value = numeric.includes(chosen) ? chosen : numeric[0] || '';
      if (fieldSelect.value !== chosen) loadRange();
    }
  }

  function drawLive() {
    const now = Date.now();
    const points = (live.get(fieldSelect.value) || []).filter(p => p.t >= now - LIVE_WINDOW_MS);
    live.set(fieldSelect.value, points);
    drawChart(liveChart, { points, emptyText: 'Waiting for new points…', label: 'Live ' + fieldSelect.value });
  }

  async function loadRange() {
    const key = fieldSelect.value;
    if (!key) {
      drawChart(rangeChart, { emptyText: 'No numeric field yet' });
      return;
    }
    const dot = key.indexOf('.');
    const measurement = key.slice(0, dot);
    const field = key.slice(dot + 1);
    const seconds = Number(rangeSelect.value);
    const pixels = Math.max(240, Math.round(rangeChart.getBoundingClientRect().width) || 600);
    const bucketMs = Math.max(1, Math.ceil(seconds * 1000 / pixels));
    // Times are UTC without a zone, as the time column holds them; the range ends at this browser's clock.
    const from = new Date(Date.now() - seconds * 1000).toISOString().replace('T', ' ').replace('Z', '');
    // Decimated in the database: one row per pixel column, its minimum and maximum.
    const sql = `SELECT (epoch_ms(time) // ${bucketMs}) * ${bucketMs} AS bucket, min(${ident(field)}) AS lo, max(${ident(field)}) AS hi ` +
      `FROM ${ident(measurement)} WHERE device = ${literal(id)} AND time >= CAST(${literal(from)} AS TIMESTAMP_NS) ` +
      'GROUP BY bucket ORDER BY bucket';
    try {
      const result = await api('/api/v1/sql', { method: 'POST', body: { sql } });
      clear(rangeError);
      drawChart(rangeChart, { buckets: result.rows.map(([t, min, max]) => ({ t: Number(t), min: Number(min), max: Number(max) })), label: 'History of ' + key });
    } catch (error) {
      fill(rangeError, errorBox(error));
    }
  }

  fieldSelect.addEventListener('change', () => { drawLive(); loadRange(); });
  rangeSelect.addEventListener('change', () => {
    history.replaceState(null, '', '#/devices/' + encodeURIComponent(id) + '?range=' + rangeSelect.value);
    loadRange();
  });

  async function load(first = true) {
    try {
      const device = await api('/api/v1/devices/' + encodeURIComponent(id));
      fill(info, h('dl', { class: 'facts' },
        h('dt', {}, 'Status'), h('dd', {}, h('span', { class: device.online ? 'status-online' : 'status-offline', id: 'device-status' }, device.online ? 'online' : 'offline')),
        h('dt', {}, 'Name'), h('dd', {}, device.name || '—'),
        h('dt', {}, 'Type'), h('dd', {}, device.type || '—'),
        h('dt', {}, 'Last seen'), h('dd', {}, formatTime(device.last_seen)),
        device.position ? [h('dt', {}, 'Position'), h('dd', {}, `${device.position.lat}, ${device.position.lon}`)] : null,
        Object.keys(device.tags || {}).length ? [h('dt', {}, 'Tags'), h('dd', {}, Object.entries(device.tags).map(([k, v]) => k + '=' + v).join(', '))] : null,
        may('admin') ? [h('dt', {}, 'Manage'), h('dd', {}, h('a', { href: '#/devices?q=' + encodeURIComponent(id) }, 'in the device list'))] : null));
      for (const [measurement, fields] of Object.entries(device.last_values || {})) {
        if (INTERNAL.has(measurement)) continue;
        const map = last.get(measurement) || new Map();
        for (const [field, entry] of Object.entries(fields)) {
          if (!map.has(field)) map.set(field, entry);
        }
        last.set(measurement, map);
      }
      if (!first) return;
      renderValues();
      loadRange();
    } catch (error) {
      fill(info, errorBox(error));
      return;
    }
    try {
      const list = await api('/api/v1/alarms?device=' + encodeURIComponent(id) + '&limit=20');
      fill(alarms, list.alarms.length === 0
        ? h('p', { class: 'empty' }, 'No alarms for this device. Rules raise them: see the Alarms page.')
        : table([
          { label: 'Rule', cell: a => a.rule },
          { label: 'Severity', cell: a => h('span', { class: 'sev-' + a.severity }, a.severity) },
          { label: 'Status', cell: a => a.status },
          { label: 'Raised', cell: a => formatTime(a.raised_at) },
        ], list.alarms, 'Alarms of this device'));
    } catch (error) {
      fill(alarms, errorBox(error));
    }
  }

  const stop = stream('/api/v1/devices/' + encodeURIComponent(id) + '/live', (name, data) => {
    if (name === 'dropped') {
      liveStatus.textContent = `Live: some points were skipped because this page fell behind (${data.dropped} so far).`;
      return;
    }
    if (name === 'open') {
      liveStatus.textContent = 'Live: new points appear as they are stored.';
      return;
    }
    if (name !== 'point' || INTERNAL.has(data.measurement)) return;
    const map = last.get(data.measurement) || new Map();
    const t = Date.parse(data.time);
    for (const [field, value] of Object.entries(data.fields)) {
      const previous = map.get(field);
      if (!previous || Date.parse(previous.time) <= t) map.set(field, { value, time: data.time });
      if (typeof value === 'number') {
        const key = keyOf(data.measurement, field);
        const points = live.get(key) || [];
        points.push({ t, v: value });
        live.set(key, points);
      }
    }
    last.set(data.measurement, map);
    renderValues();
    drawLive();
  }, error => { liveStatus.textContent = 'Live data is not available: ' + error.message; });

  drawChart(liveChart, { emptyText: 'Waiting for new points…' });
  load();
  // The status (online, last seen) follows the device while the page is open.
  const refresh = setInterval(() => load(false), 5000);
  return { element, title: 'Device ' + id, leave: () => { stop(); clearInterval(refresh); } };
}
