import { describe, expect, it } from 'vitest';
import { AUDIT_KINDS, knownKind } from '../src/lib/audit_kinds';
import { CHART_ACTIONS } from '../src/lib/chart_data';
import { topicsFor } from '../src/lib/live';

// The list itself is checked against the C++ one by the console_audit_kinds
// ctest; these are the console's own uses of it.
describe('audit kinds', () => {
  it('lists each kind once, as hoistd writes kinds', () => {
    expect(new Set(AUDIT_KINDS).size).toBe(AUDIT_KINDS.length);
    for (const k of AUDIT_KINDS) expect(k).toMatch(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/);
  });

  it('knows its kinds and nothing else', () => {
    for (const k of AUDIT_KINDS) expect(knownKind(k)).toBe(k);
    for (const other of ['', 'request', 'endpoint.future.kind', 'grant.used', 'REQUEST.CREATED', 'request.created ']) {
      expect(knownKind(other)).toBeNull();
    }
  });

  it('charts only known kinds', () => {
    for (const a of CHART_ACTIONS) expect(AUDIT_KINDS).toContain(a);
  });

  it('refreshes some list for every kind but the API tokens and refusals', () => {
    // The console lists no API tokens, and a refusal changes nothing; every
    // other kind changes a list, so a new kind needs its place in topicsFor.
    const auditOnly = AUDIT_KINDS.filter((k) => topicsFor(k).length === 1);
    expect(auditOnly).toEqual(['token.created', 'token.used', 'token.revoked', 'access.denied']);
    for (const k of AUDIT_KINDS.filter((x) => x.startsWith('notify.'))) expect(topicsFor(k)).toContain('notify');
    for (const k of AUDIT_KINDS) expect(topicsFor(k)).toContain('audit');
  });
});
