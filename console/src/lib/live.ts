// Live updates: GET /api/v1/stream (Server-Sent Events over the audit
// trail) tells each view which lists changed; the view refetches them.
//
// hoistd ends the stream after each batch and the EventSource reconnects by
// itself (retry: 250 ms, Last-Event-ID), so an "error" followed by "open" is
// the normal rhythm. Only errors with no "open" between them, or a closed
// source (a 401, a hoistd without the stream), count as a failure: then the
// views are polled every few seconds, a "live updates paused" indicator
// shows, and the stream is tried again now and then.

import { knownKind } from './audit_kinds';
import type { AuditEvent } from './types';

export type Topic = 'requests' | 'grants' | 'sessions' | 'endpoints' | 'codes' | 'policies' | 'users' | 'notify' | 'audit';

export type LiveStatus = 'connecting' | 'live' | 'paused';

// Which lists an audit action may have changed.
export function topicsFor(action: string): Topic[] {
  const t = new Set<Topic>(['audit']);
  if (action.startsWith('request.')) {
    t.add('requests');
    t.add('grants');
  } else if (action.startsWith('grant.')) {
    t.add('grants');
    t.add('requests');
    t.add('sessions');
  } else if (knownKind(action) === 'endpoint.process' || action.startsWith('endpoint.process.')) {
    t.add('sessions');
  } else if (action.startsWith('code.') || action.startsWith('endpoint.code.')) {
    t.add('codes');
    t.add('sessions');
  } else if (action.startsWith('endpoint.grant.') || action.startsWith('endpoint.session.')) {
    t.add('sessions');
    t.add('grants');
  } else if (action.startsWith('endpoint.') || action.startsWith('enrolment_token.')) {
    t.add('endpoints');
    if (knownKind(action) === 'endpoint.codes_key_rotated') t.add('codes');
  } else if (action.startsWith('policy.')) {
    t.add('policies');
  } else if (action.startsWith('user.')) {
    t.add('users');
  } else if (action.startsWith('notify.')) {
    t.add('notify');
  }
  return [...t];
}

// The part of EventSource this module uses (tests pass a fake).
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (ev: MessageEvent | Event) => void): void;
  close(): void;
}

export const EVENTSOURCE_CLOSED = 2;

export interface LiveOptions {
  createEventSource: (url: string) => EventSourceLike;
  url?: string;
  debounceMs?: number;
  pollMs?: number;
  retryMs?: number;
  maxErrors?: number;
}

interface Subscriber {
  topics: Set<Topic>;
  fn: (events: AuditEvent[]) => void;
  pending: AuditEvent[];
  timer: ReturnType<typeof setTimeout> | null;
}

export function parseAuditEventData(data: string): AuditEvent | null {
  try {
    const v: unknown = JSON.parse(data);
    if (!v || typeof v !== 'object') return null;
    const e = v as Partial<AuditEvent>;
    if (typeof e.seq !== 'number' || typeof e.action !== 'string') return null;
    return {
      seq: e.seq,
      time: typeof e.time === 'string' ? e.time : '',
      actor: typeof e.actor === 'string' ? e.actor : '',
      action: e.action,
      target: typeof e.target === 'string' ? e.target : '',
      host: typeof e.host === 'string' ? e.host : '',
      details: e.details ?? {},
    };
  } catch {
    return null;
  }
}

export class LiveUpdates {
  status: LiveStatus = 'connecting';
  lastSeq: number | null = null;
  private es: EventSourceLike | null = null;
  private errors = 0;
  private readonly subs = new Set<Subscriber>();
  private readonly statusListeners = new Set<(s: LiveStatus) => void>();
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private readonly url: string;
  private readonly debounceMs: number;
  private readonly pollMs: number;
  private readonly retryMs: number;
  private readonly maxErrors: number;

  constructor(private readonly options: LiveOptions) {
    this.url = options.url ?? '/api/v1/stream';
    this.debounceMs = options.debounceMs ?? 100;
    this.pollMs = options.pollMs ?? 3000;
    this.retryMs = options.retryMs ?? 15000;
    this.maxErrors = options.maxErrors ?? 3;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  stop(): void {
    this.running = false;
    this.es?.close();
    this.es = null;
    this.stopPolling();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const s of this.subs) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = null;
      s.pending = [];
    }
    this.setStatus('connecting');
  }

  // `fn` runs (debounced) with the events that touched `topics`; with []
  // when it should simply refetch (polling, or the stream came back).
  subscribe(topics: Topic[], fn: (events: AuditEvent[]) => void): () => void {
    const sub: Subscriber = { topics: new Set(topics), fn, pending: [], timer: null };
    this.subs.add(sub);
    return () => {
      if (sub.timer) clearTimeout(sub.timer);
      this.subs.delete(sub);
    };
  }

  onStatus(fn: (s: LiveStatus) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  private setStatus(s: LiveStatus): void {
    if (this.status === s) return;
    this.status = s;
    for (const fn of this.statusListeners) fn(s);
  }

  private connect(): void {
    if (!this.running) return;
    const url = this.lastSeq !== null ? `${this.url}?after=${this.lastSeq}` : this.url;
    let es: EventSourceLike;
    try {
      es = this.options.createEventSource(url);
    } catch {
      this.fallBack();
      return;
    }
    this.es = es;
    this.errors = 0;
    es.addEventListener('open', () => {
      if (this.es !== es) return;
      this.errors = 0;
      const wasPaused = this.status === 'paused';
      this.stopPolling();
      this.setStatus('live');
      if (wasPaused) this.refreshAll(); // what changed while paused
    });
    es.addEventListener('ready', (ev) => {
      if (this.es !== es) return;
      const seq = Number((ev as MessageEvent).lastEventId);
      if (Number.isFinite(seq) && (this.lastSeq === null || seq > this.lastSeq)) this.lastSeq = seq;
    });
    es.addEventListener('audit', (ev) => {
      if (this.es !== es) return;
      const e = parseAuditEventData(String((ev as MessageEvent).data));
      if (!e) return;
      if (this.lastSeq !== null && e.seq <= this.lastSeq) return; // seen already
      this.lastSeq = e.seq;
      this.dispatch(e);
    });
    es.addEventListener('error', () => {
      if (this.es !== es) return;
      this.errors += 1;
      if (es.readyState === EVENTSOURCE_CLOSED || this.errors >= this.maxErrors) this.fallBack();
    });
  }

  private fallBack(): void {
    this.es?.close();
    this.es = null;
    this.setStatus('paused');
    if (!this.pollTimer) {
      this.refreshAll();
      this.pollTimer = setInterval(() => this.refreshAll(), this.pollMs);
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, this.retryMs);
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  private refreshAll(): void {
    for (const s of this.subs) this.schedule(s, null);
  }

  private dispatch(e: AuditEvent): void {
    const topics = topicsFor(e.action);
    for (const s of this.subs) {
      if (topics.some((t) => s.topics.has(t))) this.schedule(s, e);
    }
  }

  private schedule(s: Subscriber, e: AuditEvent | null): void {
    if (e) s.pending.push(e);
    if (s.timer) return;
    s.timer = setTimeout(() => {
      s.timer = null;
      const events = s.pending;
      s.pending = [];
      if (this.subs.has(s)) s.fn(events);
    }, this.debounceMs);
  }
}
