// Requests per day by outcome, from audit events (the JIT events report's
// chart), and the bar geometry the inline SVG draws. Pure; days are UTC,
// like the audit trail's times.

import { knownKind, type AuditKind } from './audit_kinds';
import type { AuditEvent } from './types';

export const OUTCOMES = ['approved', 'auto_approved', 'self_approved', 'denied', 'refused', 'expired', 'cancelled'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const OUTCOME_LABELS: Record<Outcome, string> = {
  approved: 'Approved by a technician',
  auto_approved: 'Approved automatically',
  self_approved: 'Self-approved',
  denied: 'Denied',
  refused: 'Refused by policy',
  expired: 'Expired unanswered',
  cancelled: 'Cancelled',
};

// The audit actions the chart needs (one query each; hoistd filters by
// exact action).
export const CHART_ACTIONS = [
  'request.created',
  'request.approved',
  'request.denied',
  'request.refused',
  'request.expired',
  'request.cancelled',
] as const satisfies readonly AuditKind[];

export interface DayBucket {
  day: string; // YYYY-MM-DD (UTC)
  requested: number;
  counts: Record<Outcome, number>;
  total: number; // sum of counts
}

function emptyCounts(): Record<Outcome, number> {
  return {
    approved: 0,
    auto_approved: 0,
    self_approved: 0,
    denied: 0,
    refused: 0,
    expired: 0,
    cancelled: 0,
  };
}

function detail(e: AuditEvent, key: string): unknown {
  return typeof e.details === 'object' && e.details !== null ? e.details[key] : undefined;
}

// The outcome an audit event records, or null when it records none
// (request.created is counted separately; grant.* events are not outcomes
// of the request).
export function outcomeOf(e: AuditEvent): Outcome | null {
  switch (knownKind(e.action)) {
    case 'request.approved': {
      const by = detail(e, 'by');
      if (by === 'autonomous' || e.actor.startsWith('auto-approval:')) return 'auto_approved';
      if (by === 'self') return 'self_approved';
      return 'approved';
    }
    case 'request.denied':
      return 'denied';
    case 'request.refused':
      return 'refused';
    case 'request.expired':
      return 'expired';
    case 'request.cancelled':
      return 'cancelled';
    default:
      return null;
  }
}

export function utcDay(iso: string): string | null {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return null;
  return new Date(t).toISOString().slice(0, 10);
}

function nextDay(day: string): string {
  const t = Date.parse(`${day}T00:00:00Z`) + 86400000;
  return new Date(t).toISOString().slice(0, 10);
}

// One bucket per day from `fromDay` to `toDay` inclusive (both YYYY-MM-DD;
// when absent, the range the events span), with empty days kept so the
// chart's axis is even. Events are counted once each (by seq), so
// overlapping pages cannot double a bar.
export function requestsPerDay(events: AuditEvent[], range: { fromDay?: string; toDay?: string } = {}): DayBucket[] {
  const seen = new Set<number>();
  const byDay = new Map<string, DayBucket>();
  let minDay: string | undefined;
  let maxDay: string | undefined;
  const bucket = (day: string): DayBucket => {
    let b = byDay.get(day);
    if (!b) {
      b = { day, requested: 0, counts: emptyCounts(), total: 0 };
      byDay.set(day, b);
    }
    return b;
  };
  for (const e of events) {
    if (seen.has(e.seq)) continue;
    seen.add(e.seq);
    const outcome = outcomeOf(e);
    if (knownKind(e.action) !== 'request.created' && outcome === null) continue;
    const day = utcDay(e.time);
    if (!day) continue;
    if (range.fromDay && day < range.fromDay) continue;
    if (range.toDay && day > range.toDay) continue;
    if (!minDay || day < minDay) minDay = day;
    if (!maxDay || day > maxDay) maxDay = day;
    const b = bucket(day);
    if (outcome === null) {
      b.requested += 1;
    } else {
      b.counts[outcome] += 1;
      b.total += 1;
    }
  }
  const from = range.fromDay ?? minDay;
  const to = range.toDay ?? maxDay;
  if (!from || !to || from > to) return [];
  const out: DayBucket[] = [];
  // At most 400 days drawn: a wider range is cut to its last 400 days.
  let day = from;
  const days: string[] = [];
  while (day <= to) {
    days.push(day);
    day = nextDay(day);
  }
  for (const d of days.slice(-400)) out.push(byDay.get(d) ?? { day: d, requested: 0, counts: emptyCounts(), total: 0 });
  return out;
}

export interface BarSegment {
  outcome: Outcome;
  x: number;
  y: number;
  width: number;
  height: number;
  value: number;
}

export interface ChartGeometry {
  bars: Array<{ day: string; x: number; segments: BarSegment[]; total: number }>;
  max: number; // the y axis' top value
  ticks: Array<{ value: number; y: number }>;
}

// A nice axis top (1, 2, 5 x 10^n) at or above `n`.
export function niceMax(n: number): number {
  if (n <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

// Stacked bars in a plot area of `width` x `height` (SVG units, y down).
export function chartGeometry(buckets: DayBucket[], width: number, height: number): ChartGeometry {
  const maxTotal = buckets.reduce((m, b) => Math.max(m, b.total), 0);
  const max = niceMax(maxTotal);
  const slot = buckets.length > 0 ? width / buckets.length : width;
  const barWidth = Math.max(1, slot * 0.7);
  const bars = buckets.map((b, i) => {
    const x = i * slot + (slot - barWidth) / 2;
    let top = height;
    const segments: BarSegment[] = [];
    for (const outcome of OUTCOMES) {
      const value = b.counts[outcome];
      if (value === 0) continue;
      const h = (value / max) * height;
      top -= h;
      segments.push({ outcome, x, y: top, width: barWidth, height: h, value });
    }
    return { day: b.day, x, segments, total: b.total };
  });
  // Counts are whole: a half tick only when it is a whole number.
  const ticks = [0, 0.5, 1]
    .filter((f) => Number.isInteger(max * f))
    .map((f) => ({ value: max * f, y: height - f * height }));
  return { bars, max, ticks };
}
