// What each role may do, mirroring hoistd's route table (docs/api.md,
// "Roles" and "Routes"). The server enforces it; the console only hides
// what would be refused, so nobody is offered a button that cannot work.

import type { Role } from './types';

export type Capability =
  | 'read' // requests, grants, endpoints, policies, audit, issued codes
  | 'review' // approve / deny requests
  | 'revoke' // revoke grants
  | 'issue_codes' // POST /api/v1/codes
  | 'edit_policies' // PUT/DELETE policies, labels
  | 'approve_and_add_rule' // review + edit_policies
  | 'manage_endpoints' // retire, rotate the codes key
  | 'manage_enrolment' // enrolment tokens
  | 'manage_users' // users and roles
  | 'manage_notifications'; // notification channels, deliveries

const RANK: Record<Role, number> = { auditor: 1, approver: 2, admin: 3 };

const NEEDS: Record<Capability, Role> = {
  read: 'auditor',
  review: 'approver',
  revoke: 'approver',
  issue_codes: 'approver',
  edit_policies: 'admin',
  approve_and_add_rule: 'admin',
  manage_endpoints: 'admin',
  manage_enrolment: 'admin',
  manage_users: 'admin',
  manage_notifications: 'admin',
};

export function can(role: Role | null | undefined, capability: Capability): boolean {
  if (!role) return false;
  return RANK[role] >= RANK[NEEDS[capability]];
}

export type ViewName = 'queue' | 'requests' | 'grants' | 'policies' | 'endpoints' | 'codes' | 'audit' | 'notifications' | 'users';

export interface NavItem {
  view: ViewName;
  label: string;
}

const NAV: Array<NavItem & { needs: Capability }> = [
  { view: 'queue', label: 'Requests', needs: 'read' },
  { view: 'requests', label: 'Request history', needs: 'read' },
  { view: 'grants', label: 'Grants & sessions', needs: 'read' },
  { view: 'policies', label: 'Policies', needs: 'read' },
  { view: 'endpoints', label: 'Endpoints', needs: 'read' },
  { view: 'codes', label: 'Offline codes', needs: 'read' },
  { view: 'audit', label: 'Audit report', needs: 'read' },
  { view: 'notifications', label: 'Notifications', needs: 'manage_notifications' },
  { view: 'users', label: 'Users & roles', needs: 'manage_users' },
];

export function navFor(role: Role | null | undefined): NavItem[] {
  return NAV.filter((n) => can(role, n.needs)).map(({ view, label }) => ({ view, label }));
}

export function mayOpen(role: Role | null | undefined, view: ViewName): boolean {
  return navFor(role).some((n) => n.view === view);
}

export function roleDescription(role: Role): string {
  switch (role) {
    case 'admin':
      return 'Admin: everything, including policies, endpoints, enrolment, notifications and users.';
    case 'approver':
      return 'Approver: reviews requests, revokes grants, issues offline codes; reads everything else.';
    case 'auditor':
      return 'Auditor: reads requests, grants, endpoints, policies and the audit trail.';
  }
}
