import { useState } from 'preact/hooks';
import { ApiError, enc } from '../lib/api';
import { formatArgv, formatDuration, formatTime, parseDuration, visibleText, waitState } from '../lib/format';
import { can } from '../lib/roles';
import { buildHash } from '../lib/router';
import {
  appendTable,
  renderRule,
  ruleFromRequest,
  ruleNamesIn,
  validateRule,
  type RuleScope,
} from '../lib/rule_toml';
import type { ElevationRequest, Endpoint, PolicyDetail, PolicyList, RequestList } from '../lib/types';
import { Badge, Dialog, Empty, Field, Loaded, splitList } from '../ui/common';
import { useApp } from '../ui/context';
import { useAction, useLoad, useNow } from '../ui/hooks';
import { RequestAlertControl } from '../ui/request_alerts';

export const PENDING_URL = '/api/v1/requests?state=pending&limit=1000';

function byAge(a: ElevationRequest, b: ElevationRequest): number {
  return Date.parse(a.created_at) - Date.parse(b.created_at);
}

export function QueueView() {
  const { api } = useApp();
  const state = useLoad(() => api.get<RequestList>(PENDING_URL), 'queue', ['requests']);
  return (
    <section aria-labelledby="queue-title">
      <h1 id="queue-title">Requests waiting for a decision</h1>
      <p class="muted">New requests appear here at once. The bar is the 2-minute answer target.</p>
      <RequestAlertControl />
      <Loaded state={state} what="requests">
        {(data) => {
          const pending = data.requests.filter((r) => r.state === 'pending').sort(byAge);
          if (pending.length === 0)
            return (
              <Empty>
                <p>
                  <strong>No requests are waiting.</strong> A new one shows here within a second.
                </p>
              </Empty>
            );
          return (
            <ul class="cards" aria-label={`${pending.length} waiting`}>
              {pending.map((r) => (
                <RequestCard key={r.id} request={r} onDone={state.reload} />
              ))}
            </ul>
          );
        }}
      </Loaded>
    </section>
  );
}

function WaitBar({ createdAt }: { createdAt: string }) {
  const now = useNow(1000);
  const w = waitState(createdAt, now);
  return (
    <div class={w.overdue ? 'wait wait-overdue' : 'wait'}>
      <progress max={120} value={Math.min(120, w.waitedS)} aria-label={w.label} />
      <span class="wait-label">{w.label}</span>
    </div>
  );
}

type DialogKind = 'approve' | 'deny' | 'rule' | null;

function RequestCard({ request: r, onDone }: { request: ElevationRequest; onDone: () => void }) {
  const { api, session } = useApp();
  const [busy, run] = useAction();
  const [dialog, setDialog] = useState<DialogKind>(null);
  const mayReview = can(session.role, 'review');
  const own = r.requester === session.user && !r.self_approval_allowed;
  const approve = async () => {
    await run(`Approved ${r.requester}'s request for ${formatDuration(r.requested_duration_s)}`, () =>
      api.post(`/api/v1/requests/${enc(r.id)}/approve`, {}),
    );
    onDone();
  };
  const title = r.kind === 'session' ? 'Temporary admin session' : formatArgv(r.command.argv.length ? r.command.argv : [r.command.path]);
  return (
    <li class="card request-card">
      <div class="card-head">
        <h2 class="card-title">
          <span class="who">
            {r.requester} <span class="muted">on</span> {r.host}
          </span>
        </h2>
        <WaitBar createdAt={r.created_at} />
      </div>
      <dl class="facts">
        <dt>{r.kind === 'session' ? 'Asks for' : 'Command'}</dt>
        <dd>
          <code class="command">{title}</code>
        </dd>
        {r.kind === 'command' && (
          <>
            <dt>Program</dt>
            <dd>
              <code>{visibleText(r.command.path)}</code>
              {r.command.package ? (
                <>
                  {' '}
                  from package <strong>{r.command.package}</strong>
                </>
              ) : (
                <span class="muted"> (no package)</span>
              )}
            </dd>
            {r.command.runas && (r.command.runas.user !== 'root' || r.command.runas.group) && (
              <>
                <dt>Runs as</dt>
                <dd>
                  <strong>{r.command.runas.user}</strong>
                  {r.command.runas.group && <span> with group {r.command.runas.group}</span>}
                </dd>
              </>
            )}
            <dt>SHA-256</dt>
            <dd>
              {r.command.sha256 ? <code class="hash">{r.command.sha256}</code> : <span class="muted">not computed</span>}
            </dd>
          </>
        )}
        <dt>Justification</dt>
        <dd class="justification">{visibleText(r.justification)}</dd>
        <dt>Duration</dt>
        <dd>
          {formatDuration(r.requested_duration_s)} requested
          {r.max_duration_s > 0 && <span class="muted"> (rule allows up to {formatDuration(r.max_duration_s)})</span>}
        </dd>
        <dt>Rule</dt>
        <dd>
          {r.rule || <span class="muted">policy default</span>} · approval {r.approval_mode}
          {r.groups.length > 0 && <span class="muted"> · groups {r.groups.join(', ')}</span>}
        </dd>
        <dt>Asked</dt>
        <dd>
          {formatTime(r.created_at)} <span class="muted">· id</span> <a href={buildHash('request', r.id)}>{r.id}</a>
        </dd>
      </dl>
      {mayReview ? (
        own ? (
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
            {can(session.role, 'approve_and_add_rule') && r.kind === 'command' && (
              <button type="button" class="btn" disabled={busy} onClick={() => setDialog('rule')}>
                Approve and add a rule…
              </button>
            )}
          </div>
        )
      ) : (
        <p class="muted">Read-only: your role cannot answer requests.</p>
      )}
      {dialog === 'approve' && <ApproveDialog request={r} onClose={() => setDialog(null)} onDone={onDone} />}
      {dialog === 'deny' && <DenyDialog request={r} onClose={() => setDialog(null)} onDone={onDone} />}
      {dialog === 'rule' && <RuleDialog request={r} onClose={() => setDialog(null)} onDone={onDone} />}
    </li>
  );
}

const PRESETS = [300, 900, 1800, 3600, 7200, 14400, 28800];

export function ApproveDialog({ request: r, onClose, onDone }: { request: ElevationRequest; onClose: () => void; onDone: () => void }) {
  const { api } = useApp();
  const [busy, run] = useAction();
  const [text, setText] = useState('');
  const [comment, setComment] = useState('');
  const seconds = text ? parseDuration(text) : r.requested_duration_s;
  const error =
    seconds === null
      ? 'Write a duration such as 15m, 1h or 1h30m'
      : seconds > r.requested_duration_s
        ? `An approval may shorten, never lengthen: at most ${formatDuration(r.requested_duration_s)}`
        : undefined;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (error || seconds === null) return;
    const ok = await run(`Approved for ${formatDuration(seconds)}`, () =>
      api.post(`/api/v1/requests/${enc(r.id)}/approve`, { duration_s: seconds, comment }),
    );
    if (ok !== undefined) onClose();
    onDone();
  };
  return (
    <Dialog title={`Approve ${r.requester}'s request`} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <div class="chips" role="group" aria-label="Quick durations">
          {PRESETS.filter((s) => s < r.requested_duration_s).map((s) => (
            <button type="button" class="btn btn-small" key={s} onClick={() => setText(formatDuration(s).replace(' ', ''))}>
              {formatDuration(s)}
            </button>
          ))}
        </div>
        <Field label="Duration" hint={`Requested ${formatDuration(r.requested_duration_s)}. Leave empty to grant that.`} error={error}>
          {(p) => <input {...p} type="text" value={text} placeholder={formatDuration(r.requested_duration_s).replace(' ', '')} onInput={(e) => setText(e.currentTarget.value)} />}
        </Field>
        <Field label="Comment (optional)">
          {(p) => <input {...p} type="text" maxLength={2000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />}
        </Field>
        <div class="actions">
          <button type="submit" class="btn btn-primary" disabled={busy || !!error}>
            Approve{seconds ? ` ${formatDuration(seconds)}` : ''}
          </button>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function DenyDialog({ request: r, onClose, onDone }: { request: ElevationRequest; onClose: () => void; onDone: () => void }) {
  const { api } = useApp();
  const [busy, run] = useAction();
  const [comment, setComment] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    const ok = await run('Denied', () => api.post(`/api/v1/requests/${enc(r.id)}/deny`, { comment }));
    if (ok !== undefined) onClose();
    onDone();
  };
  return (
    <Dialog title={`Deny ${r.requester}'s request`} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <Field label="Comment for the user" hint="Shown to the user at their terminal: say why, or what to do instead.">
          {(p) => (
            <textarea {...p} rows={3} maxLength={2000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
          )}
        </Field>
        <div class="actions">
          <button type="submit" class="btn btn-danger" disabled={busy}>
            Deny
          </button>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

// Approve, then add an allow rule to a chosen policy (a new version whose
// text is the current text plus the generated [[rule]]).
function RuleDialog({ request: r, onClose, onDone }: { request: ElevationRequest; onClose: () => void; onDone: () => void }) {
  const { api, notify } = useApp();
  const [busy, setBusy] = useState(false);
  const policies = useLoad(() => api.get<PolicyList>('/api/v1/policies'), 'rule-policies');
  const endpoint = useLoad(
    () => (r.endpoint_id ? api.get<Endpoint>(`/api/v1/endpoints/${enc(r.endpoint_id)}`) : Promise.resolve(null)),
    `ep-${r.endpoint_id}`,
  );
  const [policyName, setPolicyName] = useState('');
  const [scopeKind, setScopeKind] = useState<'host' | 'labels' | 'everywhere'>('host');
  const [labelsText, setLabelsText] = useState<string | null>(null);
  const [requesterOnly, setRequesterOnly] = useState(true);
  const [pinSha, setPinSha] = useState(!!r.command.sha256);
  const [exactArgs, setExactArgs] = useState(true);
  const [failure, setFailure] = useState<string | null>(null);

  const livePolicies = (policies.data?.policies ?? []).filter((p) => !p.deleted_at);
  const chosen = policyName || livePolicies[0]?.name || '';
  const hostLabels = endpoint.data?.labels ?? [];
  const labels = labelsText === null ? hostLabels : splitList(labelsText);
  const scope: RuleScope =
    scopeKind === 'host'
      ? { kind: 'host', host: r.host }
      : scopeKind === 'labels'
        ? { kind: 'labels', labels }
        : { kind: 'everywhere' };
  const spec = ruleFromRequest(r, { scope, requesterOnly, pinSha256: pinSha, exactArgs });
  const errors = validateRule(spec);
  const scopeError = scopeKind === 'labels' && labels.length === 0 ? 'Name at least one endpoint group' : undefined;
  const toml = renderRule(spec);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!chosen || errors.length > 0 || scopeError) return;
    setBusy(true);
    setFailure(null);
    try {
      await api.post(`/api/v1/requests/${enc(r.id)}/approve`, {});
      notify('ok', `Approved ${r.requester}'s request`);
    } catch (err) {
      setBusy(false);
      if (!(err instanceof ApiError && err.status === 401)) setFailure(`Not approved: ${(err as Error).message}`);
      onDone();
      return;
    }
    try {
      const current = await api.get<PolicyDetail>(`/api/v1/policies/${enc(chosen)}`);
      const text = current.current?.text ?? 'version = 1\n';
      const names = ruleNamesIn(text);
      let finalSpec = spec;
      for (let i = 2; names.includes(finalSpec.name); i++) finalSpec = { ...spec, name: `${spec.name.slice(0, 60)}-${i}` };
      const added = await api.put<{ version: number }>(`/api/v1/policies/${enc(chosen)}`, {
        text: appendTable(text, renderRule(finalSpec)),
        comment: `allow rule ${finalSpec.name} from request ${r.id}`,
        expected_version: current.current_version,
      });
      notify('ok', `Rule ${finalSpec.name} added to ${chosen} (version ${added.version})`);
      onClose();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401))
        setFailure(`The request is approved, but the rule was not added: ${(err as Error).message}`);
    } finally {
      setBusy(false);
      onDone();
    }
  };

  return (
    <Dialog title="Approve and add an allow rule" onClose={onClose} wide>
      <form onSubmit={(e) => void submit(e)}>
        <p>
          Approves this request now, then adds a rule to a policy so that next time{' '}
          <code>{r.command.path}</code> runs at once.
        </p>
        <Loaded state={policies} what="policies">
          {() =>
            livePolicies.length === 0 ? (
              <p class="field-message">There is no policy to add the rule to: create one under Policies first.</p>
            ) : (
              <Field label="Policy">
                {(p) => (
                  <select {...p} value={chosen} onChange={(e) => setPolicyName(e.currentTarget.value)}>
                    {livePolicies.map((pol) => (
                      <option key={pol.name} value={pol.name}>
                        {pol.name} (v{pol.current_version}; groups {pol.labels.join(', ') || 'none'})
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            )
          }
        </Loaded>
        <fieldset>
          <legend>Where the rule applies</legend>
          <label class="check">
            <input type="radio" name="scope" checked={scopeKind === 'host'} onChange={() => setScopeKind('host')} />
            Only on {r.host}
          </label>
          <label class="check">
            <input type="radio" name="scope" checked={scopeKind === 'labels'} onChange={() => setScopeKind('labels')} />
            Only on endpoints in these groups (labels)
          </label>
          {scopeKind === 'labels' && (
            <Field
              label="Endpoint groups"
              hint={`${r.host} is in: ${hostLabels.join(', ') || 'no groups'}.`}
              error={scopeError}
            >
              {(p) => (
                <input {...p} type="text" value={labelsText ?? hostLabels.join(', ')} onInput={(e) => setLabelsText(e.currentTarget.value)} />
              )}
            </Field>
          )}
          <label class="check">
            <input type="radio" name="scope" checked={scopeKind === 'everywhere'} onChange={() => setScopeKind('everywhere')} />
            Wherever the policy applies
          </label>
        </fieldset>
        <fieldset>
          <legend>How narrow</legend>
          <label class="check">
            <input type="checkbox" checked={requesterOnly} onChange={(e) => setRequesterOnly(e.currentTarget.checked)} />
            Only for {r.requester}
          </label>
          <label class="check">
            <input type="checkbox" checked={pinSha} disabled={!r.command.sha256} onChange={(e) => setPinSha(e.currentTarget.checked)} />
            Only this exact file (SHA-256){!r.command.sha256 && ' — not known for this request'}
          </label>
          <label class="check">
            <input type="checkbox" checked={exactArgs} onChange={(e) => setExactArgs(e.currentTarget.checked)} />
            Only these arguments: <code>{formatArgv(r.command.argv.slice(1)) || '(none)'}</code>
          </label>
        </fieldset>
        <h3>The rule</h3>
        <pre class="toml" aria-label="Generated rule">{toml}</pre>
        {errors.length > 0 && (
          <ul class="field-message">
            {errors.map((er) => (
              <li key={er.field + er.message}>
                {er.field}: {er.message}
              </li>
            ))}
          </ul>
        )}
        {failure && (
          <p class="error-box" role="alert">
            {failure}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="btn btn-primary" disabled={busy || !chosen || errors.length > 0 || !!scopeError}>
            Approve and add rule
          </button>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function StateBadge({ state }: { state: string }) {
  return <Badge kind={state}>{state}</Badge>;
}
