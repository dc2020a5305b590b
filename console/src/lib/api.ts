// The console's only door to hoistd: same-origin fetch with the session
// cookie, the CSRF token on every state-changing call, one error type.
//
// MUST: every method other than GET/HEAD carries X-CSRF-Token (hoistd
// refuses it otherwise, docs/api.md).
// MUST: a 401 from any call but the login itself ends the console session
// (onUnauthenticated), so an expired cookie never leaves a half-working page.
// MUST: a 403 with reason "step_up_required" (an approval from a login
// older than hoistd's [console] step_up_after) asks for the password
// (onStepUp), and the call is sent again once, only after hoistd accepted it
// (POST /api/v1/session/reauth). The password goes to hoistd only.

import type { Role, Session } from './types';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterS?: number,
    // hoistd's machine-readable refinement of `code` ("step_up_required")
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiClientOptions {
  fetch?: FetchLike;
  // Called once per 401 (not for a failed login).
  onUnauthenticated?: (error: ApiError) => void;
  // Called when hoistd wants the password again before an approval
  // (STEP_UP_REQUIRED); resolves true once reauth() worked, false when the
  // user gave up. Calls that need it at the same time share one prompt.
  onStepUp?: (error: ApiError) => Promise<boolean>;
  // Local clock; injected by tests.
  now?: () => number;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

// The 403 reason that asks for the password again (docs/api.md, "Step-up").
export const STEP_UP_REQUIRED = 'step_up_required';

export function isStepUp(error: unknown): error is ApiError {
  return error instanceof ApiError && error.status === 403 && error.reason === STEP_UP_REQUIRED;
}

// What a failed action tells the person who clicked: hoistd's message,
// except for a step-up the user gave up on, whose message is for clients.
export function actionErrorText(error: unknown): string {
  if (isStepUp(error)) return 'Not done: your password was not confirmed. Try again and type it when asked.';
  return error instanceof Error ? error.message : String(error);
}

export function isRole(value: unknown): value is Role {
  return value === 'auditor' || value === 'approver' || value === 'admin';
}

// Turns hoistd's error body ({"error": {"code", "message"}}) into an ApiError;
// anything else (a proxy's HTML page) keeps the status and a plain message.
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let code = `http_${response.status}`;
  let message = `${response.status} ${response.statusText || 'error'}`.trim();
  let reason: string | undefined;
  try {
    const body: unknown = await response.json();
    if (body && typeof body === 'object' && 'error' in body) {
      const err = (body as { error: { code?: unknown; message?: unknown; reason?: unknown } }).error;
      if (typeof err.code === 'string') code = err.code;
      if (typeof err.message === 'string') message = err.message;
      if (typeof err.reason === 'string') reason = err.reason;
    }
  } catch {
    // not JSON: keep the status line
  }
  const retry = response.headers.get('retry-after');
  const retryAfterS = retry !== null && /^\d+$/.test(retry) ? Number(retry) : undefined;
  return new ApiError(response.status, code, message, retryAfterS, reason);
}

export class ApiClient {
  csrfToken: string | null = null;
  // Server clock minus local clock, from the Date header (ms); used for the
  // 2-minute clock so a skewed laptop does not misreport waits.
  serverOffsetMs = 0;
  private readonly fetchImpl: FetchLike;
  private readonly onUnauthenticated: ((error: ApiError) => void) | undefined;
  private readonly onStepUp: ((error: ApiError) => Promise<boolean>) | undefined;
  private stepUpPending: Promise<boolean> | null = null;
  private readonly now: () => number;

  constructor(options: ApiClientOptions = {}) {
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.onUnauthenticated = options.onUnauthenticated;
    this.onStepUp = options.onStepUp;
    this.now = options.now ?? (() => Date.now());
  }

  serverNow(): number {
    return this.now() + this.serverOffsetMs;
  }

  async request<T>(method: string, path: string, body?: unknown, opts: { login?: boolean; steppedUp?: boolean } = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (!SAFE_METHODS.has(method)) {
      if (this.csrfToken) headers['X-CSRF-Token'] = this.csrfToken;
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body ?? {});
    }
    const sent = this.now();
    let response: Response;
    try {
      response = await this.fetchImpl(path, init);
    } catch (e) {
      throw new ApiError(0, 'network', `hoistd cannot be reached (${e instanceof Error ? e.message : String(e)})`);
    }
    this.noteServerDate(response, sent);
    if (!response.ok) {
      const error = await errorFromResponse(response);
      if (error.status === 401 && !opts.login) {
        this.csrfToken = null;
        this.onUnauthenticated?.(error);
      }
      if (isStepUp(error) && !opts.steppedUp && this.onStepUp) {
        // Once: a second refusal after a good step-up is hoistd's last word.
        if (await this.stepUp(error)) return this.request<T>(method, path, body, { ...opts, steppedUp: true });
      }
      throw error;
    }
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  patch<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
  del<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, body);
  }

  async login(user: string, password: string): Promise<Session> {
    const s = await this.request<Session>('POST', '/api/v1/login', { user, password }, { login: true });
    this.csrfToken = s.csrf_token;
    return s;
  }

  // The session behind the cookie, or null when there is none. GET
  // /api/v1/session answers 200 either way, so a logged-out page logs no
  // error in the browser's console. A session without csrf_token (an older
  // hoistd) cannot change anything: the caller treats it as logged out.
  async whoami(): Promise<Session | null> {
    const w = await this.request<{ authenticated: boolean; user?: string; role?: string; csrf_token?: string }>(
      'GET',
      '/api/v1/session',
      undefined,
      { login: true },
    );
    if (!w.authenticated || !w.user || !w.role || !isRole(w.role)) return null;
    this.csrfToken = w.csrf_token ?? null;
    return { user: w.user, role: w.role, csrf_token: w.csrf_token ?? '' };
  }

  // Confirms the password again (step-up): hoistd answers with a new
  // session (cookie and CSRF token) whose login time is now. A wrong
  // password is a 403 (the session itself is still good).
  async reauth(password: string): Promise<Session> {
    const s = await this.request<Session>('POST', '/api/v1/session/reauth', { password }, { steppedUp: true });
    this.csrfToken = s.csrf_token;
    return s;
  }

  private stepUp(error: ApiError): Promise<boolean> {
    if (!this.onStepUp) return Promise.resolve(false);
    if (!this.stepUpPending) {
      this.stepUpPending = this.onStepUp(error)
        .catch(() => false)
        .finally(() => {
          this.stepUpPending = null;
        });
    }
    return this.stepUpPending;
  }

  async logout(): Promise<void> {
    try {
      await this.request('POST', '/api/v1/logout', {}, { login: true });
    } finally {
      this.csrfToken = null;
    }
  }

  private noteServerDate(response: Response, sent: number): void {
    const date = response.headers.get('date');
    if (!date) return;
    const server = Date.parse(date);
    if (Number.isNaN(server)) return;
    const local = (sent + this.now()) / 2;
    // The header has whole seconds: ignore differences it cannot show.
    const offset = server - local;
    this.serverOffsetMs = Math.abs(offset) > 1500 ? offset : 0;
  }
}

export function enc(part: string): string {
  return encodeURIComponent(part);
}
