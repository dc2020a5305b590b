import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, actionErrorText, enc } from '../lib/api';
import { formatDuration, formatTime } from '../lib/format';
import {
  CHANNEL_KINDS,
  DELIVERY_STATES,
  KEEP_OLD_SECRET_S,
  KIND_LABELS,
  createBody,
  deliveriesUrl,
  deliveryFiltersFromQuery,
  deliverySummary,
  destinationText,
  emptyForm,
  filtersText,
  findLastDelivery,
  formFromChannel,
  generateWebhookSecret,
  isChannelKind,
  mergeDeliveries,
  patchBody,
  secretSpec,
  secretText,
  shownFields,
  testOutcome,
  unknownConfig,
  validateForm,
  type Channel,
  type ChannelForm,
  type ChannelList,
  type ConfigField,
  type Delivery,
  type DeliveryFilters,
  type DeliveryPage,
} from '../lib/notify';
import { REQUEST_ID, buildHash } from '../lib/router';
import { Badge, Dialog, Empty, Field, Loaded, ShownOnce } from '../ui/common';
import { useApp } from '../ui/context';
import { useAction, useLoad, useNow, type AsyncState } from '../ui/hooks';

const PAGE = 100;
// Delivery states change without an audit event: looked at again this
// often while one on screen is waiting.
const POLL_MS = 5000;
const TEST_POLL_MS = 1000;
const TEST_WAIT_MS = 30000;

const STATE_LABELS: Record<string, string> = { pending: 'waiting or retrying', delivered: 'delivered', dead: 'dead letters' };

export function NotificationsView({ query }: { query: Record<string, string> }) {
  const { api } = useApp();
  const filters = deliveryFiltersFromQuery(query);
  const channels = useLoad(() => api.get<ChannelList>('/api/v1/notify/channels'), 'notify-channels', ['notify']);
  const key = deliveriesUrl(filters);
  return (
    <section aria-labelledby="notify-title">
      <h1 id="notify-title">Notifications</h1>
      <p class="muted">
        hoistd sends each channel the audit events it routes there, in order and at least once, retrying a failed delivery (for up to 72 hours by default)
        before it becomes a dead letter (docs/notifications.md). A secret is never shown again once saved.
      </p>
      <Channels state={channels} />
      <h2 id="log-title">Delivery log</h2>
      <LogFilters key={key} filters={filters} channels={channels.data?.channels ?? []} />
      <DeliveryLog key={`log-${key}`} filters={filters} channels={channels.data?.channels ?? []} />
    </section>
  );
}

// --- channels ---------------------------------------------------------------

// The newest delivery of each channel (hoistd lists them oldest first:
// findLastDelivery searches), again after each audit event and, while one
// is waiting, every few seconds.
function useLastDeliveries(ids: string[]): Record<string, Delivery | null | undefined> {
  const { api, live } = useApp();
  const [last, setLast] = useState<Record<string, Delivery | null>>({});
  const newest = useRef<Record<string, number>>({});
  const generation = useRef(0);
  const key = ids.join(',');
  const refresh = useCallback(() => {
    const mine = ++generation.current;
    const list = key ? key.split(',') : [];
    const firstAfter = (channel: string) => async (after: number) =>
      (await api.get<DeliveryPage>(deliveriesUrl({ channel }, { after, limit: 1 }))).deliveries[0] ?? null;
    Promise.all(list.map(async (id) => [id, await findLastDelivery(firstAfter(id), newest.current[id] ?? 0)] as const)).then(
      (pairs) => {
        if (mine !== generation.current) return;
        for (const [id, d] of pairs) if (d) newest.current[id] = d.id;
        setLast(Object.fromEntries(pairs));
      },
      () => undefined, // the channel list shows hoistd's error; keep what was read
    );
  }, [api, key]);
  useEffect(() => {
    refresh();
    return () => {
      generation.current++;
    };
  }, [refresh]);
  useEffect(() => live.subscribe(['audit'], refresh), [live, refresh]);
  const waiting = Object.values(last).some((d) => d?.state === 'pending');
  useEffect(() => {
    if (!waiting) return undefined;
    const t = setInterval(refresh, POLL_MS);
    return () => clearInterval(t);
  }, [waiting, refresh]);
  return last;
}

function Channels({ state }: { state: AsyncState<ChannelList> }) {
  const { api } = useApp();
  const now = useNow(1000);
  const [busy, run] = useAction();
  const [editing, setEditing] = useState<Channel | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Channel | null>(null);
  const [test, setTest] = useState<{ channel: Channel; delivery: Delivery } | null>(null);
  const ids = (state.data?.channels ?? []).map((c) => c.id);
  const last = useLastDeliveries(ids);
  // A switch shows its new position while hoistd is asked, until the list says so.
  const [flipped, setFlipped] = useState<Record<string, boolean>>({});
  useEffect(() => setFlipped({}), [state.data]);
  const enabled = (c: Channel) => flipped[c.id] ?? c.enabled;
  const toggle = async (c: Channel) => {
    setFlipped({ ...flipped, [c.id]: !c.enabled });
    const ok = await run(c.enabled ? `${c.name} disabled: new events wait` : `${c.name} enabled`, () =>
      api.patch(`/api/v1/notify/channels/${enc(c.id)}`, { enabled: !c.enabled, version: c.version }),
    );
    if (ok === undefined) setFlipped({});
    state.reload();
  };
  const sendTest = async (c: Channel) => {
    const d = await run('', () => api.post<Delivery>(`/api/v1/notify/channels/${enc(c.id)}/test`, {}));
    if (d) setTest({ channel: c, delivery: d });
  };
  return (
    <>
      <p>
        <button type="button" class="btn btn-primary" onClick={() => setEditing('new')}>
          New channel…
        </button>
      </p>
      {test && <TestProgress key={test.delivery.id} channel={test.channel} queued={test.delivery} onClose={() => setTest(null)} />}
      <Loaded state={state} what="channels">
        {(data) =>
          data.channels.length === 0 ? (
            <Empty>
              <p>
                <strong>No channel yet.</strong> Add a webhook, Slack, Teams or email channel to hear of requests where you work.
              </p>
            </Empty>
          ) : (
            <div class="table-wrap">
              <table class="channels-table">
                <caption class="sr-only">Notification channels</caption>
                <thead>
                  <tr>
                    <th scope="col">Channel</th>
                    <th scope="col">Sends</th>
                    <th scope="col">On</th>
                    <th scope="col">Secret</th>
                    <th scope="col">Last delivery</th>
                    <th scope="col">
                      <span class="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.channels.map((c) => {
                    const d = last[c.id];
                    const summary = d ? deliverySummary(d, now) : null;
                    return (
                      <tr key={c.id}>
                        <td data-label="Channel">
                          <strong>{c.name}</strong> <span class="muted">({isChannelKind(c.kind) ? c.kind : `${c.kind}, unknown here`})</span>
                          <div class="muted small break">{destinationText(c)}</div>
                          <div class="muted small">
                            <code>{c.id}</code>
                          </div>
                        </td>
                        <td data-label="Sends">
                          <code>{c.events.join(', ')}</code>
                          <div class="muted small">{filtersText(c.filters)}</div>
                        </td>
                        <td data-label="On">
                          <label class="check">
                            <input type="checkbox" checked={enabled(c)} disabled={busy} onChange={() => void toggle(c)} />
                            <span>
                              {enabled(c) ? 'on' : 'off'}
                              <span class="sr-only"> ({c.name})</span>
                            </span>
                          </label>
                        </td>
                        <td data-label="Secret">{secretText(c, now)}</td>
                        <td data-label="Last delivery">
                          {d === undefined ? (
                            <span class="muted">reading…</span>
                          ) : d === null || summary === null ? (
                            <span class="muted">none yet</span>
                          ) : (
                            <>
                              <Badge kind={summary.badge}>{summary.label}</Badge> <span class="small">{summary.text}</span>
                              <div class="small">
                                <a href={buildHash('notifications', undefined, { channel: c.id })}>Its deliveries</a>
                              </div>
                            </>
                          )}
                        </td>
                        <td class="row-actions">
                          <button
                            type="button"
                            class="btn btn-small"
                            disabled={busy || !c.enabled}
                            title={c.enabled ? undefined : 'Enable the channel first'}
                            onClick={() => void sendTest(c)}
                          >
                            Send a test
                          </button>
                          <button type="button" class="btn btn-small" onClick={() => setEditing(c)}>
                            Edit…
                          </button>
                          <button type="button" class="btn btn-small btn-danger" onClick={() => setDeleting(c)}>
                            Delete…
                          </button>
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
      {editing && (
        <ChannelDialog
          key={editing === 'new' ? 'new' : editing.id}
          channel={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={state.reload}
        />
      )}
      {deleting && <DeleteDialog channel={deleting} onClose={() => setDeleting(null)} onDone={state.reload} />}
    </>
  );
}

// "Send a test": the queued delivery, then how its first attempt went.
function TestProgress({ channel, queued, onClose }: { channel: Channel; queued: Delivery; onClose: () => void }) {
  const { api } = useApp();
  const [d, setD] = useState(queued);
  const [gaveUp, setGaveUp] = useState(false);
  const now = useNow(1000);
  const outcome = testOutcome(d, now);
  useEffect(() => {
    if (outcome.done) return undefined;
    const started = Date.now();
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      if (stop) return;
      if (Date.now() - started > TEST_WAIT_MS) {
        setGaveUp(true);
        return;
      }
      try {
        const next = await api.get<Delivery>(`/api/v1/notify/deliveries/${queued.id}`);
        if (stop) return;
        setD(next);
        if (testOutcome(next, api.serverNow()).done) return;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return;
        // a passing failure: look again
      }
      timer = setTimeout(() => void poll(), TEST_POLL_MS);
    };
    timer = setTimeout(() => void poll(), TEST_POLL_MS);
    return () => {
      stop = true;
      if (timer) clearTimeout(timer);
    };
  }, [api, queued.id, outcome.done]);
  return (
    <div class={outcome.done && outcome.ok ? 'panel test-result test-ok' : outcome.done ? 'panel test-result test-bad' : 'panel test-result'} aria-live="polite">
      <p>
        <strong>Test of {channel.name}</strong> (delivery {queued.id}): <span class="test-outcome">{outcome.text}</span>
      </p>
      {gaveUp && !outcome.done && (
        <p class="small">
          No attempt within {formatDuration(TEST_WAIT_MS / 1000)}: an earlier delivery of this channel may be holding it (a channel’s deliveries go in order).
          The log below shows it.
        </p>
      )}
      <button type="button" class="btn btn-small" onClick={onClose}>
        Dismiss
      </button>
    </div>
  );
}

function DeleteDialog({ channel: c, onClose, onDone }: { channel: Channel; onClose: () => void; onDone: () => void }) {
  const { api } = useApp();
  const [busy, run] = useAction();
  const go = async () => {
    const out = await run(`Channel ${c.name} deleted`, () => api.del<{ pending_dropped: number }>(`/api/v1/notify/channels/${enc(c.id)}`, {}));
    if (out !== undefined) onClose();
    onDone();
  };
  return (
    <Dialog title={`Delete channel ${c.name}?`} onClose={onClose}>
      <p>Nothing more is sent to it, its waiting deliveries are dropped and its delivery log goes with it. The audit trail keeps the deletion.</p>
      <div class="actions">
        <button type="button" class="btn btn-danger" disabled={busy} onClick={() => void go()}>
          Delete channel
        </button>
        <button type="button" class="btn" onClick={onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}

// --- the channel form ---------------------------------------------------------

function ConfigInput({ field: f, value, error, onChange }: { field: ConfigField; value: string; error?: string; onChange: (v: string) => void }) {
  return (
    <Field label={f.label} hint={f.hint} error={error}>
      {(p) =>
        f.type === 'choice' ? (
          <select {...p} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
            {(f.choices ?? []).map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        ) : (
          <input
            {...p}
            type={f.type === 'number' ? 'number' : 'text'}
            inputMode={f.type === 'url' ? 'url' : undefined}
            min={f.type === 'number' ? 1 : undefined}
            max={f.type === 'number' ? 60 : undefined}
            autoComplete="off"
            spellcheck={false}
            value={value}
            onInput={(e) => onChange(e.currentTarget.value)}
          />
        )
      }
    </Field>
  );
}

function keepOldText(s: number): string {
  return s === 0 ? 'no: only the new one signs from now' : `for ${formatDuration(s)}`;
}

function ChannelDialog({ channel, onClose, onSaved }: { channel: Channel | null; onClose: () => void; onSaved: () => void }) {
  const { api, notify } = useApp();
  const creating = channel === null;
  const [form, setForm] = useState<ChannelForm>(() => (channel ? formFromChannel(channel) : emptyForm('webhook')));
  const [generated, setGenerated] = useState<string | null>(null);
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const errors = validateForm(form, { creating });
  const shown = (k: string) => (tried ? errors[k] : undefined);
  const set = (patch: Partial<ChannelForm>) => setForm({ ...form, ...patch });
  const setConfig = (key: string, v: string) => setForm({ ...form, config: { ...form.config, [key]: v } });
  const spec = secretSpec(form.kind, form.config);
  const fields = shownFields(form.kind, form.config);
  const others = channel ? unknownConfig(channel) : [];
  const submit = async (e: Event) => {
    e.preventDefault();
    setTried(true);
    if (Object.keys(errors).length > 0) return;
    const body = channel ? patchBody(channel, form) : createBody(form);
    if (body === null) {
      notify('ok', 'Nothing changed');
      onClose();
      return;
    }
    setBusy(true);
    setFailure(null);
    try {
      if (channel) await api.patch<Channel>(`/api/v1/notify/channels/${enc(channel.id)}`, body);
      else await api.post<Channel>('/api/v1/notify/channels', body);
      notify('ok', channel ? `Channel ${form.name.trim()} saved` : `Channel ${form.name.trim()} added`);
      onSaved();
      onClose();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) setFailure(actionErrorText(err));
      if (err instanceof ApiError && err.status === 409) onSaved();
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={channel ? `Channel ${channel.name}` : 'New notification channel'} onClose={onClose} wide>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <div class="grid-2">
          {creating ? (
            <Field label="Kind" error={shown('kind')}>
              {(p) => (
                <select
                  {...p}
                  value={form.kind}
                  onChange={(e) => {
                    const kind = e.currentTarget.value;
                    if (!isChannelKind(kind)) return;
                    setGenerated(null);
                    setForm({ ...emptyForm(kind), name: form.name, enabled: form.enabled, events: form.events, labels: form.labels, rules: form.rules });
                  }}
                >
                  {CHANNEL_KINDS.map((k) => (
                    <option key={k} value={k}>
                      {KIND_LABELS[k]}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          ) : (
            <p>
              <strong>Kind:</strong> {isChannelKind(form.kind) ? KIND_LABELS[form.kind] : form.kind} <span class="muted">(cannot change: make a new channel)</span>
            </p>
          )}
          <Field label="Name" error={shown('name')}>
            {(p) => <input {...p} type="text" maxLength={100} autoComplete="off" value={form.name} onInput={(e) => set({ name: e.currentTarget.value })} />}
          </Field>
        </div>
        <label class="check">
          <input type="checkbox" checked={form.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
          Enabled (a disabled channel gets nothing new, and its waiting deliveries wait)
        </label>
        <Field
          label="Events"
          hint="Audit kinds, separated by commas: an exact kind (request.created), a prefix (request.*) or * for everything. docs/audit.md lists them."
          error={shown('events')}
        >
          {(p) => <input {...p} type="text" autoComplete="off" spellcheck={false} value={form.events} onInput={(e) => set({ events: e.currentTarget.value })} />}
        </Field>
        <fieldset>
          <legend>Only for (optional)</legend>
          <p class="hint">Empty: events about every endpoint and every rule.</p>
          <div class="grid-2">
            <Field label="Endpoint labels" hint="Only requests from endpoints with one of these labels." error={shown('labels')}>
              {(p) => <input {...p} type="text" autoComplete="off" value={form.labels} onInput={(e) => set({ labels: e.currentTarget.value })} />}
            </Field>
            <Field label="Policy rules" hint="Only requests that one of these rules decided." error={shown('rules')}>
              {(p) => <input {...p} type="text" autoComplete="off" value={form.rules} onInput={(e) => set({ rules: e.currentTarget.value })} />}
            </Field>
          </div>
        </fieldset>
        <fieldset>
          <legend>{isChannelKind(form.kind) ? KIND_LABELS[form.kind] : form.kind} settings</legend>
          {fields.map((f) => (
            <ConfigInput key={f.key} field={f} value={form.config[f.key] ?? ''} error={shown(`config.${f.key}`)} onChange={(v) => setConfig(f.key, v)} />
          ))}
          {others.length > 0 && (
            <>
              <p class="hint">Other settings (from a newer hoistd or the CLI), shown as they are and left unchanged:</p>
              <dl class="facts other-config">
                {others.flatMap((o) => [
                  <dt key={`k-${o.key}`}>{o.key}</dt>,
                  <dd key={`v-${o.key}`}>
                    <code class="break">{o.value || '—'}</code>
                  </dd>,
                ])}
              </dl>
            </>
          )}
          <Field
            label={channel?.secret.set ? `${spec.label}: set (type a new one to replace it)` : spec.label}
            hint={spec.hint}
            error={shown('secret')}
          >
            {(p) => (
              <input
                {...p}
                type="password"
                autoComplete="new-password"
                spellcheck={false}
                value={form.secret}
                onInput={(e) => {
                  setGenerated(null);
                  set({ secret: e.currentTarget.value });
                }}
              />
            )}
          </Field>
          {spec.generate && (
            <p>
              <button
                type="button"
                class="btn btn-small"
                onClick={() => {
                  const s = generateWebhookSecret();
                  setGenerated(s);
                  set({ secret: s });
                }}
              >
                Generate a secret
              </button>
            </p>
          )}
          {generated && generated === form.secret && <ShownOnce label="The new signing secret: give it to the receiver" value={generated} />}
          {spec.rotates && channel?.secret.set && form.secret !== '' && (
            <Field label="Keep the old secret signing" hint="During a rotation every message carries both signatures, so the receiver can switch at its own pace.">
              {(p) => (
                <select {...p} value={String(form.keepOldSecretS)} onChange={(e) => set({ keepOldSecretS: Number(e.currentTarget.value) })}>
                  {KEEP_OLD_SECRET_S.map((s) => (
                    <option key={s} value={String(s)}>
                      {keepOldText(s)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          )}
        </fieldset>
        {tried && Object.keys(errors).length > 0 && (
          <p class="field-message" role="alert">
            Some fields need a look: see the messages above.
          </p>
        )}
        {failure && (
          <p class="error-box" role="alert">
            {failure}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {channel ? 'Save' : 'Add channel'}
          </button>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

// --- the delivery log -----------------------------------------------------------

function LogFilters({ filters, channels }: { filters: DeliveryFilters; channels: Channel[] }) {
  const [channel, setChannel] = useState(filters.channel ?? '');
  const [state, setState] = useState<string>(filters.state ?? '');
  return (
    <form
      class="inline-form"
      aria-label="Delivery filters"
      onSubmit={(e) => {
        e.preventDefault();
        location.hash = buildHash('notifications', undefined, { channel, state });
      }}
    >
      <Field label="Channel">
        {(p) => (
          <select {...p} value={channel} onChange={(e) => setChannel(e.currentTarget.value)}>
            <option value="">all</option>
            {channels.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
            {filters.channel && !channels.some((c) => c.id === filters.channel) && <option value={filters.channel}>{filters.channel}</option>}
          </select>
        )}
      </Field>
      <Field label="State">
        {(p) => (
          <select {...p} value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="">any</option>
            {DELIVERY_STATES.map((s) => (
              <option key={s} value={s}>
                {STATE_LABELS[s] ?? s}
              </option>
            ))}
          </select>
        )}
      </Field>
      <button type="submit" class="btn btn-primary">
        Show
      </button>
      {(filters.channel || filters.state) && (
        <a class="btn" href={buildHash('notifications')}>
          Clear
        </a>
      )}
    </form>
  );
}

function DeliveryLog({ filters, channels }: { filters: DeliveryFilters; channels: Channel[] }) {
  const { api } = useApp();
  const now = useNow(1000);
  const [more, setMore] = useState<Delivery[]>([]);
  const [cursor, setCursor] = useState<number | null | undefined>(undefined);
  // Re-driven here: kept in view and read again until they are settled.
  const [touched, setTouched] = useState<Delivery[]>([]);
  const [busy, run] = useAction();
  const first = useLoad(() => api.get<DeliveryPage>(deliveriesUrl(filters, { limit: PAGE })), `deliveries-${deliveriesUrl(filters)}`, ['audit']);
  const rows = first.data ? mergeDeliveries(first.data.deliveries, more, touched) : [];
  const waiting = rows.some((d) => d.state === 'pending');
  const touchedRef = useRef(touched);
  touchedRef.current = touched;
  useEffect(() => {
    if (!waiting) return undefined;
    const t = setInterval(() => {
      first.reload();
      const pending = touchedRef.current.filter((d) => d.state === 'pending');
      if (pending.length === 0) return;
      Promise.all(pending.map((d) => api.get<Delivery>(`/api/v1/notify/deliveries/${d.id}`))).then(
        (fresh) => setTouched((old) => old.map((d) => fresh.find((f) => f.id === d.id) ?? d)),
        () => undefined, // looked at again at the next tick
      );
    }, POLL_MS);
    return () => clearInterval(t);
  }, [waiting, first.reload, api]);
  const next = cursor === undefined ? (first.data?.next_after ?? null) : cursor;
  const loadMore = async () => {
    if (next === null) return;
    const page = await run('', () => api.get<DeliveryPage>(deliveriesUrl(filters, { after: next, limit: PAGE })));
    if (!page) return;
    setMore([...more, ...page.deliveries]);
    setCursor(page.next_after);
  };
  const redrive = async (d: Delivery) => {
    const out = await run(`Delivery ${d.id} is queued again`, () => api.post<Delivery>(`/api/v1/notify/deliveries/${d.id}/redrive`, {}));
    if (out) setTouched((old) => [...old.filter((x) => x.id !== out.id), out]);
    first.reload();
  };
  const nameOf = (id: string) => channels.find((c) => c.id === id)?.name ?? id;
  return (
    <Loaded state={first} what="deliveries">
      {() =>
        rows.length === 0 ? (
          <Empty>
            <p>No delivery{filters.channel || filters.state ? ' matches these filters' : ' yet'}.</p>
          </Empty>
        ) : (
          <>
            <div class="table-wrap">
              <table class="deliveries-table">
                <caption class="sr-only">Deliveries, oldest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Delivery</th>
                    <th scope="col">Channel</th>
                    <th scope="col">Event</th>
                    <th scope="col">State</th>
                    <th scope="col">
                      <span class="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((d) => {
                    const s = deliverySummary(d, now);
                    return (
                      <tr key={d.id} class={`delivery delivery-${s.label}`}>
                        <td data-label="Delivery">
                          <strong>{d.id}</strong>
                          <div class="muted small">queued {formatTime(d.created_at)}</div>
                        </td>
                        <td data-label="Channel">{nameOf(d.channel)}</td>
                        <td data-label="Event">
                          {d.event ? (
                            <>
                              <code>{d.event.kind}</code>{' '}
                              {REQUEST_ID.test(d.event.target) ? (
                                <a href={buildHash('request', d.event.target)}>{d.event.target}</a>
                              ) : (
                                <span class="break">{d.event.target}</span>
                              )}
                              <div class="muted small">audit event {d.event.seq}</div>
                            </>
                          ) : (
                            <span class="muted">audit event {d.audit_seq}</span>
                          )}
                        </td>
                        <td data-label="State">
                          <Badge kind={s.badge}>{s.label}</Badge> <span class="small delivery-text">{s.text}</span>
                          {d.state !== 'pending' && d.finished_at && d.state !== 'delivered' && <div class="muted small">{formatTime(d.finished_at)}</div>}
                        </td>
                        <td class="row-actions">
                          {d.state === 'dead' && (
                            <button type="button" class="btn btn-small" disabled={busy} onClick={() => void redrive(d)}>
                              Re-drive
                            </button>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            {next !== null && (
              <button type="button" class="btn" disabled={busy} onClick={() => void loadMore()}>
                Load more
              </button>
            )}
          </>
        )
      }
    </Loaded>
  );
}
