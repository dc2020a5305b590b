// Notification channels and their deliveries (docs/notifications.md), as
// the Notifications page reads and writes them: each kind's config fields,
// the form <-> JSON mapping, validation (hoistd checks everything again),
// webhook secrets, delivery summaries and the delivery log's query. Pure;
// tests in tests/notify.test.ts.
//
// MUST: a secret is write-only. A form starts with no secret; a body
// carries `secret` only when the admin typed or generated one; nothing here
// copies it anywhere else. hoistd answers only {set, previous_valid_until}.
// MUST: an edit sends only what changed, with the channel's version (hoistd
// refuses a stale one: 409), so two admins do not undo each other.

import { AUDIT_KINDS } from './audit_kinds';
import { shortText } from './audit_sentence';
import { formatDuration, formatTime, secondsUntil } from './format';

// --- what hoistd answers ----------------------------------------------------

export const CHANNEL_KINDS = ['webhook', 'slack', 'teams', 'email'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

export function isChannelKind(v: string): v is ChannelKind {
  return (CHANNEL_KINDS as readonly string[]).includes(v);
}

export const KIND_LABELS: Record<ChannelKind, string> = {
  webhook: 'Webhook (signed, Standard Webhooks)',
  slack: 'Slack',
  teams: 'Microsoft Teams',
  email: 'Email (SMTP)',
};

// Routing beyond event kinds: endpoint labels and policy rules (empty: all).
export interface ChannelFilters {
  labels: string[];
  rules: string[];
}

export interface Channel {
  id: string;
  kind: string;
  name: string;
  enabled: boolean;
  events: string[];
  filters?: ChannelFilters | null;
  config: Record<string, unknown>;
  secret: { set: boolean; previous_valid_until: string | null };
  version: number;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface ChannelList {
  channels: Channel[];
}

export const DELIVERY_STATES = ['pending', 'delivered', 'dead'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface Delivery {
  id: number;
  channel: string;
  audit_seq: number;
  event: { id: string; seq: number; kind: string; target: string; time: string } | null;
  state: string;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  last_status: number | null;
  created_at: string;
  finished_at: string | null;
}

export interface DeliveryPage {
  deliveries: Delivery[];
  next_after: number | null;
}

// hoistd's channel ids: "ch-" and 16 hex digits (auth::random_id(8)).
export const CHANNEL_ID = /^ch-[0-9a-f]{1,32}$/;

// --- each kind's config fields ------------------------------------------------

export type ConfigValues = Record<string, string>;

export interface ConfigField {
  key: string; // in the channel's config object
  label: string;
  type: 'text' | 'url' | 'number' | 'list' | 'choice' | 'path';
  required?: (c: ConfigValues) => boolean;
  // Only offered when this holds (Slack's channel id only in bot mode).
  shown?: (c: ConfigValues) => boolean;
  choices?: Array<[value: string, label: string]>;
  fallback?: string; // a new channel's value
  hint?: string;
  // An error message, or undefined; `value` is trimmed and not empty.
  check?: (value: string) => string | undefined;
}

export interface SecretSpec {
  label: string;
  hint: string;
  // Required to create a channel of this kind.
  required: boolean;
  // Blanks around it are cut (tokens and URLs), or kept (a password).
  trim: boolean;
  // Offer "Generate" (a webhook signing secret).
  generate: boolean;
  // The old one still signs for a while after a change (webhooks).
  rotates: boolean;
  check?: (secret: string) => string | undefined;
}

const always = () => true;
const slackBot = (c: ConfigValues) => c.mode === 'bot';

const TIMEOUT: ConfigField = {
  key: 'timeout_s',
  label: 'Timeout (seconds)',
  type: 'number',
  required: always,
  fallback: '10',
  hint: 'From 1 to 60: for the connection, the TLS handshake and the whole exchange, each.',
  check: (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 60 ? undefined : 'A whole number of seconds from 1 to 60'),
};

const CA_FILE: ConfigField = {
  key: 'ca_file',
  label: 'CA file (optional)',
  type: 'path',
  hint: "A PEM file on hoistd's machine to verify the receiver with; empty: the system's CAs.",
  check: (v) => (v.startsWith('/') ? undefined : 'An absolute path on hoistd’s machine, such as /etc/hoist/receiver-ca.pem'),
};

export const KIND_FIELDS: Record<ChannelKind, ConfigField[]> = {
  webhook: [
    {
      key: 'url',
      label: 'URL',
      type: 'url',
      required: always,
      hint: 'https://HOST[:PORT]/PATH; only https, no user or password. Put the shared secret below, not in the URL.',
      check: (v) => httpsUrlProblem(v),
    },
    CA_FILE,
    TIMEOUT,
  ],
  slack: [
    {
      key: 'mode',
      label: 'How hoistd posts',
      type: 'choice',
      required: always,
      fallback: 'webhook',
      choices: [
        ['webhook', 'An incoming webhook (one message per event)'],
        ['bot', 'A bot token (chat.postMessage, then the message is updated as the request is decided)'],
      ],
    },
    {
      key: 'channel',
      label: 'Slack channel id',
      type: 'text',
      required: slackBot,
      shown: slackBot,
      hint: 'Such as C0123456789 (in Slack: the channel’s details); the bot must be in that channel.',
      // As hoistd checks it: C (public), G (private) or D (direct message), then capitals and digits.
      check: (v) =>
        /^[CGD][A-Z0-9]{1,31}$/.test(v)
          ? undefined
          : 'A Slack channel id: C, G or D, then capital letters and digits, such as C0123456789',
    },
    {
      key: 'api_url',
      label: 'Slack API URL (optional)',
      type: 'url',
      shown: slackBot,
      hint: 'Empty: https://slack.com/api. Set it only for a proxy or a test receiver.',
      check: (v) => httpsUrlProblem(v),
    },
    CA_FILE,
    TIMEOUT,
  ],
  teams: [CA_FILE, TIMEOUT],
  email: [
    {
      key: 'smtp_url',
      label: 'SMTP server',
      type: 'text',
      required: always,
      hint: 'smtp://HOST:PORT (STARTTLS, required) or smtps://HOST:PORT (TLS from the start).',
      check: (v) => smtpUrlProblem(v),
    },
    {
      key: 'from',
      label: 'From',
      type: 'text',
      required: always,
      hint: 'The sender address, such as hoist@example.com.',
      check: (v) => (isEmailAddress(v) ? undefined : 'An address such as hoist@example.com'),
    },
    {
      key: 'to',
      label: 'To',
      type: 'list',
      required: always,
      hint: 'One or more addresses, separated by commas or spaces.',
      check: (v) => {
        const bad = splitWords(v).find((a) => !isEmailAddress(a));
        return bad === undefined ? undefined : `“${shortText(bad, 60)}” is not an address such as help-desk@example.com`;
      },
    },
    {
      key: 'username',
      label: 'SMTP user name (optional)',
      type: 'text',
      hint: 'For servers that want a login; the password is the secret below.',
      check: (v) => (/^[^\s\u0000-\u001f\u007f]{1,256}$/.test(v) ? undefined : 'No blanks or control characters, at most 256'),
    },
    {
      key: 'requester_template',
      label: 'Mail the requester (optional)',
      type: 'text',
      hint: 'Their address from their user name, such as {user}@example.com: the requester then hears how their request ended. Empty: only the addresses above.',
      check: (v) =>
        v.includes('{user}') && isEmailAddress(v.replaceAll('{user}', 'alice'))
          ? undefined
          : 'An address with {user} where the user name goes, such as {user}@example.com',
    },
    CA_FILE,
    TIMEOUT,
  ],
};

export function fieldsOf(kind: string): ConfigField[] {
  return isChannelKind(kind) ? KIND_FIELDS[kind] : [];
}

export function shownFields(kind: string, config: ConfigValues): ConfigField[] {
  return fieldsOf(kind).filter((f) => !f.shown || f.shown(config));
}

export function secretSpec(kind: string, config: ConfigValues): SecretSpec {
  switch (kind) {
    case 'webhook':
      return {
        label: 'Signing secret',
        hint: 'whsec_ and the base64 of 24 to 64 random bytes. Generate makes one here; give the same secret to the receiver.',
        required: true,
        trim: true,
        generate: true,
        rotates: true,
        check: (s) => (isWebhookSecret(s) ? undefined : 'whsec_ followed by the base64 of 24 to 64 random bytes: use Generate'),
      };
    case 'slack':
      return config.mode === 'bot'
        ? {
            label: 'Bot token',
            hint: 'The bot’s xoxb-… token, with the chat:write scope.',
            required: true,
            trim: true,
            generate: false,
            rotates: false,
            check: (s) => (/^xoxb-[\x21-\x7e]+$/.test(s) ? undefined : 'A Slack bot token starts with xoxb-'),
          }
        : {
            label: 'Incoming webhook URL',
            hint: 'The URL Slack gave for the incoming webhook (https://hooks.slack.com/services/…): it is the secret.',
            required: true,
            trim: true,
            generate: false,
            rotates: false,
            check: (s) => httpsUrlProblem(s),
          };
    case 'teams':
      return {
        label: 'Workflows webhook URL',
        hint: 'The URL of the Teams workflow “Post to a channel when a webhook request is received”: it is the secret.',
        required: true,
        trim: true,
        generate: false,
        rotates: false,
        check: (s) => httpsUrlProblem(s),
      };
    case 'email':
      return {
        label: 'SMTP password (optional)',
        hint: 'With the user name above, for servers that want a login.',
        required: false,
        trim: false,
        generate: false,
        rotates: false,
      };
    default:
      return { label: 'Secret', hint: '', required: false, trim: false, generate: false, rotates: false };
  }
}

// --- checks -----------------------------------------------------------------

export function splitWords(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

// Why hoistd would refuse this https URL (webhook_settings.cpp), or
// undefined: https only, a host, no user or password, no fragment.
export function httpsUrlProblem(text: string): string | undefined {
  if (text.length > 2048) return 'At most 2048 characters';
  if (!/^[\x21-\x7e]+$/.test(text)) return 'A URL is printable ASCII without blanks';
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return 'Not a URL: write https://HOST[:PORT]/PATH';
  }
  if (u.protocol !== 'https:') return 'Only https:// is allowed';
  if (!u.hostname) return 'The URL names no host';
  if (u.username || u.password) return 'No user name or password in the URL';
  if (text.includes('#')) return 'No fragment (#…) in the URL';
  return undefined;
}

// smtp://HOST:PORT or smtps://HOST:PORT (the port may be left out).
export function smtpUrlProblem(text: string): string | undefined {
  const m = /^(smtps?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?\/?$/.exec(text);
  if (!m) return 'smtp://HOST:PORT (STARTTLS) or smtps://HOST:PORT (TLS), nothing else';
  if (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 65535)) return 'The port is from 1 to 65535';
  return undefined;
}

// A plain address (local@domain): no display name, blanks, brackets or
// control characters, so nothing can add a header.
export function isEmailAddress(text: string): boolean {
  return text.length <= 254 && /^[^\s@<>()[\]",;:\\\u0000-\u001f\u007f]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(text);
}

// "*", an audit kind ("request.created") or a prefix ("request.*") that
// names one, as hoistd checks it (handlers_notify.cpp); the agents' own
// kinds (endpoint.…) pass whatever they are.
export function eventPatternProblem(p: string): string | undefined {
  if (p === '*') return undefined;
  if (p.length === 0 || p.length > 100) return `“${shortText(p, 40)}” is empty or too long`;
  const prefix = p.endsWith('.*');
  const stem = prefix ? p.slice(0, -1) : p;
  if (!/^[a-z0-9_.]+$/.test(stem) || stem.startsWith('.')) return `“${shortText(p, 40)}” has characters an audit kind does not have`;
  if (stem.startsWith('endpoint.')) return undefined;
  const known = AUDIT_KINDS.some((k) => (prefix ? k.startsWith(stem) : k === stem));
  if (known) return undefined;
  return prefix ? `“${shortText(p, 40)}” names no audit kind` : `“${shortText(p, 40)}” is not an audit kind (a prefix ends in .*)`;
}

const LABEL = /^[a-z0-9._-]{1,64}$/;
const RULE_NAME = /^[A-Za-z0-9._-]{1,64}$/;

// --- webhook secrets --------------------------------------------------------

export const WEBHOOK_SECRET_PREFIX = 'whsec_';

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  crypto.getRandomValues(out);
  return out;
}

// A new signing secret, as `hoist notify channels add --generate-secret`
// makes them: whsec_ and the base64 of 32 random bytes.
export function generateWebhookSecret(random: (n: number) => Uint8Array = randomBytes): string {
  const bytes = random(32);
  if (bytes.length !== 32) throw new Error('the random source gave the wrong number of bytes (this is a bug)');
  return WEBHOOK_SECRET_PREFIX + base64(bytes);
}

// whsec_ and padded base64 of 24 to 64 bytes (webhook::parse_secret).
export function isWebhookSecret(text: string): boolean {
  if (!text.startsWith(WEBHOOK_SECRET_PREFIX)) return false;
  const b = text.slice(WEBHOOK_SECRET_PREFIX.length);
  if (b.length === 0 || b.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b)) return false;
  const bytes = (b.length / 4) * 3 - (b.endsWith('==') ? 2 : b.endsWith('=') ? 1 : 0);
  return bytes >= 24 && bytes <= 64;
}

// How long the old webhook secret still signs after a new one (hoistd's
// previous_secret_valid_for_s; its default is 24 h, its limit 7 days).
export const KEEP_OLD_SECRET_S = [0, 3600, 86400, 604800] as const;
export const DEFAULT_KEEP_OLD_SECRET_S = 86400;

// --- the form ---------------------------------------------------------------

export interface ChannelForm {
  kind: string;
  name: string;
  enabled: boolean;
  events: string; // patterns, separated by commas or blanks
  labels: string; // filters.labels
  rules: string; // filters.rules
  config: ConfigValues; // the kind's known fields, as typed
  secret: string; // empty: none (new) or unchanged (edit)
  keepOldSecretS: number;
}

export type FormErrors = Record<string, string>;

export const DEFAULT_EVENTS = 'request.*';

export function emptyForm(kind: ChannelKind): ChannelForm {
  const config: ConfigValues = {};
  for (const f of KIND_FIELDS[kind]) config[f.key] = f.fallback ?? '';
  return { kind, name: '', enabled: true, events: DEFAULT_EVENTS, labels: '', rules: '', config, secret: '', keepOldSecretS: DEFAULT_KEEP_OLD_SECRET_S };
}

// A config value as its input shows it: a list joined, null as empty.
export function configText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function formFromChannel(c: Channel): ChannelForm {
  const config: ConfigValues = {};
  for (const f of fieldsOf(c.kind)) config[f.key] = c.config[f.key] === undefined ? (f.fallback ?? '') : configText(c.config[f.key]);
  return {
    kind: c.kind,
    name: c.name,
    enabled: c.enabled,
    events: c.events.join(', '),
    labels: (c.filters?.labels ?? []).join(', '),
    rules: (c.filters?.rules ?? []).join(', '),
    config,
    secret: '',
    keepOldSecretS: DEFAULT_KEEP_OLD_SECRET_S,
  };
}

// The config fields this console does not know (a newer hoistd's): shown
// read-only, never sent back.
export function unknownConfig(c: Pick<Channel, 'kind' | 'config'>): Array<{ key: string; value: string }> {
  const known = new Set(fieldsOf(c.kind).map((f) => f.key));
  return Object.keys(c.config)
    .filter((k) => !known.has(k))
    .sort()
    .map((key) => ({ key, value: configText(c.config[key]) }));
}

// Errors by field: "kind", "name", "events", "labels", "rules", "secret"
// and "config.<key>". Editing, an empty secret keeps the one hoistd has.
export function validateForm(form: ChannelForm, opts: { creating: boolean }): FormErrors {
  const errors: FormErrors = {};
  if (opts.creating && !isChannelKind(form.kind)) errors.kind = `Choose one of: ${CHANNEL_KINDS.join(', ')}`;
  const name = form.name.trim();
  if (name === '' || Array.from(name).length > 100) errors.name = 'A name for people, 1 to 100 characters';
  else if (/[\u0000-\u001f\u007f]/.test(name)) errors.name = 'No control characters';
  const events = splitWords(form.events);
  if (events.length === 0) errors.events = 'At least one: an audit kind (request.created), a prefix (request.*) or *';
  else if (events.length > 64) errors.events = 'At most 64 patterns';
  else {
    const bad = events.map(eventPatternProblem).find(Boolean);
    if (bad) errors.events = bad;
  }
  const badLabel = splitWords(form.labels).find((l) => !LABEL.test(l));
  if (badLabel !== undefined) errors.labels = `“${shortText(badLabel, 40)}”: an endpoint label uses a-z, 0-9, '.', '-' and '_'`;
  const badRule = splitWords(form.rules).find((r) => !RULE_NAME.test(r));
  if (badRule !== undefined) errors.rules = `“${shortText(badRule, 40)}”: a rule name uses A-Z, a-z, 0-9, '.', '-' and '_'`;
  for (const f of shownFields(form.kind, form.config)) {
    const v = (form.config[f.key] ?? '').trim();
    if (v === '') {
      if (f.required?.(form.config)) errors[`config.${f.key}`] = `${f.label} is needed`;
      continue;
    }
    if (f.type === 'choice' && f.choices && !f.choices.some(([c]) => c === v)) errors[`config.${f.key}`] = `One of: ${f.choices.map(([c]) => c).join(', ')}`;
    const problem = f.check?.(v);
    if (problem) errors[`config.${f.key}`] = problem;
  }
  const spec = secretSpec(form.kind, form.config);
  const secret = spec.trim ? form.secret.trim() : form.secret;
  if (secret === '') {
    if (opts.creating && spec.required) errors.secret = `${spec.label} is needed`;
  } else if (secret.length > 256) errors.secret = 'At most 256 characters';
  else {
    const problem = spec.check?.(secret);
    if (problem) errors.secret = problem;
  }
  return errors;
}

function configValue(f: ConfigField, text: string): unknown {
  const v = text.trim();
  if (f.type === 'number') return Number(v);
  if (f.type === 'list') return splitWords(v);
  return v;
}

function configJson(form: ChannelForm): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of shownFields(form.kind, form.config)) {
    const v = (form.config[f.key] ?? '').trim();
    if (v !== '') out[f.key] = configValue(f, v);
  }
  return out;
}

function secretOf(form: ChannelForm): string {
  return secretSpec(form.kind, form.config).trim ? form.secret.trim() : form.secret;
}

// POST /api/v1/notify/channels. Filters go only when the admin set some.
export function createBody(form: ChannelForm): Record<string, unknown> {
  const body: Record<string, unknown> = {
    kind: form.kind,
    name: form.name.trim(),
    events: splitWords(form.events),
    enabled: form.enabled,
    config: configJson(form),
  };
  const labels = splitWords(form.labels);
  const rules = splitWords(form.rules);
  if (labels.length > 0 || rules.length > 0) body.filters = { labels, rules };
  const secret = secretOf(form);
  if (secret !== '') body.secret = secret;
  return body;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// PATCH /api/v1/notify/channels/{id}: what changed, with the version; null
// when nothing did. A known config field emptied is sent as null (hoistd
// clears it); a field the kind knows but the form no longer shows (a Slack
// bot's channel once the mode is webhook) is cleared too; fields the
// console does not know are left as they are.
export function patchBody(c: Channel, form: ChannelForm): Record<string, unknown> | null {
  const body: Record<string, unknown> = {};
  const name = form.name.trim();
  if (name !== c.name) body.name = name;
  const events = splitWords(form.events);
  if (!sameList(events, c.events)) body.events = events;
  if (form.enabled !== c.enabled) body.enabled = form.enabled;
  const config: Record<string, unknown> = {};
  const shown = shownFields(c.kind, form.config);
  for (const f of fieldsOf(c.kind)) {
    if (!shown.includes(f) && c.config[f.key] !== undefined && c.config[f.key] !== null) config[f.key] = null;
  }
  for (const f of shown) {
    const now = (form.config[f.key] ?? '').trim();
    // What the form started from (a field hoistd left out: its default).
    const was = (c.config[f.key] === undefined ? (f.fallback ?? '') : configText(c.config[f.key])).trim();
    const same = f.type === 'list' ? sameList(splitWords(now), splitWords(was)) : now === was;
    if (same) continue;
    config[f.key] = now === '' ? null : configValue(f, now);
  }
  if (Object.keys(config).length > 0) body.config = config;
  const labels = splitWords(form.labels);
  const rules = splitWords(form.rules);
  if (!sameList(labels, c.filters?.labels ?? []) || !sameList(rules, c.filters?.rules ?? [])) body.filters = { labels, rules };
  const secret = secretOf(form);
  if (secret !== '') {
    body.secret = secret;
    if (secretSpec(c.kind, form.config).rotates && c.secret.set) body.previous_secret_valid_for_s = form.keepOldSecretS;
  }
  if (Object.keys(body).length === 0) return null;
  body.version = c.version;
  return body;
}

// --- reading channels -------------------------------------------------------

export function filtersText(f: ChannelFilters | null | undefined): string {
  const labels = f?.labels ?? [];
  const rules = f?.rules ?? [];
  const parts: string[] = [];
  if (labels.length) parts.push(`endpoints labelled ${labels.join(', ')}`);
  if (rules.length) parts.push(`rule${rules.length > 1 ? 's' : ''} ${rules.join(', ')}`);
  return parts.length ? `only ${parts.join('; ')}` : 'every endpoint and rule';
}

export function secretText(c: Pick<Channel, 'secret'>, nowMs: number): string {
  if (!c.secret.set) return 'none';
  const until = c.secret.previous_valid_until;
  if (until && secondsUntil(until, nowMs) > 0) return `set; the previous one also signs until ${formatTime(until)}`;
  return 'set';
}

// Where a channel sends, as the list shows it (never a secret: Slack and
// Teams URLs are secrets and are not in the config).
export function destinationText(c: Pick<Channel, 'kind' | 'config'>): string {
  const s = (k: string) => configText(c.config[k]);
  switch (c.kind) {
    case 'webhook':
      return s('url');
    case 'slack':
      return s('mode') === 'bot' ? `bot token, to channel ${s('channel') || '?'}` : 'incoming webhook';
    case 'teams':
      return 'Workflows webhook';
    case 'email':
      return `${s('to') || '?'} via ${s('smtp_url') || '?'}${s('requester_template') ? `, and the requester (${s('requester_template')})` : ''}`;
    default:
      return '';
  }
}

// --- deliveries -------------------------------------------------------------

export interface DeliveryFilters {
  channel?: string;
  state?: DeliveryState;
}

export function isDeliveryState(v: string | undefined): v is DeliveryState {
  return v !== undefined && (DELIVERY_STATES as readonly string[]).includes(v);
}

// hoistd refuses unknown filters: only its names, in a fixed order.
export function deliveriesUrl(f: DeliveryFilters, page: { after?: number | null; limit?: number } = {}): string {
  const q = new URLSearchParams();
  if (f.channel) q.set('channel', f.channel);
  if (f.state) q.set('state', f.state);
  if (page.after !== undefined && page.after !== null) q.set('after', String(Math.max(0, Math.floor(page.after))));
  if (page.limit !== undefined) q.set('limit', String(Math.max(1, Math.min(1000, Math.floor(page.limit)))));
  const s = q.toString();
  return s ? `/api/v1/notify/deliveries?${s}` : '/api/v1/notify/deliveries';
}

// The log's filters from the route (#/notifications?channel=ch-…&state=dead),
// keeping only well-formed values.
export function deliveryFiltersFromQuery(query: Record<string, string>): DeliveryFilters {
  const out: DeliveryFilters = {};
  if (query.channel && CHANNEL_ID.test(query.channel)) out.channel = query.channel;
  if (isDeliveryState(query.state)) out.state = query.state;
  return out;
}

// What went wrong last, as text: "HTTP 503: busy", "connection refused".
// The receiver's words are shown (hidden characters made visible) and cut.
// hoistd's error usually names the status already ("HTTP 404: …").
export function failureText(d: Pick<Delivery, 'last_status' | 'last_error'>, max = 200): string {
  const error = d.last_error ? d.last_error.replace(/\s+/g, ' ').trim() : '';
  const parts: string[] = [];
  const status = d.last_status !== null && d.last_status !== undefined ? `HTTP ${d.last_status}` : '';
  if (status && !error.startsWith(status)) parts.push(status);
  if (error) parts.push(shortText(error, max));
  return parts.join(': ') || 'no answer recorded';
}

export interface DeliverySummary {
  // a badge class: approved (green), pending (amber), denied (red)
  badge: 'approved' | 'pending' | 'denied' | 'expired';
  label: string;
  text: string;
}

function attempts(n: number): string {
  return `${n} attempt${n === 1 ? '' : 's'}`;
}

function nextText(at: string | null, nowMs: number): string {
  if (!at) return '';
  const s = secondsUntil(at, nowMs);
  return s > 0 ? `next attempt in ${formatDuration(s)}` : 'next attempt now';
}

export function deliverySummary(d: Delivery, nowMs: number): DeliverySummary {
  switch (d.state) {
    case 'delivered':
      return {
        badge: 'approved',
        label: 'delivered',
        text: `delivered ${formatTime(d.finished_at)}${d.attempts > 1 ? ` after ${attempts(d.attempts)}` : ''}`,
      };
    case 'dead':
      return { badge: 'denied', label: 'dead', text: `given up after ${attempts(d.attempts)}: ${failureText(d)}` };
    case 'pending':
      if (d.attempts === 0) {
        return { badge: 'pending', label: 'queued', text: `not sent yet${d.next_attempt_at ? `; ${nextText(d.next_attempt_at, nowMs)}` : ''}` };
      }
      return {
        badge: 'pending',
        label: 'retrying',
        text: `attempt ${d.attempts} failed: ${failureText(d)}${d.next_attempt_at ? `; ${nextText(d.next_attempt_at, nowMs)}` : ''}`,
      };
    default:
      return { badge: 'expired', label: d.state, text: d.state };
  }
}

// "… refused." but "… is hoistd running there?" as it is.
function sentence(text: string): string {
  return /[.!?…]$/.test(text) ? text : `${text}.`;
}

// A test message's progress: done once its first attempt is known.
export function testOutcome(d: Delivery, nowMs: number): { done: boolean; ok: boolean; text: string } {
  if (d.state === 'delivered') return { done: true, ok: true, text: `Delivered${d.last_status ? ` (HTTP ${d.last_status})` : ''}: the receiver took the test message.` };
  if (d.state === 'dead') return { done: true, ok: false, text: `Refused: ${sentence(failureText(d))} It is kept as a dead letter: fix the channel, then re-drive it.` };
  if (d.attempts > 0) {
    return {
      done: true,
      ok: false,
      text: `Attempt ${d.attempts} failed: ${sentence(failureText(d))} hoistd tries again (${nextText(d.next_attempt_at, nowMs) || 'later'}); the delivery log follows it.`,
    };
  }
  return { done: false, ok: false, text: `Queued as delivery ${d.id}; waiting for the first attempt…` };
}

// The log's rows: the first page, the pages loaded after it, and the
// deliveries re-driven here, which stay in view (even when the filter is
// "dead" and they are waiting again) with the state last read for them.
// Each id once, in id order, as hoistd lists them.
export function mergeDeliveries(first: readonly Delivery[], more: readonly Delivery[], touched: readonly Delivery[]): Delivery[] {
  const byId = new Map<number, Delivery>();
  for (const d of first) byId.set(d.id, d);
  for (const d of more) if (!byId.has(d.id)) byId.set(d.id, d);
  for (const d of touched) byId.set(d.id, d);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

// The newest delivery of a channel. hoistd lists deliveries oldest first
// (`after` an id), so `firstAfter(id)` (…?channel=C&after=id&limit=1)
// gallops forward from `from` (the newest seen before, re-read since its
// state may have changed) and then halves the gap: about 2·log2(ids) small
// calls, 2 when nothing new came.
export async function findLastDelivery(firstAfter: (after: number) => Promise<Delivery | null>, from = 0): Promise<Delivery | null> {
  let last = await firstAfter(Math.max(0, from - 1));
  if (!last && from > 0) last = await firstAfter(0);
  if (!last) return null;
  // No delivery of the channel has an id above `hi`, once known.
  let hi: number | null = null;
  for (let step = 1; hi === null; step *= 2) {
    const probe = last.id + step - 1;
    const next = await firstAfter(probe);
    if (next) last = next;
    else hi = probe;
  }
  while (last.id < hi) {
    const mid = Math.floor((last.id + hi) / 2);
    const next = await firstAfter(mid);
    if (next) last = next;
    else hi = mid;
  }
  return last;
}
