// Enrolment tokens as the audit trail records them. hoistd has no route
// that lists enrolment tokens (docs/api.md), so the console rebuilds the
// list from `enrolment_token.created` / `enrolment_token.revoked` events and
// counts `endpoint.enrolled` events per token. The secret is never in the
// trail: it is shown once, when the token is made.

import type { AuditEvent } from './types';

export interface EnrolmentTokenRow {
  id: string;
  labels: string[];
  uses: number | null;
  used: number;
  expires_at: string | null;
  created_by: string;
  created_at: string;
  revoked_at: string | null;
}

function details(e: AuditEvent): Record<string, unknown> {
  return typeof e.details === 'object' && e.details !== null ? e.details : {};
}

export function enrolmentTokens(events: AuditEvent[]): EnrolmentTokenRow[] {
  const rows = new Map<string, EnrolmentTokenRow>();
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  for (const e of sorted) {
    const d = details(e);
    if (e.action === 'enrolment_token.created') {
      rows.set(e.target, {
        id: e.target,
        labels: Array.isArray(d.labels) ? d.labels.map(String) : [],
        uses: typeof d.uses === 'number' ? d.uses : null,
        used: 0,
        expires_at: typeof d.expires_at === 'string' ? d.expires_at : null,
        created_by: e.actor,
        created_at: e.time,
        revoked_at: null,
      });
    } else if (e.action === 'enrolment_token.revoked') {
      const r = rows.get(e.target);
      if (r) r.revoked_at = e.time;
    } else if (e.action === 'endpoint.enrolled' && typeof d.enrolment_token === 'string') {
      const r = rows.get(d.enrolment_token);
      if (r) r.used += 1;
    }
  }
  return [...rows.values()].reverse(); // newest first
}

export function tokenState(row: EnrolmentTokenRow, nowMs: number): 'revoked' | 'expired' | 'used up' | 'active' {
  if (row.revoked_at) return 'revoked';
  if (row.expires_at && Date.parse(row.expires_at) <= nowMs) return 'expired';
  if (row.uses !== null && row.used >= row.uses) return 'used up';
  return 'active';
}
