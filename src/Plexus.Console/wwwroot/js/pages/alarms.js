import { api } from '../api.js';
import { errorBox, formatTime, h, table, fill } from '../dom.js';
import { may } from '../session.js';

export function alarmsPage(query) {
  const status = query.get('status') || '';
  const severity = query.get('severity') || '';
  const select = h('select', { id: 'alarm-status' },
    h('option', { value: '' }, 'open (active and acknowledged)'), h('option', { value: 'active' }, 'active'),
    h('option', { value: 'acknowledged' }, 'acknowledged'), h('option', { value: 'cleared' }, 'cleared'));
  select.value = status;
  select.addEventListener('change', () => { location.hash = '#/alarms' + (select.value ? '?status=' + select.value : ''); });
  const list = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const element = h('section', { 'aria-labelledby': 'alarms-title' },
    h('h1', { id: 'alarms-title' }, 'Alarms'),
    h('div', { class: 'panel filters' }, h('div', {}, h('label', { for: 'alarm-status' }, 'Status'), select)),
    list);

  async function act(id, action) {
    try {
      await api(`/api/v1/alarms/${id}/${action}`, { method: 'POST' });
      load();
    } catch (error) {
      list.prepend(errorBox(error));
    }
  }

  async function load() {
    try {
      const statuses = status ? [status] : ['active', 'acknowledged'];
      let alarms = [];
      for (const s of statuses) {
        alarms = alarms.concat((await api('/api/v1/alarms?limit=500&status=' + s)).alarms);
      }
      if (severity) alarms = alarms.filter(a => a.severity === severity);
      if (alarms.length === 0) {
        fill(list, h('p', { class: 'empty' }, 'No alarms here. Rules raise alarms when data matches them: ',
          h('code', {}, 'POST /api/v1/rules'), ' (see docs/rules.md).'));
        return;
      }
      const columns = [
        { label: 'Id', cell: a => String(a.id) },
        { label: 'Rule', cell: a => a.rule },
        { label: 'Device', cell: a => h('a', { href: '#/devices/' + encodeURIComponent(a.device) }, a.device) },
        { label: 'Severity', cell: a => h('span', { class: 'sev-' + a.severity }, a.severity) },
        { label: 'Status', cell: a => a.status },
        { label: 'Raised', cell: a => formatTime(a.raised_at), className: 'hide-narrow' },
      ];
      if (may('write')) {
        columns.push({
          label: 'Actions',
          cell: a => h('span', { class: 'row' },
            a.status === 'active' ? h('button', { type: 'button', onclick: () => act(a.id, 'ack') }, 'Acknowledge') : null,
            a.status !== 'cleared' ? h('button', { type: 'button', onclick: () => act(a.id, 'clear') }, 'Clear') : null),
        });
      }
      fill(list, table(columns, alarms, 'Alarms'));
    } catch (error) {
      fill(list, errorBox(error));
    }
  }

  load();
  return { element, title: 'Alarms' };
}
