// Every kind of audit event Hoist records (an audit event's `action`), in
// the order of the C++ table that writes each kind's text once
// (src/core/audit_kind.cpp). The console_audit_kinds test (ctest, part of
// `make test`) fails when this list and the C++ one differ: change both
// together, one kind per line as below. hoistd also audits the kinds of a
// newer agent ("endpoint.<kind>"), so an event's action may be none of these.

export const AUDIT_KINDS = [
  'request.created',
  'request.refused',
  'request.throttled',
  'request.approved',
  'request.denied',
  'request.cancelled',
  'request.expired',
  'grant.revoked',
  'grant.expired',
  'policy.version_added',
  'policy.assigned',
  'policy.deleted',
  'enrolment_token.created',
  'enrolment_token.revoked',
  'endpoint.enrolled',
  'endpoint.retired',
  'endpoint.codes_key_rotated',
  'endpoint.events_throttled',
  'code.issued',
  'user.created',
  'user.updated',
  'user.login',
  'user.login_failed',
  'user.logout',
  'token.created',
  'token.used',
  'token.revoked',
  'access.denied',
  'notify.channel_created',
  'notify.channel_updated',
  'notify.channel_deleted',
  'notify.channel_tested',
  'notify.delivery_redriven',
  'endpoint.decision',
  'endpoint.decisions.counted',
  'endpoint.edit',
  'endpoint.grant.used',
  'endpoint.process',
  'endpoint.session.requested',
  'endpoint.request.self_approved',
  'endpoint.code.used',
  'endpoint.code.refused',
  'endpoint.codes_key.installed',
  'endpoint.break_glass',
  'endpoint.spool.rejected',
  'endpoint.event.quarantined',
] as const;

export type AuditKind = (typeof AUDIT_KINDS)[number];

const KNOWN: ReadonlySet<string> = new Set(AUDIT_KINDS);

// The kind an action names, or null for one this console does not know.
// Compare what it returns with a kind's text: a mistyped text then fails
// the type check (tsc) instead of never matching.
export function knownKind(action: string): AuditKind | null {
  return KNOWN.has(action) ? (action as AuditKind) : null;
}
