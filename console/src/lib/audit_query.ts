// Audit filters -> query strings for GET /api/v1/audit and the CSV export.
// hoistd refuses unknown filters, so only its names are ever sent, in a
// fixed order (docs/api.md, "Pagination and filters").

export interface AuditFilters {
  since?: string; // RFC 3339
  until?: string; // RFC 3339
  actor?: string;
  action?: string;
  target?: string;
  host?: string;
}

export const AUDIT_FILTER_KEYS = ['since', 'until', 'actor', 'action', 'target', 'host'] as const;

export function auditQuery(filters: AuditFilters, page: { after?: number | null; limit?: number } = {}): string {
  const q = new URLSearchParams();
  for (const key of AUDIT_FILTER_KEYS) {
    const v = filters[key]?.trim();
    if (v) q.set(key, v);
  }
  if (page.after !== undefined && page.after !== null) q.set('after', String(page.after));
  if (page.limit !== undefined) q.set('limit', String(Math.max(1, Math.min(1000, Math.floor(page.limit)))));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function auditUrl(filters: AuditFilters, page: { after?: number | null; limit?: number } = {}): string {
  return `/api/v1/audit${auditQuery(filters, page)}`;
}

// The CSV export takes the same filters, never a page.
export function auditCsvUrl(filters: AuditFilters): string {
  return `/api/v1/audit/export.csv${auditQuery(filters)}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

// A <input type="datetime-local"> value ("2026-05-01T14:05", read in the
// browser's zone) to RFC 3339 UTC without fractions ("2026-05-01T12:05:00Z"),
// the form hoistd's parse_timestamp reads. "" or garbage: undefined.
export function localInputToRfc3339(value: string): string | undefined {
  if (!value) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!m) return undefined;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? '0'));
  if (Number.isNaN(d.getTime())) return undefined;
  return toRfc3339(d);
}

export function toRfc3339(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())}Z`;
}

// The reverse, for showing a filter from the URL in the form.
export function rfc3339ToLocalInput(value: string | undefined): string {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// Filters from the route's query (#/audit?action=...), keeping known keys only.
export function filtersFromQuery(query: Record<string, string>): AuditFilters {
  const out: AuditFilters = {};
  for (const key of AUDIT_FILTER_KEYS) {
    const v = query[key];
    if (v) out[key] = v;
  }
  if (!out.target && query.request) out.target = query.request;
  return out;
}
