// Browser notifications of new requests ("Notify me of new requests" in
// the queue): which requests are new to this tab, and what each
// notification says. Pure; tests in tests/request_alerts.test.ts.
//
// MUST: permission is asked only when the technician clicks (never on
// load), and the choice is remembered in localStorage.
// MUST: no notification for the requests present when the tab loaded, for
// one this tab has already seen, or for the technician's own request.
// MUST: a notification's text is plain text (the Notification API shows
// no HTML): hidden characters shown, blanks flattened, cut on whole
// characters. Its tag is the request id, so two tabs raise one.

import { shortText } from './audit_sentence';
import { formatArgv, formatDuration } from './format';
import { buildHash } from './router';
import type { ElevationRequest } from './types';

export const ALERT_PREF_KEY = 'hoist.notifyNewRequests';

export type AlertPref = 'on' | 'off';

// The browser's answer, or 'unsupported' (no Notification API, or a page
// that is not a secure context).
export type AlertPermission = 'default' | 'granted' | 'denied' | 'unsupported';

export function readAlertPref(storage: Pick<Storage, 'getItem'> | null): AlertPref {
  try {
    return storage?.getItem(ALERT_PREF_KEY) === 'on' ? 'on' : 'off';
  } catch {
    return 'off'; // storage refused (a privacy mode)
  }
}

export function writeAlertPref(storage: Pick<Storage, 'setItem'> | null, pref: AlertPref): void {
  try {
    storage?.setItem(ALERT_PREF_KEY, pref);
  } catch {
    // not remembered: this tab still follows the choice
  }
}

// What the queue's control offers.
export type AlertControl = 'unsupported' | 'blocked' | 'on' | 'off';

export function alertControl(permission: AlertPermission, pref: AlertPref): AlertControl {
  if (permission === 'unsupported') return 'unsupported';
  if (permission === 'denied') return 'blocked';
  return permission === 'granted' && pref === 'on' ? 'on' : 'off';
}

type Pending = Pick<ElevationRequest, 'id' | 'state' | 'requester'>;

// Which requests of a new list of pending ones to announce. `seen` is null
// until the tab's first list: that one only becomes what was seen.
export function newRequests<T extends Pending>(seen: ReadonlySet<string> | null, pending: readonly T[], me: string): { seen: Set<string>; fresh: T[] } {
  const next = new Set(seen ?? []);
  const fresh: T[] = [];
  for (const r of pending) {
    if (r.state !== 'pending' || next.has(r.id)) continue;
    next.add(r.id);
    if (seen !== null && r.requester !== me) fresh.push(r);
  }
  return { seen: next, fresh };
}

export interface Alert {
  title: string;
  body: string;
  tag: string;
  // the page a click opens
  hash: string;
}

export const ALERT_TITLE_MAX = 64;
export const ALERT_LINE_MAX = 120;
// More new requests at once than this make one notification, not a pile.
export const ALERT_BATCH_MAX = 3;

// Typed text on one line: blanks (line breaks too) flattened, hidden
// characters shown, cut on whole characters.
export function plainLine(text: string, max: number): string {
  return shortText(text.replace(/\s+/g, ' ').trim(), max);
}

type Alerted = Pick<ElevationRequest, 'id' | 'kind' | 'requester' | 'host' | 'justification' | 'requested_duration_s' | 'command'>;

export function alertFor(r: Alerted): Alert {
  const what =
    r.kind === 'session' ? 'A temporary admin session' : formatArgv(r.command.argv.length > 0 ? r.command.argv : [r.command.path]).replace(/\s+/g, ' ');
  const lines = [`${plainLine(what, ALERT_LINE_MAX)} for ${formatDuration(r.requested_duration_s)}`];
  if (r.justification.trim()) lines.push(`“${plainLine(r.justification, ALERT_LINE_MAX)}”`);
  return {
    title: plainLine(`Root request: ${r.requester} on ${r.host}`, ALERT_TITLE_MAX),
    body: lines.join('\n'),
    tag: r.id,
    hash: buildHash('request', r.id),
  };
}

// The notifications for requests that arrived together: one each, or one
// for the lot when there are more than ALERT_BATCH_MAX.
export function alertsFor(fresh: readonly Alerted[]): Alert[] {
  if (fresh.length <= ALERT_BATCH_MAX) return fresh.map(alertFor);
  const who = [...new Set(fresh.map((r) => r.requester))];
  return [
    {
      title: `${fresh.length} new root requests`,
      body: plainLine(`From ${who.slice(0, 5).join(', ')}${who.length > 5 ? ` and ${who.length - 5} more` : ''}`, ALERT_LINE_MAX),
      tag: 'hoist-new-requests',
      hash: buildHash('queue'),
    },
  ];
}

// No notification while the technician is looking at the queue itself,
// where the request shows at once; they are marked seen all the same.
export function watching(view: { visible: boolean; focused: boolean; onQueue: boolean }): boolean {
  return view.visible && view.focused && view.onQueue;
}
