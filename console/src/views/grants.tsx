import { useState } from 'preact/hooks';
import { ApiError, enc } from '../lib/api';
import type { AuditKind } from '../lib/audit_kinds';
import { auditUrl } from '../lib/audit_query';
import { formatArgv, formatDuration, formatTime, secondsUntil, visibleText } from '../lib/format';
import { can } from '../lib/roles';
import { buildHash } from '../lib/router';
import { lifecycle, sessionProcesses } from '../lib/timeline';
import type { AuditEvent, AuditPage, ElevationRequest, GrantList } from '../lib/types';
import { Badge, Dialog, Empty, ErrorBox, Field, Loaded, Loading } from '../ui/common';
import { useApp } from '../ui/context';
import { useAction, useLoad, useNow } from '../ui/hooks';

function TimeLeft({ deadline }: { deadline: string | null }) {
  const now = useNow(1000);
  const left = secondsUntil(deadline, now);
  return <span class={left < 300 ? 'time-left soon' : 'time-left'}>{left > 0 ? formatDuration(left) : 'ending'}</span>;
}

export function GrantsView() {
  const { api, session } = useApp();
  const state = useLoad(() => api.get<GrantList>('/api/v1/grants'), 'grants', ['grants']);
  const [revoking, setRevoking] = useState<ElevationRequest | null>(null);
  const [lookup, setLookup] = useState('');
  return (
    <section aria-labelledby="grants-title">
      <h1 id="grants-title">Grants and sessions in force</h1>
      <Loaded state={state} what="grants">
        {(data) =>
          data.grants.length === 0 ? (
            <Empty>
              <p>No grant is in force right now.</p>
            </Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <caption class="sr-only">Grants in force</caption>
                <thead>
                  <tr>
                    <th scope="col">User</th>
                    <th scope="col">Host</th>
                    <th scope="col">What</th>
                    <th scope="col">Approved by</th>
                    <th scope="col">Ends</th>
                    <th scope="col">Time left</th>
                    <th scope="col">
                      <span class="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.grants.map((g) => (
                    <tr key={g.id}>
                      <td data-label="User">{g.requester}</td>
                      <td data-label="Host">{g.host}</td>
                      <td data-label="What">
                        {g.kind === 'session' ? (
                          <Badge kind="session">admin session</Badge>
                        ) : (
                          <code>{formatArgv(g.command.argv.length ? g.command.argv : [g.command.path])}</code>
                        )}{' '}
                        <Badge kind={g.state}>{g.state}</Badge>
                      </td>
                      <td data-label="Approved by">
                        {g.review ? `${g.review.reviewer || g.review.by}${g.review.by !== 'approver' ? ` (${g.review.by})` : ''}` : '—'}
                      </td>
                      <td data-label="Ends">{formatTime(g.grant_deadline)}</td>
                      <td data-label="Time left">
                        <TimeLeft deadline={g.grant_deadline} />
                      </td>
                      <td class="row-actions">
                        <a class="btn btn-small" href={buildHash('grant', g.id)}>
                          {g.kind === 'session' ? 'Timeline' : 'Details'}
                        </a>
                        {can(session.role, 'revoke') && (
                          <button type="button" class="btn btn-small btn-danger" onClick={() => setRevoking(g)}>
                            Revoke…
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (lookup.trim()) location.hash = buildHash('grant', lookup.trim());
        }}
      >
        <Field label="Open a session by its grant id" hint="Also for offline-code sessions (code-response-…), which hoistd learns of from the audit trail.">
          {(p) => <input {...p} type="text" value={lookup} onInput={(e) => setLookup(e.currentTarget.value)} />}
        </Field>
        <button type="submit" class="btn">
          Open
        </button>
      </form>
      {revoking && <RevokeDialog grant={revoking} onClose={() => setRevoking(null)} onDone={state.reload} />}
    </section>
  );
}

function RevokeDialog({ grant, onClose, onDone }: { grant: ElevationRequest; onClose: () => void; onDone: () => void }) {
  const { api } = useApp();
  const [busy, run] = useAction();
  const [reason, setReason] = useState('');
  return (
    <Dialog title={`Revoke ${grant.requester}'s grant on ${grant.host}`} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run('Revoked', () => api.post(`/api/v1/grants/${enc(grant.id)}/revoke`, { reason })).then((ok) => {
            if (ok !== undefined) onClose();
            onDone();
          });
        }}
      >
        <Field label="Reason (optional)" hint="Recorded in the audit trail.">
          {(p) => <input {...p} type="text" maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}
        </Field>
        <div class="actions">
          <button type="submit" class="btn btn-danger" disabled={busy}>
            Revoke now
          </button>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

// Every audit event for the grant (its target), plus the host's process
// events since it began, whose details.session names it: a command an allow
// rule allowed inside the session may carry another target.
async function loadTimeline(
  get: <T>(p: string) => Promise<T>,
  id: string,
  request: ElevationRequest | null,
): Promise<AuditEvent[]> {
  const all: AuditEvent[] = [];
  const pages = async (filters: Parameters<typeof auditUrl>[0], maxPages: number) => {
    let after: number | null = null;
    for (let i = 0; i < maxPages; i++) {
      const page: AuditPage = await get<AuditPage>(auditUrl(filters, { after, limit: 1000 }));
      all.push(...page.events);
      if (page.next_after === null) break;
      after = page.next_after;
    }
  };
  await pages({ target: id }, 20);
  if (request?.host) {
    const since = request.grant_start ?? request.created_at;
    const action: AuditKind = 'endpoint.process';
    await pages({ action, host: request.host, since: since.replace(/\.\d+Z$/, 'Z') }, 10);
  }
  return all;
}

export function GrantDetailView({ id }: { id: string }) {
  const { api, session } = useApp();
  const [revoking, setRevoking] = useState(false);
  const req = useLoad(
    () =>
      api.get<ElevationRequest>(`/api/v1/requests/${enc(id)}`).catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 404) return null; // an offline-code grant
        throw e;
      }),
    `grant-${id}`,
    ['grants'],
  );
  const events = useLoad(
    () =>
      req.data === undefined
        ? req.error
          ? loadTimeline((p) => api.get(p), id, null)
          : new Promise<AuditEvent[]>(() => undefined) // waits for the request (key below)
        : loadTimeline((p) => api.get(p), id, req.data),
    `timeline-${id}-${req.data === undefined ? (req.error ? 'error' : 'wait') : 'ready'}`,
    ['sessions', 'grants'],
  );
  const r = req.data;
  const processes = events.data ? sessionProcesses(events.data, id) : [];
  const life = events.data ? lifecycle(events.data, id) : [];
  const inForce = r && (r.state === 'approved' || r.state === 'active');
  return (
    <section aria-labelledby="grant-title">
      <p>
        <a href={buildHash('grants')}>← Grants and sessions</a>
      </p>
      <h1 id="grant-title">
        {r?.kind === 'session' || id.startsWith('code-') ? 'Session' : 'Grant'} <code>{id}</code>
      </h1>
      {req.error && <ErrorBox error={req.error} onRetry={req.reload} />}
      {req.loading && <Loading what="the grant" />}
      {r && (
        <dl class="facts">
          <dt>User</dt>
          <dd>
            {r.requester} on {r.host}
          </dd>
          <dt>State</dt>
          <dd>
            <Badge kind={r.state}>{r.state}</Badge> {r.end_reason && <span class="muted">({r.end_reason})</span>}
          </dd>
          <dt>What</dt>
          <dd>{r.kind === 'session' ? 'Temporary admin session' : <code>{formatArgv(r.command.argv)}</code>}</dd>
          <dt>Justification</dt>
          <dd>{visibleText(r.justification)}</dd>
          <dt>Granted</dt>
          <dd>
            {formatTime(r.grant_start ?? r.review?.at ?? null)} until {formatTime(r.grant_deadline)}
            {inForce && (
              <>
                {' '}
                (<TimeLeft deadline={r.grant_deadline} /> left)
              </>
            )}
          </dd>
        </dl>
      )}
      {r === null && <p class="muted">hoistd has no request with this id (an offline-code session is only in the audit trail).</p>}
      {inForce && can(session.role, 'revoke') && r && (
        <p>
          <button type="button" class="btn btn-danger" onClick={() => setRevoking(true)}>
            Revoke…
          </button>
        </p>
      )}
      {revoking && r && <RevokeDialog grant={r} onClose={() => setRevoking(false)} onDone={req.reload} />}

      <h2>Recorded elevated processes</h2>
      <Loaded state={events} what="the timeline">
        {() =>
          processes.length === 0 ? (
            <Empty>
              <p>No elevated process has been recorded for this {r?.kind === 'command' ? 'grant (processes are recorded for sessions)' : 'session yet'}.</p>
            </Empty>
          ) : (
            <ol class="timeline">
              {processes.map((p) => (
                <li key={p.seq} class={p.action === 'deny' ? 'tl-item tl-deny' : 'tl-item'}>
                  <div class="tl-time">{formatTime(p.endpointTime ?? p.time)}</div>
                  <div class="tl-body">
                    <code>{formatArgv(p.argv.length ? p.argv : [p.command])}</code>{' '}
                    <Badge kind={p.action === 'deny' ? 'denied' : 'active'}>{p.action || '?'}</Badge>
                    <div class="muted small">
                      {p.command} · {p.user} as {p.runas || 'root'}
                      {p.pid !== null && ` · pid ${p.pid}`}
                      {p.ppid !== null && ` (parent ${p.ppid})`}
                      {p.cwd && ` · in ${p.cwd}`}
                      {p.tty && ` · ${p.tty}`}
                      {p.rule && ` · rule ${p.rule}`}
                      {p.reason && ` · ${p.reason}`}
                    </div>
                    {p.sha256 && <div class="hash small">sha256 {p.sha256}</div>}
                  </div>
                </li>
              ))}
            </ol>
          )
        }
      </Loaded>
      {life.length > 0 && (
        <>
          <h2>History</h2>
          <ol class="timeline">
            {life.map((e) => (
              <li key={e.seq} class="tl-item">
                <div class="tl-time">{formatTime(e.time)}</div>
                <div class="tl-body">
                  <strong>{e.action}</strong> <span class="muted">by {e.actor}</span>
                </div>
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
