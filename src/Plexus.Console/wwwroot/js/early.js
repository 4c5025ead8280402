// The first page's API calls, started before the rest of the console's modules load: index.html runs this module
// first, and it imports nothing, so it starts as soon as the page is parsed while app.js's modules are still arriving
// (docs/benchmarks.md, "The console's first render"). api.js hands each early answer to the first call of the same
// path; the router forgets the rest once the first page has started. The paths are built here, and the pages use the
// same builders, so what starts early is exactly what the page asks for.

/** Where this tab keeps its token (sessionStorage: this tab only). */
export const TOKEN_KEY = 'plexus.token';
/** Rows on one page of the devices list. */
export const DEVICES_PAGE = 50;
const CHART_MARGINS = 56;
// The widest the chart is (main's max-width less its padding and the panel's): before layout its width is not known.
const WIDEST_CHART = 1136;

const started = new Map();
const memo = new Map();
let forgotten = false;

/** The token of this tab, if signed in (sessionStorage: this tab only). */
export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** The devices page's first call: one page of rows with the filters of the address. */
export function devicesListPath(query) {
  const parameters = new URLSearchParams({ limit: String(DEVICES_PAGE), offset: String(Math.max(0, parseInt(query.get('offset') || '0', 10) || 0)) });
  for (const name of ['q', 'type', 'tag', 'online']) {
    if (query.get(name)) parameters.set(name, query.get(name));
  }
  return '/api/v1/devices?' + parameters;
}

/**
 * A device's history call over the last `seconds`, one bucket per pixel column of `width`; `key` (measurement.field)
 * or none for the server to choose the device's first numeric field. The first chart's path is kept until the router
 * forgets the early calls, so the page asks for the very path (the same range start) that was started early.
 */
export function historyPath(id, seconds, width, key) {
  const first = key || forgotten ? null : 'history ' + id + ' ' + seconds;
  if (first && memo.has(first)) return memo.get(first);
  const parameters = new URLSearchParams({
    from: new Date(Date.now() - seconds * 1000).toISOString(),
    buckets: String(Math.max(184, Math.min(width || WIDEST_CHART, WIDEST_CHART) - CHART_MARGINS)),
  });
  if (key) {
    const dot = key.indexOf('.');
    parameters.set('measurement', key.slice(0, dot));
    parameters.set('field', key.slice(dot + 1));
  }
  const path = '/api/v1/devices/' + encodeURIComponent(id) + '/history?' + parameters;
  if (first) memo.set(first, path);
  return path;
}

/** The ranges a device page's charts offer, in seconds. */
export const DEVICE_RANGES = [['15 minutes', 900], ['1 hour', 3600], ['6 hours', 21600], ['24 hours', 86400], ['7 days', 604800]];

/** The range a device page shows first: the address's `range` when it is one of the page's, else an hour. */
export function deviceRange(query) {
  return DEVICE_RANGES.some(([, seconds]) => String(seconds) === query.get('range')) ? query.get('range') : '3600';
}

/**
 * The calls the page at `hash` makes first, whoami first; `after` names a call that is sent only once another has
 * answered (its path → the other's).
 */
function firstCalls(hash) {
  const [path, queryText] = (hash || '').split('?');
  const query = new URLSearchParams(queryText || '');
  const calls = ['/api/v1/whoami'];
  const after = new Map();
  if (path === '#/devices') {
    calls.push(devicesListPath(query));
  } else if (/^#\/devices\/[^/?]+$/.test(path)) {
    const id = decodeURIComponent(path.slice('#/devices/'.length));
    // The chart's query first, the device's after it has answered: both scan the device's rows, and sent together on
    // two cores each took the other's time (docs/benchmarks.md, "The chart's query alone first").
    const chart = historyPath(id, Number(deviceRange(query)), 0, null);
    const device = '/api/v1/devices/' + encodeURIComponent(id);
    calls.push(chart, device);
    after.set(device, chart);
  }
  return { calls, after };
}

/** The early answer for `path`, once: null when none was started (or it was taken or forgotten). */
export function takeEarly(path) {
  const response = started.get(path);
  if (!response) return null;
  started.delete(path);
  return response;
}

/** Called when the first page has made its calls: an answer nobody took is not handed to a later call. */
export function forgetEarly() {
  forgotten = true;
  started.clear();
  memo.clear();
}

const token = storedToken();
if (token) {
  const { calls, after } = firstCalls(location.hash);
  for (const path of calls) {
    const send = () => fetch(path, { headers: { Accept: 'application/json', Authorization: 'Token ' + token }, cache: 'no-store' });
    // The answer's headers are enough: the server has done its work by then.
    const response = after.has(path) ? started.get(after.get(path)).catch(() => {}).then(send) : send();
    // Its taker sees a failure; one nobody takes is not an unhandled rejection.
    response.catch(() => {});
    started.set(path, response);
  }
}
