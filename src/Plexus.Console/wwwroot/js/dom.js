// Builds elements from data with textContent only: text from the server is never parsed as HTML.

export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

/** Replaces the element's children; null, undefined and false children are left out. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function errorBox(error) {
  return h('p', { class: 'error', role: 'alert' }, error && error.message ? error.message : String(error));
}

export function formatNumber(value, digits = 1) {
  if (typeof value !== 'number') return String(value);
  return Number.isInteger(value) ? value.toLocaleString('en') : value.toLocaleString('en', { maximumFractionDigits: digits });
}

export function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return (unit === 0 ? value : value.toFixed(1)) + ' ' + units[unit];
}

const two = n => String(n).padStart(2, '0');

/**
 * A local time as 2026-12-06 11:43:38 (or, with `parts` 'minutes', 12-06 11:43; 'seconds', 11:43:38), written by hand:
 * the first toLocaleString of a page loads the browser's locale data, 25-45 ms of a first chart on a small machine.
 */
export function localTime(date, parts = 'full') {
  const clock = two(date.getHours()) + ':' + two(date.getMinutes());
  const day = two(date.getMonth() + 1) + '-' + two(date.getDate());
  if (parts === 'minutes') return day + ' ' + clock;
  const seconds = clock + ':' + two(date.getSeconds());
  return parts === 'seconds' ? seconds : date.getFullYear() + '-' + day + ' ' + seconds;
}

export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return isNaN(date) ? String(iso) : localTime(date);
}

/** A copy button for secret or long text; says "Copied" for a moment. */
export function copyButton(text, label = 'Copy') {
  const button = h('button', { type: 'button' }, label);
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select and copy by hand';
    }
  });
  return button;
}

export function table(columns, rows, caption) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map(c => h('th', { scope: 'col', class: c.className }, c.label)))),
      h('tbody', {}, rows.map(row => h('tr', {}, columns.map(c => h('td', { class: c.className }, c.cell(row))))))));
}
