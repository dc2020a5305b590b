// Request history filters -> GET /api/v1/requests query strings. hoistd
// refuses unknown filters, so only its names are sent, in a fixed order
// (docs/api.md, "Pagination and filters"). The history is newest first.

import type { ElevationRequest, RequestState } from './types';

export const REQUEST_STATES: readonly RequestState[] = ['pending', 'approved', 'active', 'denied', 'cancelled', 'expired', 'revoked'];

export interface RequestFilters {
  state?: RequestState;
  user?: string;
  host?: string;
  since?: string; // RFC 3339
  until?: string; // RFC 3339
  text?: string;
}

export const REQUEST_FILTER_KEYS = ['state', 'user', 'host', 'since', 'until', 'text'] as const;

// hoistd's limit on `text` (bytes of UTF-8).
export const MAX_SEARCH_TEXT_BYTES = 256;

export function requestHistoryUrl(filters: RequestFilters, page: { after?: string | null; limit?: number } = {}): string {
  const q = new URLSearchParams();
  for (const key of REQUEST_FILTER_KEYS) {
    const v = filters[key]?.trim();
    if (v) q.set(key, v);
  }
  q.set('order', 'newest');
  if (page.after) q.set('after', page.after);
  if (page.limit !== undefined) q.set('limit', String(Math.max(1, Math.min(1000, Math.floor(page.limit)))));
  return `/api/v1/requests?${q.toString()}`;
}

function isState(v: string | undefined): v is RequestState {
  return v !== undefined && (REQUEST_STATES as readonly string[]).includes(v);
}

// Filters from the route's query (#/requests?state=denied&user=...),
// keeping known keys and values only.
export function requestFiltersFromQuery(query: Record<string, string>): RequestFilters {
  const out: RequestFilters = {};
  if (isState(query.state)) out.state = query.state;
  for (const key of ['user', 'host', 'since', 'until', 'text'] as const) {
    const v = query[key];
    if (v) out[key] = v;
  }
  return out;
}

// Cuts search text to what hoistd takes (whole characters only).
export function clampSearchText(text: string): string {
  const enc = new TextEncoder();
  let out = '';
  for (const ch of Array.from(text)) {
    if (enc.encode(out + ch).length > MAX_SEARCH_TEXT_BYTES) break;
    out += ch;
  }
  return out;
}

// Who decided a request and how, in a few words: "approved by bob",
// "denied by bob", "approved at once (autonomous)", "withdrawn by alice",
// "expired unanswered", "revoked by carol", "waiting".
export function decisionSummary(r: Pick<ElevationRequest, 'state' | 'review' | 'ended_by' | 'requester'>): string {
  const review = r.review;
  const by = review
    ? review.by === 'autonomous'
      ? ' at once (auto-approval)'
      : review.by === 'self'
        ? ` by ${r.requester} (self-approval)`
        : ` by ${review.reviewer}`
    : '';
  switch (r.state) {
    case 'pending':
      return 'waiting for a decision';
    case 'approved':
    case 'active':
      return `approved${by}`;
    case 'denied':
      return `denied${by}`;
    case 'cancelled':
      return `withdrawn${r.ended_by ? ` by ${r.ended_by}` : ''}`;
    case 'expired':
      return review?.approved ? `approved${by}; the grant has ended` : 'expired without an answer';
    case 'revoked':
      return `approved${by}; revoked${r.ended_by ? ` by ${r.ended_by}` : ''}`;
  }
}
