// The console's entry point: sign-in, the page router (hash routes, so every page is a link), the header.
import { api, ApiError, clearToken, setToken, token } from './api.js';
import { errorBox, h, fill } from './dom.js';
import { forgetEarly } from './early.js';
import { session, setSession } from './session.js';
import { overviewPage } from './pages/overview.js';
import { devicesPage } from './pages/devices.js';
import { devicePage } from './pages/device.js';
import { sqlPage } from './pages/sql.js';
import { alarmsPage } from './pages/alarms.js';
import { mapPage } from './pages/map.js';
import { assetsPage } from './pages/assets.js';
import { rulesPage } from './pages/rules.js';
import { serverPage } from './pages/server.js';

const main = document.getElementById('main');
let leave = null;

const routes = [
  [/^#\/overview$/, () => overviewPage()],
  [/^#\/devices$/, query => devicesPage(query)],
  [/^#\/devices\/([^/?]+)$/, (query, id) => devicePage(decodeURIComponent(id), query)],
  [/^#\/alarms$/, query => alarmsPage(query)],
  [/^#\/rules$/, () => rulesPage()],
  [/^#\/map$/, () => mapPage()],
  [/^#\/server$/, () => serverPage()],
  [/^#\/assets$/, query => assetsPage(query)],
  [/^#\/sql$/, query => sqlPage(query)],
];

function signInPage(message) {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, 'aria-describedby': 'token-help' });
  const status = h('div', { 'aria-live': 'polite' }, message ? errorBox(message) : null);
  const form = h('form', { class: 'panel signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to Plexus'),
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { id: 'token-help', class: 'muted' },
      'Use the admin token printed by ', h('code', {}, 'plexus serve'), ' at its first start, or an API token (',
      h('code', {}, 'plexus tokens create --name me --scope read'), '). It stays in this tab only.'),
    status,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async event => {
    event.preventDefault();
    setToken(input.value.trim());
    try {
      await start();
    } catch (error) {
      clearToken();
      fill(status, errorBox(error instanceof ApiError && error.status === 401 ? 'That token is not valid here.' : error));
    }
  });
  return form;
}

function showSignIn(message) {
  leave?.();
  leave = null;
  setSession(null);
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  document.title = 'Sign in · Plexus console';
  fill(main, signInPage(message));
  main.querySelector('input')?.focus();
}

async function start() {
  try {
    const who = await api('/api/v1/whoami');
    setSession(who);
    document.getElementById('who-name').textContent = who.name + ' (' + who.scope + ')';
    document.getElementById('nav').hidden = false;
    document.getElementById('who').hidden = false;
    if (!location.hash || location.hash === '#' || location.hash === '#/signin') {
      location.hash = '#/overview';
    } else {
      route();
    }
  } finally {
    // The first page has made its calls (or there is none to make): what early.js started for it is not handed on.
    forgetEarly();
  }
}

function route() {
  if (!session()) {
    return;
  }
  const [path, queryText] = (location.hash || '#/overview').split('?');
  const query = new URLSearchParams(queryText || '');
  for (const link of document.querySelectorAll('nav a')) {
    const target = link.getAttribute('href');
    if (path === target || path.startsWith(target + '/')) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  leave?.();
  leave = null;
  for (const [pattern, page] of routes) {
    const match = pattern.exec(path);
    if (match) {
      const view = page(query, ...match.slice(1));
      fill(main, view.element);
      document.title = view.title + ' · Plexus console';
      leave = view.leave || null;
      main.focus({ preventScroll: true });
      return;
    }
  }
  fill(main, h('h1', {}, 'Not found'), h('p', {}, 'No console page at this address. ', h('a', { href: '#/overview' }, 'Go to the overview.')));
}

document.getElementById('sign-out').addEventListener('click', () => {
  clearToken();
  history.replaceState(null, '', '#/signin');
  showSignIn();
});
window.addEventListener('plexus:signed-out', () => showSignIn('Your token is no longer accepted; sign in again.'));
window.addEventListener('hashchange', route);


if (token()) {
  start().catch(error => showSignIn(error));
} else {
  showSignIn();
}
