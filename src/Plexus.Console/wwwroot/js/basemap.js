// The offline basemap: Natural Earth's land outline (TopoJSON from world-atlas, see THIRD-PARTY.md), decoded here and
// drawn in the map's projection. Loaded once per page load, from this server; nothing comes from the internet.

let rings = null;

// Web Mercator in world units 0..1 (x east, y south), the projection of every tile server, so positions drawn on
// tiles land where the tiles put them.
export const worldX = lon => (lon + 180) / 360;
export const worldY = lat => {
  const clamped = Math.max(-85.05, Math.min(85.05, lat)) * Math.PI / 180;
  return (1 - Math.log(Math.tan(clamped) + 1 / Math.cos(clamped)) / Math.PI) / 2;
};

/**
 * The view of a width × height drawing that shows the box west..east × south..north whole, centred, without
 * stretching: project(lon, lat) → [x, y] in pixels, and back from pixels to degrees for the graticule.
 */
export function fitView(west, east, south, north, width, height) {
  const [x0, x1, y0, y1] = [worldX(west), worldX(east), worldY(north), worldY(south)];
  const scale = Math.min(width / (x1 - x0), height / (y1 - y0));
  const centerX = (x0 + x1) / 2;
  const centerY = (y0 + y1) / 2;
  const px = wx => (wx - centerX) * scale + width / 2;
  const py = wy => (wy - centerY) * scale + height / 2;
  return {
    scale, centerX, centerY, px, py,
    project: (lon, lat) => [px(worldX(lon)), py(worldY(lat))],
    lonAt: x => ((x - width / 2) / scale + centerX) * 360 - 180,
    latAt: y => Math.atan(Math.sinh(Math.PI * (1 - 2 * ((y - height / 2) / scale + centerY)))) * 180 / Math.PI,
  };
}

/** The land outline as rings of [lon, lat] points; fetched and decoded on first use. */
export async function landRings() {
  if (rings) return rings;
  const response = await fetch('/console/basemap/land-110m.json', { cache: 'force-cache' });
  if (!response.ok) throw new Error('the basemap is not available (' + response.status + ')');
  rings = decode(await response.json());
  return rings;
}

// TopoJSON stores each shared border once as a quantised, delta-encoded arc; a polygon lists its rings as arc
// indexes, where ~i (a negative index) means arc i walked backwards.
function decode(topology) {
  const [scaleX, scaleY] = topology.transform.scale;
  const [translateX, translateY] = topology.transform.translate;
  const arcs = topology.arcs.map(arc => {
    let x = 0;
    let y = 0;
    return arc.map(([dx, dy]) => {
      x += dx;
      y += dy;
      return [x * scaleX + translateX, y * scaleY + translateY];
    });
  });
  const ring = indexes => {
    const points = [];
    for (const index of indexes) {
      const arc = index < 0 ? arcs[~index].slice().reverse() : arcs[index];
      // Consecutive arcs share their joining point: keep it once.
      points.push(...(points.length > 0 ? arc.slice(1) : arc));
    }
    return points;
  };
  const result = [];
  const walk = geometry => {
    if (geometry.type === 'GeometryCollection') geometry.geometries.forEach(walk);
    else if (geometry.type === 'Polygon') geometry.arcs.forEach(r => result.push(ring(r)));
    else if (geometry.type === 'MultiPolygon') geometry.arcs.forEach(polygon => polygon.forEach(r => result.push(ring(r))));
  };
  Object.values(topology.objects).forEach(walk);
  return result;
}

/** An SVG path for the rings in a projection (lon, lat) → [x, y]; rings wholly outside the box are left out. */
export function ringsPath(allRings, project, width, height) {
  const parts = [];
  for (const ring of allRings) {
    let minX = Infinity; let maxX = -Infinity; let minY = Infinity; let maxY = -Infinity;
    const projected = ring.map(([lon, lat]) => {
      const [x, y] = project(lon, lat);
      if (x < minX) minX = x; if (x > maxX) maxX = x;
      if (y < minY) minY = y; if (y > maxY) maxY = y;
      return [x, y];
    });
    if (maxX < 0 || minX > width || maxY < 0 || minY > height) continue;
    parts.push('M' + projected.map(([x, y]) => x.toFixed(1) + ' ' + y.toFixed(1)).join('L') + 'Z');
  }
  return parts.join('');
}
