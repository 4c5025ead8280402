// Talks to the Plexus HTTP API with the signed-in token. The token lives in sessionStorage (this tab only, gone when
// it closes) and travels as `Authorization: Token …` on each call, never in a cookie: a request another site makes
// the browser send carries no credential, so there is nothing for cross-site request forgery to use (docs/console.md).

import { TOKEN_KEY, storedToken, takeEarly } from './early.js';

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function token() {
  return storedToken();
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  const result = { Accept: 'application/json', ...extra };
  const current = token();
  if (current) {
    result.Authorization = 'Token ' + current;
  }
  return result;
}

/**
 * Calls the API and returns its JSON (null for 204); throws ApiError with the server's message otherwise. With `after`
 * (a promise), a call not already started early waits for it to settle before it is sent.
 */
export async function api(path, { method = 'GET', body, accept, signal, after } = {}) {
  const init = { method, headers: headers(accept ? { Accept: accept } : {}), signal, cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  // A plain GET the console started before its modules loaded (early.js) is answered by that call.
  const early = method === 'GET' && body === undefined && !accept && !signal ? takeEarly(path) : null;
  if (!early && after) await after.catch(() => {});
  const response = await (early || fetch(path, init));
  if (response.status === 401 && path !== '/api/v1/whoami') {
    clearToken();
    window.dispatchEvent(new Event('plexus:signed-out'));
  }
  if (!response.ok) {
    let message = response.status + ' ' + response.statusText;
    let parsed = null;
    try {
      parsed = await response.json();
      message = parsed.message || parsed.error || message;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ApiError(response.status, message, parsed);
  }
  if (response.status === 204) {
    return null;
  }
  return accept && accept !== 'application/json' ? response.text() : response.json();
}

/**
 * Reads server-sent events from `path` with the token in a header (EventSource cannot send one) and calls
 * onEvent(name, data) for each; returns a function that stops it.
 */
export function stream(path, onEvent, onError) {
  const controller = new AbortController();
  (async () => {
    const response = await fetch(path, { headers: headers({ Accept: 'text/event-stream' }), signal: controller.signal, cache: 'no-store' });
    if (!response.ok || !response.body) {
      let message = response.status + ' ' + response.statusText;
      try { message = (await response.json()).message || message; } catch { /* keep the status */ }
      throw new ApiError(response.status, message);
    }
    onEvent('open', null);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) name = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) {
          onEvent(name, JSON.parse(data.join('\n')));
        }
      }
    }
  })().catch(error => {
    if (!controller.signal.aborted && onError) onError(error);
  });
  return () => controller.abort();
}
