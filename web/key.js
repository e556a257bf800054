/* global window, localStorage, history, location, fetch */
// The pages' API key (issue 18): asked for once, kept in this browser's localStorage per role.
// Where a key comes from, first found wins:
//   1. a link that carries it, /#key=<id>.<secret> (printed by the service in demo mode); the
//      fragment never reaches the server, and it is removed from the address bar at once;
//   2. this browser's localStorage, from an earlier visit;
//   3. demo mode: GET /demo/keys answers the demo keys to a browser on the same machine;
//   4. otherwise the page asks for it (a prompt).
// A key the service refuses (revoked, rotated, a demo key of an earlier start) is forgotten, and
// the page asks again (refresh()).
const PREFIX = 'dispatchd.apiKey.';

function fromFragment() {
  const m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return decodeURIComponent(m[1]);
}

async function fromDemo(role) {
  try {
    const r = await fetch('/demo/keys', { cache: 'no-store' });
    if (!r.ok) return null;
    return (await r.json())[role] ?? null;
  } catch {
    return null;
  }
}

/** The key of `role` for this page: see above. */
export async function apiKey(role) {
  const linked = fromFragment();
  if (linked) localStorage.setItem(PREFIX + role, linked);
  let key = localStorage.getItem(PREFIX + role);
  if (key) return key;
  key = (await fromDemo(role)) ?? (window.prompt(`dispatchd: paste an API key with the "${role}" role (id.secret)`) ?? '').trim();
  if (key) localStorage.setItem(PREFIX + role, key);
  return key;
}

/** Forgets a refused key and gets another (demo mode, or by asking). */
export async function refreshKey(role) {
  localStorage.removeItem(PREFIX + role);
  return apiKey(role);
}

/** fetch() with the key; a 401 forgets it, gets a new one and retries once. */
export function keyedFetch(role, state) {
  return async (url, init = {}) => {
    const send = () => fetch(url, { ...init, headers: { ...(init.headers ?? {}), 'x-api-key': state.key } });
    let r = await send();
    if (r.status === 401) {
      state.key = await refreshKey(role);
      r = await send();
    }
    return r;
  };
}
