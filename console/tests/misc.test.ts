import { describe, expect, it } from 'vitest';
import { tokenStateText } from '../src/lib/enrolment';
import { checkSummary, diffLines, outlinePolicy, parsePolicyErrors, problemsFromCheck, withoutComment } from '../src/lib/policy_text';
import { lifecycle, sessionProcesses } from '../src/lib/timeline';
import type { AuditEvent } from '../src/lib/types';

let seq = 100;
function ev(action: string, time: string, target: string, details: Record<string, unknown> = {}, over: Partial<AuditEvent> = {}): AuditEvent {
  return { seq: ++seq, time, actor: 'agent:ep1', action, target, host: 'laptop-7', details, ...over };
}

describe('session timeline', () => {
  const id = 'req-018f-aa';
  const events = [
    ev('request.created', '2030-01-01T10:00:00.000Z', id),
    ev('request.approved', '2030-01-01T10:00:30.000Z', id),
    ev('endpoint.process', '2030-01-01T10:05:00.000Z', id, { session: id, command: '/usr/bin/id', argv: ['id'], action: 'allow', pid: 42, endpoint_time: '2030-01-01T10:01:05.000Z' }),
    ev('endpoint.process', '2030-01-01T10:05:00.000Z', id, { session: id, command: '/usr/bin/bash', argv: ['bash'], action: 'allow', pid: 41, endpoint_time: '2030-01-01T10:01:00.000Z' }),
    ev('endpoint.process', '2030-01-01T10:06:00.000Z', '', { session: id, command: '/usr/bin/shred', argv: ['shred', 'x'], action: 'deny', reason: 'rule' }),
    ev('endpoint.process', '2030-01-01T10:06:00.000Z', 'other', { session: 'other', command: '/bin/ls' }),
    ev('grant.revoked', '2030-01-01T10:10:00.000Z', id),
  ];
  it('lists only this session’s processes, in endpoint time order', () => {
    const rows = sessionProcesses([...events, events[2]!], id);
    expect(rows.map((r) => r.command)).toEqual(['/usr/bin/bash', '/usr/bin/id', '/usr/bin/shred']);
    expect(rows[0]).toMatchObject({ pid: 41, action: 'allow', argv: ['bash'] });
    expect(rows[2]).toMatchObject({ action: 'deny', pid: null, reason: 'rule' });
  });
  it('keeps the lifecycle apart', () => {
    expect(lifecycle(events, id).map((e) => e.action)).toEqual(['request.created', 'request.approved', 'grant.revoked']);
  });
});

describe('enrolment token states', () => {
  it('reads hoistd’s states, and passes an unknown one through', () => {
    expect(['active', 'used_up', 'expired', 'revoked'].map(tokenStateText)).toEqual(['active', 'used up', 'expired', 'revoked']);
    expect(tokenStateText('paused')).toBe('paused');
  });
});

describe('policy text helpers', () => {
  it('reads hoistd’s policy errors with their lines', () => {
    const msg = 'the policy has 2 error(s):\nbase.toml:4:1: rule "x": unknown field "pathh"; did you mean "path"?\nbase.toml:9:10: settings: bad';
    expect(parsePolicyErrors(msg)).toEqual([
      { line: 4, column: 1, message: 'rule "x": unknown field "pathh"; did you mean "path"?' },
      { line: 9, column: 10, message: 'settings: bad' },
    ]);
    expect(parsePolicyErrors('field "text" must be a string')).toEqual([{ line: null, column: null, message: 'field "text" must be a string' }]);
  });

  it('reads a dry-run check into problems and a one-line summary', () => {
    const bad = {
      valid: false,
      changed: true,
      current_version: 2,
      errors: [
        { line: 5, column: 10, where: 'rule "installs" field "action"', message: 'expected "allow", "request" or "deny"' },
        { line: 0, column: 0, where: '', message: 'the file is empty' },
      ],
    };
    expect(problemsFromCheck(bad)).toEqual([
      { line: 5, column: 10, message: 'rule "installs" field "action": expected "allow", "request" or "deny"' },
      { line: null, column: null, message: 'the file is empty' },
    ]);
    expect(checkSummary(bad)).toBe('2 problems: it cannot be saved until they are fixed.');
    expect(checkSummary({ ...bad, errors: [bad.errors[0]] })).toBe('1 problem: it cannot be saved until it is fixed.');
    expect(checkSummary({ valid: true, errors: [], changed: true, current_version: 2, rules: 1, auto_approvals: 0 })).toBe(
      'No problems (1 rule); saving makes version 3.',
    );
    expect(checkSummary({ valid: true, errors: [], changed: false, current_version: 2, rules: 3, auto_approvals: 1 })).toBe(
      'No problems (3 rules, 1 autonomous approval); the same as version 2.',
    );
  });

  it('outlines settings, rules and auto approvals with their lines', () => {
    const text = 'version = 1\n[settings]\nself_approval_groups = ["oncall"]\n\n[[rule]]\nname = "a" # comment\naction = "request"\napproval = "self"\n[[auto_approval]]\nname = "dev"\nmax_duration = "1h"\n';
    const o = outlinePolicy(text);
    expect(o.map((e) => [e.kind, e.line, e.name])).toEqual([
      ['settings', 2, 'settings'],
      ['rule', 5, 'a'],
      ['auto_approval', 9, 'dev'],
    ]);
    expect(o[0]?.fields.self_approval_groups).toBe('["oncall"]');
    expect(o[1]?.fields.approval).toBe('"self"');
  });

  it('keeps a # inside a string, and drops a comment after it', () => {
    const text = '[settings]\ncontact = "the help desk, ext. #4711" # who to call\nbanner = \'issue #12\'\nnote = "say \\"#1\\"" #x\n';
    const o = outlinePolicy(text);
    expect(o[0]?.fields.contact).toBe('"the help desk, ext. #4711"');
    expect(o[0]?.fields.banner).toBe("'issue #12'");
    expect(o[0]?.fields.note).toBe('"say \\"#1\\""');
    expect(withoutComment('a = 1 # c')).toBe('a = 1 ');
    expect(withoutComment('# all comment')).toBe('');
  });

  it('classifies diff lines', () => {
    expect(diffLines('--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n z').map((l) => l.kind)).toEqual(['meta', 'meta', 'hunk', 'del', 'add', 'same']);
  });
});
