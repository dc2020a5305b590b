// An audit event as one line a person reads: who did what to what, with the
// outcome. One sentence template per audit kind (AUDIT_KINDS, which the
// console_audit_kinds ctest ties to the C++ table): SENTENCES is a
// Record<AuditKind, ...>, so a kind without a template fails the type check,
// and tests/audit_sentence.test.ts fails too. Pure: strings in, strings out.
//
// MUST: what users typed (justifications, comments, argv, labels, reasons)
// is returned as plain text, shown with visibleText and cut to a length;
// the views render it as text nodes (Preact escapes them), never as HTML.

import { knownKind, type AuditKind } from './audit_kinds';
import { formatArgv, formatDuration, formatTime, visibleText } from './format';
import type { AuditEvent } from './types';

export type Outcome = 'success' | 'refused' | 'failure' | 'warning' | 'neutral';

export interface Sentence {
  text: string;
  outcome: Outcome;
  // One or two words: "approved", "denied", "failed", "saved"...
  label: string;
}

// What a template reads: the event's fields and its details as an object.
export interface EventFacts {
  actor: string; // as a person reads it (actorLabel)
  target: string;
  host: string;
  d: Record<string, unknown>;
}

type Template = (f: EventFacts) => Sentence;

// The longest piece of typed text a line shows; the folded details have it all.
export const LINE_TEXT_MAX = 80;

// Text someone typed, safe to read on one line: hidden characters shown
// (visibleText), line breaks flattened, cut at `max` characters (whole code
// points, never half a surrogate pair) with an ellipsis.
export function shortText(value: unknown, max = LINE_TEXT_MAX): string {
  const text = visibleText(typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value));
  const chars = Array.from(text);
  return chars.length > max ? `${chars.slice(0, Math.max(1, max - 1)).join('')}…` : text;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : String(x))) : []);
const quoted = (v: unknown, max = LINE_TEXT_MAX): string => `“${shortText(v, max)}”`;
// ": “comment”" when there is one.
const saying = (v: unknown): string => (str(v) ? `: ${quoted(v)}` : '');
const groups = (v: unknown): string => {
  const l = list(v).map((x) => shortText(x, 40));
  return l.length ? l.join(', ') : 'no groups';
};
const duration = (v: unknown): string => {
  const n = num(v);
  return n === null ? '' : formatDuration(n);
};
// The command line as run: argv when there is one, else the path.
function commandOf(d: Record<string, unknown>, pathKey = 'path'): string {
  const argv = list(d.argv);
  const text = argv.length ? formatArgv(argv) : visibleText(str(d[pathKey]) || str(d.command));
  return shortText(text, LINE_TEXT_MAX);
}
const whose = (d: Record<string, unknown>, fallback = 'a'): string => {
  const r = str(d.requester);
  return r ? `${shortText(r, 40)}’s` : fallback;
};
const runasOf = (d: Record<string, unknown>): string => {
  const u = str(d.runas);
  const g = str(d.runas_group);
  if (!u && !g) return '';
  if (u === 'root' && !g) return '';
  return ` as ${shortText(u || 'root', 40)}${g ? `:${shortText(g, 40)}` : ''}`;
};
const withRule = (rule: unknown): string => (str(rule) ? ` (rule ${shortText(rule, 40)})` : '');

// An actor as the trail names it ("alice", "alice (token …)", "agent:<id>",
// "auto-approval:<name>", "system", "anonymous"), as a person reads it.
export function actorLabel(actor: string, host: string): string {
  if (actor.startsWith('agent:')) return host ? `the agent on ${shortText(host, 60)}` : `agent ${shortText(actor.slice(6), 12)}`;
  if (actor.startsWith('auto-approval:')) return `auto-approval ${quoted(actor.slice('auto-approval:'.length), 40)}`;
  if (actor === 'system') return 'hoistd';
  if (actor === 'anonymous' || actor === '') return 'someone';
  return shortText(actor, 60);
}

function decisionOutcome(action: string): Pick<Sentence, 'outcome' | 'label'> {
  if (action === 'allow') return { outcome: 'success', label: 'allowed' };
  if (action === 'deny') return { outcome: 'refused', label: 'denied' };
  if (action === 'request') return { outcome: 'neutral', label: 'asked' };
  return { outcome: 'neutral', label: action ? shortText(action, 20) : 'recorded' };
}

const s = (text: string, outcome: Outcome, label: string): Sentence => ({ text, outcome, label });

export const SENTENCES: Record<AuditKind, Template> = {
  'request.created': ({ target, d }) => {
    const who = shortText(str(d.requester) || 'someone', 40);
    const what = str(d.kind) === 'session' ? 'for a temporary admin session' : `to run ${commandOf(d)}${runasOf(d)}`;
    const dur = duration(d.requested_duration_s);
    return s(
      `${who} asked ${what}${dur ? ` for ${dur}` : ''}${withRule(d.rule)}${str(d.justification) ? `: ${quoted(d.justification)}` : ''}${target ? ` (${target})` : ''}`,
      'neutral',
      'requested',
    );
  },
  'request.refused': ({ d }) =>
    s(
      `${shortText(str(d.user) || 'someone', 40)} was refused ${commandOf(d)}${withRule(d.rule)}${str(d.reason) ? `: ${shortText(d.reason)}` : ''}`,
      'refused',
      'refused',
    ),
  'request.throttled': ({ actor, d }) => {
    const n = num(d.throttled);
    const last = str(d.last_user);
    return s(
      `${actor} sent too many requests: ${n === null ? 'some were' : `${n} ${n === 1 ? 'was' : 'were'}`} refused${str(d.first_at) ? ` from ${formatTime(str(d.first_at))}` : ''}${str(d.last_at) ? ` to ${formatTime(str(d.last_at))}` : ''}${last ? ` (the last for ${shortText(last, 40)})` : ''}`,
      'warning',
      'throttled',
    );
  },
  'request.approved': ({ actor, target, d }) => {
    const by = str(d.by);
    if (by === 'autonomous') {
      const until = str(d.grant_deadline);
      return s(`${actor} approved request ${target} at once${until ? `, until ${formatTime(until)}` : ''}`, 'success', 'approved');
    }
    if (by === 'self') return s(`${shortText(str(d.requester) || 'the requester', 40)} approved their own request ${target}${saying(d.comment)}`, 'success', 'approved');
    const until = str(d.grant_deadline);
    return s(`${actor} approved ${whose(d)} request ${target}${until ? ` until ${formatTime(until)}` : ''}${saying(d.comment)}`, 'success', 'approved');
  },
  'request.denied': ({ actor, target, d }) => s(`${actor} denied ${whose(d)} request ${target}${saying(d.comment)}`, 'refused', 'denied'),
  'request.cancelled': ({ target, d }) =>
    s(`${shortText(str(d.user) || str(d.requester) || 'the requester', 40)} withdrew request ${target}`, 'neutral', 'withdrawn'),
  'request.expired': ({ target, d }) => s(`${whose(d, 'A')} request ${target} expired without an answer`, 'warning', 'expired'),
  'grant.revoked': ({ actor, target, d }) => s(`${actor} revoked ${whose(d)} grant ${target}${saying(d.reason)}`, 'warning', 'revoked'),
  'grant.expired': ({ target, d }) => s(`${whose(d, 'A')} grant ${target} ended at its deadline`, 'neutral', 'ended'),
  'policy.version_added': ({ actor, target, d }) => {
    const v = num(d.version);
    return s(`${actor} saved policy ${shortText(target, 60)}${v !== null ? ` as version ${v}` : ''}${saying(d.comment)}`, 'success', 'saved');
  },
  'policy.assigned': ({ actor, target, d }) =>
    s(`${actor} assigned policy ${shortText(target, 60)} to ${groups(d.labels)} (before: ${groups(d.previous_labels)})`, 'success', 'assigned'),
  'policy.deleted': ({ actor, target }) => s(`${actor} deleted policy ${shortText(target, 60)}`, 'warning', 'deleted'),
  'enrolment_token.created': ({ actor, d }) => {
    const uses = num(d.uses);
    const terms: string[] = [];
    if (uses !== null) terms.push(`${uses} use${uses === 1 ? '' : 's'}`);
    if (str(d.expires_at)) terms.push(`until ${formatTime(str(d.expires_at))}`);
    return s(`${actor} created an enrolment token for ${groups(d.labels)}${terms.length ? ` (${terms.join(', ')})` : ''}`, 'success', 'created');
  },
  'enrolment_token.revoked': ({ actor, target }) => s(`${actor} revoked enrolment token ${shortText(target, 40)}`, 'warning', 'revoked'),
  'endpoint.enrolled': ({ host, target, d }) =>
    s(
      `${shortText(host || target, 60)} enrolled into ${groups(d.labels)}${str(d.agent_version) ? ` (agent ${shortText(d.agent_version, 30)})` : ''}${str(d.remote) ? ` from ${shortText(d.remote, 60)}` : ''}`,
      'success',
      'enrolled',
    ),
  'endpoint.retired': ({ actor, host, target }) => s(`${actor} retired endpoint ${shortText(host || target, 60)}`, 'warning', 'retired'),
  'endpoint.codes_key_rotated': ({ actor, host, target, d }) => {
    const g = num(d.new_generation);
    return s(`${actor} rotated ${shortText(host || target, 60)}’s admin-code key${g !== null ? ` to generation ${g}` : ''}`, 'success', 'rotated');
  },
  'endpoint.events_throttled': ({ actor, d }) => {
    const n = num(d.events);
    const u = num(d.uploads);
    return s(
      `${actor} uploaded events faster than its limit: ${n === null ? 'some' : n} held back for later${u === null ? '' : ` over ${u} upload${u === 1 ? '' : 's'}`}${str(d.first_at) ? ` from ${formatTime(str(d.first_at))}` : ''}${str(d.last_at) ? ` to ${formatTime(str(d.last_at))}` : ''}`,
      'warning',
      'throttled',
    );
  },
  'code.issued': ({ actor, host, d }) => {
    const dur = duration(d.duration_s);
    const kind = str(d.kind) === 'preissued' ? 'a pre-issued offline admin code' : 'an offline admin code';
    return s(
      `${actor} issued ${kind} for ${shortText(str(d.user) || 'someone', 40)}${host ? ` on ${shortText(host, 60)}` : ''}${dur ? ` for ${dur}` : ''}${str(d.command) ? `, only ${shortText(d.command)}` : ''}${saying(d.reason)}`,
      'success',
      'issued',
    );
  },
  'user.created': ({ actor, target, d }) => s(`${actor} created user ${shortText(target, 60)}${str(d.role) ? ` as ${str(d.role)}` : ''}`, 'success', 'created'),
  'user.updated': ({ actor, target, d }) => {
    const changes: string[] = [];
    if (str(d.role)) changes.push(`role ${str(d.role)}`);
    if (d.disabled === true) changes.push('disabled');
    if (d.disabled === false) changes.push('enabled');
    if (d.password_changed === true) changes.push('new password');
    const ended = [num(d.sessions_revoked), num(d.tokens_revoked)];
    if ((ended[0] ?? 0) > 0 || (ended[1] ?? 0) > 0) changes.push(`${ended[0] ?? 0} session(s) and ${ended[1] ?? 0} API token(s) ended`);
    return s(`${actor} changed user ${shortText(target, 60)}${changes.length ? `: ${changes.join(', ')}` : ''}`, 'success', 'changed');
  },
  'user.login': ({ target, d }) =>
    d.step_up === true
      ? s(`${shortText(target, 60)} confirmed their password again (step-up)${str(d.remote) ? ` from ${shortText(d.remote, 60)}` : ''}`, 'success', 'confirmed')
      : s(`${shortText(target, 60)} logged in${str(d.remote) ? ` from ${shortText(d.remote, 60)}` : ''}`, 'success', 'logged in'),
  'user.login_failed': ({ target, d }) =>
    s(
      `${d.step_up === true ? 'A password confirmation (step-up)' : 'A login'} as ${quoted(target, 60)} failed${str(d.remote) ? ` from ${shortText(d.remote, 60)}` : ''}${str(d.reason) ? `: ${shortText(d.reason)}` : ''}`,
      'failure',
      'failed',
    ),
  'user.logout': ({ target }) => s(`${shortText(target, 60)} signed out`, 'neutral', 'signed out'),
  'token.created': ({ actor, target, d }) =>
    s(
      `${actor} created API token ${shortText(target, 40)}${str(d.label) ? ` ${quoted(d.label, 60)}` : ''}${str(d.expires_at) ? `, until ${formatTime(str(d.expires_at))}` : ''}`,
      'success',
      'created',
    ),
  'token.used': ({ target, d }) => s(`API token ${shortText(target, 40)}${str(d.label) ? ` ${quoted(d.label, 60)}` : ''} was used`, 'neutral', 'used'),
  'token.revoked': ({ actor, target, d }) =>
    s(`${actor} revoked ${str(d.user) ? `${shortText(d.user, 40)}’s ` : ''}API token ${shortText(target, 40)}`, 'warning', 'revoked'),
  'endpoint.decision': ({ d }) =>
    s(`${shortText(str(d.user) || 'someone', 40)} ran sudo ${commandOf(d, 'command')}${runasOf(d)}${withRule(d.rule)}${str(d.reason) ? `: ${shortText(d.reason)}` : ''}`, ...outcomeOf(decisionOutcome(str(d.action)))),
  'endpoint.decisions.counted': ({ d }) => {
    const n = num(d.count);
    const at = (v: unknown) => {
      const ms = num(v);
      return ms === null ? '' : formatTime(new Date(ms).toISOString());
    };
    return s(
      `${shortText(str(d.user) || 'someone', 40)} was refused sudo ${n === null ? 'many' : n} more time${n === 1 ? '' : 's'}, counted rather than recorded one by one${at(d.first_ms) ? ` from ${at(d.first_ms)}` : ''}${at(d.last_ms) ? ` to ${at(d.last_ms)}` : ''}`,
      'warning',
      'counted',
    );
  },
  'endpoint.edit': ({ d }) => {
    const files = list(d.files).map((f) => shortText(f, 60));
    return s(`${shortText(str(d.user) || 'someone', 40)} edited ${files.length ? files.join(', ') : 'files'} with sudoedit${runasOf(d)}${withRule(d.rule)}`, ...outcomeOf(decisionOutcome(str(d.action))));
  },
  'endpoint.grant.used': ({ target, d }) =>
    s(`${shortText(str(d.user) || 'someone', 40)} ran ${commandOf(d, 'command')}${runasOf(d)} under grant ${target}`, 'success', 'ran'),
  'endpoint.process': ({ d }) =>
    s(
      `${shortText(str(d.user) || 'someone', 40)} started ${commandOf(d, 'command')}${runasOf(d)} in session ${shortText(str(d.session), 40)}`,
      ...outcomeOf(decisionOutcome(str(d.action))),
    ),
  'endpoint.session.requested': ({ d }) =>
    s(`${shortText(str(d.user) || 'someone', 40)} asked for a temporary admin session${str(d.request) ? ` (${shortText(d.request, 40)})` : ''}`, 'neutral', 'asked'),
  'endpoint.request.self_approved': ({ d }) =>
    s(`${shortText(str(d.user) || 'someone', 40)} approved their own request ${shortText(str(d.request), 40)} at the terminal`, 'success', 'approved'),
  'endpoint.code.used': ({ d }) => {
    const matched = d.matched;
    const dur = duration(d.duration_s);
    return s(
      `${shortText(str(d.user) || 'someone', 40)} used ${str(d.code_kind) === 'preissued' ? 'a pre-issued' : 'an'} offline admin code${dur ? ` for ${dur}` : ''}${str(d.command) ? `, only ${shortText(d.command)}` : ''}${matched === false ? ' (no issued code matches it)' : ''}`,
      matched === false ? 'warning' : 'success',
      matched === false ? 'unmatched' : 'used',
    );
  },
  'endpoint.code.refused': ({ d }) => {
    const n = num(d.failures);
    return s(
      `An offline admin code typed by ${shortText(str(d.user) || 'someone', 40)} did not fit${str(d.reason) ? `: ${shortText(d.reason)}` : ''}${n !== null ? ` (${n} failure${n === 1 ? '' : 's'})` : ''}`,
      'failure',
      'refused',
    );
  },
  'endpoint.codes_key.installed': ({ d }) => {
    const g = num(d.generation);
    return s(`The agent installed admin-code key${g !== null ? ` generation ${g}` : ''}`, 'success', 'installed');
  },
  'endpoint.break_glass': ({ d }) =>
    s(`Break-glass use${str(d.user) ? ` by ${shortText(d.user, 40)}` : ''}${list(d.argv).length ? `: ${commandOf(d)}` : ''}${str(d.spool_file) ? ` (spool ${shortText(d.spool_file, 60)})` : ''}`, 'warning', 'break-glass'),
  'endpoint.spool.rejected': ({ d }) =>
    s(`The agent did not read spool file ${shortText(str(d.spool_file), 60)}${str(d.problem) ? `: ${shortText(d.problem)}` : ''}`, 'failure', 'rejected'),
  'endpoint.event.quarantined': ({ d }) =>
    s(`hoistd refused an event${str(d.kind) ? ` of kind ${shortText(d.kind, 40)}` : ''} for good${str(d.reason) ? `: ${shortText(d.reason)}` : ''}`, 'failure', 'quarantined'),
  'access.denied': ({ actor, d }) =>
    s(
      `${actor}${str(d.role) ? ` (${shortText(d.role, 20)})` : ''} was refused ${shortText(d.method, 10)} ${shortText(d.route, 80)}${str(d.needs) ? `, which needs ${shortText(d.needs, 20)}` : ''}`,
      'refused',
      'refused',
    ),
  'notify.channel_created': ({ actor, d }) =>
    s(`${actor} added the ${shortText(d.kind, 20)} channel ${quoted(d.name, 60)}${d.enabled === false ? ' (disabled)' : ''}`, 'success', 'added'),
  'notify.channel_updated': ({ actor, target, d }) =>
    s(`${actor} changed channel ${str(d.name) ? quoted(d.name, 60) : shortText(target, 60)}${d.secret_rotated === true ? ' and rotated its secret' : ''}`, 'success', 'changed'),
  'notify.channel_deleted': ({ actor, d }) => {
    const dropped = num(d.pending_dropped);
    return s(
      `${actor} deleted channel ${quoted(d.name, 60)}${dropped ? `, dropping ${dropped} waiting deliver${dropped === 1 ? 'y' : 'ies'}` : ''}`,
      'warning',
      'deleted',
    );
  },
  'notify.channel_tested': ({ actor, d }) => s(`${actor} sent a test message to channel ${quoted(d.name, 60)}`, 'neutral', 'test'),
  'notify.delivery_redriven': ({ actor, d }) =>
    s(`${actor} sent event ${num(d.audit_seq) ?? '?'} again to a channel${str(d.last_error) ? ` (it had failed: ${shortText(d.last_error)})` : ''}`, 'success', 're-driven'),
};

function outcomeOf(o: Pick<Sentence, 'outcome' | 'label'>): [Outcome, string] {
  return [o.outcome, o.label];
}

function detailsOf(e: AuditEvent): Record<string, unknown> {
  if (typeof e.details === 'object' && e.details !== null && !Array.isArray(e.details)) return e.details;
  if (typeof e.details === 'string' && e.details.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(e.details);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // not JSON: no details to read
    }
  }
  return {};
}

// The sentence for an event: its kind's template, or for a kind this
// console does not know (a newer agent's) a plain one naming the action.
export function describeEvent(e: AuditEvent): Sentence {
  const facts: EventFacts = { actor: actorLabel(e.actor, e.host), target: shortText(e.target, 60), host: e.host, d: detailsOf(e) };
  const kind = knownKind(e.action);
  if (kind) return SENTENCES[kind](facts);
  return s(`${facts.actor} recorded ${shortText(e.action, 60)}${e.target ? ` about ${facts.target}` : ''}`, 'neutral', 'recorded');
}

export interface DetailRow {
  key: string;
  value: string;
}

// The folded details: every field, as text ("—" for empty), hidden
// characters shown, nothing cut; a policy change's diff is shown as a diff
// instead (policyChange).
export function detailRows(e: AuditEvent): DetailRow[] {
  const d = detailsOf(e);
  const rows: DetailRow[] = [];
  for (const [key, value] of Object.entries(d)) {
    if (knownKind(e.action) === 'policy.version_added' && (key === 'diff' || key === 'diff_truncated')) continue;
    rows.push({ key, value: valueText(key, value) });
  }
  return rows;
}

function valueText(key: string, v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'string') return visibleText(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return key === 'argv' ? formatArgv(v) : v.map(visibleText).join(', ');
  return visibleText(JSON.stringify(v));
}

export interface PolicyChange {
  diff: string;
  truncated: boolean;
  added: number;
  removed: number;
}

// A policy.version_added event's diff against the version before it, with
// how many lines it adds and removes (for the folded summary).
export function policyChange(e: AuditEvent): PolicyChange | null {
  if (knownKind(e.action) !== 'policy.version_added') return null;
  const d = detailsOf(e);
  const diff = str(d.diff);
  let added = 0;
  let removed = 0;
  for (const line of diff.split('\n')) {
    if (line.startsWith('+++') || line.startsWith('---')) continue;
    if (line.startsWith('+')) added++;
    else if (line.startsWith('-')) removed++;
  }
  return { diff, truncated: d.diff_truncated === true, added, removed };
}
