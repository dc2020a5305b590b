import { describe, expect, it } from 'vitest';
import {
  endpointStatus,
  formatArgv,
  visibleText,
  formatDuration,
  formatWait,
  parseDuration,
  policyDuration,
  secondsUntil,
  waitState,
} from '../src/lib/format';

describe('durations', () => {
  it.each([
    [0, '0s'],
    [45, '45s'],
    [60, '1m'],
    [900, '15m'],
    [5400, '1h 30m'],
    [3605, '1h'],
    [86400 + 3 * 3600, '1d 3h'],
    [1209600, '2w'],
    [-5, '0s'],
  ])('formatDuration(%d) = %s', (s, text) => expect(formatDuration(s)).toBe(text));

  it.each([
    ['90s', 90],
    ['15m', 900],
    ['1h30m', 5400],
    ['1h 30m', 5400],
    ['2D', 172800],
    ['1w', 604800],
    ['20', 1200],
    ['', null],
    ['1x', null],
    ['h', null],
    ['0m', null],
    ['1h30', null],
  ])('parseDuration(%j) = %j', (t, s) => expect(parseDuration(t)).toBe(s));

  it('policyDuration is the inverse of parseDuration', () => {
    for (const s of [1, 59, 60, 900, 5400, 86400, 90061]) expect(parseDuration(policyDuration(s))).toBe(s);
    expect(policyDuration(5400)).toBe('1h30m');
  });
});

describe('the 2-minute clock', () => {
  const created = '2030-01-01T10:00:00Z';
  const t0 = Date.parse(created);
  it.each([
    [0, '0:00'],
    [7, '0:07'],
    [119, '1:59'],
    [723, '12:03'],
    [7450, '2:04:10'],
  ])('formatWait(%d) = %s', (s, text) => expect(formatWait(s)).toBe(text));

  it('fills the bar over 120 s and warns from 120 s on', () => {
    expect(waitState(created, t0 + 30_000)).toMatchObject({ waitedS: 30, fraction: 0.25, overdue: false });
    expect(waitState(created, t0 + 119_999)).toMatchObject({ waitedS: 119, overdue: false });
    const late = waitState(created, t0 + 125_000);
    expect(late).toMatchObject({ waitedS: 125, fraction: 1, overdue: true });
    expect(late.label).toContain('past the 2m target');
  });

  it('never shows a negative wait (server clock ahead of ours)', () => {
    expect(waitState(created, t0 - 5000).waitedS).toBe(0);
    expect(waitState('garbage', t0).waitedS).toBe(0);
  });

  it('counts time left to a deadline', () => {
    expect(secondsUntil('2030-01-01T10:05:00Z', t0)).toBe(300);
    expect(secondsUntil('2030-01-01T09:00:00Z', t0)).toBe(0);
    expect(secondsUntil(null, t0)).toBe(0);
  });
});

describe('display helpers', () => {
  it('quotes arguments a shell would split', () => {
    expect(formatArgv(['apt-get', 'install', 'vim'])).toBe('apt-get install vim');
    expect(formatArgv(['rm', '-rf', '/tmp/a b'])).toBe("rm -rf '/tmp/a b'");
    // A bidi override (Trojan Source) or a hidden character shows escaped.
    expect(formatArgv(['ls', 'txt\u202eexe.sh'])).toBe("ls 'txt\\u{202E}exe.sh'");
    expect(formatArgv(['a\u200bb'])).toBe("'a\\u{200B}b'");
  });

  it('shows what hides or reorders text, escaped', () => {
    expect(visibleText('plain text, é ✓')).toBe('plain text, é ✓');
    expect(visibleText('a\u001b[2Jb')).toBe('a\\u{001B}[2Jb');
    expect(visibleText('x\u0085y')).toBe('x\\u{0085}y');
    expect(visibleText('tag\u{e0041}')).toBe('tag\\u{E0041}');
    expect(visibleText('fill\u3164er')).toBe('fill\\u{3164}er');
    expect(formatArgv(['echo', "it's", ''])).toBe(`echo 'it'\\''s' ''`);
  });

  it('reads endpoint status from the last heartbeat', () => {
    const now = Date.parse('2030-01-01T10:00:00Z');
    expect(endpointStatus({ last_seen: '2030-01-01T09:59:00Z', retired_at: null }, now)).toBe('online');
    expect(endpointStatus({ last_seen: '2030-01-01T09:50:00Z', retired_at: null }, now)).toBe('offline');
    expect(endpointStatus({ last_seen: null, retired_at: null }, now)).toBe('offline');
    expect(endpointStatus({ last_seen: '2030-01-01T09:59:00Z', retired_at: '2030-01-01T09:59:30Z' }, now)).toBe('retired');
  });
});
