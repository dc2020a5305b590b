// Enrolment tokens as GET /api/v1/enrolment-tokens lists them (admin):
// newest first, with hoistd's own verdict on each; never the secret, which
// is shown once, when the token is made.

export type EnrolmentTokenState = 'active' | 'used_up' | 'expired' | 'revoked';

export interface EnrolmentTokenRow {
  id: string;
  labels: string[];
  uses_left: number;
  expires_at: string;
  created_by: string;
  created_at: string;
  revoked_at: string | null;
  state: EnrolmentTokenState;
}

export interface EnrolmentTokenList {
  tokens: EnrolmentTokenRow[];
}

// How a state reads in the table; an unknown one (a newer hoistd) as sent.
export function tokenStateText(state: string): string {
  switch (state) {
    case 'active':
      return 'active';
    case 'used_up':
      return 'used up';
    case 'expired':
      return 'expired';
    case 'revoked':
      return 'revoked';
    default:
      return state;
  }
}
