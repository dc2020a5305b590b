import { useState } from 'preact/hooks';
import { ApiError, enc } from '../lib/api';
import { auditUrl, localInputToRfc3339, rfc3339ToLocalInput } from '../lib/audit_query';
import { formatArgv, formatDuration, formatTime, secondsUntil, visibleText, waitState } from '../lib/format';
import {
  REQUEST_STATES,
  clampSearchText,
  decisionSummary,
  requestFiltersFromQuery,
  requestHistoryUrl,
  type RequestFilters,
} from '../lib/request_query';
import { can } from '../lib/roles';
import { buildHash } from '../lib/router';
import type { AuditEvent, AuditPage, ElevationRequest, RequestList } from '../lib/types';
import { AuditTable } from '../ui/audit_line';
import { Badge, Empty, ErrorBox, Field, Loaded, Loading } from '../ui/common';
import { useApp } from '../ui/context';
import { useAction, useLoad, useNow } from '../ui/hooks';
import { ApproveDialog, DenyDialog } from './queue';

const PAGE = 50;

function whatOf(r: ElevationRequest): string {
  if (r.kind === 'session') return 'Temporary admin session';
  return formatArgv(r.command.argv.length ? r.command.argv : [r.command.path]);
}

// --- the history: every request, decided or not, newest first -------------

export function RequestHistoryView({ query }: { query: Record<string, string> }) {
  const filters = requestFiltersFromQuery(query);
  const key = requestHistoryUrl(filters);
  return (
    <section aria-labelledby="history-title">
      <h1 id="history-title">Request history</h1>
      <p class="muted">Every request, waiting or decided, newest first. Open one for its details and history.</p>
      <HistoryFilters key={key} filters={filters} />
      <HistoryList key={`list-${key}`} filters={filters} />
    </section>
  );
}

function HistoryFilters({ filters }: { filters: RequestFilters }) {
  const [f, setF] = useState({
    state: filters.state ?? '',
    user: filters.user ?? '',
    host: filters.host ?? '',
    since: rfc3339ToLocalInput(filters.since),
    until: rfc3339ToLocalInput(filters.until),
    text: filters.text ?? '',
  });
  const set = (k: keyof typeof f, v: string) => setF({ ...f, [k]: v });
  const apply = (e: Event) => {
    e.preventDefault();
    location.hash = buildHash('requests', undefined, {
      state: f.state,
      user: f.user.trim(),
      host: f.host.trim(),
      since: localInputToRfc3339(f.since),
      until: localInputToRfc3339(f.until),
      text: clampSearchText(f.text.trim()),
    });
  };
  return (
    <form class="panel filters" onSubmit={apply} aria-label="Filters">
      <div class="grid-3">
        <Field label="State">
          {(p) => (
            <select {...p} value={f.state} onChange={(e) => set('state', e.currentTarget.value)}>
              <option value="">Any</option>
              {REQUEST_STATES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="User">{(p) => <input {...p} type="text" value={f.user} onInput={(e) => set('user', e.currentTarget.value)} />}</Field>
        <Field label="Host">{(p) => <input {...p} type="text" value={f.host} onInput={(e) => set('host', e.currentTarget.value)} />}</Field>
        <Field label="Asked from (your time)">
          {(p) => <input {...p} type="datetime-local" value={f.since} onInput={(e) => set('since', e.currentTarget.value)} />}
        </Field>
        <Field label="Asked until (your time)">
          {(p) => <input {...p} type="datetime-local" value={f.until} onInput={(e) => set('until', e.currentTarget.value)} />}
        </Field>
        <Field label="Text" hint="In the command, the justification, the rule, a comment or the id">
          {(p) => <input {...p} type="search" maxLength={256} value={f.text} onInput={(e) => set('text', e.currentTarget.value)} />}
        </Field>
      </div>
      <div class="actions">
        <button type="submit" class="btn btn-primary">
          Apply filters
        </button>
        <a class="btn" href={buildHash('requests')}>
          Clear
        </a>
      </div>
    </form>
  );
}

function HistoryList({ filters }: { filters: RequestFilters }) {
  const { api } = useApp();
  const [more, setMore] = useState<ElevationRequest[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [loadingMore, run] = useAction();
  const first = useLoad(() => api.get<RequestList>(requestHistoryUrl(filters, { limit: PAGE })), `history-${requestHistoryUrl(filters)}`, ['requests']);
  const next = cursor === undefined ? (first.data?.next_after ?? null) : cursor;
  const loadMore = async () => {
    if (next === null) return;
    const page = await run('', () => api.get<RequestList>(requestHistoryUrl(filters, { after: next, limit: PAGE })));
    if (!page) return;
    setMore([...more, ...page.requests]);
    setCursor(page.next_after);
  };
  return (
    <Loaded state={first} what="requests">
      {(data) => {
        const rows = [...data.requests, ...more.filter((m) => !data.requests.some((d) => d.id === m.id))];
        if (rows.length === 0)
          return (
            <Empty>
              <p>No request matches these filters.</p>
            </Empty>
          );
        return (
          <>
            <div class="table-wrap">
              <table class="history-table">
                <caption class="sr-only">Requests, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Asked</th>
                    <th scope="col">Who and where</th>
                    <th scope="col">What</th>
                    <th scope="col">Outcome</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr key={r.id}>
                      <td data-label="Asked" class="event-time">
                        <a href={buildHash('request', r.id)} aria-label={`Request ${r.id}, asked ${formatTime(r.created_at)}`}>
                          {formatTime(r.created_at)}
                        </a>
                      </td>
                      <td data-label="Who">
                        {r.requester} <span class="muted">on</span> {r.host}
                      </td>
                      <td data-label="What">
                        <code class="command">{whatOf(r)}</code>
                        {r.justification && <div class="muted small one-line">{visibleText(r.justification)}</div>}
                      </td>
                      <td data-label="Outcome">
                        <Badge kind={r.state}>{r.state}</Badge> <span class="small">{decisionSummary(r)}</span>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {next !== null && (
              <button type="button" class="btn" disabled={loadingMore} onClick={() => void loadMore()}>
                Load more
              </button>
            )}
          </>
        );
      }}
    </Loaded>
  );
}

// --- one request: what was asked, its state and history, approve/deny ------

async function historyOf(get: <T>(p: string) => Promise<T>, id: string): Promise<AuditEvent[]> {
  const all: AuditEvent[] = [];
  let after: number | null = null;
  for (let i = 0; i < 5; i++) {
    const page: AuditPage = await get<AuditPage>(auditUrl({ target: id }, { after, limit: 1000 }));
    all.push(...page.events);
    if (page.next_after === null) break;
    after = page.next_after;
  }
  return all;
}

function Deadline({ at }: { at: string }) {
  const now = useNow(1000);
  const left = secondsUntil(at, now);
  return (
    <>
      {formatTime(at)} <span class="muted">({left > 0 ? `in ${formatDuration(left)}` : 'passed'})</span>
    </>
  );
}

function Waited({ createdAt }: { createdAt: string }) {
  const now = useNow(1000);
  const w = waitState(createdAt, now);
  return (
    <div class={w.overdue ? 'wait wait-overdue' : 'wait'}>
      <progress max={120} value={Math.min(120, w.waitedS)} aria-label={w.label} />
      <span class="wait-label">{w.label}</span>
    </div>
  );
}

export function RequestView({ id }: { id: string }) {
  const { api, session } = useApp();
  const [dialog, setDialog] = useState<'approve' | 'deny' | null>(null);
  const [busy, run] = useAction();
  const req = useLoad(
    () =>
      api.get<ElevationRequest>(`/api/v1/requests/${enc(id)}`).catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }),
    `request-${id}`,
    ['requests'],
  );
  const events = useLoad(() => historyOf((p) => api.get(p), id), `request-history-${id}`, ['requests']);
  const r = req.data;
  const mayReview = can(session.role, 'review');
  const reload = () => {
    req.reload();
    events.reload();
  };
  const approve = async () => {
    if (!r) return;
    await run(`Approved ${r.requester}'s request for ${formatDuration(r.requested_duration_s)}`, () =>
      api.post(`/api/v1/requests/${enc(r.id)}/approve`, {}),
    );
    reload();
  };
  return (
    <section aria-labelledby="request-title">
      <p>
        <a href={buildHash('requests')}>← Request history</a> · <a href={buildHash('queue')}>Requests waiting</a>
      </p>
      <h1 id="request-title">
        Request <code>{id}</code>
      </h1>
      {req.error && <ErrorBox error={req.error} onRetry={req.reload} />}
      {req.loading && r === undefined && <Loading what="the request" />}
      {r === null && (
        <Empty>
          <p>hoistd has no request {id}. It may have been typed wrong: look for it in the request history.</p>
        </Empty>
      )}
      {r && (
        <>
          <div class="request-state">
            <Badge kind={r.state}>{r.state}</Badge> <span>{decisionSummary(r)}</span>
            {r.state === 'pending' && <Waited createdAt={r.created_at} />}
          </div>
          <dl class="facts request-facts">
            <dt>User</dt>
            <dd>
              <strong>{r.requester}</strong>
              {r.groups.length > 0 && <span class="muted"> (groups {r.groups.join(', ')})</span>}
            </dd>
            <dt>Host</dt>
            <dd>{r.host}</dd>
            <dt>{r.kind === 'session' ? 'Asks for' : 'Command'}</dt>
            <dd>
              <code class="command">{whatOf(r)}</code>
            </dd>
            {r.kind === 'command' && (
              <>
                <dt>Program</dt>
                <dd>
                  <code>{visibleText(r.command.path)}</code>
                  {r.command.runas && (r.command.runas.user !== 'root' || r.command.runas.group) && (
                    <span>
                      {' '}
                      as <strong>{r.command.runas.user}</strong>
                      {r.command.runas.group && ` with group ${r.command.runas.group}`}
                    </span>
                  )}
                </dd>
                <dt>SHA-256</dt>
                <dd>{r.command.sha256 ? <code class="hash">{r.command.sha256}</code> : <span class="muted">not computed</span>}</dd>
                <dt>Package</dt>
                <dd>{r.command.package ? <strong>{r.command.package}</strong> : <span class="muted">none</span>}</dd>
              </>
            )}
            <dt>Justification</dt>
            <dd class="justification">{visibleText(r.justification) || <span class="muted">none given</span>}</dd>
            <dt>Duration</dt>
            <dd>
              {formatDuration(r.requested_duration_s)} requested
              {r.max_duration_s > 0 && <span class="muted"> (the rule allows up to {formatDuration(r.max_duration_s)})</span>}
            </dd>
            <dt>Rule</dt>
            <dd>
              {r.rule || <span class="muted">policy default</span>} · approval {r.approval_mode}
            </dd>
            <dt>Asked</dt>
            <dd>{formatTime(r.created_at)}</dd>
            <dt>Waits until</dt>
            <dd>
              {r.state === 'pending' ? <Deadline at={r.pending_deadline} /> : formatTime(r.pending_deadline)}{' '}
              <span class="muted">(unanswered, it expires then)</span>
            </dd>
            {r.review && (
              <>
                <dt>Decision</dt>
                <dd>
                  {r.review.approved ? 'Approved' : 'Denied'} by {r.review.by === 'approver' ? r.review.reviewer : r.review.by} at {formatTime(r.review.at)}
                  {r.review.comment && (
                    <>
                      : <q class="justification">{visibleText(r.review.comment)}</q>
                    </>
                  )}
                </dd>
              </>
            )}
            {r.grant_deadline && (
              <>
                <dt>Granted</dt>
                <dd>
                  {formatTime(r.grant_start ?? r.review?.at ?? null)} until {formatTime(r.grant_deadline)}{' '}
                  <a href={buildHash('grant', r.id)}>Grant page</a>
                </dd>
              </>
            )}
            {r.ended_at && (
              <>
                <dt>Ended</dt>
                <dd>
                  {formatTime(r.ended_at)}
                  {r.ended_by && ` by ${r.ended_by}`}
                  {r.end_reason && <span class="muted"> ({visibleText(r.end_reason)})</span>}
                </dd>
              </>
            )}
          </dl>
          {r.state === 'pending' &&
            (mayReview ? (
              r.requester === session.user && !r.self_approval_allowed ? (
                <p class="muted">This is your own request: another approver must answer it.</p>
              ) : (
                <div class="actions">
                  <button type="button" class="btn btn-primary" disabled={busy} onClick={() => void approve()}>
                    Approve {formatDuration(r.requested_duration_s)}
                  </button>
                  <button type="button" class="btn" disabled={busy} onClick={() => setDialog('approve')}>
                    Approve shorter…
                  </button>
                  <button type="button" class="btn btn-danger" disabled={busy} onClick={() => setDialog('deny')}>
                    Deny…
                  </button>
                </div>
              )
            ) : (
              <p class="muted">Read-only: your role cannot answer requests.</p>
            ))}
          {dialog === 'approve' && <ApproveDialog request={r} onClose={() => setDialog(null)} onDone={reload} />}
          {dialog === 'deny' && <DenyDialog request={r} onClose={() => setDialog(null)} onDone={reload} />}
        </>
      )}
      <h2>History</h2>
      <Loaded state={events} what="the history">
        {(list) =>
          list.length === 0 ? (
            <Empty>
              <p>No event names this request.</p>
            </Empty>
          ) : (
            <AuditTable events={list} caption={`Audit events of request ${id}, oldest first`} linkTargets={false} />
          )
        }
      </Loaded>
    </section>
  );
}
