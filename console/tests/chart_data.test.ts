import { describe, expect, it } from 'vitest';
import { chartGeometry, niceMax, outcomeOf, requestsPerDay } from '../src/lib/chart_data';
import type { AuditEvent } from '../src/lib/types';

let seq = 0;
function ev(action: string, time: string, over: Partial<AuditEvent> = {}): AuditEvent {
  return { seq: ++seq, time, actor: 'alice', action, target: 'req-1', host: 'h', details: {}, ...over };
}

describe('outcomes', () => {
  it('classifies approvals by who approved', () => {
    expect(outcomeOf(ev('request.approved', 't', { details: { by: 'approver' } }))).toBe('approved');
    expect(outcomeOf(ev('request.approved', 't', { actor: 'auto-approval:dev', details: { by: 'autonomous' } }))).toBe('auto_approved');
    expect(outcomeOf(ev('request.approved', 't', { details: { by: 'self' } }))).toBe('self_approved');
    expect(outcomeOf(ev('request.denied', 't'))).toBe('denied');
    expect(outcomeOf(ev('request.refused', 't'))).toBe('refused');
    expect(outcomeOf(ev('request.expired', 't'))).toBe('expired');
    expect(outcomeOf(ev('request.cancelled', 't'))).toBe('cancelled');
    expect(outcomeOf(ev('request.created', 't'))).toBeNull();
    expect(outcomeOf(ev('grant.revoked', 't'))).toBeNull();
  });
});

describe('requestsPerDay', () => {
  it('buckets by UTC day, keeps empty days, ignores other actions and duplicates', () => {
    const a = ev('request.approved', '2030-01-01T23:59:59.999Z', { details: { by: 'approver' } });
    const events = [
      ev('request.created', '2030-01-01T08:00:00.000Z'),
      ev('request.created', '2030-01-01T09:00:00.000Z'),
      a,
      a, // the same event from two pages
      ev('request.denied', '2030-01-01T10:00:00.000Z'),
      ev('request.expired', '2030-01-03T00:00:00.000Z'),
      ev('grant.expired', '2030-01-03T01:00:00.000Z'),
      ev('user.login', '2030-01-03T01:00:00.000Z'),
    ];
    const days = requestsPerDay(events);
    expect(days.map((d) => d.day)).toEqual(['2030-01-01', '2030-01-02', '2030-01-03']);
    expect(days[0]).toMatchObject({ requested: 2, total: 2 });
    expect(days[0]?.counts).toMatchObject({ approved: 1, denied: 1, expired: 0 });
    expect(days[1]).toMatchObject({ requested: 0, total: 0 });
    expect(days[2]?.counts.expired).toBe(1);
  });

  it('uses the asked range, empty or not', () => {
    const days = requestsPerDay([ev('request.denied', '2030-01-05T12:00:00Z'), ev('request.denied', '2029-12-01T12:00:00Z')], {
      fromDay: '2030-01-04',
      toDay: '2030-01-06',
    });
    expect(days.map((d) => [d.day, d.total])).toEqual([
      ['2030-01-04', 0],
      ['2030-01-05', 1],
      ['2030-01-06', 0],
    ]);
    expect(requestsPerDay([])).toEqual([]);
  });

  it('crosses month and year ends', () => {
    const days = requestsPerDay([], { fromDay: '2030-12-30', toDay: '2031-01-02' });
    expect(days.map((d) => d.day)).toEqual(['2030-12-30', '2030-12-31', '2031-01-01', '2031-01-02']);
  });
});

describe('chart geometry', () => {
  it('picks a round axis top', () => {
    expect([0, 1, 3, 7, 10, 11, 240].map(niceMax)).toEqual([1, 1, 5, 10, 10, 20, 500]);
  });
  it('stacks segments from the bottom, scaled to the axis', () => {
    const days = requestsPerDay([
      ev('request.approved', '2030-01-01T01:00:00Z'),
      ev('request.approved', '2030-01-01T02:00:00Z'),
      ev('request.denied', '2030-01-01T03:00:00Z'),
      ev('request.denied', '2030-01-02T03:00:00Z'),
    ]);
    const g = chartGeometry(days, 200, 100);
    expect(g.max).toBe(5);
    expect(g.bars).toHaveLength(2);
    const [first] = g.bars;
    expect(first?.segments.map((s) => [s.outcome, s.y, s.height])).toEqual([
      ['approved', 60, 40],
      ['denied', 40, 20],
    ]);
    expect(first?.x).toBeCloseTo(15);
    expect(first?.segments[0]?.width).toBeCloseTo(70);
    expect(g.ticks.map((t) => [t.value, t.y])).toEqual([
      [0, 100],
      [5, 0],
    ]);
    expect(chartGeometry(days, 200, 100).ticks).toHaveLength(2);
    const ten = chartGeometry([{ ...days[0]!, total: 10 }], 100, 100);
    expect(ten.ticks.map((t) => t.value)).toEqual([0, 5, 10]);
  });
});
