import { api } from '../api.js';
import { clear, errorBox, h, fill } from '../dom.js';

const NS = 'http://www.w3.org/2000/svg';

function el(name, attributes) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

// No basemap tiles (nothing may come from the internet): a latitude/longitude graticule, zoomed to the devices.
export function mapPage() {
  // A group, not an image: its device dots are links.
  const svg = el('svg', { class: 'map', role: 'group', 'aria-label': 'Device positions on a latitude and longitude grid' });
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('ul', { id: 'map-devices' });
  const element = h('section', { 'aria-labelledby': 'map-title' },
    h('h1', { id: 'map-title' }, 'Map'),
    h('p', { class: 'muted' }, 'Each device at its last position: green online, grey offline. Select a device to open it.'),
    svg, status, h('h2', {}, 'Devices with a position'), list);

  async function load() {
    try {
      const answer = await api('/api/v1/live/positions');
      draw(answer.devices);
    } catch (error) {
      fill(status, errorBox(error));
    }
  }

  function draw(devices) {
    svg.replaceChildren();
    clear(list);
    let [minLat, maxLat, minLon, maxLon] = [-60, 75, -180, 180];
    if (devices.length > 0) {
      minLat = Math.min(...devices.map(d => d.lat)); maxLat = Math.max(...devices.map(d => d.lat));
      minLon = Math.min(...devices.map(d => d.lon)); maxLon = Math.max(...devices.map(d => d.lon));
      const padLat = Math.max(0.01, (maxLat - minLat) * 0.15);
      const padLon = Math.max(0.01, (maxLon - minLon) * 0.15);
      minLat -= padLat; maxLat += padLat; minLon -= padLon; maxLon += padLon;
    }
    const width = 1000;
    const height = 600;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const x = lon => (lon - minLon) / (maxLon - minLon) * width;
    const y = lat => height - (lat - minLat) / (maxLat - minLat) * height;
    const step = niceStep(Math.max(maxLat - minLat, maxLon - minLon) / 6);
    for (let lon = Math.ceil(minLon / step) * step; lon <= maxLon; lon += step) {
      svg.append(el('line', { class: 'grid', x1: x(lon), y1: 0, x2: x(lon), y2: height }));
      const label = el('text', { x: x(lon) + 2, y: height - 4 });
      label.textContent = lon.toFixed(step < 1 ? 2 : 0) + '°';
      svg.append(label);
    }
    for (let lat = Math.ceil(minLat / step) * step; lat <= maxLat; lat += step) {
      svg.append(el('line', { class: 'grid', x1: 0, y1: y(lat), x2: width, y2: y(lat) }));
      const label = el('text', { x: 2, y: y(lat) - 2 });
      label.textContent = lat.toFixed(step < 1 ? 2 : 0) + '°';
      svg.append(label);
    }
    for (const device of devices) {
      const link = el('a', { href: '#/devices/' + encodeURIComponent(device.device), 'aria-label': `${device.device}, ${device.online ? 'online' : 'offline'}` });
      const dot = el('circle', { cx: x(device.lon), cy: y(device.lat), r: 6, class: device.online ? 'online' : 'offline' });
      const title = el('title', {});
      title.textContent = `${device.device} (${device.online ? 'online' : 'offline'})`;
      dot.append(title);
      link.append(dot);
      svg.append(link);
      list.append(h('li', {}, h('a', { href: '#/devices/' + encodeURIComponent(device.device) }, device.device),
        ` ${device.lat.toFixed(5)}, ${device.lon.toFixed(5)} — ${device.online ? 'online' : 'offline'}`));
    }
    fill(status, devices.length === 0
      ? h('p', { class: 'empty' }, 'No device has sent a position yet. A device publishes one to devices/<id>/location, e.g. {"lat": 52.52, "lon": 13.40}.')
      : null);
  }

  load();
  return { element, title: 'Map' };
}

function niceStep(raw) {
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const factor of [1, 2, 5, 10]) {
    if (raw <= factor * power) return factor * power;
  }
  return 10 * power;
}
