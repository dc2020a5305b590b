// A temporary admin session's timeline: every recorded elevated process
// (audit action endpoint.process whose details.session is the session's
// grant id, docs/agent.md) in time order, and the grant's own lifecycle.

import { knownKind } from './audit_kinds';
import type { AuditEvent } from './types';

export interface ProcessRow {
  seq: number;
  time: string;
  endpointTime: string | null;
  host: string;
  user: string;
  runas: string;
  command: string;
  argv: string[];
  sha256: string;
  action: string; // allow / deny
  rule: string;
  reason: string;
  pid: number | null;
  ppid: number | null;
  cwd: string;
  tty: string;
}

function d(e: AuditEvent): Record<string, unknown> {
  return typeof e.details === 'object' && e.details !== null ? e.details : {};
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

function eventOrder(a: { time: string; endpointTime?: string | null; seq: number }, b: typeof a): number {
  // The endpoint's own clock orders what happened there (events may be
  // uploaded late, in batches); the trail's seq breaks ties.
  const ta = Date.parse(a.endpointTime || a.time);
  const tb = Date.parse(b.endpointTime || b.time);
  if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return ta - tb;
  return a.seq - b.seq;
}

export function sessionProcesses(events: AuditEvent[], sessionId: string): ProcessRow[] {
  const seen = new Set<number>();
  const rows: ProcessRow[] = [];
  for (const e of events) {
    if (knownKind(e.action) !== 'endpoint.process' || seen.has(e.seq)) continue;
    const det = d(e);
    if (det.session !== sessionId) continue;
    seen.add(e.seq);
    rows.push({
      seq: e.seq,
      time: e.time,
      endpointTime: str(det.endpoint_time) || null,
      host: e.host,
      user: str(det.user),
      runas: str(det.runas),
      command: str(det.command),
      argv: Array.isArray(det.argv) ? det.argv.map(String) : [],
      sha256: str(det.sha256),
      action: str(det.action),
      rule: str(det.rule),
      reason: str(det.reason),
      pid: num(det.pid),
      ppid: num(det.ppid),
      cwd: str(det.cwd),
      tty: str(det.tty),
    });
  }
  return rows.sort(eventOrder);
}

// The grant's lifecycle events (created, approved, used, revoked, expired...)
// in order, without the process events.
export function lifecycle(events: AuditEvent[], id: string): AuditEvent[] {
  const seen = new Set<number>();
  return events
    .filter((e) => {
      if (seen.has(e.seq) || e.target !== id || knownKind(e.action) === 'endpoint.process') return false;
      seen.add(e.seq);
      return true;
    })
    .sort((a, b) => a.seq - b.seq);
}
