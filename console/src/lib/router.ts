// Hash routes (#/queue, #/requests/<id>, #/grants/<id>, #/audit?action=...,
// #/notifications?channel=...):
// hoistd serves files only, so the path after "#" never reaches it and
// needs no fallback.
//
// MUST: a request id in a route matches REQUEST_ID (anything else is "no
// such page"), and a place to return to after logging in is rebuilt from a
// parsed route (returnTarget): a link can name a page of this console,
// nothing else.

export type RouteName =
  | 'login'
  | 'queue'
  | 'requests'
  | 'request'
  | 'grants'
  | 'grant'
  | 'policies'
  | 'policy'
  | 'endpoints'
  | 'codes'
  | 'audit'
  | 'notifications'
  | 'users'
  | 'not_found';

export interface Route {
  name: RouteName;
  param?: string;
  query: Record<string, string>;
}

const SIMPLE: Record<string, RouteName> = {
  login: 'login',
  queue: 'queue',
  requests: 'requests',
  grants: 'grants',
  policies: 'policies',
  endpoints: 'endpoints',
  codes: 'codes',
  audit: 'audit',
  notifications: 'notifications',
  users: 'users',
};

export const DEFAULT_HASH = '#/queue';

// hoistd's request ids: "req-" + the creation time in hex + a random part
// (src/server/api/api.cpp, new_request_id).
export const REQUEST_ID = /^req-[0-9a-f]{1,16}-[0-9a-f]{1,32}$/;

function parseQuery(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  return out;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [pathPart = '', queryPart = ''] = raw.split('?', 2);
  const query = parseQuery(queryPart);
  const segments = pathPart.split('/').filter((s) => s !== '');
  if (segments.length === 0) return { name: 'queue', query };
  const [head = '', second, ...rest] = segments;
  if (rest.length > 0) return { name: 'not_found', query };
  let param: string | undefined;
  try {
    param = second === undefined ? undefined : decodeURIComponent(second);
  } catch {
    return { name: 'not_found', query };
  }
  if (param !== undefined) {
    if (head === 'requests') return REQUEST_ID.test(param) ? { name: 'request', param, query } : { name: 'not_found', query };
    if (head === 'grants') return { name: 'grant', param, query };
    if (head === 'policies') return { name: 'policy', param, query };
    return { name: 'not_found', query };
  }
  const name = SIMPLE[head];
  return name ? { name, query } : { name: 'not_found', query };
}

export function buildHash(name: RouteName, param?: string, query?: Record<string, string | undefined>): string {
  const base: Record<RouteName, string> = {
    login: '/login',
    queue: '/queue',
    requests: '/requests',
    request: '/requests',
    grants: '/grants',
    grant: '/grants',
    policies: '/policies',
    policy: '/policies',
    endpoints: '/endpoints',
    codes: '/codes',
    audit: '/audit',
    notifications: '/notifications',
    users: '/users',
    not_found: '/queue',
  };
  let out = `#${base[name]}`;
  if (param !== undefined && (name === 'grant' || name === 'policy' || name === 'request')) out += `/${encodeURIComponent(param)}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) out += `?${s}`;
  }
  return out;
}

// Where to go back to after logging in: any route but the login page
// itself, rebuilt from what parseHash understood (a deep link such as
// #/requests/<id> survives the login; nothing else rides along).
export function returnTarget(hash: string): string {
  const r = parseHash(hash);
  if (r.name === 'login' || r.name === 'not_found') return DEFAULT_HASH;
  return buildHash(r.name, r.param, r.query);
}
