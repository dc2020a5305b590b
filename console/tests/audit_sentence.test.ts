import { describe, expect, it } from 'vitest';
import { AUDIT_KINDS } from '../src/lib/audit_kinds';
import { LINE_TEXT_MAX, SENTENCES, actorLabel, describeEvent, detailRows, policyChange, shortText } from '../src/lib/audit_sentence';
import type { AuditEvent } from '../src/lib/types';

function ev(action: string, details: Record<string, unknown> = {}, more: Partial<AuditEvent> = {}): AuditEvent {
  return { seq: 7, time: '2026-03-02T10:00:00Z', actor: 'admin', action, target: 'req-1', host: 'laptop-7', details, ...more };
}

// Details as hoistd and the agent write them (docs/audit.md), one event per kind.
const TYPICAL: Record<string, Record<string, unknown>> = {
  'request.created': {
    requester: 'alice', kind: 'command', path: '/usr/bin/apt-get', argv: ['apt-get', 'install', 'nginx'], runas: 'root',
    runas_group: '', sha256: 'ab'.repeat(32), rule: 'installs', approval_mode: 'manual', justification: 'ticket 4711', requested_duration_s: 1800,
  },
  'request.refused': { user: 'alice', path: '/usr/bin/shred', rule: 'no-shred', reason: 'rule "no-shred" denies it' },
  'request.throttled': { throttled: 1939, by_endpoint_limit: 1900, first_at: '2026-03-02T10:00:00Z', last_at: '2026-03-02T10:00:09Z', last_user: 'mallory' },
  'request.approved': { by: 'approver', comment: 'ok', state: 'approved', requester: 'alice', grant_deadline: '2026-03-02T10:30:00Z' },
  'request.denied': { comment: 'use the ticket queue', state: 'denied', requester: 'alice' },
  'request.cancelled': { user: 'alice', state: 'cancelled', requester: 'alice' },
  'request.expired': { state: 'expired', requester: 'alice' },
  'grant.revoked': { reason: 'done early', state: 'revoked', requester: 'alice' },
  'grant.expired': { state: 'expired', requester: 'alice' },
  'policy.version_added': { version: 3, comment: 'fdisk on request', diff: '--- v2\n+++ v3\n@@ -1,2 +1,3 @@\n a\n+b\n-c\n', diff_truncated: false },
  'policy.assigned': { labels: ['lab', 'kiosks'], previous_labels: ['lab'] },
  'policy.deleted': {},
  'enrolment_token.created': { labels: ['lab'], uses: 1, expires_at: '2026-03-03T10:00:00Z' },
  'enrolment_token.revoked': {},
  'endpoint.enrolled': { enrolment_token: 'tok', labels: ['lab'], agent_version: '0.1.0', remote: '192.0.2.7' },
  'endpoint.retired': {},
  'endpoint.codes_key_rotated': { old_generation: 1, new_generation: 2 },
  'endpoint.events_throttled': { uploads: 12, events: 11000, first_at: '2026-03-02T10:00:00Z', last_at: '2026-03-02T10:00:09Z' },
  'code.issued': { endpoint: 'ep', user: 'alice', duration_s: 3600, command: '', reason: 'no network', generation: 1, kind: 'response', nonce: 5, issued_code_id: 9 },
  'user.created': { role: 'approver' },
  'user.updated': { role: 'auditor', password_changed: true, sessions_revoked: 2, tokens_revoked: 1 },
  'user.login': { remote: '192.0.2.10' },
  'user.login_failed': { remote: '192.0.2.10', reason: 'wrong password' },
  'user.logout': {},
  'token.created': { label: 'ci', expires_at: '2026-06-01T00:00:00Z' },
  'token.used': { label: 'ci' },
  'token.revoked': { user: 'bob' },
  'endpoint.decisions.counted': { user: 'mallory', uid: 1001, count: 438, first_ms: 1772445600000, last_ms: 1772445659000 },
  'endpoint.decision': { user: 'alice', uid: 1000, runas: 'root', argv: ['id'], action: 'allow', rule: 'tools', reason: 'rule "tools" allows it', tty: 'pts/0', command: '/usr/bin/id' },
  'endpoint.edit': { user: 'alice', uid: 1000, runas: 'root', action: 'deny', rule: '', reason: 'no rule', files: ['/etc/hosts'], editor: 'vi' },
  'endpoint.grant.used': { user: 'alice', runas: 'root', argv: ['apt-get', 'install', 'nginx'], action: 'allow', command: '/usr/bin/apt-get' },
  'endpoint.process': { session: 'req-9', user: 'alice', runas: 'root', command: '/usr/bin/systemctl', argv: ['systemctl', 'restart', 'nginx'], action: 'allow', pid: 4101 },
  'endpoint.session.requested': { request: 'req-9', user: 'alice', uid: 1000, tty: 'pts/1' },
  'endpoint.request.self_approved': { request: 'req-9', user: 'alice', uid: 1000, state: 'approved' },
  'endpoint.code.used': { code_kind: 'response', ref: 5, generation: 1, user: 'alice', duration_s: 3600, command: '', matched: true, issued_code_id: 9 },
  'endpoint.code.refused': { user: 'alice', uid: 1000, tty: 'pts/0', code_kind: 'response', command: '', failures: 3, reason: 'the code does not fit' },
  'endpoint.codes_key.installed': { generation: 2, previous_generation: 1 },
  'endpoint.break_glass': { spool_file: '/var/spool/hoist/1', user: 'alice', argv: ['id'] },
  'endpoint.spool.rejected': { spool_file: '/var/spool/hoist/x', problem: 'not a regular file' },
  'endpoint.event.quarantined': { event_id: 'e1', kind: 'decision', event_time_ms: 1, payload_bytes: 99999, reason: 'too large' },
  'access.denied': { method: 'POST', route: '/api/v1/notify/channels', role: 'approver', needs: 'admin' },
  'notify.channel_created': { kind: 'webhook', name: 'ops-hook', config: { url: 'https://hooks.example/x' }, events: ['request.*'], enabled: true },
  'notify.channel_updated': { name: 'ops-hook', secret_rotated: true },
  'notify.channel_deleted': { name: 'ops-hook', pending_dropped: 2 },
  'notify.channel_tested': { name: 'ops-hook' },
  'notify.delivery_redriven': { channel: 'ch-1', audit_seq: 42, last_error: 'HTTP 400' },
};

describe('one sentence per audit kind', () => {
  it('has a template for every kind hoistd and the agent record', () => {
    for (const kind of AUDIT_KINDS) {
      expect(SENTENCES[kind], `no sentence template for ${kind}`).toBeTypeOf('function');
      expect(TYPICAL[kind], `no typical details for ${kind} in this test`).toBeDefined();
    }
    expect(Object.keys(SENTENCES).sort()).toEqual([...AUDIT_KINDS].sort());
  });

  it('reads each kind as one line, with typical details and with none', () => {
    for (const kind of AUDIT_KINDS) {
      for (const details of [TYPICAL[kind] ?? {}, {}]) {
        const line = describeEvent(ev(kind, details));
        expect(line.text.length, kind).toBeGreaterThan(10);
        expect(line.text, kind).not.toMatch(/undefined|null|NaN|\[object Object\]|\n/);
        expect(line.label.length, kind).toBeGreaterThan(0);
      }
    }
  });

  it('says who did what to what, with the outcome', () => {
    expect(describeEvent(ev('request.created', TYPICAL['request.created'], { actor: 'agent:ep1' })).text).toBe(
      'alice asked to run apt-get install nginx for 30m (rule installs): “ticket 4711” (req-1)',
    );
    const throttled = describeEvent(ev('request.throttled', TYPICAL['request.throttled'], { actor: 'agent:ep1', target: '' }));
    expect(throttled.text).toMatch(/^the agent on laptop-7 sent too many requests: 1939 were refused from .* to .* \(the last for mallory\)$/);
    expect(throttled).toMatchObject({ outcome: 'warning', label: 'throttled' });
    const uploads = describeEvent(ev('endpoint.events_throttled', TYPICAL['endpoint.events_throttled'], { actor: 'agent:ep1', target: '' }));
    expect(uploads.text).toMatch(/^the agent on laptop-7 uploaded events faster than its limit: 11000 held back for later over 12 uploads from .* to .*$/);
    expect(uploads).toMatchObject({ outcome: 'warning', label: 'throttled' });
    const approved = describeEvent(ev('request.approved', TYPICAL['request.approved']));
    expect(approved.text).toMatch(/^admin approved alice’s request req-1 until .*: “ok”$/);
    expect(approved.outcome).toBe('success');
    expect(describeEvent(ev('request.approved', { by: 'autonomous', auto_approval: 'dev-short' }, { actor: 'auto-approval:dev-short' })).text).toMatch(
      /^auto-approval “dev-short” approved request req-1 at once/,
    );
    expect(describeEvent(ev('request.approved', { by: 'self', requester: 'alice' }, { actor: 'agent:x' })).text).toBe('alice approved their own request req-1');
    const denied = describeEvent(ev('request.denied', TYPICAL['request.denied']));
    expect(denied).toEqual({ text: 'admin denied alice’s request req-1: “use the ticket queue”', outcome: 'refused', label: 'denied' });
    expect(describeEvent(ev('request.expired', {}, { actor: 'system' })).text).toBe('A request req-1 expired without an answer');
    expect(describeEvent(ev('policy.version_added', TYPICAL['policy.version_added'], { target: 'base' })).text).toBe(
      'admin saved policy base as version 3: “fdisk on request”',
    );
    expect(describeEvent(ev('user.login', { remote: '192.0.2.10', step_up: true }, { target: 'tech' })).text).toBe(
      'tech confirmed their password again (step-up) from 192.0.2.10',
    );
    expect(describeEvent(ev('user.login_failed', { remote: '192.0.2.10', reason: 'wrong password' }, { actor: 'anonymous', target: 'root' }))).toEqual({
      text: 'A login as “root” failed from 192.0.2.10: wrong password',
      outcome: 'failure',
      label: 'failed',
    });
    expect(describeEvent(ev('endpoint.decisions.counted', TYPICAL['endpoint.decisions.counted'], { actor: 'agent:ep1' })).text).toMatch(
      /^mallory was refused sudo 438 more times, counted rather than recorded one by one from .* to .*$/,
    );
    const decision = (action: string) => describeEvent(ev('endpoint.decision', { ...TYPICAL['endpoint.decision'], action }, { actor: 'agent:ep1' }));
    expect(decision('allow')).toMatchObject({ outcome: 'success', label: 'allowed' });
    expect(decision('deny')).toMatchObject({ outcome: 'refused', label: 'denied' });
    expect(decision('allow').text).toBe('alice ran sudo id (rule tools): rule "tools" allows it');
    expect(describeEvent(ev('endpoint.code.used', { user: 'alice', matched: false }))).toMatchObject({ outcome: 'warning', label: 'unmatched' });
  });

  it('reads a session request as one', () => {
    expect(describeEvent(ev('request.created', { requester: 'alice', kind: 'session', requested_duration_s: 3600 })).text).toBe(
      'alice asked for a temporary admin session for 1h (req-1)',
    );
  });

  it('names what a newer agent sends, without a template', () => {
    const line = describeEvent(ev('endpoint.future.thing', { x: 1 }, { actor: 'agent:ep1' }));
    expect(line).toEqual({ text: 'the agent on laptop-7 recorded endpoint.future.thing about req-1', outcome: 'neutral', label: 'recorded' });
    expect(describeEvent(ev('endpoint.forged.enrolled', {}, { target: '' })).text).toBe('admin recorded endpoint.forged.enrolled');
  });

  it('reads details given as the recorded text too', () => {
    expect(describeEvent(ev('request.denied', undefined, { details: '{"comment":"no","requester":"bob"}' })).text).toBe(
      'admin denied bob’s request req-1: “no”',
    );
    expect(describeEvent(ev('request.denied', undefined, { details: 'not json' })).text).toBe('admin denied a request req-1');
  });
});

describe('typed text stays text', () => {
  it('keeps markup, Markdown and mentions as the characters typed', () => {
    const typed = '<img src=x onerror=alert(1)> **bold** <!channel> @here {{7*7}}';
    const line = describeEvent(ev('request.denied', { comment: typed, requester: 'alice' }));
    expect(line.text).toContain('<img src=x onerror=alert(1)>');
    expect(line.text).toContain('**bold** <!channel> @here {{7*7}}');
  });

  it('shows hidden characters and flattens line breaks', () => {
    const line = describeEvent(ev('request.denied', { comment: 'ok\u202Egnp.exe\nsecond line', requester: 'alice' }));
    expect(line.text).toContain('ok\\u{202E}gnp.exe\\u{000A}second line');
  });

  it('cuts long text on the line, whole characters only; the details keep it all', () => {
    const long = `${'🙂'.repeat(LINE_TEXT_MAX)}tail`;
    const line = describeEvent(ev('request.denied', { comment: long, requester: 'alice' }));
    expect(line.text).not.toContain('tail');
    expect(line.text).toContain('…');
    expect(line.text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/); // no lone high surrogate
    expect(shortText('abc', 2)).toBe('a…');
    expect(shortText('abc', 3)).toBe('abc');
    const rows = detailRows(ev('request.denied', { comment: long, requester: 'alice' }));
    expect(rows.find((r) => r.key === 'comment')?.value).toBe(long);
  });
});

describe('actors', () => {
  it('names agents by their host, rules and hoistd by what they are', () => {
    expect(actorLabel('agent:0123456789abcdef', 'laptop-7')).toBe('the agent on laptop-7');
    expect(actorLabel('agent:0123456789abcdef', '')).toBe('agent 0123456789a…');
    expect(actorLabel('auto-approval:dev', '')).toBe('auto-approval “dev”');
    expect(actorLabel('system', '')).toBe('hoistd');
    expect(actorLabel('anonymous', '')).toBe('someone');
    expect(actorLabel('alice (token 3f2a)', '')).toBe('alice (token 3f2a)');
  });
});

describe('details and policy diffs', () => {
  it('lists every field as text, argv as a command line', () => {
    const rows = detailRows(ev('endpoint.decision', TYPICAL['endpoint.decision']));
    expect(rows.find((r) => r.key === 'argv')?.value).toBe('id');
    expect(rows.find((r) => r.key === 'uid')?.value).toBe('1000');
    expect(detailRows(ev('request.created', { argv: ['rm', '-rf', '/tmp/a b'], rule: '' }))).toEqual([
      { key: 'argv', value: "rm -rf '/tmp/a b'" },
      { key: 'rule', value: '—' },
    ]);
    expect(detailRows(ev('x.y', { nested: { a: 1 } }))).toEqual([{ key: 'nested', value: '{"a":1}' }]);
  });

  it('gives a policy change its diff and counts, and leaves it out of the fields', () => {
    const e = ev('policy.version_added', TYPICAL['policy.version_added'], { target: 'base' });
    expect(policyChange(e)).toEqual({ diff: '--- v2\n+++ v3\n@@ -1,2 +1,3 @@\n a\n+b\n-c\n', truncated: false, added: 1, removed: 1 });
    expect(detailRows(e).map((r) => r.key)).toEqual(['version', 'comment']);
    expect(policyChange(ev('policy.assigned', {}))).toBeNull();
    expect(policyChange(ev('policy.version_added', { diff_truncated: true }))).toEqual({ diff: '', truncated: true, added: 0, removed: 0 });
  });
});
