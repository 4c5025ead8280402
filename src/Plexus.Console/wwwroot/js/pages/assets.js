import { api } from '../api.js';
import { errorBox, fill, h } from '../dom.js';

// The asset hierarchy as nested disclosure lists; a node's devices are fetched when it is opened.
export function assetsPage(query = new URLSearchParams()) {
  // #/assets?open=<id> (the device page's asset path links here): that asset and its ancestors start open.
  const target = query.get('open');
  const tree = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const element = h('section', { 'aria-labelledby': 'assets-title' },
    h('h1', { id: 'assets-title' }, 'Assets'),
    h('p', { class: 'muted' }, 'Sites, buildings, fleets… and the devices in them. Open an asset to see its devices.'),
    tree);

  async function load() {
    try {
      const answer = await api('/api/v1/assets?limit=10000');
      if (answer.assets.length === 0) {
        fill(tree, h('p', { class: 'empty' }, 'No assets yet. Create them with ', h('code', {}, 'POST /api/v1/assets'),
          ' or ', h('code', {}, 'plexus assets import'), ', then give devices a parent (see docs/assets.md).'));
        return;
      }
      const ids = new Set(answer.assets.map(a => a.id));
      const children = new Map();
      for (const asset of answer.assets) {
        const parent = asset.parent && ids.has(asset.parent) ? asset.parent : '';
        if (!children.has(parent)) children.set(parent, []);
        children.get(parent).push(asset);
      }
      const counts = await countsByAsset(children);
      const open = new Set();
      const byId = new Map(answer.assets.map(a => [a.id, a]));
      for (let at = target; at && byId.has(at) && !open.has(at); at = byId.get(at).parent) open.add(at);
      fill(tree, branch(children, '', counts, open, target), answer.total > answer.assets.length
        ? h('p', { class: 'muted' }, `Showing ${answer.assets.length} of ${answer.total} assets.`) : null);
    } catch (error) {
      fill(tree, errorBox(error));
    }
  }

  load();
  return { element, title: 'Assets' };
}

// One SQL query each for the devices and the open alarms hanging directly from each asset, summed up the tree here, so
// a site shows what all of its buildings hold. A count that cannot be had (e.g. no rules engine) is left out.
async function countsByAsset(children) {
  const direct = async (sql) => {
    try {
      return new Map((await api('/api/v1/sql', { method: 'POST', body: { sql } })).rows.map(([asset, count]) => [asset, Number(count)]));
    } catch {
      return null;
    }
  };
  const [devices, alarms] = await Promise.all([
    direct('SELECT parent, count(*) FROM devices WHERE parent IS NOT NULL GROUP BY parent'),
    direct("SELECT asset, count(*) FROM alarms WHERE status <> 'cleared' AND asset IS NOT NULL GROUP BY asset"),
  ]);
  const totals = new Map();
  const total = id => {
    if (totals.has(id)) return totals.get(id);
    const sum = { devices: devices?.get(id) || 0, alarms: alarms?.get(id) || 0 };
    for (const child of children.get(id) || []) {
      const below = total(child.id);
      sum.devices += below.devices;
      sum.alarms += below.alarms;
    }
    totals.set(id, sum);
    return sum;
  };
  return { devices: devices !== null, alarms: alarms !== null, of: total };
}

function plural(count, word) {
  return `${count.toLocaleString('en')} ${word}${count === 1 ? '' : 's'}`;
}

function branch(children, parent, counts, open, target) {
  const list = children.get(parent) || [];
  return h('ul', { class: 'tree' }, list.map(asset => {
    const devices = h('ul', { class: 'tree' });
    const count = counts.of(asset.id);
    const details = h('details', {},
      h('summary', {}, asset.name || asset.id, asset.type ? h('span', { class: 'muted' }, ' · ' + asset.type) : null,
        counts.devices ? h('span', { class: 'muted' }, ' · ' + plural(count.devices, 'device')) : null,
        counts.alarms && count.alarms > 0 ? h('span', { class: 'sev-major' }, ' · ' + plural(count.alarms, 'open alarm')) : null),
      children.has(asset.id) ? branch(children, asset.id, counts, open, target) : null,
      devices);
    let loaded = false;
    details.addEventListener('toggle', async () => {
      if (!details.open || loaded) return;
      loaded = true;
      try {
        const shown = await api('/api/v1/assets/' + encodeURIComponent(asset.id));
        fill(devices, shown.children.devices.map(id => h('li', {}, h('a', { href: '#/devices/' + encodeURIComponent(id) }, id))));
        if (shown.children.devices.length === 0 && !children.has(asset.id)) {
          devices.append(h('li', { class: 'empty' }, 'Nothing in this asset yet.'));
        }
      } catch (error) {
        fill(devices, h('li', {}, errorBox(error)));
      }
    });
    if (open.has(asset.id)) details.open = true;
    if (asset.id === target) details.querySelector('summary').setAttribute('aria-current', 'location');
    return h('li', {}, details);
  }));
}
