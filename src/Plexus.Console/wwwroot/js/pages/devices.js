import { api } from '../api.js';
import { copyButton, errorBox, formatTime, h, table, fill } from '../dom.js';
import { may } from '../session.js';
import { DEVICES_PAGE as PAGE, devicesListPath } from '../early.js';


export function devicesPage(query) {
  const q = query.get('q') || '';
  const type = query.get('type') || '';
  const tag = query.get('tag') || '';
  const online = query.get('online') || '';
  const offset = Math.max(0, parseInt(query.get('offset') || '0', 10) || 0);

  const search = h('input', { id: 'device-search', type: 'search', value: q, placeholder: 'id or name' });
  const typeInput = h('input', { id: 'device-type', value: type, placeholder: 'e.g. sensor' });
  const tagInput = h('input', { id: 'device-tag', value: tag, placeholder: 'key:value' });
  const onlineSelect = h('select', { id: 'device-online' },
    h('option', { value: '' }, 'any'), h('option', { value: 'true' }, 'online'), h('option', { value: 'false' }, 'offline'));
  onlineSelect.value = online;
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter devices' },
    h('div', {}, h('label', { for: 'device-search' }, 'Search'), search),
    h('div', {}, h('label', { for: 'device-type' }, 'Type'), typeInput),
    h('div', {}, h('label', { for: 'device-tag' }, 'Tag'), tagInput),
    h('div', {}, h('label', { for: 'device-online' }, 'Status'), onlineSelect),
    h('button', { type: 'submit' }, 'Filter'));
  filters.addEventListener('submit', event => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (search.value) next.set('q', search.value);
    if (typeInput.value) next.set('type', typeInput.value);
    if (tagInput.value) next.set('tag', tagInput.value);
    if (onlineSelect.value) next.set('online', onlineSelect.value);
    location.hash = '#/devices' + (next.toString() ? '?' + next : '');
  });

  const list = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const element = h('section', { 'aria-labelledby': 'devices-title' },
    h('h1', { id: 'devices-title' }, 'Devices'),
    may('admin') ? registerForm(() => load()) : null,
    h('div', { class: 'panel' }, filters),
    list);

  function pageLink(newOffset) {
    const next = new URLSearchParams(query);
    next.set('offset', String(newOffset));
    return '#/devices?' + next;
  }

  async function load() {
    try {
      const page = await api(devicesListPath(query));
      if (page.total === 0) {
        fill(list, h('p', { class: 'empty' }, q || type || tag || online
          ? 'No device matches these filters.'
          : may('admin') ? 'No devices registered yet: register one above.' : 'No devices registered yet; an admin registers them.'));
        return;
      }
      const columns = [
        { label: 'Device', cell: d => h('a', { href: '#/devices/' + encodeURIComponent(d.id) }, d.id) },
        { label: 'Name', cell: d => d.name || '', className: 'hide-narrow' },
        { label: 'Type', cell: d => d.type || '', className: 'hide-narrow' },
        { label: 'Status', cell: d => h('span', { class: d.online ? 'status-online' : 'status-offline' }, d.online ? 'online' : 'offline') },
        { label: 'Last seen', cell: d => formatTime(d.last_seen), className: 'hide-narrow' },
      ];
      if (may('admin')) {
        columns.push({ label: 'Actions', cell: d => removeButton(d.id, load) });
      }
      const last = Math.min(offset + page.devices.length, page.total);
      fill(list, 
        table(columns, page.devices, 'Devices'),
        h('nav', { class: 'pager', 'aria-label': 'Device pages' },
          h('span', { id: 'device-count' }, `${offset + 1}–${last} of ${page.total}`),
          offset > 0 ? h('a', { class: 'button', href: pageLink(Math.max(0, offset - PAGE)) }, 'Previous') : null,
          last < page.total ? h('a', { class: 'button', href: pageLink(offset + PAGE) }, 'Next') : null));
    } catch (error) {
      fill(list, errorBox(error));
    }
  }

  load();
  return { element, title: 'Devices' };
}

function removeButton(id, reload) {
  const cell = h('span', { class: 'row' });
  const remove = h('button', { type: 'button', class: 'danger', 'aria-label': 'Remove ' + id }, 'Remove');
  remove.addEventListener('click', () => {
    const confirm = h('button', { type: 'button', class: 'danger', 'aria-label': 'Confirm removing ' + id }, 'Confirm remove');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    confirm.addEventListener('click', async () => {
      try {
        await api('/api/v1/devices/' + encodeURIComponent(id), { method: 'DELETE' });
        reload();
      } catch (error) {
        fill(cell, errorBox(error));
      }
    });
    cancel.addEventListener('click', () => fill(cell, remove));
    fill(cell, confirm, cancel);
    confirm.focus();
  });
  cell.append(remove);
  return cell;
}

function registerForm(reload) {
  const id = h('input', { id: 'new-device-id', required: true, pattern: '[A-Za-z0-9_.:\\-]+', placeholder: 'truck-7' });
  const name = h('input', { id: 'new-device-name', placeholder: 'Truck 7' });
  const type = h('input', { id: 'new-device-type', placeholder: 'tracker' });
  const result = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'panel', 'aria-labelledby': 'register-title' },
    h('h2', { id: 'register-title' }, 'Register a device'),
    h('div', { class: 'filters' },
      h('div', {}, h('label', { for: 'new-device-id' }, 'Device id'), id),
      h('div', {}, h('label', { for: 'new-device-name' }, 'Name'), name),
      h('div', {}, h('label', { for: 'new-device-type' }, 'Type'), type),
      h('button', { type: 'submit', class: 'primary' }, 'Register')),
    result);
  form.addEventListener('submit', async event => {
    event.preventDefault();
    const body = { id: id.value.trim() };
    if (name.value.trim()) body.name = name.value.trim();
    if (type.value.trim()) body.type = type.value.trim();
    try {
      const device = await api('/api/v1/devices', { method: 'POST', body });
      fill(result, h('div', { class: 'notice', role: 'status' },
        h('p', {}, 'Registered ', h('a', { href: '#/devices/' + encodeURIComponent(device.id) }, device.id),
          '. Its token is shown only now: copy it into the device.'),
        h('p', { class: 'token' }, h('code', { id: 'new-device-token' }, device.token), copyButton(device.token, 'Copy token')),
        h('pre', {}, `mosquitto_pub -h ${location.hostname} -p 1883 -i ${device.id} -u ${device.id} -P '${device.token}' \\\n  -t devices/${device.id}/telemetry -m '{"temperature": 21.5}'`)));
      form.reset();
      reload();
    } catch (error) {
      fill(result, errorBox(error));
    }
  });
  return form;
}
