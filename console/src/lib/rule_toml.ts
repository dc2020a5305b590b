// [[rule]] and [[auto_approval]] tables as TOML text, for "approve and add a
// rule" and the policy editor's rule builder. Pure and unit-tested.
//
// MUST: every string goes through tomlString (a TOML basic string with every
// quote, backslash and control character escaped), so a request's
// arguments or justification can never break out of a value and add keys.
// MUST: literal arguments are glob-escaped (args are globs in docs/policy.md),
// so an argument "*" allows exactly "*", not everything.
// The field names and rules follow docs/policy.md and
// src/core/policy_file.cpp (kRuleFields, kAutoFields).

import type { ElevationRequest } from './types';

export type RuleAction = 'allow' | 'request' | 'deny';
export type ApprovalMode = 'manual' | 'autonomous' | 'self';

export interface RuleSpec {
  name: string;
  description?: string;
  action: RuleAction;
  // which programs
  sha256?: string[];
  path?: string;
  folder?: string;
  path_glob?: string;
  package?: string;
  origin?: string;
  maintainer?: string;
  verified?: boolean;
  args?: string[]; // globs; a final "..." accepts further arguments
  args_regex?: string[];
  any_command?: boolean;
  session?: boolean;
  edit?: string[]; // files edited with sudoedit, never programs
  // as whom (sudo -u / -g): without runas, root only
  runas?: string[];
  runas_groups?: string[];
  // who and where
  users?: string[];
  groups?: string[];
  labels?: string[]; // endpoint groups
  hosts?: string[]; // endpoints by enrolled hostname
  days?: string;
  hours?: string;
  timezone?: string;
  // request options
  approval?: ApprovalMode;
  default_duration?: string;
  max_duration?: string;
  reauthenticate?: boolean;
  self_approval_groups?: string[];
}

export interface AutoApprovalSpec {
  name: string;
  description?: string;
  users?: string[];
  groups?: string[];
  rules?: string[];
  max_duration: string;
  days?: string;
  hours?: string;
  timezone?: string;
}

// A TOML basic string: "..." with \" \\ \b \t \n \f \r and \uXXXX for the
// other control characters (U+0000-U+001F, U+007F), as the TOML 1.0 spec
// requires. Everything else, any UTF-8, is written as is.
export function tomlString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const c = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '"':
        out += '\\"';
        break;
      case '\\':
        out += '\\\\';
        break;
      case '\b':
        out += '\\b';
        break;
      case '\t':
        out += '\\t';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\f':
        out += '\\f';
        break;
      case '\r':
        out += '\\r';
        break;
      default:
        if (c < 0x20 || c === 0x7f) {
          out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
        } else {
          out += ch;
        }
    }
  }
  return `${out}"`;
}

export function tomlStringArray(values: string[]): string {
  return `[${values.map(tomlString).join(', ')}]`;
}

// A literal argument as an args glob: '*', '?', '[' and '\' escaped with
// '\' (src/core/pattern.cpp). A literal "..." is written "\..." so it is
// not read as "any further arguments".
export function globEscape(arg: string): string {
  const escaped = arg.replace(/[*?[\\]/g, (c) => `\\${c}`);
  return escaped === '...' ? '\\...' : escaped;
}

const RULE_ORDER: Array<keyof RuleSpec> = [
  'name',
  'description',
  'action',
  'session',
  'any_command',
  'sha256',
  'path',
  'folder',
  'path_glob',
  'package',
  'origin',
  'maintainer',
  'verified',
  'args',
  'args_regex',
  'edit',
  'runas',
  'runas_groups',
  'users',
  'groups',
  'labels',
  'hosts',
  'days',
  'hours',
  'timezone',
  'approval',
  'default_duration',
  'max_duration',
  'reauthenticate',
  'self_approval_groups',
];

function value(v: unknown, key: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return v === '' ? null : tomlString(v);
  if (Array.isArray(v)) {
    // sha256 may be one string or a list; a single digest reads better bare
    if (key === 'sha256' && v.length === 1) return tomlString(String(v[0]));
    // args = [] is meaningful ("no arguments"); other empty lists are omitted
    if (v.length === 0 && key !== 'args') return null;
    return tomlStringArray(v.map(String));
  }
  return null;
}

function renderTable(header: string, spec: object, order: string[]): string {
  const lines = [header];
  const record = spec as Record<string, unknown>;
  for (const key of order) {
    if (key === 'verified' && record[key] === false) continue;
    if ((key === 'any_command' || key === 'session') && record[key] !== true) continue;
    const v = value(record[key], key);
    if (v !== null) lines.push(`${key} = ${v}`);
  }
  return `${lines.join('\n')}\n`;
}

export function renderRule(spec: RuleSpec): string {
  return renderTable('[[rule]]', spec, RULE_ORDER as string[]);
}

export function renderAutoApproval(spec: AutoApprovalSpec): string {
  return renderTable('[[auto_approval]]', spec, [
    'name',
    'description',
    'users',
    'groups',
    'rules',
    'max_duration',
    'days',
    'hours',
    'timezone',
  ]);
}

// `table` appended to a policy's text after one blank line.
export function appendTable(policyText: string, table: string): string {
  const trimmed = policyText.replace(/\s+$/, '');
  return trimmed === '' ? table : `${trimmed}\n\n${table}`;
}

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
const LABEL_RE = /^[a-z0-9._-]{1,64}$/;
const HOST_RE = /^[A-Za-z0-9._-]{1,253}$/;
const SHA_RE = /^[0-9a-fA-F]{64}$/;
const DURATION_RE = /^(\d+[wdhms])+$/;
const HOURS_RE = /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/;
const DAY = '(mon|tue|wed|thu|fri|sat|sun)';
const DAYS_RE = new RegExp(`^(all|${DAY}(-${DAY})?(,${DAY}(-${DAY})?)*)$`);

// A rule name from free text: the allowed characters only, at most 64.
export function ruleName(text: string): string {
  const cleaned = text
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  return (cleaned || 'rule').slice(0, 64).replace(/-$/, '');
}

function isNormalAbsolute(path: string): boolean {
  if (!path.startsWith('/')) return false;
  if (path === '/') return true;
  if (path.endsWith('/')) return false;
  return path
    .slice(1)
    .split('/')
    .every((c) => c !== '' && c !== '.' && c !== '..');
}

export interface FieldError {
  field: string;
  message: string;
}

// What the console can tell before sending (hoistd's parser is the
// authority and reports the rest with line numbers on save).
export function validateRule(spec: RuleSpec, existingNames: string[] = []): FieldError[] {
  const errors: FieldError[] = [];
  const add = (field: string, message: string) => errors.push({ field, message });
  if (!NAME_RE.test(spec.name)) add('name', 'a name has 1 to 64 characters: A-Z a-z 0-9 . _ -');
  else if (existingNames.includes(spec.name)) add('name', `a rule named "${spec.name}" exists already`);
  const programFields = [
    spec.sha256?.length,
    spec.path,
    spec.folder,
    spec.path_glob,
    spec.package,
    spec.origin,
    spec.maintainer,
    spec.verified,
  ].some(Boolean);
  const argFields = spec.args !== undefined || (spec.args_regex?.length ?? 0) > 0;
  if (spec.session) {
    if (programFields || spec.any_command || argFields)
      add('session', 'a session rule has no command criteria (sha256, path, args, ...)');
    if (spec.action === 'allow') add('action', 'a session is never allowed outright: use "request" or "deny"');
  } else if (spec.any_command) {
    if (programFields) add('any_command', 'any_command cannot be combined with sha256, path, folder, package, ...');
  } else if (!programFields) {
    add('path', 'say which programs the rule covers (sha256, path, folder, path_glob, package, ...) or any command');
  }
  if (spec.args !== undefined && (spec.args_regex?.length ?? 0) > 0)
    add('args_regex', 'a rule uses args or args_regex, never both');
  for (const d of spec.sha256 ?? []) if (!SHA_RE.test(d)) add('sha256', `"${d}" is not 64 hex digits`);
  for (const key of ['path', 'folder', 'path_glob'] as const) {
    const p = spec[key];
    if (p && !isNormalAbsolute(p)) add(key, `"${p}" must be an absolute path in normal form (no "..", "//" or trailing "/")`);
  }
  for (const l of spec.labels ?? [])
    if (!LABEL_RE.test(l)) add('labels', `label "${l}" may use only a-z, 0-9, '.', '-' and '_'`);
  for (const h of spec.hosts ?? [])
    if (!HOST_RE.test(h)) add('hosts', `"${h}" is not a host name (letters, digits, '.', '-' and '_')`);
  if (spec.hours && !HOURS_RE.test(spec.hours)) add('hours', 'write hours as HH:MM-HH:MM, such as 08:00-18:00');
  if (spec.days && !DAYS_RE.test(spec.days)) add('days', 'write days as mon-fri, sat,sun or all');
  for (const key of ['default_duration', 'max_duration'] as const) {
    const d = spec[key];
    if (d && !DURATION_RE.test(d)) add(key, `"${d}" is not a duration: write 90s, 15m, 2h, 1d or 1h30m`);
    if (d && spec.action !== 'request') add(key, `${key} is for request rules only`);
  }
  if (spec.approval && spec.action !== 'request') add('approval', 'approval is for request rules only');
  if (spec.approval === 'self' && !(spec.self_approval_groups?.length ?? 0))
    add(
      'self_approval_groups',
      'approval = "self" needs self_approval_groups here or in [settings] (hoistd refuses it when neither names one)',
    );
  if ((spec.self_approval_groups?.length ?? 0) > 0 && spec.action !== 'request')
    add('self_approval_groups', 'self_approval_groups is for request rules only');
  if (spec.reauthenticate !== undefined && spec.action === 'deny')
    add('reauthenticate', 'reauthenticate is for allow and request rules');
  return errors;
}

export function validateAutoApproval(spec: AutoApprovalSpec): FieldError[] {
  const errors: FieldError[] = [];
  const add = (field: string, message: string) => errors.push({ field, message });
  if (!NAME_RE.test(spec.name)) add('name', 'a name has 1 to 64 characters: A-Z a-z 0-9 . _ -');
  if (!(spec.users?.length || spec.groups?.length || spec.rules?.length))
    add('users', 'name some users, groups or rules (an entry naming none would approve everything autonomous)');
  if (!spec.max_duration) add('max_duration', 'max_duration is required: longer requests wait for a technician');
  else if (!DURATION_RE.test(spec.max_duration)) add('max_duration', `"${spec.max_duration}" is not a duration`);
  if (spec.hours && !HOURS_RE.test(spec.hours)) add('hours', 'write hours as HH:MM-HH:MM, such as 08:00-18:00');
  if (spec.days && !DAYS_RE.test(spec.days)) add('days', 'write days as mon-fri, sat,sun or all');
  return errors;
}

// How "approve and add a rule" scopes the new allow rule: to the host the
// request came from (`hosts`), to endpoint groups (`labels`), or wherever
// the policy applies.
export type RuleScope =
  | { kind: 'host'; host: string }
  | { kind: 'labels'; labels: string[] }
  | { kind: 'everywhere' };

export interface RuleFromRequestOptions {
  scope: RuleScope;
  // Only for the requester (users = [...]); otherwise anyone.
  requesterOnly: boolean;
  // Pin the program by its SHA-256 (when the agent computed one).
  pinSha256: boolean;
  // Exactly these arguments; otherwise any arguments.
  exactArgs: boolean;
  name?: string;
}

// The allow rule that would have let this request through at once.
export function ruleFromRequest(req: ElevationRequest, opts: RuleFromRequestOptions): RuleSpec {
  if (req.kind !== 'command' || !req.command.path) {
    throw new Error('only a command request can become an allow rule (a session is never allowed outright)');
  }
  const base = req.command.path.split('/').pop() || 'command';
  const spec: RuleSpec = {
    name: opts.name ?? ruleName(`allow-${base}-${req.requester}-${req.id.slice(-8)}`),
    description: `Added from request ${req.id} (${req.requester} on ${req.host}): ${req.justification}`.slice(0, 500),
    action: 'allow',
    path: req.command.path,
  };
  if (opts.pinSha256 && req.command.sha256) spec.sha256 = [req.command.sha256];
  if (opts.exactArgs) spec.args = req.command.argv.slice(1).map(globEscape);
  // The target it was asked for: a rule without runas is for root only.
  const runas = req.command.runas;
  if (runas && runas.user && runas.user !== 'root') spec.runas = [runas.user];
  if (runas && runas.group) spec.runas_groups = [runas.group];
  if (opts.requesterOnly) spec.users = [req.requester];
  if (opts.scope.kind === 'labels') spec.labels = [...opts.scope.labels];
  if (opts.scope.kind === 'host') spec.hosts = [opts.scope.host];
  return spec;
}

// Names of the rules a policy text already has (`name = "..."` inside
// [[rule]] tables), for duplicate checks. A line scanner, not a parser:
// good enough for a warning; hoistd's parser decides.
export function ruleNamesIn(text: string): string[] {
  const names: string[] = [];
  let inRule = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) {
      inRule = line === '[[rule]]';
      continue;
    }
    if (!inRule) continue;
    const m = /^name\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(line);
    if (m?.[1] !== undefined) names.push(m[1]);
  }
  return names;
}
