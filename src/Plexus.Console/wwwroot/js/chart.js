// A small SVG chart: a line of values over time, or min/max bands per pixel bucket. Attributes only, no inline styles.
import { localTime } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

function el(name, attributes) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/**
 * Draws into `svg` (its viewBox is width × height): points [{t, v}] as a line, or buckets [{t, min, max}] as a band
 * with the line through the middle. Returns nothing; an empty list draws the axes and `emptyText`.
 */
export function drawChart(svg, { points = [], buckets = null, emptyText = 'No data in this range', label = '' }) {
  // The drawing's width is the element's, so text and lines keep their shape at any screen width.
  const width = Math.max(240, Math.round(svg.getBoundingClientRect().width) || 600);
  const height = 220;
  const pad = { left: 48, right: 8, top: 8, bottom: 22 };
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.replaceChildren();
  if (label) svg.append(Object.assign(el('title', {}), { textContent: label }));
  svg.append(el('line', { class: 'axis', x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom }));
  svg.append(el('line', { class: 'axis', x1: pad.left, y1: pad.top, x2: pad.left, y2: height - pad.bottom }));
  const rows = buckets || points;
  if (rows.length === 0) {
    const text = el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle' });
    text.textContent = emptyText;
    svg.append(text);
    return;
  }
  const lows = buckets ? rows.map(r => r.min) : rows.map(r => r.v);
  const highs = buckets ? rows.map(r => r.max) : rows.map(r => r.v);
  let lo = Math.min(...lows);
  let hi = Math.max(...highs);
  if (lo === hi) { lo -= 1; hi += 1; }
  const t0 = rows[0].t;
  const t1 = rows[rows.length - 1].t === t0 ? t0 + 1 : rows[rows.length - 1].t;
  const x = t => pad.left + (t - t0) / (t1 - t0) * (width - pad.left - pad.right);
  const y = v => height - pad.bottom - (v - lo) / (hi - lo) * (height - pad.top - pad.bottom);
  if (buckets) {
    const top = rows.map(r => `${x(r.t).toFixed(1)},${y(r.max).toFixed(1)}`);
    const bottom = rows.slice().reverse().map(r => `${x(r.t).toFixed(1)},${y(r.min).toFixed(1)}`);
    svg.append(el('polygon', { class: 'band', points: top.concat(bottom).join(' ') }));
    svg.append(el('polyline', { class: 'line', points: rows.map(r => `${x(r.t).toFixed(1)},${y((r.min + r.max) / 2).toFixed(1)}`).join(' ') }));
  } else {
    svg.append(el('polyline', { class: 'line', points: rows.map(r => `${x(r.t).toFixed(1)},${y(r.v).toFixed(1)}`).join(' ') }));
  }
  for (const [value, at] of [[hi, pad.top + 10], [lo, height - pad.bottom]]) {
    const text = el('text', { x: pad.left - 4, y: at, 'text-anchor': 'end' });
    text.textContent = Number(value.toPrecision(4)).toString();
    svg.append(text);
  }
  // A range longer than a day needs the date to be read; a shorter one the seconds.
  const parts = t1 - t0 > 24 * 3600 * 1000 ? 'minutes' : 'seconds';
  for (const [t, anchor, at] of [[t0, 'start', pad.left], [t1, 'end', width - pad.right]]) {
    const text = el('text', { x: at, y: height - 6, 'text-anchor': anchor });
    text.textContent = localTime(new Date(t), parts);
    svg.append(text);
  }
}

export function chartElement(label, id) {
  const svg = el('svg', { class: 'chart', role: 'img', 'aria-label': label, id });
  return svg;
}

/**
 * Draws horizontal bars into `svg`: one row per [{label, value, text}], the bar's length proportional to value, the
 * label at the left and `text` (the value as people read it) after the bar.
 */
export function drawBars(svg, bars, { emptyText = 'Nothing to show yet', label = '' } = {}) {
  const width = Math.max(240, Math.round(svg.getBoundingClientRect().width) || 600);
  const row = 22;
  const labelWidth = 84;
  const textWidth = 92;
  const height = Math.max(row, bars.length * row) + 4;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('height', String(height));
  svg.replaceChildren();
  if (label) svg.append(Object.assign(el('title', {}), { textContent: label }));
  const most = Math.max(0, ...bars.map(b => b.value));
  if (bars.length === 0 || most === 0) {
    const text = el('text', { x: 4, y: row - 6 });
    text.textContent = emptyText;
    svg.append(text);
    return;
  }
  const room = Math.max(20, width - labelWidth - textWidth);
  bars.forEach((bar, index) => {
    const top = index * row + 2;
    const name = el('text', { x: labelWidth - 6, y: top + row - 8, 'text-anchor': 'end' });
    name.textContent = bar.label;
    const length = Math.max(bar.value > 0 ? 1 : 0, bar.value / most * room);
    const value = el('text', { x: labelWidth + length + 6, y: top + row - 8 });
    value.textContent = bar.text;
    svg.append(name, el('rect', { class: 'bar', x: labelWidth, y: top + 3, width: length.toFixed(1), height: row - 8 }), value);
  });
}

export function barsElement(label, id) {
  return el('svg', { class: 'bars', role: 'img', 'aria-label': label, id });
}
