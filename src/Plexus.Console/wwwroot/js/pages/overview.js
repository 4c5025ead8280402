import { api } from '../api.js';
import { errorBox, formatBytes, formatNumber, h, fill } from '../dom.js';

function card(label, value, href, id) {
  return h('a', { class: 'card', href, id }, h('span', { class: 'value' }, value), h('span', { class: 'label' }, label));
}

export function overviewPage() {
  const body = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const element = h('section', { 'aria-labelledby': 'overview-title' }, h('h1', { id: 'overview-title' }, 'Overview'), body);
  let timer = null;

  async function load() {
    try {
      const o = await api('/api/v1/overview');
      const alarms = Object.entries(o.alarms_open);
      const openAlarms = alarms.reduce((sum, [, count]) => sum + count, 0);
      fill(body, 
        h('div', { class: 'cards' },
          card('devices online', formatNumber(o.devices.online), '#/devices?online=true', 'devices-online'),
          card('devices offline', formatNumber(o.devices.offline), '#/devices?online=false', 'devices-offline'),
          card('devices registered', formatNumber(o.devices.total), '#/devices', 'devices-total'),
          card('points per second', formatNumber(o.points_per_second), '#/sql', 'points-rate'),
          card('open alarms', formatNumber(openAlarms) + (o.alarms_capped ? '+' : ''), '#/alarms', 'alarms-open'),
          card('storage used', formatBytes(o.storage_bytes), '#/sql?q=' + encodeURIComponent('SHOW ALL TABLES'), 'storage'),
          card('health', o.health === 'pass' ? 'healthy' : 'degraded', '#/overview', 'health')),
        h('h2', {}, 'Open alarms by severity'),
        h('ul', {}, alarms.map(([severity, count]) =>
          h('li', {}, h('a', { href: '#/alarms?severity=' + encodeURIComponent(severity), class: 'sev-' + severity }, severity), ': ' + count))),
        o.health_message ? h('p', { class: 'error', role: 'alert' }, o.health_message) : null,
        o.devices.total === 0 ? h('div', { class: 'notice' },
          h('p', {}, 'No devices yet. Register one on the ', h('a', { href: '#/devices' }, 'Devices page'),
            '; it gets a token, and then sends data over MQTT, for example:'),
          h('pre', {}, 'mosquitto_pub -h <host> -p 1883 -i my-device -u my-device -P <device token> \\\n  -t devices/my-device/telemetry -m \'{"temperature": 21.5}\'')) : null);
    } catch (error) {
      fill(body, errorBox(error));
    }
  }

  load();
  timer = setInterval(load, 5000);
  return { element, title: 'Overview', leave: () => clearInterval(timer) };
}
