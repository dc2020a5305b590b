import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EVENTSOURCE_CLOSED, LiveUpdates, parseAuditEventData, topicsFor, type EventSourceLike, type LiveStatus } from '../src/lib/live';

class FakeEventSource implements EventSourceLike {
  readyState = 0;
  closed = false;
  private listeners = new Map<string, Array<(ev: MessageEvent | Event) => void>>();
  constructor(readonly url: string) {}
  addEventListener(type: string, fn: (ev: MessageEvent | Event) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close(): void {
    this.closed = true;
    this.readyState = EVENTSOURCE_CLOSED;
  }
  emit(type: string, ev: Event): void {
    for (const fn of this.listeners.get(type) ?? []) fn(ev);
  }
  open(): void {
    this.readyState = 1;
    this.emit('open', new Event('open'));
  }
  audit(seq: number, action: string): void {
    const data = JSON.stringify({ seq, time: '2030-01-01T00:00:00.000Z', actor: 'a', action, target: 't', host: 'h', details: {} });
    this.emit('audit', new MessageEvent('audit', { data, lastEventId: String(seq) }));
  }
  error(closed = false): void {
    this.readyState = closed ? EVENTSOURCE_CLOSED : 0;
    this.emit('error', new Event('error'));
  }
}

describe('topicsFor', () => {
  it('maps audit actions to the lists they change', () => {
    expect(topicsFor('request.created')).toEqual(expect.arrayContaining(['requests', 'grants', 'audit']));
    expect(topicsFor('grant.revoked')).toEqual(expect.arrayContaining(['grants', 'requests', 'sessions']));
    expect(topicsFor('endpoint.process')).toEqual(expect.arrayContaining(['sessions']));
    expect(topicsFor('endpoint.process')).not.toContain('requests');
    expect(topicsFor('code.issued')).toEqual(expect.arrayContaining(['codes']));
    expect(topicsFor('endpoint.code.used')).toEqual(expect.arrayContaining(['codes', 'sessions']));
    expect(topicsFor('endpoint.enrolled')).toEqual(expect.arrayContaining(['endpoints']));
    expect(topicsFor('policy.version_added')).toEqual(['audit', 'policies']);
    expect(topicsFor('user.login')).toEqual(['audit', 'users']);
    expect(topicsFor('notify.channel_created')).toEqual(['audit', 'notify']);
    expect(topicsFor('notify.delivery_redriven')).toEqual(['audit', 'notify']);
  });

  it('parses event data defensively', () => {
    expect(parseAuditEventData('{"seq":3,"action":"x"}')).toMatchObject({ seq: 3, action: 'x', actor: '' });
    expect(parseAuditEventData('not json')).toBeNull();
    expect(parseAuditEventData('{"action":"x"}')).toBeNull();
  });
});

describe('LiveUpdates', () => {
  let sources: FakeEventSource[];
  let live: LiveUpdates;
  let statuses: LiveStatus[];
  const last = () => sources[sources.length - 1]!;

  beforeEach(() => {
    vi.useFakeTimers();
    sources = [];
    statuses = [];
    live = new LiveUpdates({
      createEventSource: (url) => {
        const s = new FakeEventSource(url);
        sources.push(s);
        return s;
      },
    });
    live.onStatus((s) => statuses.push(s));
  });
  afterEach(() => {
    live.stop();
    vi.useRealTimers();
  });

  it('refetches the affected list once per burst (debounced 100 ms)', () => {
    const requests = vi.fn();
    const policies = vi.fn();
    live.subscribe(['requests'], requests);
    live.subscribe(['policies'], policies);
    live.start();
    expect(last().url).toBe('/api/v1/stream');
    last().open();
    expect(live.status).toBe('live');
    last().audit(10, 'request.created');
    last().audit(11, 'request.approved');
    last().audit(12, 'endpoint.process');
    expect(requests).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(requests).toHaveBeenCalledTimes(1);
    expect(requests.mock.calls[0]?.[0].map((e: { seq: number }) => e.seq)).toEqual([10, 11]);
    expect(policies).not.toHaveBeenCalled();
  });

  it('treats the server ending each batch as normal (error, then open again)', () => {
    live.start();
    for (let i = 0; i < 10; i++) {
      last().open();
      last().error();
    }
    last().open();
    expect(live.status).toBe('live');
    expect(sources).toHaveLength(1); // the browser reconnects the same EventSource
    expect(statuses).not.toContain('paused');
  });

  it('ignores events already seen (a replay after reconnecting)', () => {
    const fn = vi.fn();
    live.subscribe(['requests'], fn);
    live.start();
    last().open();
    last().audit(5, 'request.created');
    last().audit(5, 'request.created');
    last().audit(4, 'request.denied');
    vi.advanceTimersByTime(100);
    expect(fn.mock.calls[0]?.[0]).toHaveLength(1);
    expect(live.lastSeq).toBe(5);
  });

  it('falls back to polling every 3 s after repeated errors, then resumes the stream after the last seq', () => {
    const fn = vi.fn();
    live.subscribe(['grants'], fn);
    live.start();
    last().open();
    last().audit(7, 'grant.revoked');
    vi.advanceTimersByTime(100);
    fn.mockClear();
    last().error();
    last().error();
    expect(live.status).toBe('live');
    last().error();
    expect(live.status).toBe('paused');
    expect(sources[0]?.closed).toBe(true);
    vi.advanceTimersByTime(100);
    expect(fn).toHaveBeenCalledTimes(1); // an immediate refresh
    vi.advanceTimersByTime(3000);
    expect(fn).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(3000);
    expect(fn).toHaveBeenCalledTimes(3);
    vi.advanceTimersByTime(15000 - 6100);
    expect(sources).toHaveLength(2);
    expect(last().url).toBe('/api/v1/stream?after=7');
    last().open();
    expect(live.status).toBe('live');
    const calls = fn.mock.calls.length;
    vi.advanceTimersByTime(10000);
    expect(fn.mock.calls.length).toBe(calls + 1); // one catch-up refresh, then no more polling
  });

  it('a closed source (401, or no stream route) pauses at once', () => {
    live.start();
    last().error(true);
    expect(live.status).toBe('paused');
  });

  it('stop() closes the stream and cancels pending refreshes', () => {
    const fn = vi.fn();
    live.subscribe(['requests'], fn);
    live.start();
    last().open();
    last().audit(1, 'request.created');
    live.stop();
    vi.advanceTimersByTime(1000);
    expect(fn).not.toHaveBeenCalled();
    expect(sources[0]?.closed).toBe(true);
  });

  it('unsubscribed views are not called', () => {
    const fn = vi.fn();
    const off = live.subscribe(['requests'], fn);
    live.start();
    last().open();
    last().audit(1, 'request.created');
    off();
    vi.advanceTimersByTime(200);
    expect(fn).not.toHaveBeenCalled();
  });
});
