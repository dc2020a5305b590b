import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, enc } from '../lib/api';
import { formatTime } from '../lib/format';
import { checkSummary, outlinePolicy, parsePolicyErrors, problemsFromCheck, type PolicyProblem } from '../lib/policy_text';
import { can } from '../lib/roles';
import { buildHash } from '../lib/router';
import {
  appendTable,
  renderAutoApproval,
  renderRule,
  ruleNamesIn,
  validateAutoApproval,
  validateRule,
  type ApprovalMode,
  type AutoApprovalSpec,
  type RuleAction,
  type RuleSpec,
} from '../lib/rule_toml';
import type { PolicyCheck, PolicyDetail, PolicyDiff, PolicyList, PolicyVersion, PolicyVersions } from '../lib/types';
import { Dialog, Empty, ErrorBox, Field, Loaded, splitList } from '../ui/common';
import { DiffView } from '../ui/diff';
import { useApp } from '../ui/context';
import { useAction, useLoad } from '../ui/hooks';

const NEW_POLICY_TEXT = `version = 1

[settings]
default_action = "request"
max_duration = "8h"
approval_wait = "2m"
`;

export function PoliciesView() {
  const { api, session } = useApp();
  const state = useLoad(() => api.get<PolicyList>('/api/v1/policies'), 'policies', ['policies']);
  const [creating, setCreating] = useState(false);
  const [showDeleted, setShowDeleted] = useState(false);
  return (
    <section aria-labelledby="policies-title">
      <h1 id="policies-title">Policies (Privileged Application Lists)</h1>
      {can(session.role, 'edit_policies') && (
        <p>
          <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>
            New policy…
          </button>
        </p>
      )}
      <Loaded state={state} what="policies">
        {(data) => {
          const rows = data.policies.filter((p) => showDeleted || !p.deleted_at);
          return (
            <>
              <label class="check">
                <input type="checkbox" checked={showDeleted} onChange={(e) => setShowDeleted(e.currentTarget.checked)} />
                Show deleted policies
              </label>
              {rows.length === 0 ? (
                <Empty>
                  <p>No policy yet. Without one, every endpoint uses the default: ask a technician.</p>
                </Empty>
              ) : (
                <div class="table-wrap">
                  <table>
                    <caption class="sr-only">Policies</caption>
                    <thead>
                      <tr>
                        <th scope="col">Name</th>
                        <th scope="col">Version</th>
                        <th scope="col">Endpoint groups</th>
                        <th scope="col">State</th>
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((p) => (
                        <tr key={p.name}>
                          <td data-label="Name">
                            <a href={buildHash('policy', p.name)}>{p.name}</a>
                          </td>
                          <td data-label="Version">{p.current_version}</td>
                          <td data-label="Groups">{p.labels.length ? p.labels.join(', ') : <span class="muted">none (applies nowhere)</span>}</td>
                          <td data-label="State">{p.deleted_at ? `deleted ${formatTime(p.deleted_at)}` : 'in use'}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          );
        }}
      </Loaded>
      {creating && <NewPolicyDialog onClose={() => setCreating(false)} />}
    </section>
  );
}

function NewPolicyDialog({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState('');
  const error = name && !/^[a-z0-9._-]{1,64}$/.test(name) ? "a policy name uses a-z, 0-9, '.', '-' and '_' (1 to 64)" : undefined;
  return (
    <Dialog title="New policy" onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!name || error) return;
          onClose();
          location.hash = buildHash('policy', name, { new: '1' });
        }}
      >
        <Field label="Name" error={error} hint="It is created when you save its first version.">
          {(p) => <input {...p} type="text" required value={name} onInput={(e) => setName(e.currentTarget.value)} />}
        </Field>
        <div class="actions">
          <button type="submit" class="btn btn-primary" disabled={!name || !!error}>
            Continue
          </button>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function PolicyDetailView({ name, isNew }: { name: string; isNew: boolean }) {
  const { api, session } = useApp();
  const detail = useLoad(
    () =>
      api.get<PolicyDetail>(`/api/v1/policies/${enc(name)}`).catch((e: unknown) => {
        if (isNew && e instanceof ApiError && e.status === 404) return null;
        throw e;
      }),
    `policy-${name}`,
    ['policies'],
  );
  const versions = useLoad(
    () =>
      api.get<PolicyVersions>(`/api/v1/policies/${enc(name)}/versions`).catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 404) return { versions: [] } as PolicyVersions;
        throw e;
      }),
    `versions-${name}`,
    ['policies'],
  );
  const editable = can(session.role, 'edit_policies');
  return (
    <section aria-labelledby="policy-title">
      <p>
        <a href={buildHash('policies')}>← Policies</a>
      </p>
      <h1 id="policy-title">
        Policy <code>{name}</code>
      </h1>
      <Loaded state={detail} what="the policy">
        {(d) =>
          d === null ? (
            <Editor name={name} text={NEW_POLICY_TEXT} version={0} editable={editable} onSaved={() => { detail.reload(); versions.reload(); }} />
          ) : (
            <>
              <p class="muted">
                Version {d.current_version}
                {d.current && ` by ${d.current.author}, ${formatTime(d.current.created_at)}`}
                {d.current?.comment && ` — ${d.current.comment}`}
                {d.deleted_at && ` · deleted ${formatTime(d.deleted_at)}`}
              </p>
              <Labels name={name} labels={d.labels} editable={editable && !d.deleted_at} onSaved={detail.reload} />
              <Editor
                key={`${name}@${d.current_version}`}
                name={name}
                text={d.current?.text ?? ''}
                version={d.deleted_at ? 0 : d.current_version}
                editable={editable}
                onSaved={() => {
                  detail.reload();
                  versions.reload();
                }}
              />
              {editable && !d.deleted_at && <DeletePolicy name={name} onDone={detail.reload} />}
            </>
          )
        }
      </Loaded>
      <h2>Version history</h2>
      <Loaded state={versions} what="versions">
        {(v) => <History name={name} versions={v.versions} />}
      </Loaded>
    </section>
  );
}

function Labels({ name, labels, editable, onSaved }: { name: string; labels: string[]; editable: boolean; onSaved: () => void }) {
  const { api } = useApp();
  const [text, setText] = useState(labels.join(', '));
  const [busy, run] = useAction();
  useEffect(() => setText(labels.join(', ')), [labels.join(',')]);
  const list = splitList(text);
  const bad = list.find((l) => !/^[a-z0-9._-]{1,64}$/.test(l));
  if (!editable)
    return (
      <p>
        <strong>Endpoint groups:</strong> {labels.length ? labels.join(', ') : 'none (this policy applies to no endpoint)'}
      </p>
    );
  return (
    <form
      class="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (bad) return;
        void run('Endpoint groups saved', () => api.put(`/api/v1/policies/${enc(name)}/labels`, { labels: list })).then(onSaved);
      }}
    >
      <Field
        label="Assigned to endpoint groups (labels)"
        hint="Comma-separated. Endpoints with any of these labels use this policy."
        error={bad ? `"${bad}" may use only a-z, 0-9, '.', '-' and '_'` : undefined}
      >
        {(p) => <input {...p} type="text" value={text} onInput={(e) => setText(e.currentTarget.value)} />}
      </Field>
      <button type="submit" class="btn" disabled={busy || !!bad}>
        Save groups
      </button>
    </form>
  );
}

function DeletePolicy({ name, onDone }: { name: string; onDone: () => void }) {
  const { api } = useApp();
  const [open, setOpen] = useState(false);
  const [busy, run] = useAction();
  return (
    <>
      <p>
        <button type="button" class="btn btn-danger" onClick={() => setOpen(true)}>
          Delete policy…
        </button>
      </p>
      {open && (
        <Dialog title={`Delete policy ${name}?`} onClose={() => setOpen(false)}>
          <p>Endpoints stop using it at once. Its history is kept; saving a new version brings it back.</p>
          <div class="actions">
            <button
              type="button"
              class="btn btn-danger"
              disabled={busy}
              onClick={() =>
                void run('Policy deleted', () => api.del(`/api/v1/policies/${enc(name)}`, {})).then(() => {
                  setOpen(false);
                  onDone();
                })
              }
            >
              Delete
            </button>
            <button type="button" class="btn" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
        </Dialog>
      )}
    </>
  );
}

// A one-line TOML string as the reader wants it: "request" -> request.
function unquote(value: string): string {
  return value.replace(/^"(.*)"$/, '$1');
}

function VersionSelect({
  label,
  versions,
  value,
  onChange,
}: {
  label: string;
  versions: PolicyVersion[];
  value: number;
  onChange: (version: number) => void;
}) {
  return (
    <Field label={label}>
      {(p) => (
        <select {...p} value={String(value)} onChange={(e) => onChange(Number(e.currentTarget.value))}>
          {versions.map((v) => (
            <option key={v.version} value={String(v.version)}>
              {v.version}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

// Problems in the policy text; a click on "line N" selects that line.
function ProblemList({
  problems,
  area,
  class: cls,
  label,
}: {
  problems: PolicyProblem[];
  area: { current: HTMLTextAreaElement | null };
  class?: string;
  label?: string;
}) {
  return (
    <ul class={cls} aria-label={label}>
      {problems.map((pr, i) => (
        <li key={i}>
          {pr.line !== null ? (
            <button type="button" class="btn btn-link" onClick={() => selectLine(area.current, pr.line ?? 1)}>
              line {pr.line}
              {pr.column !== null ? `:${pr.column}` : ''}
            </button>
          ) : null}{' '}
          {pr.message}
        </li>
      ))}
    </ul>
  );
}

function selectLine(textarea: HTMLTextAreaElement | null, line: number): void {
  if (!textarea) return;
  const lines = textarea.value.split('\n');
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += (lines[i]?.length ?? 0) + 1;
  const end = start + (lines[line - 1]?.length ?? 0);
  textarea.focus();
  textarea.setSelectionRange(start, end);
}

function Editor({
  name,
  text: initial,
  version,
  editable,
  onSaved,
}: {
  name: string;
  text: string;
  version: number;
  editable: boolean;
  onSaved: () => void;
}) {
  const { api, notify } = useApp();
  const [text, setText] = useState(initial);
  const [comment, setComment] = useState('');
  const [problems, setProblems] = useState<PolicyProblem[]>([]);
  const [busy, setBusy] = useState(false);
  const [builder, setBuilder] = useState<'rule' | 'auto' | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const dirty = text !== initial;
  const outline = outlinePolicy(text);
  // hoistd checks the text as it is typed (a dry run of saving), so errors
  // show against their lines before anyone presses Save.
  const [check, setCheck] = useState<PolicyCheck | null>(null);
  const [checkFailed, setCheckFailed] = useState(false);
  const checkSeq = useRef(0);
  useEffect(() => {
    if (!editable || !dirty) {
      setCheck(null);
      setCheckFailed(false);
      return;
    }
    const seq = ++checkSeq.current;
    const timer = setTimeout(() => {
      api
        .post<PolicyCheck>(`/api/v1/policies/${enc(name)}/check`, { text })
        .then((c) => {
          if (seq !== checkSeq.current) return;
          setCheck(c);
          setCheckFailed(false);
        })
        .catch(() => {
          if (seq === checkSeq.current) setCheckFailed(true);
        });
    }, 400);
    return () => clearTimeout(timer);
  }, [text, editable, dirty, name, api]);
  const checkProblems = check && !check.valid ? problemsFromCheck(check) : [];
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblems([]);
    try {
      const saved = await api.put<PolicyVersion>(`/api/v1/policies/${enc(name)}`, {
        text,
        comment,
        expected_version: version,
      });
      notify('ok', `Saved ${name} version ${saved.version}`);
      setComment('');
      onSaved();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'invalid_argument') setProblems(parsePolicyErrors(err.message));
      else if (err instanceof ApiError && err.status === 409)
        setProblems([{ line: null, column: null, message: `${err.message} — someone saved a newer version: copy your changes, reload, and apply them again.` }]);
      else if (!(err instanceof ApiError && err.status === 401)) setProblems([{ line: null, column: null, message: (err as Error).message }]);
    } finally {
      setBusy(false);
    }
  };
  const settings = outline.find((o) => o.kind === 'settings');
  const rules = outline.filter((o) => o.kind === 'rule');
  const autos = outline.filter((o) => o.kind === 'auto_approval');
  return (
    <div class="editor">
      <h2>Rules</h2>
      {rules.length === 0 && autos.length === 0 ? (
        <p class="muted">No rules yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Rules and autonomous approvals in the text below</caption>
            <thead>
              <tr>
                <th scope="col">Line</th>
                <th scope="col">Kind</th>
                <th scope="col">Name</th>
                <th scope="col">Action / approval</th>
                <th scope="col">Covers</th>
              </tr>
            </thead>
            <tbody>
              {[...rules, ...autos].map((o) => (
                <tr key={o.line}>
                  <td data-label="Line">
                    <button type="button" class="btn btn-link" onClick={() => selectLine(area.current, o.line)}>
                      {o.line}
                    </button>
                  </td>
                  <td data-label="Kind">{o.kind === 'rule' ? 'rule' : 'autonomous approval'}</td>
                  <td data-label="Name">{o.name}</td>
                  <td data-label="Action">
                    {o.kind === 'rule'
                      ? `${unquote(o.fields.action ?? '?')}${o.fields.approval ? ` · ${unquote(o.fields.approval)}` : ''}${o.fields.self_approval_groups ? ` · self: ${o.fields.self_approval_groups}` : ''}`
                      : `up to ${unquote(o.fields.max_duration ?? '?')}`}
                  </td>
                  <td data-label="Covers" class="small">
                    {['session', 'any_command', 'sha256', 'path', 'folder', 'path_glob', 'package', 'rules', 'users', 'groups', 'labels', 'hosts']
                      .filter((k) => o.fields[k])
                      .map((k) => `${k} ${o.fields[k]}`)
                      .join('; ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {settings && (
        <p class="small">
          <strong>Settings:</strong>{' '}
          {Object.entries(settings.fields)
            .map(([k, v]) => `${k} = ${v}`)
            .join('; ') || 'defaults'}
        </p>
      )}
      <form onSubmit={(e) => void save(e)}>
        <Field label={editable ? 'Policy text (TOML)' : 'Policy text (TOML, read-only)'} hint="Rules as in docs/policy.md. hoistd checks the text as you type and again when you save.">
          {(p) => (
            <textarea
              {...p}
              ref={area}
              class="code-input"
              rows={24}
              spellcheck={false}
              readOnly={!editable}
              value={text}
              onInput={(e) => setText(e.currentTarget.value)}
            />
          )}
        </Field>
        {editable && dirty && (
          <div class="policy-check" role="status" aria-live="polite">
            {checkFailed ? (
              <p class="muted">The text could not be checked just now; it is checked again when you save.</p>
            ) : check === null || check.name !== name ? (
              <p class="muted">Checking…</p>
            ) : (
              <>
                <p class={check.valid ? 'check-ok' : 'check-bad'}>{checkSummary(check)}</p>
                {checkProblems.length > 0 && (
                  <ProblemList problems={checkProblems} area={area} class="problems" label="Problems in the policy text" />
                )}
                {check.valid && check.changed && (
                  <details>
                    <summary>What saving changes</summary>
                    <DiffView diff={check.diff} label={`Changes from version ${check.current_version} to the text above`} />
                    {check.diff_truncated && <p class="muted">The diff is cut short.</p>}
                  </details>
                )}
              </>
            )}
          </div>
        )}
        {problems.length > 0 && (
          <div class="error-box" role="alert">
            <p>
              <strong>Not saved: the policy has {problems.length} problem{problems.length > 1 ? 's' : ''}.</strong>
            </p>
            <ProblemList problems={problems} area={area} />
          </div>
        )}
        {editable && (
          <>
            <div class="actions">
              <button type="button" class="btn" onClick={() => setBuilder('rule')}>
                Add a rule…
              </button>
              <button type="button" class="btn" onClick={() => setBuilder('auto')}>
                Add an autonomous approval…
              </button>
            </div>
            <Field label="What changed (comment for the history)">
              {(p) => <input {...p} type="text" maxLength={1000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />}
            </Field>
            <div class="actions">
              <button type="submit" class="btn btn-primary" disabled={busy || (!dirty && version > 0)}>
                Save as version {version + 1}
              </button>
              {dirty && (
                <button type="button" class="btn" onClick={() => { setText(initial); setProblems([]); }}>
                  Discard changes
                </button>
              )}
            </div>
          </>
        )}
      </form>
      {builder === 'rule' && (
        <RuleBuilder existing={ruleNamesIn(text)} onClose={() => setBuilder(null)} onAdd={(t) => setText(appendTable(text, t))} />
      )}
      {builder === 'auto' && <AutoBuilder onClose={() => setBuilder(null)} onAdd={(t) => setText(appendTable(text, t))} />}
    </div>
  );
}

type RuleForm = {
  name: string;
  description: string;
  action: RuleAction;
  covers: 'path' | 'folder' | 'path_glob' | 'sha256' | 'package' | 'any_command' | 'session';
  target: string;
  verified: boolean;
  argsMode: 'any' | 'none' | 'globs' | 'regex';
  args: string;
  users: string;
  groups: string;
  labels: string;
  hosts: string;
  days: string;
  hours: string;
  timezone: string;
  approval: ApprovalMode;
  default_duration: string;
  max_duration: string;
  reauthenticate: 'default' | 'yes' | 'no';
  self_approval_groups: string;
};

export function specFromForm(f: RuleForm): RuleSpec {
  const spec: RuleSpec = { name: f.name.trim(), action: f.action };
  if (f.description.trim()) spec.description = f.description.trim();
  const target = f.target.trim();
  switch (f.covers) {
    case 'session':
      spec.session = true;
      break;
    case 'any_command':
      spec.any_command = true;
      break;
    case 'sha256':
      spec.sha256 = splitList(target);
      break;
    default:
      if (target) spec[f.covers] = target;
  }
  if (f.verified && f.covers !== 'session' && f.covers !== 'any_command') spec.verified = true;
  if (f.covers !== 'session') {
    // one argument per line, so arguments may hold blanks and commas
    const list = f.args.split('\n').filter((l) => l !== '');
    if (f.argsMode === 'none') spec.args = [];
    else if (f.argsMode === 'globs') spec.args = list;
    else if (f.argsMode === 'regex' && list.length) spec.args_regex = list;
  }
  if (splitList(f.users).length) spec.users = splitList(f.users);
  if (splitList(f.groups).length) spec.groups = splitList(f.groups);
  if (splitList(f.labels).length) spec.labels = splitList(f.labels);
  if (splitList(f.hosts).length) spec.hosts = splitList(f.hosts).map((h) => h.toLowerCase());
  if (f.days.trim()) spec.days = f.days.trim();
  if (f.hours.trim()) spec.hours = f.hours.trim();
  if (f.timezone.trim()) spec.timezone = f.timezone.trim();
  if (f.action === 'request') {
    spec.approval = f.approval;
    if (f.default_duration.trim()) spec.default_duration = f.default_duration.trim();
    if (f.max_duration.trim()) spec.max_duration = f.max_duration.trim();
    if (splitList(f.self_approval_groups).length) spec.self_approval_groups = splitList(f.self_approval_groups);
  }
  if (f.action !== 'deny' && f.reauthenticate !== 'default') spec.reauthenticate = f.reauthenticate === 'yes';
  return spec;
}

const COVERS_LABEL: Record<RuleForm['covers'], string> = {
  path: 'Exact path',
  folder: 'Folder and below',
  path_glob: 'Path pattern (glob)',
  sha256: 'SHA-256 of the file (one or more)',
  package: 'Debian package',
  any_command: 'Any command',
  session: 'Temporary admin session (hoist elevate)',
};

function RuleBuilder({ existing, onClose, onAdd }: { existing: string[]; onClose: () => void; onAdd: (toml: string) => void }) {
  const [f, setF] = useState<RuleForm>({
    name: '',
    description: '',
    action: 'allow',
    covers: 'path',
    target: '',
    verified: false,
    argsMode: 'any',
    args: '',
    users: '',
    groups: '',
    labels: '',
    hosts: '',
    days: '',
    hours: '',
    timezone: '',
    approval: 'manual',
    default_duration: '',
    max_duration: '',
    reauthenticate: 'default',
    self_approval_groups: '',
  });
  const set = <K extends keyof RuleForm>(k: K, v: RuleForm[K]) => setF({ ...f, [k]: v });
  const spec = specFromForm(f);
  const errors = validateRule(spec, existing);
  const errorFor = (...fields: string[]) =>
    errors
      .filter((e) => fields.includes(e.field))
      .map((e) => e.message)
      .join('; ') || undefined;
  const [tried, setTried] = useState(false);
  const show = (...fields: string[]) => (tried || fields.some((x) => x !== 'name') ? errorFor(...fields) : undefined);
  const needsTarget = f.covers !== 'any_command' && f.covers !== 'session';
  return (
    <Dialog title="Add a rule" onClose={onClose} wide>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setTried(true);
          if (errors.length) return;
          onAdd(renderRule(spec));
          onClose();
        }}
      >
        <div class="grid-2">
          <Field label="Name" hint="Unique; A-Z a-z 0-9 . _ -" error={tried ? errorFor('name') : undefined}>
            {(p) => <input {...p} type="text" required value={f.name} onInput={(e) => set('name', e.currentTarget.value)} />}
          </Field>
          <Field label="Action" error={show('action')}>
            {(p) => (
              <select {...p} value={f.action} onChange={(e) => set('action', e.currentTarget.value as RuleAction)}>
                <option value="allow">allow: runs at once</option>
                <option value="request">request: asks for approval</option>
                <option value="deny">deny: always refused</option>
              </select>
            )}
          </Field>
        </div>
        <Field label="Description (optional)">
          {(p) => <input {...p} type="text" value={f.description} onInput={(e) => set('description', e.currentTarget.value)} />}
        </Field>
        <div class="grid-2">
          <Field label="Covers" error={show('session', 'any_command')}>
            {(p) => (
              <select {...p} value={f.covers} onChange={(e) => set('covers', e.currentTarget.value as RuleForm['covers'])}>
                {Object.entries(COVERS_LABEL).map(([k, v]) => (
                  <option key={k} value={k}>
                    {v}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {needsTarget && (
            <Field label={COVERS_LABEL[f.covers]} error={show('path', 'folder', 'path_glob', 'sha256', 'package')}>
              {(p) => <input {...p} type="text" value={f.target} onInput={(e) => set('target', e.currentTarget.value)} />}
            </Field>
          )}
        </div>
        {needsTarget && (
          <label class="check">
            <input type="checkbox" checked={f.verified} onChange={(e) => set('verified', e.currentTarget.checked)} />
            Only a file an installed package owns, unmodified (verified)
          </label>
        )}
        {f.covers !== 'session' && (
          <div class="grid-2">
            <Field label="Arguments" error={show('args_regex')}>
              {(p) => (
                <select {...p} value={f.argsMode} onChange={(e) => set('argsMode', e.currentTarget.value as RuleForm['argsMode'])}>
                  <option value="any">any arguments</option>
                  <option value="none">no arguments at all</option>
                  <option value="globs">these globs, one per argument</option>
                  <option value="regex">these regular expressions (RE2)</option>
                </select>
              )}
            </Field>
            {(f.argsMode === 'globs' || f.argsMode === 'regex') && (
              <Field label="One per line" hint='End with a line "..." to accept further arguments.'>
                {(p) => <textarea {...p} rows={3} value={f.args} onInput={(e) => set('args', e.currentTarget.value)} />}
              </Field>
            )}
          </div>
        )}
        <div class="grid-3">
          <Field label="Users (optional)" hint="Comma-separated">
            {(p) => <input {...p} type="text" value={f.users} onInput={(e) => set('users', e.currentTarget.value)} />}
          </Field>
          <Field label="Groups (optional)" hint="Unix groups">
            {(p) => <input {...p} type="text" value={f.groups} onInput={(e) => set('groups', e.currentTarget.value)} />}
          </Field>
          <Field label="Endpoint groups (optional)" hint="Labels" error={show('labels')}>
            {(p) => <input {...p} type="text" value={f.labels} onInput={(e) => set('labels', e.currentTarget.value)} />}
          </Field>
          <Field label="Hosts (optional)" hint="Enrolled host names" error={show('hosts')}>
            {(p) => <input {...p} type="text" value={f.hosts} onInput={(e) => set('hosts', e.currentTarget.value)} />}
          </Field>
        </div>
        <div class="grid-3">
          <Field label="Days (optional)" hint="mon-fri, sat,sun, all" error={show('days')}>
            {(p) => <input {...p} type="text" value={f.days} onInput={(e) => set('days', e.currentTarget.value)} />}
          </Field>
          <Field label="Hours (optional)" hint="08:00-18:00" error={show('hours')}>
            {(p) => <input {...p} type="text" value={f.hours} onInput={(e) => set('hours', e.currentTarget.value)} />}
          </Field>
          <Field label="Time zone (optional)" hint="Europe/Paris; default UTC">
            {(p) => <input {...p} type="text" value={f.timezone} onInput={(e) => set('timezone', e.currentTarget.value)} />}
          </Field>
        </div>
        {f.action === 'request' && (
          <div class="grid-2">
            <Field label="Approval" error={show('approval')}>
              {(p) => (
                <select {...p} value={f.approval} onChange={(e) => set('approval', e.currentTarget.value as ApprovalMode)}>
                  <option value="manual">manual: a technician approves</option>
                  <option value="autonomous">autonomous: an [[auto_approval]] entry may approve at once</option>
                  <option value="self">self: members of self-approval groups approve their own</option>
                </select>
              )}
            </Field>
            <Field label="Self-approval groups" hint="For approval = self (else [settings] self_approval_groups)" error={show('self_approval_groups')}>
              {(p) => (
                <input {...p} type="text" value={f.self_approval_groups} onInput={(e) => set('self_approval_groups', e.currentTarget.value)} />
              )}
            </Field>
            <Field label="Default duration" hint="15m, 1h…" error={show('default_duration')}>
              {(p) => <input {...p} type="text" value={f.default_duration} onInput={(e) => set('default_duration', e.currentTarget.value)} />}
            </Field>
            <Field label="Maximum duration" error={show('max_duration')}>
              {(p) => <input {...p} type="text" value={f.max_duration} onInput={(e) => set('max_duration', e.currentTarget.value)} />}
            </Field>
          </div>
        )}
        {f.action !== 'deny' && (
          <Field label="Ask for the user's password first" error={show('reauthenticate')}>
            {(p) => (
              <select {...p} value={f.reauthenticate} onChange={(e) => set('reauthenticate', e.currentTarget.value as RuleForm['reauthenticate'])}>
                <option value="default">as [settings] says</option>
                <option value="yes">yes</option>
                <option value="no">no</option>
              </select>
            )}
          </Field>
        )}
        <h3>Preview</h3>
        <pre class="toml">{renderRule(spec)}</pre>
        <div class="actions">
          <button type="submit" class="btn btn-primary">
            Add to the text
          </button>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
        </div>
        <p class="hint">The rule is added to the editor; nothing changes until you save a new version.</p>
      </form>
    </Dialog>
  );
}

function AutoBuilder({ onClose, onAdd }: { onClose: () => void; onAdd: (toml: string) => void }) {
  const [f, setF] = useState({ name: '', users: '', groups: '', rules: '', max_duration: '1h', days: '', hours: '', timezone: '' });
  const [tried, setTried] = useState(false);
  const set = (k: keyof typeof f, v: string) => setF({ ...f, [k]: v });
  const spec: AutoApprovalSpec = { name: f.name.trim(), max_duration: f.max_duration.trim() };
  if (splitList(f.users).length) spec.users = splitList(f.users);
  if (splitList(f.groups).length) spec.groups = splitList(f.groups);
  if (splitList(f.rules).length) spec.rules = splitList(f.rules);
  if (f.days.trim()) spec.days = f.days.trim();
  if (f.hours.trim()) spec.hours = f.hours.trim();
  if (f.timezone.trim()) spec.timezone = f.timezone.trim();
  const errors = validateAutoApproval(spec);
  const err = (k: string) => (tried ? errors.filter((e) => e.field === k).map((e) => e.message).join('; ') || undefined : undefined);
  return (
    <Dialog title="Add an autonomous approval" onClose={onClose} wide>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setTried(true);
          if (errors.length) return;
          onAdd(renderAutoApproval(spec));
          onClose();
        }}
      >
        <p class="hint">Approves at once a request for a rule in autonomous mode when the user, the rule, the duration and the moment fit.</p>
        <Field label="Name" error={err('name')}>
          {(p) => <input {...p} type="text" value={f.name} onInput={(e) => set('name', e.currentTarget.value)} />}
        </Field>
        <div class="grid-3">
          <Field label="Users" error={err('users')}>
            {(p) => <input {...p} type="text" value={f.users} onInput={(e) => set('users', e.currentTarget.value)} />}
          </Field>
          <Field label="Groups">
            {(p) => <input {...p} type="text" value={f.groups} onInput={(e) => set('groups', e.currentTarget.value)} />}
          </Field>
          <Field label="Rules" hint="Request rules with approval = autonomous; empty: all">
            {(p) => <input {...p} type="text" value={f.rules} onInput={(e) => set('rules', e.currentTarget.value)} />}
          </Field>
        </div>
        <div class="grid-2">
          <Field label="Maximum duration" hint="Longer requests wait for a technician" error={err('max_duration')}>
            {(p) => <input {...p} type="text" value={f.max_duration} onInput={(e) => set('max_duration', e.currentTarget.value)} />}
          </Field>
          <Field label="Days" error={err('days')}>
            {(p) => <input {...p} type="text" value={f.days} onInput={(e) => set('days', e.currentTarget.value)} />}
          </Field>
          <Field label="Hours" error={err('hours')}>
            {(p) => <input {...p} type="text" value={f.hours} onInput={(e) => set('hours', e.currentTarget.value)} />}
          </Field>
          <Field label="Time zone">
            {(p) => <input {...p} type="text" value={f.timezone} onInput={(e) => set('timezone', e.currentTarget.value)} />}
          </Field>
        </div>
        <pre class="toml">{renderAutoApproval(spec)}</pre>
        <div class="actions">
          <button type="submit" class="btn btn-primary">
            Add to the text
          </button>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function History({ name, versions }: { name: string; versions: PolicyVersion[] }) {
  const { api } = useApp();
  const sorted = [...versions].sort((a, b) => b.version - a.version);
  const newest = sorted[0]?.version ?? 0;
  const [from, setFrom] = useState(Math.max(1, newest - 1));
  const [to, setTo] = useState(newest);
  const [diff, setDiff] = useState<PolicyDiff | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [viewing, setViewing] = useState<PolicyVersion | null>(null);
  useEffect(() => {
    setFrom(Math.max(1, newest - 1));
    setTo(newest);
  }, [newest]);
  if (sorted.length === 0) return <p class="muted">No version saved yet.</p>;
  const showDiff = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      setDiff(await api.get<PolicyDiff>(`/api/v1/policies/${enc(name)}/diff?from=${from}&to=${to}`));
    } catch (err) {
      setError(err as Error);
    }
  };
  const open = async (v: number) => {
    try {
      setViewing(await api.get<PolicyVersion>(`/api/v1/policies/${enc(name)}/versions/${v}`));
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <>
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Versions of {name}</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Author</th>
              <th scope="col">When</th>
              <th scope="col">Comment</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((v) => (
              <tr key={v.version}>
                <td data-label="Version">{v.version}</td>
                <td data-label="Author">{v.author}</td>
                <td data-label="When">{formatTime(v.created_at)}</td>
                <td data-label="Comment">{v.comment || <span class="muted">—</span>}</td>
                <td class="row-actions">
                  <button type="button" class="btn btn-small" onClick={() => void open(v.version)}>
                    View text
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form class="inline-form" onSubmit={(e) => void showDiff(e)}>
        <VersionSelect label="Compare version" versions={sorted} value={from} onChange={setFrom} />
        <VersionSelect label="with version" versions={sorted} value={to} onChange={setTo} />
        <button type="submit" class="btn">
          Show diff
        </button>
      </form>
      {error && <ErrorBox error={error} />}
      {diff && (
        <DiffView diff={diff.diff} label={`Changes from version ${diff.from} to ${diff.to}`} />
      )}
      {viewing && (
        <Dialog title={`${name} version ${viewing.version}`} onClose={() => setViewing(null)} wide>
          <pre class="toml">{viewing.text}</pre>
        </Dialog>
      )}
    </>
  );
}
