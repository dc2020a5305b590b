import { useState } from 'preact/hooks';
import { enc } from '../lib/api';
import { tokenStateText, type EnrolmentTokenList } from '../lib/enrolment';
import { endpointStatus, formatAgo, formatTime } from '../lib/format';
import { can } from '../lib/roles';
import type { Endpoint, EndpointList, EnrolmentTokenCreated, KeyRotated } from '../lib/types';
import { Badge, Dialog, Empty, Field, Loaded, ShownOnce, splitList } from '../ui/common';
import { useApp } from '../ui/context';
import { useAction, useLoad, useNow } from '../ui/hooks';

export function EndpointsView() {
  const { api, session } = useApp();
  const state = useLoad(() => api.get<EndpointList>('/api/v1/endpoints'), 'endpoints', ['endpoints']);
  const now = useNow(15000);
  const [label, setLabel] = useState('');
  const [showRetired, setShowRetired] = useState(false);
  const [acting, setActing] = useState<{ kind: 'rotate' | 'retire'; endpoint: Endpoint } | null>(null);
  const admin = can(session.role, 'manage_endpoints');
  return (
    <section aria-labelledby="endpoints-title">
      <h1 id="endpoints-title">Endpoints</h1>
      <Loaded state={state} what="endpoints">
        {(data) => {
          const labels = [...new Set(data.endpoints.flatMap((e) => e.labels))].sort();
          const rows = data.endpoints.filter((e) => (showRetired || !e.retired_at) && (!label || e.labels.includes(label)));
          const online = data.endpoints.filter((e) => endpointStatus(e, now) === 'online').length;
          return (
            <>
              <p>
                {online} online of {data.endpoints.filter((e) => !e.retired_at).length} enrolled.
              </p>
              <div class="inline-form">
                <Field label="Endpoint group">
                  {(p) => (
                    <select {...p} value={label} onChange={(e) => setLabel(e.currentTarget.value)}>
                      <option value="">all</option>
                      {labels.map((l) => (
                        <option key={l} value={l}>
                          {l}
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
                <label class="check">
                  <input type="checkbox" checked={showRetired} onChange={(e) => setShowRetired(e.currentTarget.checked)} />
                  Show retired
                </label>
              </div>
              {rows.length === 0 ? (
                <Empty>
                  <p>No endpoint here yet. Enrol one with an enrolment token (hoist-agent enrol).</p>
                </Empty>
              ) : (
                <div class="table-wrap">
                  <table>
                    <caption class="sr-only">Endpoints</caption>
                    <thead>
                      <tr>
                        <th scope="col">Host</th>
                        <th scope="col">Status</th>
                        <th scope="col">Last seen</th>
                        <th scope="col">Agent</th>
                        <th scope="col">Groups</th>
                        <th scope="col">Code key</th>
                        {admin && (
                          <th scope="col">
                            <span class="sr-only">Actions</span>
                          </th>
                        )}
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((e) => {
                        const st = endpointStatus(e, now);
                        return (
                          <tr key={e.id}>
                            <td data-label="Host">
                              <strong>{e.hostname}</strong>
                              <div class="muted small">{e.id}</div>
                            </td>
                            <td data-label="Status">
                              <Badge kind={st}>{st}</Badge>
                            </td>
                            <td data-label="Last seen" title={formatTime(e.last_seen)}>
                              {formatAgo(e.last_seen, now)}
                            </td>
                            <td data-label="Agent">{e.agent_version || '—'}</td>
                            <td data-label="Groups">{e.labels.join(', ') || <span class="muted">none</span>}</td>
                            <td data-label="Code key">generation {e.codes_key_generation}</td>
                            {admin && (
                              <td class="row-actions">
                                {!e.retired_at && (
                                  <>
                                    <button type="button" class="btn btn-small" onClick={() => setActing({ kind: 'rotate', endpoint: e })}>
                                      Rotate code key…
                                    </button>
                                    <button type="button" class="btn btn-small btn-danger" onClick={() => setActing({ kind: 'retire', endpoint: e })}>
                                      Retire…
                                    </button>
                                  </>
                                )}
                              </td>
                            )}
                          </tr>
                        );
                      })}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          );
        }}
      </Loaded>
      {acting && <EndpointAction {...acting} onClose={() => setActing(null)} onDone={state.reload} />}
      {can(session.role, 'manage_enrolment') && <EnrolmentTokens />}
    </section>
  );
}

function EndpointAction({ kind, endpoint: e, onClose, onDone }: { kind: 'rotate' | 'retire'; endpoint: Endpoint; onClose: () => void; onDone: () => void }) {
  const { api } = useApp();
  const [busy, run] = useAction();
  const go = async () => {
    const ok =
      kind === 'rotate'
        ? await run('Code key rotated', () => api.post<KeyRotated>(`/api/v1/endpoints/${enc(e.id)}/codes-key/rotate`, {}))
        : await run(`${e.hostname} retired`, () => api.del(`/api/v1/endpoints/${enc(e.id)}`, {}));
    if (ok !== undefined) onClose();
    onDone();
  };
  return (
    <Dialog title={kind === 'rotate' ? `Rotate ${e.hostname}'s admin-code key?` : `Retire ${e.hostname}?`} onClose={onClose}>
      <p>
        {kind === 'rotate'
          ? `Moves the endpoint to key generation ${e.codes_key_generation + 1}: every offline code made for the old key stops fitting.`
          : "Its credential dies at once; the agent must enrol again to come back."}
      </p>
      <div class="actions">
        <button type="button" class="btn btn-danger" disabled={busy} onClick={() => void go()}>
          {kind === 'rotate' ? 'Rotate key' : 'Retire'}
        </button>
        <button type="button" class="btn" onClick={onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}

function EnrolmentTokens() {
  const { api } = useApp();
  const state = useLoad(
    async () => (await api.get<EnrolmentTokenList>('/api/v1/enrolment-tokens')).tokens,
    'enrolment-tokens',
    ['endpoints'],
  );
  const [labels, setLabels] = useState('');
  const [uses, setUses] = useState('1');
  const [hours, setHours] = useState('24');
  const [created, setCreated] = useState<EnrolmentTokenCreated | null>(null);
  const [busy, run] = useAction();
  const list = splitList(labels);
  const badLabel = list.find((l) => !/^[a-z0-9._-]{1,64}$/.test(l));
  const usesN = Number(uses);
  const hoursN = Number(hours);
  const usesError = Number.isInteger(usesN) && usesN >= 1 && usesN <= 100000 ? undefined : 'from 1 to 100000';
  const hoursError = Number.isFinite(hoursN) && hoursN * 3600 >= 60 && hoursN <= 366 * 24 ? undefined : 'from 0.02 to 8784 hours';
  return (
    <section aria-labelledby="tokens-title">
      <h2 id="tokens-title">Enrolment tokens</h2>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (badLabel || usesError || hoursError) return;
          void run('Enrolment token created', () =>
            api.post<EnrolmentTokenCreated>('/api/v1/enrolment-tokens', {
              labels: list,
              uses: usesN,
              expires_in_s: Math.round(hoursN * 3600),
            }),
          ).then((t) => {
            if (t) setCreated(t);
            state.reload();
          });
        }}
      >
        <Field label="Endpoint groups (labels)" hint="Endpoints enrolled with it join these groups" error={badLabel ? `"${badLabel}" may use only a-z, 0-9, '.', '-' and '_'` : undefined}>
          {(p) => <input {...p} type="text" value={labels} onInput={(e) => setLabels(e.currentTarget.value)} />}
        </Field>
        <Field label="Uses" error={usesError}>
          {(p) => <input {...p} type="number" min={1} max={100000} value={uses} onInput={(e) => setUses(e.currentTarget.value)} />}
        </Field>
        <Field label="Valid for (hours)" error={hoursError}>
          {(p) => <input {...p} type="number" min={1} step="any" value={hours} onInput={(e) => setHours(e.currentTarget.value)} />}
        </Field>
        <button type="submit" class="btn btn-primary" disabled={busy}>
          Create token
        </button>
      </form>
      {created && <ShownOnce label={`Enrolment token ${created.id} (until ${formatTime(created.expires_at)})`} value={created.token} />}
      <Loaded state={state} what="enrolment tokens">
        {(rows) =>
          rows.length === 0 ? (
            <Empty>
              <p>No enrolment token has been made.</p>
            </Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <caption class="sr-only">Enrolment tokens</caption>
                <thead>
                  <tr>
                    <th scope="col">Token</th>
                    <th scope="col">Groups</th>
                    <th scope="col">Uses left</th>
                    <th scope="col">Expires</th>
                    <th scope="col">State</th>
                    <th scope="col">
                      <span class="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((t) => {
                    const st = t.state;
                    return (
                      <tr key={t.id}>
                        <td data-label="Token">
                          <code>{t.id}</code>
                          <div class="muted small">
                            by {t.created_by}, {formatTime(t.created_at)}
                          </div>
                        </td>
                        <td data-label="Groups">{t.labels.join(', ') || '—'}</td>
                        <td data-label="Uses left">{t.uses_left}</td>
                        <td data-label="Expires">{formatTime(t.expires_at)}</td>
                        <td data-label="State">
                          <Badge kind={st === 'active' ? 'active' : 'expired'}>{tokenStateText(st)}</Badge>
                        </td>
                        <td class="row-actions">
                          {st === 'active' && (
                            <button
                              type="button"
                              class="btn btn-small btn-danger"
                              disabled={busy}
                              onClick={() =>
                                void run('Token revoked', () => api.del(`/api/v1/enrolment-tokens/${enc(t.id)}`, {})).then(state.reload)
                              }
                            >
                              Revoke
                            </button>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
    </section>
  );
}
