import { useState } from 'preact/hooks';
import { formatDuration, formatTime } from '../lib/format';
import { can } from '../lib/roles';
import type { CodeIssued, CodeList, EndpointList } from '../lib/types';
import { Badge, Empty, Field, Loaded, ShownOnce } from '../ui/common';
import { useApp } from '../ui/context';
import { useAction, useLoad } from '../ui/hooks';

// The only durations a code can carry (docs/admin-codes.md, "Text").
export const CODE_DURATIONS_S = [300, 600, 900, 1800, 2700, 3600, 7200, 10800, 14400, 21600, 28800, 43200, 86400];

// "ac1a bwy1" -> "AC1A-BWY1"; reading folds case and ignores blanks/dashes.
export function normaliseChallenge(text: string): string {
  const raw = text.toUpperCase().replace(/[\s-]/g, '');
  return raw.length === 8 ? `${raw.slice(0, 4)}-${raw.slice(4)}` : raw;
}

export function CodesView() {
  const { api, session } = useApp();
  const [filterEndpoint, setFilterEndpoint] = useState('');
  const [filterUser, setFilterUser] = useState('');
  const q = new URLSearchParams({ limit: '200' });
  if (filterEndpoint) q.set('endpoint', filterEndpoint);
  if (filterUser.trim()) q.set('user', filterUser.trim());
  const codes = useLoad(() => api.get<CodeList>(`/api/v1/codes?${q.toString()}`), `codes-${q.toString()}`, ['codes']);
  const endpoints = useLoad(() => api.get<EndpointList>('/api/v1/endpoints'), 'codes-endpoints', ['endpoints']);
  const live = (endpoints.data?.endpoints ?? []).filter((e) => !e.retired_at).sort((a, b) => a.hostname.localeCompare(b.hostname));
  return (
    <section aria-labelledby="codes-title">
      <h1 id="codes-title">Offline admin codes</h1>
      {can(session.role, 'issue_codes') ? (
        <IssueForm endpoints={live} onIssued={codes.reload} />
      ) : (
        <p class="muted">Your role can see issued codes but not issue them.</p>
      )}
      <h2>Issued codes</h2>
      <div class="inline-form">
        <Field label="Endpoint">
          {(p) => (
            <select {...p} value={filterEndpoint} onChange={(e) => setFilterEndpoint(e.currentTarget.value)}>
              <option value="">all</option>
              {live.map((e) => (
                <option key={e.id} value={e.id}>
                  {e.hostname}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="User">{(p) => <input {...p} type="text" value={filterUser} onInput={(e) => setFilterUser(e.currentTarget.value)} />}</Field>
      </div>
      <Loaded state={codes} what="issued codes">
        {(data) =>
          data.codes.length === 0 ? (
            <Empty>
              <p>No code has been issued{filterEndpoint || filterUser ? ' that matches' : ''}.</p>
            </Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <caption class="sr-only">Issued codes, newest first (the codes themselves are never stored)</caption>
                <thead>
                  <tr>
                    <th scope="col">Issued</th>
                    <th scope="col">Host</th>
                    <th scope="col">User</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Grants</th>
                    <th scope="col">By</th>
                    <th scope="col">State</th>
                  </tr>
                </thead>
                <tbody>
                  {data.codes.map((c) => (
                    <tr key={c.id}>
                      <td data-label="Issued">{formatTime(c.issued_at)}</td>
                      <td data-label="Host">{c.host || c.endpoint}</td>
                      <td data-label="User">{c.user}</td>
                      <td data-label="Kind">
                        {c.kind === 'response' ? 'response' : `pre-issued, until ${formatTime(c.valid_until)}`}
                        <div class="muted small">
                          ref {c.ref} · key generation {c.generation}
                        </div>
                      </td>
                      <td data-label="Grants">
                        {formatDuration(c.duration_s)} {c.command ? <code>{c.command}</code> : 'admin session'}
                      </td>
                      <td data-label="By">{c.issued_by}</td>
                      <td data-label="State">
                        <Badge kind={c.state === 'used' ? 'active' : 'pending'}>{c.state}</Badge>
                        {c.used_at && <div class="muted small">{formatTime(c.used_at)}</div>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
    </section>
  );
}

function IssueForm({ endpoints, onIssued }: { endpoints: Array<{ id: string; hostname: string }>; onIssued: () => void }) {
  const { api } = useApp();
  const [busy, run] = useAction();
  const [endpoint, setEndpoint] = useState('');
  const [user, setUser] = useState('');
  const [kind, setKind] = useState<'response' | 'preissued'>('response');
  const [challenge, setChallenge] = useState('');
  const [days, setDays] = useState('1');
  const [duration, setDuration] = useState(3600);
  const [scope, setScope] = useState<'session' | 'command'>('session');
  const [command, setCommand] = useState('');
  const [reason, setReason] = useState('');
  const [issued, setIssued] = useState<CodeIssued | null>(null);
  const [tried, setTried] = useState(false);
  const ch = normaliseChallenge(challenge);
  const errors = {
    endpoint: endpoint ? undefined : 'Choose the computer',
    user: user.trim() ? undefined : 'The user name on that computer',
    challenge:
      kind === 'response' && !/^[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(ch) ? 'The 8-character challenge the user reads out, such as AC1A-BWY1' : undefined,
    days: kind === 'preissued' && !(Number.isInteger(Number(days)) && Number(days) >= 1 && Number(days) <= 31) ? 'From 1 to 31 days' : undefined,
    command: scope === 'command' && !command.startsWith('/') ? 'An absolute path, such as /usr/bin/apt-get' : undefined,
  };
  const invalid = Object.values(errors).some(Boolean);
  const shown = (k: keyof typeof errors) => (tried ? errors[k] : undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    setTried(true);
    if (invalid) return;
    const body: Record<string, unknown> = { endpoint, user: user.trim(), duration_s: duration };
    if (kind === 'response') body.challenge = ch;
    else body.days = Number(days);
    if (scope === 'command') body.command = command;
    if (reason.trim()) body.reason = reason.trim();
    setIssued(null);
    const out = await run('', () => api.post<CodeIssued>('/api/v1/codes', body));
    if (out) {
      setIssued(out);
      setChallenge('');
    }
    onIssued();
  };
  return (
    <form class="panel" onSubmit={(e) => void submit(e)} aria-labelledby="issue-title">
      <h2 id="issue-title">Issue a code</h2>
      <div class="grid-2">
        <Field label="Computer" error={shown('endpoint')}>
          {(p) => (
            <select {...p} value={endpoint} onChange={(e) => setEndpoint(e.currentTarget.value)}>
              <option value="">choose…</option>
              {endpoints.map((ep) => (
                <option key={ep.id} value={ep.id}>
                  {ep.hostname} ({ep.id})
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="User" error={shown('user')}>
          {(p) => <input {...p} type="text" autoComplete="off" value={user} onInput={(e) => setUser(e.currentTarget.value)} />}
        </Field>
      </div>
      <fieldset>
        <legend>Kind</legend>
        <label class="check">
          <input type="radio" name="code-kind" checked={kind === 'response'} onChange={() => setKind('response')} />
          Answer a challenge the user reads out (12 characters)
        </label>
        <label class="check">
          <input type="radio" name="code-kind" checked={kind === 'preissued'} onChange={() => setKind('preissued')} />
          Pre-issued code, valid for whole days from today (20 characters)
        </label>
      </fieldset>
      <div class="grid-2">
        {kind === 'response' ? (
          <Field label="Challenge" error={shown('challenge')}>
            {(p) => (
              <input {...p} type="text" autoComplete="off" class="code-input" value={challenge} onInput={(e) => setChallenge(e.currentTarget.value)} />
            )}
          </Field>
        ) : (
          <Field label="Valid for (days)" error={shown('days')}>
            {(p) => <input {...p} type="number" min={1} max={31} value={days} onInput={(e) => setDays(e.currentTarget.value)} />}
          </Field>
        )}
        <Field label="Duration">
          {(p) => (
            <select {...p} value={String(duration)} onChange={(e) => setDuration(Number(e.currentTarget.value))}>
              {CODE_DURATIONS_S.map((s) => (
                <option key={s} value={String(s)}>
                  {formatDuration(s)}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <fieldset>
        <legend>Allows</legend>
        <label class="check">
          <input type="radio" name="code-scope" checked={scope === 'session'} onChange={() => setScope('session')} />
          A temporary admin session (every elevated process recorded)
        </label>
        <label class="check">
          <input type="radio" name="code-scope" checked={scope === 'command'} onChange={() => setScope('command')} />
          One command only
        </label>
      </fieldset>
      {scope === 'command' && (
        <Field label="Command (absolute path)" error={shown('command')}>
          {(p) => <input {...p} type="text" value={command} onInput={(e) => setCommand(e.currentTarget.value)} />}
        </Field>
      )}
      <Field label="Reason (recorded in the audit trail)">
        {(p) => <input {...p} type="text" maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}
      </Field>
      <div class="actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>
          Issue code
        </button>
      </div>
      {issued && (
        <div aria-live="polite">
          <ShownOnce label={`Code for ${issued.user} on ${issued.host}`} value={issued.code} />
          <p class="muted">
            {formatDuration(issued.duration_s)} {issued.command ? `for ${issued.command}` : 'admin session'} · key generation {issued.generation}
            {issued.valid_until && ` · valid until ${formatTime(issued.valid_until)}`}
          </p>
        </div>
      )}
    </form>
  );
}
