// A device's track on the map: its positions over the chosen range as one line over the packaged land outline, in the
// map page's projection. The server thins a long track to at most MAX_POINTS spread over the whole range.
import { api } from './api.js';
import { fitView, landRings, ringsPath } from './basemap.js';

const NS = 'http://www.w3.org/2000/svg';
export const MAX_POINTS = 2000;

function el(name, attributes) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

export function trackElement(id) {
  return el('svg', { class: 'map track-map', role: 'img', 'aria-label': 'Track of the device over the chosen range', id });
}

/**
 * Loads the track of `device` from `fromIso` to now and draws it into `svg`; returns a sentence for people (how many
 * positions, how far), or throws the API's error. No position in the range draws the outline alone.
 */
export async function drawTrack(svg, device, fromIso) {
  let feature = null;
  try {
    feature = await api(`/api/v1/devices/${encodeURIComponent(device)}/track?from=${encodeURIComponent(fromIso)}&max_points=${MAX_POINTS}`,
      { accept: 'application/geo+json' }).then(JSON.parse);
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  const rings = await landRings().catch(() => null);
  const geometry = feature ? feature.geometry : null;
  const coordinates = !geometry ? [] : geometry.type === 'Point' ? [geometry.coordinates] : geometry.coordinates;
  const width = Math.max(280, Math.round(svg.getBoundingClientRect().width) || 800);
  const height = Math.max(200, Math.round(svg.getBoundingClientRect().height) || 360);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.replaceChildren();
  let [west, east, south, north] = [-170, 190, -58, 78];
  if (coordinates.length > 0) {
    west = Math.min(...coordinates.map(c => c[0])); east = Math.max(...coordinates.map(c => c[0]));
    south = Math.min(...coordinates.map(c => c[1])); north = Math.max(...coordinates.map(c => c[1]));
    // As on the map page: the coarse outline needs a view of at least a degree to show the coast a device is near.
    const padLon = Math.max(0.5, (east - west) * 0.15);
    const padLat = Math.max(0.5, (north - south) * 0.15);
    west -= padLon; east += padLon; south -= padLat; north += padLat;
  }
  const { project } = fitView(west, east, south, north, width, height);
  svg.append(el('rect', { class: 'sea', x: 0, y: 0, width, height }));
  if (rings) {
    for (const shift of [-360, 0, 360]) {
      const path = ringsPath(rings, (lon, lat) => project(lon + shift, lat), width, height);
      if (path) svg.append(el('path', { class: 'land', d: path }));
    }
  }
  if (coordinates.length === 0) {
    return 'No position in this range. A device sends one to devices/<id>/location, e.g. {"lat": 52.52, "lon": 13.40}.';
  }
  const points = coordinates.map(([lon, lat]) => project(lon, lat));
  if (points.length > 1) {
    svg.append(el('polyline', { class: 'track', points: points.map(([x, y]) => x.toFixed(1) + ',' + y.toFixed(1)).join(' ') }));
  }
  const [startX, startY] = points[0];
  const [endX, endY] = points[points.length - 1];
  if (points.length > 1) svg.append(el('circle', { class: 'track-start', cx: startX, cy: startY, r: 4 }));
  svg.append(el('circle', { class: 'track-end', cx: endX, cy: endY, r: 6 }));
  const properties = feature.properties;
  const km = (properties.distance_m / 1000).toLocaleString('en', { maximumFractionDigits: 1 });
  const [lon, lat] = coordinates[coordinates.length - 1];
  const sentence = `${properties.count.toLocaleString('en')} position${properties.count === 1 ? '' : 's'}` +
    (properties.thinned ? ` (thinned to at most ${MAX_POINTS.toLocaleString('en')} over the whole range)` : '') +
    `, ${km} km, last at ${lat.toFixed(5)}, ${lon.toFixed(5)}.`;
  svg.setAttribute('aria-label', 'Track of the device: ' + sentence);
  return sentence;
}
