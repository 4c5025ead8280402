import { api } from '../api.js';
import { clear, errorBox, h, fill } from '../dom.js';
import { fitView, landRings, ringsPath } from '../basemap.js';

const NS = 'http://www.w3.org/2000/svg';
const TILE = 256;
const MAX_TILES = 48;

function el(name, attributes) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/**
 * The map: every device at its last position over the land outline packaged with the console (no internet needed),
 * or over the tiles of the server the operator configured (--map-tiles), with a graticule either way.
 */
export function mapPage() {
  // A group, not an image: its device dots are links.
  const svg = el('svg', { class: 'map', role: 'group', 'aria-label': 'Device positions on a map' });
  const status = h('div', { 'aria-live': 'polite' });
  const attribution = h('p', { class: 'muted', id: 'map-attribution' });
  const list = h('ul', { id: 'map-devices' });
  const element = h('section', { 'aria-labelledby': 'map-title' },
    h('h1', { id: 'map-title' }, 'Map'),
    h('p', { class: 'muted' }, 'Each device at its last position: green online, grey offline. Select a device to open it.'),
    svg, attribution, status, h('h2', {}, 'Devices with a position'), list);

  async function load() {
    try {
      const answer = await api('/api/v1/live/positions');
      const rings = answer.basemap?.tiles ? null : await landRings().catch(() => null);
      draw(answer.devices, answer.basemap || {}, rings);
    } catch (error) {
      fill(status, errorBox(error));
    }
  }

  // The drawing takes the element's own shape, so the map fills it at any screen width without stretching.
  let width = 1000;
  let height = 600;

  function draw(devices, basemap, rings) {
    const box = svg.getBoundingClientRect();
    width = Math.max(280, Math.round(box.width) || 1000);
    height = Math.max(200, Math.round(box.height) || 600);
    svg.replaceChildren();
    clear(list);
    // The view: the devices with a margin, or the inhabited world when there are none.
    let [west, east, south, north] = [-170, 190, -58, 78];
    if (devices.length > 0) {
      west = Math.min(...devices.map(d => d.lon)); east = Math.max(...devices.map(d => d.lon));
      south = Math.min(...devices.map(d => d.lat)); north = Math.max(...devices.map(d => d.lat));
      // The packaged outline is coarse (1:110 m): without tiles the view spans at least a degree, so a lone device
      // still shows the coast or border it is near.
      const least = basemap.tiles ? 0.01 : 0.5;
      const padLon = Math.max(least, (east - west) * 0.15);
      const padLat = Math.max(least, (north - south) * 0.15);
      west -= padLon; east += padLon; south -= padLat; north += padLat;
    }
    const { scale, centerX, centerY, px, py, project, lonAt, latAt } = fitView(west, east, south, north, width, height);
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.append(el('rect', { class: 'sea', x: 0, y: 0, width: width, height: height }));

    if (basemap.tiles) {
      drawTiles(basemap.tiles, scale, px, py, centerX, centerY);
      attribution.textContent = basemap.attribution ? 'Map tiles: ' + basemap.attribution : '';
    } else if (rings) {
      // The outline repeats east and west so a view across the antimeridian still shows land.
      for (const shift of [-360, 0, 360]) {
        const path = ringsPath(rings, (lon, lat) => project(lon + shift, lat), width, height);
        if (path) svg.append(el('path', { class: 'land', d: path }));
      }
      attribution.textContent = 'Land outline: Natural Earth (public domain), packaged with Plexus.';
    }

    // The graticule covers what is visible, which is wider or taller than the devices' box.
    drawGraticule(lonAt(0), lonAt(width), latAt(height), latAt(0), project);
    for (const device of devices) {
      const [cx, cy] = project(device.lon, device.lat);
      const link = el('a', { href: '#/devices/' + encodeURIComponent(device.device), 'aria-label': `${device.device}, ${device.online ? 'online' : 'offline'}` });
      const dot = el('circle', { cx, cy, r: 6, class: device.online ? 'online' : 'offline' });
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

  function drawTiles(template, scale, px, py, centerX, centerY) {
    const zoom = Math.max(0, Math.min(19, Math.round(Math.log2(scale / TILE))));
    const count = 2 ** zoom;
    const left = Math.floor((centerX - width / 2 / scale) * count);
    const right = Math.floor((centerX + width / 2 / scale) * count);
    const top = Math.max(0, Math.floor((centerY - height / 2 / scale) * count));
    const bottom = Math.min(count - 1, Math.floor((centerY + height / 2 / scale) * count));
    if ((right - left + 1) * (bottom - top + 1) > MAX_TILES) return;
    for (let ty = top; ty <= bottom; ty++) {
      for (let tx = left; tx <= right; tx++) {
        const wrapped = ((tx % count) + count) % count;
        const href = template.replace('{z}', zoom).replace('{x}', wrapped).replace('{y}', ty);
        const size = scale / count;
        svg.append(el('image', { href, x: px(tx / count), y: py(ty / count), width: size + 0.5, height: size + 0.5, preserveAspectRatio: 'none' }));
      }
    }
  }

  function drawGraticule(west, east, south, north, project) {
    const step = niceStep(Math.max(north - south, east - west) / 6);
    const digits = Math.max(0, -Math.floor(Math.log10(step)));
    for (let lon = Math.ceil(west / step) * step; lon <= east; lon += step) {
      const [x] = project(lon, 0);
      svg.append(el('line', { class: 'grid', x1: x, y1: 0, x2: x, y2: height }));
      const label = el('text', { x: x + 2, y: height - 4 });
      label.textContent = normalLon(lon).toFixed(digits) + '°';
      svg.append(label);
    }
    for (let lat = Math.ceil(south / step) * step; lat <= north; lat += step) {
      const [, y] = project(0, lat);
      svg.append(el('line', { class: 'grid', x1: 0, y1: y, x2: width, y2: y }));
      const label = el('text', { x: 2, y: y - 2 });
      label.textContent = lat.toFixed(digits) + '°';
      svg.append(label);
    }
  }

  load();
  return { element, title: 'Map' };
}

function normalLon(lon) {
  return ((lon + 540) % 360) - 180;
}

function niceStep(raw) {
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const factor of [1, 2, 5, 10]) {
    if (raw <= factor * power) return factor * power;
  }
  return 10 * power;
}
