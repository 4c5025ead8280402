import { api, stream } from '../api.js';
import { chartElement, drawChart } from '../chart.js';
import { clear, copyButton, errorBox, formatTime, h, table, fill } from '../dom.js';
import { drawTrack, trackElement } from '../track.js';
import { may } from '../session.js';
import { DEVICE_RANGES, deviceRange, historyPath } from '../early.js';

const LIVE_WINDOW_MS = 5 * 60 * 1000;
const HISTORY_PAGE = 20;
const MAX_ASSET_DEPTH = 32;

// Plexus's own records of the device (connectivity, refused messages): shown as its status, not as its data.
const INTERNAL = new Set(['state_history', 'dead_letters']);

/** A SQL string literal in single quotes, its quotes doubled. */
const literal = text => "'" + String(text).replaceAll("'", "''") + "'";

export function devicePage(id, query = new URLSearchParams()) {
  const info = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const values = h('div', { id: 'last-values' });
  const liveStatus = h('p', { class: 'muted', id: 'live-status', role: 'status' }, 'Connecting to live data…');
  const fieldSelect = h('select', { id: 'chart-field' });
  const rangeSelect = h('select', { id: 'chart-range' }, DEVICE_RANGES.map(([label, seconds]) => h('option', { value: String(seconds) }, label)));
  // The range is part of the address (#/devices/truck-7?range=604800), so a chosen view can be linked.
  rangeSelect.value = deviceRange(query);
  const liveChart = chartElement('Live values of the chosen field, last 5 minutes', 'live-chart');
  const rangeChart = chartElement('Minimum and maximum of the chosen field per pixel over the chosen range', 'history-chart');
  const rangeError = h('div', { 'aria-live': 'polite', id: 'history-error' });
  const alarms = h('div', { id: 'device-alarms', 'aria-live': 'polite' });
  const registration = h('div', { id: 'device-registration', 'aria-live': 'polite' });
  const properties = h('div', { id: 'device-properties' });
  const stateHistory = h('div', { id: 'state-history' });
  const connectivity = h('div', { id: 'connectivity-history' });
  const trackMap = trackElement('device-track');
  const trackStatus = h('p', { id: 'track-status', 'aria-live': 'polite' }, 'Loading the track…');
  const element = h('section', { 'aria-labelledby': 'device-title' },
    h('h1', { id: 'device-title' }, 'Device ', h('code', {}, id)),
    registration, info,
    h('h2', {}, 'Last values'), liveStatus, values,
    h('div', { class: 'panel' },
      h('div', { class: 'filters' },
        h('div', {}, h('label', { for: 'chart-field' }, 'Field'), fieldSelect),
        h('div', {}, h('label', { for: 'chart-range' }, 'Range'), rangeSelect)),
      h('h2', {}, 'Live'), liveChart,
      h('h2', {}, 'History'), rangeChart, rangeError,
      h('h2', {}, 'Track'), trackStatus, trackMap),
    h('h2', {}, 'Alarms'), alarms,
    h('h2', {}, 'Reported properties'), properties,
    h('h2', {}, 'State history'), stateHistory,
    h('h2', {}, 'Connectivity history'), connectivity);

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
      return false;
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
    }
    return fieldSelect.value !== chosen;
  }

  function drawLive() {
    const now = Date.now();
    const points = (live.get(fieldSelect.value) || []).filter(p => p.t >= now - LIVE_WINDOW_MS);
    live.set(fieldSelect.value, points);
    drawChart(liveChart, { points, emptyText: 'Waiting for new points…', label: 'Live ' + fieldSelect.value });
  }

  /** Draws a history answer; returns the key (measurement.field) it shows, or null with no numeric field. */
  function drawHistory(answer) {
    clear(rangeError);
    if (!answer.measurement) {
      drawChart(rangeChart, { emptyText: 'No numeric field yet' });
      return null;
    }
    const key = keyOf(answer.measurement, answer.field);
    drawChart(rangeChart, { buckets: answer.buckets.map(([t, min, max]) => ({ t, min, max })), label: 'History of ' + key });
    return key;
  }

  async function loadRange() {
    const key = fieldSelect.value;
    if (!key) {
      drawChart(rangeChart, { emptyText: 'No numeric field yet' });
      return;
    }
    try {
      // Decimated in the database: one row per pixel column, its minimum and maximum.
      drawHistory(await api(historyPath(id, Number(rangeSelect.value), Math.round(rangeChart.getBoundingClientRect().width), key)));
    } catch (error) {
      fill(rangeError, errorBox(error));
    }
  }

  /**
   * The first chart, asked for with no field before the device call rather than after it: the server picks the field
   * the device's values would (the first numeric one), so the chart need not wait for them. Resolves to the key drawn.
   */
  function firstRange() {
    return api(historyPath(id, Number(rangeSelect.value), 0, null)).then(answer => {
      // The device's values came first and chose another field (one the server's catalog pick has no value of).
      if (fieldSelect.value && answer.measurement && fieldSelect.value !== keyOf(answer.measurement, answer.field)) return null;
      const key = drawHistory(answer);
      if (key && !fieldSelect.value) fieldSelect.replaceChildren(h('option', { value: key }, key));
      return key;
    }, error => {
      fill(rangeError, errorBox(error));
      return undefined;
    });
  }

  async function loadTrack() {
    const from = new Date(Date.now() - Number(rangeSelect.value) * 1000).toISOString();
    try {
      trackStatus.textContent = await drawTrack(trackMap, id, from);
    } catch (error) {
      fill(trackStatus, errorBox(error));
    }
  }

  fieldSelect.addEventListener('change', () => { drawLive(); loadRange(); });
  rangeSelect.addEventListener('change', () => {
    history.replaceState(null, '', '#/devices/' + encodeURIComponent(id) + '?range=' + rangeSelect.value);
    loadRange();
    loadTrack();
  });

  /**
   * Rows of state_history for this device, newest first, HISTORY_PAGE at a time: `connectivity` picks the online rows
   * (connects, disconnects, keep-alive timeouts), otherwise the reported properties. SELECT * because the table's
   * columns grow with what was reported (reason comes with the first connectivity row).
   */
  async function historyRows(onlineRows, beforeNs) {
    // The paging key as text: nanoseconds since 1970 do not fit a JavaScript number.
    const sql = `SELECT *, CAST(epoch_ns(time) AS VARCHAR) AS at_ns FROM state_history WHERE device = ${literal(id)} AND property ${onlineRows ? '=' : '<>'} 'online'` +
      (beforeNs ? ` AND time < make_timestamp_ns(${BigInt(beforeNs)})` : '') + ` ORDER BY time DESC LIMIT ${HISTORY_PAGE + 1}`;
    try {
      const answer = await api('/api/v1/sql', { method: 'POST', body: { sql } });
      const names = answer.columns.map(c => c.name);
      return answer.rows.map(row => Object.fromEntries(names.map((name, i) => [name, row[i]])));
    } catch (error) {
      // No device has reported state or connected yet: the table does not exist, which is an empty history.
      if (/state_history.*does not exist|does not exist.*state_history/is.test(error.message)) return [];
      throw error;
    }
  }

  function pagedHistory(container, onlineRows, columns, caption, emptyText) {
    let older = null;
    const body = h('div', {});
    const more = h('button', { type: 'button', hidden: true }, onlineRows ? 'Older connectivity' : 'Older states');
    fill(container, body, more);
    let shown = 0;
    async function page() {
      more.disabled = true;
      try {
        const rows = await historyRows(onlineRows, older);
        const extra = rows.length > HISTORY_PAGE;
        const pageRows = rows.slice(0, HISTORY_PAGE);
        if (shown === 0 && pageRows.length === 0) {
          fill(body, h('p', { class: 'empty' }, emptyText));
        } else {
          if (shown === 0) clear(body);
          body.append(table(columns, pageRows, caption));
          shown += pageRows.length;
        }
        older = pageRows.length ? pageRows[pageRows.length - 1].at_ns : older;
        more.hidden = !extra;
      } catch (error) {
        body.append(errorBox(error));
      } finally {
        more.disabled = false;
      }
    }
    more.addEventListener('click', page);
    page();
  }

  function loadHistories() {
    pagedHistory(stateHistory, false, [
      { label: 'Time', cell: r => formatTime(r.time) },
      { label: 'Property', cell: r => r.property },
      { label: 'Value', cell: r => h('code', {}, String(r.value)) },
    ], 'State history, newest first', 'No reported state yet. A device reports it on devices/<id>/state, e.g. {"firmware": "1.4.2"}.');
    pagedHistory(connectivity, true, [
      { label: 'Time', cell: r => formatTime(r.time) },
      { label: 'Status', cell: r => h('span', { class: r.value === 'true' ? 'status-online' : 'status-offline' }, r.value === 'true' ? 'online' : 'offline') },
      { label: 'Reason', cell: r => r.reason || '—' },
    ], 'Connectivity history, newest first', 'No connection recorded. Connectivity is recorded for devices that connect over MQTT with their own id and token.');
  }

  function renderProperties(reported) {
    const rows = Object.entries(reported || {}).map(([name, entry]) => ({ name, ...entry }));
    fill(properties, rows.length === 0
      ? h('p', { class: 'empty' }, 'No reported properties.')
      : table([
        { label: 'Property', cell: r => r.name },
        { label: 'Value', cell: r => h('code', {}, JSON.stringify(r.value)) },
        { label: 'Since', cell: r => formatTime(r.time) },
      ], rows, 'Reported properties'));
  }

  async function alarmAction(alarm, action) {
    try {
      await api(`/api/v1/alarms/${alarm.id}/${action}`, { method: 'POST' });
      loadAlarms();
    } catch (error) {
      alarms.prepend(errorBox(error));
    }
  }

  async function loadAlarms() {
    try {
      const device = '&device=' + encodeURIComponent(id);
      const [active, acknowledged, cleared] = await Promise.all(['active', 'acknowledged', 'cleared']
        .map(status => api(`/api/v1/alarms?status=${status}&limit=${status === 'cleared' ? 10 : 100}${device}`)));
      const open = active.alarms.concat(acknowledged.alarms);
      const columns = [
        { label: 'Rule', cell: a => a.rule },
        { label: 'Severity', cell: a => h('span', { class: 'sev-' + a.severity }, a.severity) },
        { label: 'Status', cell: a => a.status },
        { label: 'Raised', cell: a => formatTime(a.raised_at) },
      ];
      if (may('write')) {
        columns.push({
          label: 'Actions',
          cell: a => h('span', { class: 'row' },
            a.status === 'active' ? h('button', { type: 'button', onclick: () => alarmAction(a, 'ack'), 'aria-label': `Acknowledge ${a.rule}` }, 'Acknowledge') : null,
            a.status !== 'cleared' ? h('button', { type: 'button', onclick: () => alarmAction(a, 'clear'), 'aria-label': `Clear ${a.rule}` }, 'Clear') : null),
        });
      }
      fill(alarms,
        open.length === 0
          ? h('p', { class: 'empty' }, 'No open alarm for this device. Rules raise them: see the Alarms page.')
          : table(columns, open, 'Open alarms of this device'),
        cleared.alarms.length === 0 ? null : [
          h('h3', {}, 'Recently cleared'),
          table(columns.filter(c => c.label !== 'Actions'), cleared.alarms, 'Recently cleared alarms of this device')]);
    } catch (error) {
      fill(alarms, errorBox(error));
    }
  }

  /** The asset the device hangs from and that asset's ancestors, root first, each a link into the asset tree. */
  async function assetPath(parent) {
    const path = [];
    const seen = new Set();
    for (let at = parent; at && !seen.has(at) && path.length < MAX_ASSET_DEPTH;) {
      seen.add(at);
      try {
        const asset = await api('/api/v1/assets/' + encodeURIComponent(at));
        path.unshift(asset);
        at = asset.parent;
      } catch {
        path.unshift({ id: at });
        break;
      }
    }
    return h('span', { id: 'asset-path' }, path.map((asset, i) => [
      i > 0 ? h('span', { 'aria-hidden': 'true' }, ' › ') : null,
      h('a', { href: '#/assets?open=' + encodeURIComponent(asset.id) }, asset.name || asset.id)]));
  }

  async function register() {
    try {
      const added = await api('/api/v1/devices', { method: 'POST', body: { id } });
      fill(registration, h('div', { class: 'notice' },
        h('p', {}, 'Registered. Its token is shown once: give it to the device.'),
        h('p', { class: 'token' }, h('code', { id: 'registered-token' }, added.token), copyButton(added.token, 'Copy token'))));
      load(false);
    } catch (error) {
      registration.append(errorBox(error));
    }
  }

  /**
   * The registry's entry with the live state, or for a device that sends without being registered its state alone;
   * sent once `after` has settled unless it was started early.
   */
  async function deviceOrState(after) {
    try {
      return { ...(await api('/api/v1/devices/' + encodeURIComponent(id), { after })), registered: true };
    } catch (error) {
      if (error.status !== 404) throw error;
      return api('/api/v1/devices/' + encodeURIComponent(id) + '/state');
    }
  }

  let registered = null;
  let shownParent = null;
  // Filled when the asset calls answer, not awaited: the chart's query does not wait for them.
  const assetCell = h('dd', {});
  async function load(first = true, chart = null) {
    try {
      // The first time, after the chart's query: both read the device's rows, and on a small server the chart would
      // share the cores with the last values' scan.
      const device = await deviceOrState(first ? chart : null);
      // Drawn once, and not again when registering from this page turns it true: the new token stays on screen.
      if (registered === null) {
        fill(registration, device.registered ? null : h('div', { class: 'notice', id: 'not-registered' },
          h('p', {}, 'This device is not registered: it sends data without a registry entry (e.g. with an API token), so it has no name, tags, asset or token of its own. Its data is shown below.'),
          may('admin') ? h('button', { type: 'button', class: 'primary', onclick: register }, 'Register this device') : null));
      }
      registered = device.registered;
      if ((device.parent || null) !== shownParent) {
        shownParent = device.parent || null;
        clear(assetCell);
        if (shownParent) assetPath(shownParent).then(path => fill(assetCell, path));
      }
      renderProperties(device.properties);
      fill(info, h('dl', { class: 'facts' },
        h('dt', {}, 'Status'), h('dd', {}, h('span', { class: device.online ? 'status-online' : 'status-offline', id: 'device-status' }, device.online ? 'online' : 'offline')),
        h('dt', {}, 'Name'), h('dd', {}, device.name || '—'),
        h('dt', {}, 'Type'), h('dd', {}, device.type || '—'),
        h('dt', {}, 'Last seen'), h('dd', {}, formatTime(device.last_seen)),
        device.position ? [h('dt', {}, 'Position'), h('dd', {}, `${device.position.lat}, ${device.position.lon}`)] : null,
        Object.keys(device.tags || {}).length ? [h('dt', {}, 'Tags'), h('dd', {}, Object.entries(device.tags).map(([k, v]) => k + '=' + v).join(', '))] : null,
        shownParent ? [h('dt', {}, 'Asset'), assetCell] : null,
        may('admin') && device.registered ? [h('dt', {}, 'Manage'), h('dd', {}, h('a', { href: '#/devices?q=' + encodeURIComponent(id) }, 'in the device list'))] : null));
      for (const [measurement, fields] of Object.entries(device.last_values || {})) {
        if (INTERNAL.has(measurement)) continue;
        const map = last.get(measurement) || new Map();
        for (const [field, entry] of Object.entries(fields)) {
          if (!map.has(field)) map.set(field, entry);
        }
        last.set(measurement, map);
      }
      if (!first) return;
      // The rest of the page waits for the first chart: on a small server it would share the cores with the chart's
      // query. Rendering the values picks the field; only when it is not the one the server drew is there a new query.
      renderValues();
      const drawn = await chart;
      if (drawn !== undefined && drawn !== fieldSelect.value && fieldSelect.value) await loadRange();
    } catch (error) {
      fill(info, errorBox(error));
      if (first) trackStatus.textContent = '';
      return;
    }
    loadTrack();
    loadAlarms();
    loadHistories();
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
    if (renderValues()) loadRange();
    drawLive();
  }, error => { liveStatus.textContent = 'Live data is not available: ' + error.message; });

  drawChart(liveChart, { emptyText: 'Waiting for new points…' });
  load(true, firstRange());
  // The status (online, last seen) follows the device while the page is open.
  const refresh = setInterval(() => load(false), 5000);
  return { element, title: 'Device ' + id, leave: () => { stop(); clearInterval(refresh); } };
}
