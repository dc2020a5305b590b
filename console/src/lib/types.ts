// The shapes hoistd answers with (src/server/api/handlers_*.cpp). Only the
// fields the console reads are listed.

export type Role = 'auditor' | 'approver' | 'admin';

export interface Session {
  user: string;
  role: Role;
  csrf_token: string;
  expires_at?: string;
  // when the password was last given (login or step-up)
  authenticated_at?: string;
}

export type RequestState = 'pending' | 'approved' | 'active' | 'denied' | 'cancelled' | 'expired' | 'revoked';

export interface Review {
  by: 'approver' | 'self' | 'autonomous';
  reviewer: string;
  approved: boolean;
  comment: string;
  at: string;
}

export interface RequestCommand {
  path: string;
  argv: string[];
  sha256: string | null;
  package: string;
  // whom it runs as (sudo -u / -g); absent from a hoistd before runas: root
  runas?: { user: string; group: string };
}

export interface ElevationRequest {
  id: string;
  version: number;
  kind: 'command' | 'session';
  state: RequestState;
  stored_state: RequestState;
  requester: string;
  groups: string[];
  host: string;
  endpoint_id: string;
  rule: string;
  justification: string;
  requested_duration_s: number;
  max_duration_s: number;
  approval_mode: 'manual' | 'autonomous' | 'self';
  self_approval_allowed: boolean;
  created_at: string;
  pending_deadline: string;
  review: Review | null;
  grant_start: string | null;
  grant_deadline: string | null;
  time_left_s: number;
  ended_at: string | null;
  ended_by: string;
  end_reason: string;
  command: RequestCommand;
}

export interface RequestList {
  requests: ElevationRequest[];
  next_after: string | null;
}

export interface GrantList {
  grants: ElevationRequest[];
}

export interface AuditEvent {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string;
  host: string;
  details: Record<string, unknown> | string;
  prev_hash?: string;
  hash?: string;
}

export interface AuditPage {
  events: AuditEvent[];
  next_after: number | null;
}

export interface Endpoint {
  id: string;
  hostname: string;
  labels: string[];
  agent_version: string;
  enrolled_at: string;
  last_seen: string | null;
  retired_at: string | null;
  codes_key_generation: number;
}

export interface EndpointList {
  endpoints: Endpoint[];
}

export interface EnrolmentTokenCreated {
  id: string;
  token: string;
  labels: string[];
  uses: number;
  expires_at: string;
}

export interface Policy {
  name: string;
  current_version: number;
  labels: string[];
  deleted_at: string | null;
}

export interface PolicyVersion {
  name: string;
  version: number;
  author: string;
  comment: string;
  created_at: string;
  text?: string;
}

export interface PolicyDetail extends Policy {
  current?: PolicyVersion;
}

export interface PolicyList {
  policies: Policy[];
}

export interface PolicyVersions {
  versions: PolicyVersion[];
}

export interface PolicyDiff {
  name: string;
  from: number;
  to: number;
  diff: string;
}

// POST /api/v1/policies/{name}/check: a dry run of saving.
export interface PolicyCheck {
  name: string;
  valid: boolean;
  errors: Array<{ line: number; column: number; where: string; message: string; text: string }>;
  current_version: number;
  changed: boolean;
  diff: string;
  diff_truncated: boolean;
  rules?: number;
  auto_approvals?: number;
}

export interface ConsoleUser {
  name: string;
  role: Role;
  created_at: string;
  disabled: boolean;
  version: number;
  password?: string;
}

export interface UserList {
  users: ConsoleUser[];
}

export interface IssuedCode {
  id: number;
  endpoint: string;
  host: string;
  kind: 'response' | 'preissued';
  ref: number;
  generation: number;
  user: string;
  duration_s: number;
  command: string;
  issued_by: string;
  issued_at: string;
  valid_until: string | null;
  used_at: string | null;
  state: string;
}

export interface CodeList {
  codes: IssuedCode[];
}

export interface CodeIssued {
  code: string;
  id: number;
  kind: 'response' | 'preissued';
  generation: number;
  endpoint: string;
  host: string;
  user: string;
  duration_s: number;
  command: string;
  valid_days?: number;
  valid_until?: string;
}

export interface KeyRotated {
  endpoint: string;
  generation: number;
}
