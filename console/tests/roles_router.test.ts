import { describe, expect, it } from 'vitest';
import { can, mayOpen, navFor, type Capability } from '../src/lib/roles';
import { buildHash, parseHash, returnTarget } from '../src/lib/router';

describe('role-based visibility (docs/api.md role table)', () => {
  const table: Array<[Capability, boolean, boolean, boolean]> = [
    // capability, auditor, approver, admin
    ['read', true, true, true],
    ['review', false, true, true],
    ['revoke', false, true, true],
    ['issue_codes', false, true, true],
    ['edit_policies', false, false, true],
    ['approve_and_add_rule', false, false, true],
    ['manage_endpoints', false, false, true],
    ['manage_enrolment', false, false, true],
    ['manage_users', false, false, true],
    ['manage_notifications', false, false, true],
  ];
  it.each(table)('%s: auditor %s, approver %s, admin %s', (cap, auditor, approver, admin) => {
    expect(can('auditor', cap)).toBe(auditor);
    expect(can('approver', cap)).toBe(approver);
    expect(can('admin', cap)).toBe(admin);
  });

  it('nobody logged in can do nothing', () => {
    expect(can(null, 'read')).toBe(false);
    expect(navFor(undefined)).toEqual([]);
  });

  it('only admins see users and roles', () => {
    expect(navFor('auditor').map((n) => n.view)).toEqual(['queue', 'requests', 'grants', 'policies', 'endpoints', 'codes', 'audit']);
    expect(navFor('approver').map((n) => n.view)).not.toContain('users');
    expect(navFor('admin').map((n) => n.view)).toContain('users');
    expect(mayOpen('approver', 'users')).toBe(false);
    expect(mayOpen('auditor', 'audit')).toBe(true);
  });

  it('only admins see notifications (hoistd audits a refused call as access.denied)', () => {
    expect(navFor('approver').map((n) => n.view)).not.toContain('notifications');
    expect(mayOpen('auditor', 'notifications')).toBe(false);
    expect(mayOpen('approver', 'notifications')).toBe(false);
    expect(mayOpen('admin', 'notifications')).toBe(true);
    expect(navFor('admin').map((n) => n.view)).toEqual(['queue', 'requests', 'grants', 'policies', 'endpoints', 'codes', 'audit', 'notifications', 'users']);
  });
});

describe('hash routes', () => {
  it.each([
    ['', 'queue', undefined],
    ['#/', 'queue', undefined],
    ['#/queue', 'queue', undefined],
    ['#/grants', 'grants', undefined],
    ['#/grants/req-1', 'grant', 'req-1'],
    ['#/grants/code-response-02a5f3c1-g1', 'grant', 'code-response-02a5f3c1-g1'],
    ['#/policies/base%20x', 'policy', 'base x'],
    ['#/endpoints', 'endpoints', undefined],
    ['#/codes', 'codes', undefined],
    ['#/audit', 'audit', undefined],
    ['#/users', 'users', undefined],
    ['#/notifications', 'notifications', undefined],
    ['#/notifications/ch-1', 'not_found', undefined],
    ['#/login', 'login', undefined],
    ['#/nope', 'not_found', undefined],
    ['#/users/x', 'not_found', undefined],
    ['#/grants/a/b', 'not_found', undefined],
    ['#/grants/%E0%A4%A', 'not_found', undefined],
    ['#/requests', 'requests', undefined],
    ['#/requests/req-019c2b1e4a00-3f2a9b1c', 'request', 'req-019c2b1e4a00-3f2a9b1c'],
    // Only a request id: nothing else reaches the page, the API path or the router.
    ['#/requests/req-1', 'not_found', undefined],
    ['#/requests/REQ-019c2b1e4a00-3f2a9b1c', 'not_found', undefined],
    ['#/requests/req-019c2b1e4a00-3f2a9b1c%2F..%2F..%2Fusers', 'not_found', undefined],
    ['#/requests/req-019c2b1e4a00-3f2a9b1c%3Fx%3D1', 'not_found', undefined],
    ['#/requests/%3Cscript%3E', 'not_found', undefined],
    ['#/requests/javascript:alert(1)', 'not_found', undefined],
    ['#/requests/req-019c2b1e4a00-3f2a9b1c/approve', 'not_found', undefined],
  ])('%s -> %s %s', (hash, name, param) => {
    const r = parseHash(hash);
    expect(r.name).toBe(name);
    expect(r.param).toBe(param);
  });

  it('keeps the query of a route', () => {
    expect(parseHash('#/audit?action=request.created&host=h').query).toEqual({ action: 'request.created', host: 'h' });
  });

  it('builds what it parses', () => {
    expect(buildHash('grant', 'req/1')).toBe('#/grants/req%2F1');
    expect(parseHash(buildHash('grant', 'req/1')).param).toBe('req/1');
    expect(buildHash('audit', undefined, { action: 'a b', host: '', since: undefined })).toBe('#/audit?action=a+b');
    expect(buildHash('policy', 'p', { new: '1' })).toBe('#/policies/p?new=1');
    expect(buildHash('notifications', undefined, { channel: 'ch-ab', state: 'dead' })).toBe('#/notifications?channel=ch-ab&state=dead');
    expect(parseHash('#/notifications?channel=ch-ab&state=dead')).toEqual({ name: 'notifications', query: { channel: 'ch-ab', state: 'dead' } });
  });

  it('returns to where the user was, never to the login page', () => {
    expect(returnTarget('#/grants/req-1')).toBe('#/grants/req-1');
    expect(returnTarget('#/login')).toBe('#/queue');
    expect(returnTarget('')).toBe('#/queue');
  });

  it('brings a deep link to one request back after the login, and only a page of the console', () => {
    expect(returnTarget('#/requests/req-019c2b1e4a00-3f2a9b1c')).toBe('#/requests/req-019c2b1e4a00-3f2a9b1c');
    expect(returnTarget('#/requests?state=denied&text=a%20b')).toBe('#/requests?state=denied&text=a+b');
    for (const bad of ['#/requests/evil', 'https://evil.example/#/queue', '#//evil.example', '#/requests/%2F%2Fevil.example', 'javascript:alert(1)']) {
      expect(returnTarget(bad), bad).toBe('#/queue');
    }
    // Whatever it returns is a hash of this console.
    for (const h of ['#/audit?action=x&since=2026-01-01T00:00:00Z', '#/policies/a%2Fb', '#/grants/code-x']) {
      expect(returnTarget(h)).toMatch(/^#\/[a-z]+/);
      expect(parseHash(returnTarget(h)).name).toBe(parseHash(h).name);
    }
  });
});
