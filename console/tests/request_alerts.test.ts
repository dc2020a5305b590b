import { describe, expect, it } from 'vitest';
import {
  ALERT_PREF_KEY,
  alertControl,
  alertFor,
  alertsFor,
  newRequests,
  plainLine,
  readAlertPref,
  watching,
  writeAlertPref,
} from '../src/lib/request_alerts';
import type { ElevationRequest } from '../src/lib/types';

function req(id: string, over: Partial<ElevationRequest> = {}): ElevationRequest {
  return {
    id,
    version: 1,
    kind: 'command',
    state: 'pending',
    stored_state: 'pending',
    requester: 'alice',
    groups: [],
    host: 'laptop-7',
    endpoint_id: 'ep-1',
    rule: 'installs',
    justification: 'ticket 4711',
    requested_duration_s: 1800,
    max_duration_s: 0,
    approval_mode: 'manual',
    self_approval_allowed: false,
    created_at: '2026-03-02T10:00:00Z',
    pending_deadline: '2026-03-02T11:00:00Z',
    review: null,
    grant_start: null,
    grant_deadline: null,
    time_left_s: 0,
    ended_at: null,
    ended_by: '',
    end_reason: '',
    command: { path: '/usr/bin/apt-get', argv: ['apt-get', 'install', 'nginx'], sha256: null, package: 'apt' },
    ...over,
  };
}

const ids = (rs: ElevationRequest[]) => rs.map((r) => r.id);

describe('which requests are new to this tab', () => {
  it('announces none of those present at load', () => {
    const first = newRequests(null, [req('req-1'), req('req-2')], 'bob');
    expect(first.fresh).toEqual([]);
    expect([...first.seen].sort()).toEqual(['req-1', 'req-2']);
  });

  it('announces a request once, the first time it shows', () => {
    const a = newRequests(null, [req('req-1')], 'bob');
    const b = newRequests(a.seen, [req('req-1'), req('req-2')], 'bob');
    expect(ids(b.fresh)).toEqual(['req-2']);
    const c = newRequests(b.seen, [req('req-2'), req('req-3')], 'bob');
    expect(ids(c.fresh)).toEqual(['req-3']);
    // the same list again (a reload, another event): nothing
    expect(newRequests(c.seen, [req('req-2'), req('req-3')], 'bob').fresh).toEqual([]);
    // a request gone (decided) and the list shown again without it: nothing comes back
    expect(newRequests(c.seen, [req('req-3')], 'bob').fresh).toEqual([]);
  });

  it('an empty first list is a first list: what comes after is new', () => {
    const a = newRequests(null, [], 'bob');
    expect(ids(newRequests(a.seen, [req('req-9')], 'bob').fresh)).toEqual(['req-9']);
  });

  it('never announces the technician’s own request, nor one that is not pending', () => {
    const a = newRequests(null, [], 'alice');
    const b = newRequests(a.seen, [req('req-1'), req('req-2', { requester: 'bob' }), req('req-3', { requester: 'carol', state: 'approved' })], 'alice');
    expect(ids(b.fresh)).toEqual(['req-2']);
    // own requests are seen all the same: not announced later either
    expect(b.seen.has('req-1')).toBe(true);
    expect(newRequests(b.seen, [req('req-1'), req('req-2')], 'bob').fresh).toEqual([]);
  });

  it('does not change the set it was given', () => {
    const seen = new Set(['req-1']);
    newRequests(seen, [req('req-2')], 'bob');
    expect([...seen]).toEqual(['req-1']);
  });
});

describe('what a notification says', () => {
  it('names who, where, what, for how long and why, and opens the request', () => {
    expect(alertFor(req('req-019c2b1e4a00-3f2a9b1c'))).toEqual({
      title: 'Root request: alice on laptop-7',
      body: 'apt-get install nginx for 30m\n“ticket 4711”',
      tag: 'req-019c2b1e4a00-3f2a9b1c',
      hash: '#/requests/req-019c2b1e4a00-3f2a9b1c',
    });
    const session = alertFor(req('req-2', { kind: 'session', justification: '  ', requested_duration_s: 3600 }));
    expect(session.body).toBe('A temporary admin session for 1h');
  });

  it('keeps typed text plain: markup as characters, hidden ones shown, lines flattened, cut on whole characters', () => {
    const a = alertFor(
      req('req-3', {
        requester: 'mallory\u202e',
        justification: `<img src=x onerror=alert(1)>\nline two ${'😀'.repeat(200)}`,
        command: { path: '/bin/sh', argv: ['sh', '-c', 'echo <b>hi</b>\n\trm'], sha256: null, package: '' },
      }),
    );
    expect(a.title).toBe('Root request: mallory\\u{202E} on laptop-7');
    const [what, why] = a.body.split('\n');
    expect(a.body.split('\n')).toHaveLength(2);
    expect(what).toBe(`sh -c 'echo <b>hi</b>\\u{000A}\\u{0009}rm' for 30m`);
    expect(why?.startsWith('“<img src=x onerror=alert(1)> line two 😀')).toBe(true);
    // 120 whole characters inside the quotes, the last an ellipsis; no half emoji
    expect(Array.from(why!.slice(1, -1))).toHaveLength(120);
    expect(why!.endsWith('…”')).toBe(true);
    expect(why).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });

  it('cuts the title and a line to their lengths', () => {
    expect(Array.from(alertFor(req('req-4', { host: 'h'.repeat(200) })).title)).toHaveLength(64);
    expect(plainLine('a\r\n\tb   c', 10)).toBe('a b c');
  });

  it('makes one notification for many requests at once', () => {
    const three = [req('req-1'), req('req-2'), req('req-3')];
    expect(alertsFor(three).map((a) => a.tag)).toEqual(['req-1', 'req-2', 'req-3']);
    const many = [...three, req('req-4', { requester: 'bob' })];
    expect(alertsFor(many)).toEqual([{ title: '4 new root requests', body: 'From alice, bob', tag: 'hoist-new-requests', hash: '#/queue' }]);
  });
});

describe('the choice and the control', () => {
  function memory(initial: Record<string, string> = {}) {
    const m = new Map(Object.entries(initial));
    return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), m };
  }

  it('remembers the choice, off unless turned on', () => {
    const s = memory();
    expect(readAlertPref(s)).toBe('off');
    writeAlertPref(s, 'on');
    expect(s.m.get(ALERT_PREF_KEY)).toBe('on');
    expect(readAlertPref(s)).toBe('on');
    expect(readAlertPref(memory({ [ALERT_PREF_KEY]: 'yes' }))).toBe('off');
    expect(readAlertPref(null)).toBe('off');
  });

  it('survives storage that refuses', () => {
    const broken = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
    };
    expect(readAlertPref(broken)).toBe('off');
    expect(() => writeAlertPref(broken, 'on')).not.toThrow();
  });

  it.each([
    ['unsupported', 'on', 'unsupported'],
    ['denied', 'on', 'blocked'],
    ['denied', 'off', 'blocked'],
    ['granted', 'on', 'on'],
    ['granted', 'off', 'off'],
    ['default', 'on', 'off'],
    ['default', 'off', 'off'],
  ] as const)('permission %s, choice %s: %s', (permission, pref, control) => {
    expect(alertControl(permission, pref)).toBe(control);
  });

  it('stays quiet only while the queue is in front of the technician', () => {
    expect(watching({ visible: true, focused: true, onQueue: true })).toBe(true);
    expect(watching({ visible: true, focused: true, onQueue: false })).toBe(false);
    expect(watching({ visible: true, focused: false, onQueue: true })).toBe(false);
    expect(watching({ visible: false, focused: true, onQueue: true })).toBe(false);
  });
});
