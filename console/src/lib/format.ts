// Durations, waits and times as people read them; pure, unit-tested.

// The promise technicians keep: a request answered within two minutes.
export const ANSWER_TARGET_S = 120;

// "45s", "15m", "1h 30m", "2d 3h": the two largest units that are not zero.
export function formatDuration(totalSeconds: number): string {
  if (!Number.isFinite(totalSeconds)) return '—';
  let s = Math.max(0, Math.floor(totalSeconds));
  if (s === 0) return '0s';
  const units: Array<[string, number]> = [
    ['w', 7 * 86400],
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  for (const [name, size] of units) {
    if (s >= size) {
      const n = Math.floor(s / size);
      s -= n * size;
      parts.push(`${n}${name}`);
    } else if (parts.length > 0) {
      break; // "1h 0m 5s" reads worse than "1h"
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

// A wait on the 2-minute clock: "0:07", "1:59", "12:03", "2:04:10".
export function formatWait(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const ss = String(sec).padStart(2, '0');
  if (h > 0) return `${h}:${String(m).padStart(2, '0')}:${ss}`;
  return `${m}:${ss}`;
}

export interface WaitState {
  waitedS: number;
  // 0..1 of the target, for the progress bar
  fraction: number;
  overdue: boolean;
  label: string;
}

export function waitState(createdAtIso: string, nowMs: number, targetS = ANSWER_TARGET_S): WaitState {
  const created = Date.parse(createdAtIso);
  const waitedS = Number.isNaN(created) ? 0 : Math.max(0, Math.floor((nowMs - created) / 1000));
  const overdue = waitedS >= targetS;
  return {
    waitedS,
    fraction: Math.min(1, waitedS / targetS),
    overdue,
    label: overdue
      ? `waited ${formatWait(waitedS)}, past the ${formatDuration(targetS)} target`
      : `waited ${formatWait(waitedS)} of ${formatDuration(targetS)}`,
  };
}

// Seconds left until an ISO deadline (0 once past).
export function secondsUntil(deadlineIso: string | null, nowMs: number): number {
  if (!deadlineIso) return 0;
  const t = Date.parse(deadlineIso);
  if (Number.isNaN(t)) return 0;
  return Math.max(0, Math.floor((t - nowMs) / 1000));
}

// Policy-style durations ("90s", "15m", "1h30m", "1d", "1w", with optional
// blanks between parts) to seconds; null when it is not one.
export function parseDuration(text: string): number | null {
  const t = text.trim().toLowerCase().replace(/\s+/g, '');
  if (t === '') return null;
  if (/^\d+$/.test(t)) return Number(t) * 60; // a bare number is minutes in the approve box
  const re = /(\d+)(w|d|h|m|s)/gy;
  const size: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(t); m !== null; m = re.exec(t)) {
    total += Number(m[1]) * (size[m[2] ?? 's'] ?? 1);
    consumed = re.lastIndex;
  }
  if (consumed !== t.length || total <= 0) return null;
  return total;
}

// Seconds to a policy duration ("1h30m"), the inverse of parseDuration.
export function policyDuration(totalSeconds: number): string {
  let s = Math.max(1, Math.floor(totalSeconds));
  const units: Array<[string, number]> = [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  let out = '';
  for (const [name, size] of units) {
    if (s >= size) {
      const n = Math.floor(s / size);
      s -= n * size;
      out += `${n}${name}`;
    }
  }
  return out;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

// "2026-05-01 14:05:03" in the browser's zone; "—" for null.
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(
    d.getMinutes(),
  )}:${pad(d.getSeconds())}`;
}

// "just now", "5m ago", "3h ago", "2d ago".
export function formatAgo(iso: string | null | undefined, nowMs: number): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.floor((nowMs - t) / 1000);
  if (s < 10) return 'just now';
  return `${formatDuration(s).split(' ')[0]} ago`;
}

// Text other people wrote (argv, a justification, a comment), made safe
// to read as the core's visible_text (src/core/display_text.h) does:
// controls, and the characters that reorder text or show as nothing (bidi
// overrides, zero-width characters, variation selectors, fillers, tags),
// are shown as \u{XXXX}, so an approver reads what is stored.
const HIDDEN =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb]|\u{1bca0}|\u{1bca1}|\u{1bca2}|\u{1bca3}|[\u{1d173}-\u{1d17a}]|[\u{e0000}-\u{e0fff}]/gu;
export function visibleText(text: string): string {
  return text.replace(HIDDEN, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}}`);
}

// The command line as typed: argv joined, with quotes where a shell would
// need them, so "rm -rf '/tmp/a b'" is not misread, and hidden characters
// shown (visibleText).
export function formatArgv(argv: string[]): string {
  return argv
    .map((a) => (a === '' || /[^\w@%+=:,./-]/.test(a) ? `'${a.replace(/'/g, `'\\''`)}'` : a))
    .map(visibleText)
    .join(' ');
}

// An endpoint is online when it sent a heartbeat within three sync
// intervals (the agent syncs every 60 s, src/agent/daemon.h).
export const ONLINE_WINDOW_S = 180;

export function endpointStatus(
  e: { last_seen: string | null; retired_at: string | null },
  nowMs: number,
): 'online' | 'offline' | 'retired' {
  if (e.retired_at) return 'retired';
  if (!e.last_seen) return 'offline';
  const t = Date.parse(e.last_seen);
  return !Number.isNaN(t) && nowMs - t <= ONLINE_WINDOW_S * 1000 ? 'online' : 'offline';
}
