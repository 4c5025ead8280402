// Who is signed in (from GET /api/v1/whoami): pages ask before they show a button the token may not use.

let current = null;

export function session() {
  return current;
}

export function setSession(value) {
  current = value;
}

const rank = { read: 1, write: 2, admin: 3 };

export function may(scope) {
  return current !== null && (rank[current.scope] || 0) >= rank[scope];
}
