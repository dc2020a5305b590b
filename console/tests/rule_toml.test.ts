import { describe, expect, it } from 'vitest';
import {
  appendTable,
  globEscape,
  renderAutoApproval,
  renderRule,
  ruleFromRequest,
  ruleName,
  ruleNamesIn,
  tomlString,
  validateAutoApproval,
  validateRule,
} from '../src/lib/rule_toml';
import type { ElevationRequest } from '../src/lib/types';

function request(over: Partial<ElevationRequest> = {}): ElevationRequest {
  return {
    id: 'req-018f2a3b4c5d-ab12cd34',
    version: 1,
    kind: 'command',
    state: 'pending',
    stored_state: 'pending',
    requester: 'alice',
    groups: ['staff'],
    host: 'web-1',
    endpoint_id: 'ep1',
    rule: '',
    justification: 'patch "openssl"\nnow',
    requested_duration_s: 900,
    max_duration_s: 3600,
    approval_mode: 'manual',
    self_approval_allowed: false,
    created_at: '2030-01-01T10:00:00Z',
    pending_deadline: '2030-01-02T10:00:00Z',
    review: null,
    grant_start: null,
    grant_deadline: null,
    time_left_s: 0,
    ended_at: null,
    ended_by: '',
    end_reason: '',
    command: {
      path: '/usr/bin/apt-get',
      argv: ['apt-get', 'install', 'openssl*'],
      sha256: 'a'.repeat(64),
      package: 'apt',
    },
    ...over,
  };
}

describe('tomlString', () => {
  it.each([
    ['plain', '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['C:\\path', '"C:\\\\path"'],
    ['a\nb\tc\rd', '"a\\nb\\tc\\rd"'],
    ['\b\f', '"\\b\\f"'],
    ['\u0000\u001f\u007f', '"\\u0000\\u001F\\u007F"'],
    ['héllo ✓ 🙂', '"héllo ✓ 🙂"'],
    ['"""', '"\\"\\"\\""'],
    ["it's", '"it\'s"'],
  ])('%j -> %s', (input, out) => expect(tomlString(input)).toBe(out));

  it('cannot be broken out of: a value with a newline and a key stays one value', () => {
    const line = `description = ${tomlString('x"\nany_command = true\n#')}`;
    expect(line.split('\n')).toHaveLength(1);
  });
});

describe('globEscape', () => {
  it('escapes glob metacharacters so arguments match literally', () => {
    expect(globEscape('openssl*')).toBe('openssl\\*');
    expect(globEscape('a?[b]\\c')).toBe('a\\?\\[b]\\\\c');
    expect(globEscape('plain-arg')).toBe('plain-arg');
    expect(globEscape('...')).toBe('\\...');
  });
});

describe('ruleFromRequest', () => {
  it('keeps the target user and group the request was for (a rule without runas is root only)', () => {
    const base = request();
    const asPostgres = request({ command: { ...base.command, runas: { user: 'postgres', group: 'dba' } } });
    const spec = ruleFromRequest(asPostgres, {
      scope: { kind: 'host', host: 'web-1' },
      requesterOnly: true,
      pinSha256: false,
      exactArgs: false,
    });
    expect(spec.runas).toEqual(['postgres']);
    expect(spec.runas_groups).toEqual(['dba']);
    expect(renderRule(spec)).toContain('runas = ["postgres"]\nrunas_groups = ["dba"]\n');
    const asRoot = ruleFromRequest(request({ command: { ...base.command, runas: { user: 'root', group: '' } } }), {
      scope: { kind: 'host', host: 'web-1' },
      requesterOnly: true,
      pinSha256: false,
      exactArgs: false,
    });
    expect(asRoot.runas).toBeUndefined();
    expect(asRoot.runas_groups).toBeUndefined();
  });

  it('makes an allow rule pinned to path, digest, arguments, user and endpoint groups', () => {
    const spec = ruleFromRequest(request(), {
      scope: { kind: 'labels', labels: ['web-servers'] },
      requesterOnly: true,
      pinSha256: true,
      exactArgs: true,
    });
    expect(spec).toMatchObject({
      action: 'allow',
      path: '/usr/bin/apt-get',
      sha256: ['a'.repeat(64)],
      args: ['install', 'openssl\\*'],
      users: ['alice'],
      labels: ['web-servers'],
    });
    const toml = renderRule(spec);
    expect(toml).toBe(
      [
        '[[rule]]',
        `name = "${spec.name}"`,
        'description = "Added from request req-018f2a3b4c5d-ab12cd34 (alice on web-1): patch \\"openssl\\"\\nnow"',
        'action = "allow"',
        `sha256 = "${'a'.repeat(64)}"`,
        'path = "/usr/bin/apt-get"',
        'args = ["install", "openssl\\\\*"]',
        'users = ["alice"]',
        'labels = ["web-servers"]',
        '',
      ].join('\n'),
    );
    expect(validateRule(spec)).toEqual([]);
  });

  it('scoped to the request\'s host: hosts = [that host]', () => {
    const spec = ruleFromRequest(request(), { scope: { kind: 'host', host: 'web-1' }, requesterOnly: false, pinSha256: false, exactArgs: false });
    expect(spec.hosts).toEqual(['web-1']);
    expect(spec.labels).toBeUndefined();
    expect(renderRule(spec)).toContain('hosts = ["web-1"]');
    expect(validateRule(spec)).toEqual([]);
    expect(validateRule({ ...spec, hosts: ['web 1'] }).map((e) => e.field)).toEqual(['hosts']);
  });

  it('scoped everywhere, any arguments, anyone: only the path', () => {
    const spec = ruleFromRequest(request({ command: { path: '/usr/bin/id', argv: ['id'], sha256: null, package: '' } }), {
      scope: { kind: 'everywhere' },
      requesterOnly: false,
      pinSha256: true, // no digest known: not pinned
      exactArgs: false,
    });
    const toml = renderRule(spec);
    expect(toml).not.toMatch(/sha256|args|users|labels|hosts/);
    expect(toml).toContain('path = "/usr/bin/id"');
  });

  it('no arguments at all becomes args = []', () => {
    const spec = ruleFromRequest(request({ command: { path: '/usr/bin/id', argv: ['id'], sha256: null, package: '' } }), {
      scope: { kind: 'everywhere' },
      requesterOnly: false,
      pinSha256: false,
      exactArgs: true,
    });
    expect(renderRule(spec)).toContain('args = []\n');
  });

  it('refuses a session request (a session is never allowed outright)', () => {
    expect(() =>
      ruleFromRequest(request({ kind: 'session', command: { path: '', argv: [], sha256: null, package: '' } }), {
        scope: { kind: 'everywhere' },
        requesterOnly: true,
        pinSha256: false,
        exactArgs: false,
      }),
    ).toThrow(/session/);
  });

  it('makes a valid rule name from anything', () => {
    expect(ruleName('allow-apt get-alice@example.com-ab12cd34')).toBe('allow-apt-get-alice-example.com-ab12cd34');
    expect(ruleName('!!!')).toBe('rule');
    expect(ruleName('x'.repeat(100))).toHaveLength(64);
  });
});

describe('validateRule', () => {
  const fields = (errs: Array<{ field: string }>) => errs.map((e) => e.field).sort();
  it('requires a valid name, a program criterion, and catches duplicates', () => {
    expect(fields(validateRule({ name: 'bad name', action: 'allow' }))).toEqual(['name', 'path']);
    expect(fields(validateRule({ name: 'a', action: 'allow', path: '/bin/x' }, ['a']))).toEqual(['name']);
  });
  it('knows the impossible combinations of docs/policy.md', () => {
    expect(fields(validateRule({ name: 'a', action: 'allow', session: true }))).toEqual(['action']);
    expect(fields(validateRule({ name: 'a', action: 'request', session: true, path: '/bin/x' }))).toEqual(['session']);
    expect(fields(validateRule({ name: 'a', action: 'allow', any_command: true, package: 'apt' }))).toEqual(['any_command']);
    expect(fields(validateRule({ name: 'a', action: 'allow', path: '/bin/x', args: [], args_regex: ['x'] }))).toEqual(['args_regex']);
    expect(fields(validateRule({ name: 'a', action: 'allow', path: '/usr/../bin/x' }))).toEqual(['path']);
    expect(fields(validateRule({ name: 'a', action: 'allow', folder: '/opt/' }))).toEqual(['folder']);
    expect(fields(validateRule({ name: 'a', action: 'allow', sha256: ['abc'] }))).toEqual(['sha256']);
    expect(fields(validateRule({ name: 'a', action: 'allow', path: '/x', labels: ['Web'] }))).toEqual(['labels']);
    expect(fields(validateRule({ name: 'a', action: 'allow', path: '/x', approval: 'manual' }))).toEqual(['approval']);
    expect(fields(validateRule({ name: 'a', action: 'request', path: '/x', approval: 'self' }))).toEqual(['self_approval_groups']);
    expect(fields(validateRule({ name: 'a', action: 'request', path: '/x', max_duration: '2 hours' }))).toEqual(['max_duration']);
    expect(fields(validateRule({ name: 'a', action: 'allow', path: '/x', hours: '8-18', days: 'weekdays' }))).toEqual(['days', 'hours']);
    expect(
      validateRule({ name: 'ok', action: 'request', path_glob: '/usr/bin/*sh', approval: 'self', self_approval_groups: ['oncall'], max_duration: '1h30m', days: 'mon-fri,sun', hours: '22:00-06:00' }),
    ).toEqual([]);
  });
});

describe('auto approval and appending', () => {
  it('renders and validates [[auto_approval]]', () => {
    const spec = { name: 'dev-short', groups: ['developers'], rules: ['developer-tools'], max_duration: '1h', days: 'mon-fri' };
    expect(validateAutoApproval(spec)).toEqual([]);
    expect(renderAutoApproval(spec)).toBe(
      '[[auto_approval]]\nname = "dev-short"\ngroups = ["developers"]\nrules = ["developer-tools"]\nmax_duration = "1h"\ndays = "mon-fri"\n',
    );
    expect(validateAutoApproval({ name: 'x', max_duration: '' }).map((e) => e.field).sort()).toEqual(['max_duration', 'users']);
  });

  it('appends a table after one blank line', () => {
    expect(appendTable('version = 1\n\n\n', '[[rule]]\n')).toBe('version = 1\n\n[[rule]]\n');
    expect(appendTable('', '[[rule]]\n')).toBe('[[rule]]\n');
  });

  it('lists rule names of a policy text', () => {
    const text = 'version = 1\n[settings]\nname = "not-a-rule"\n[[rule]]\nname = "a"\naction="allow"\n[[auto_approval]]\nname = "x"\n[[rule]]\n  name="b\\"c"\n';
    expect(ruleNamesIn(text)).toEqual(['a', 'b\\"c']);
  });
});
