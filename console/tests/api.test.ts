import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, actionErrorText, type FetchLike } from '../src/lib/api';

interface Call {
  url: string;
  init: RequestInit;
}

function fakeFetch(responses: Array<{ status: number; body?: unknown; headers?: Record<string, string> }>) {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url, init) => {
    calls.push({ url, init: init ?? {} });
    const r = responses.shift() ?? { status: 500, body: { error: { code: 'internal', message: 'no more' } } };
    return new Response(r.body === undefined ? null : JSON.stringify(r.body), {
      status: r.status,
      headers: { 'content-type': 'application/json', ...(r.headers ?? {}) },
    });
  };
  return { fetch, calls };
}

const header = (c: Call, name: string) => (c.init.headers as Record<string, string>)[name];

describe('ApiClient', () => {
  it('logs in, keeps the CSRF token and sends it on every non-GET call only', async () => {
    const { fetch, calls } = fakeFetch([
      { status: 200, body: { user: 'alice', role: 'approver', csrf_token: 'tok-1', expires_at: '2030-01-01T00:00:00Z' } },
      { status: 200, body: { requests: [], next_after: null } },
      { status: 200, body: { id: 'r1' } },
      { status: 200, body: {} },
      { status: 200, body: {} },
    ]);
    const api = new ApiClient({ fetch });
    const s = await api.login('alice', 'pw');
    expect(s.role).toBe('approver');
    expect(calls[0]?.init.method).toBe('POST');
    expect(JSON.parse(String(calls[0]?.init.body))).toEqual({ user: 'alice', password: 'pw' });
    await api.get('/api/v1/requests');
    expect(header(calls[1]!, 'X-CSRF-Token')).toBeUndefined();
    expect(calls[1]?.init.body).toBeUndefined();
    await api.post('/api/v1/requests/r1/approve', { duration_s: 60 });
    expect(header(calls[2]!, 'X-CSRF-Token')).toBe('tok-1');
    expect(header(calls[2]!, 'Content-Type')).toBe('application/json');
    await api.put('/api/v1/policies/p', { text: 'x' });
    expect(header(calls[3]!, 'X-CSRF-Token')).toBe('tok-1');
    await api.del('/api/v1/enrolment-tokens/e1');
    expect(header(calls[4]!, 'X-CSRF-Token')).toBe('tok-1');
    expect(calls[4]?.init.body).toBe('{}'); // hoistd reads a JSON body on DELETE too
    for (const c of calls) expect(c.init.credentials).toBe('same-origin');
  });

  it('takes the CSRF token from the session after a reload', async () => {
    const { fetch, calls } = fakeFetch([
      { status: 200, body: { authenticated: true, user: 'bob', role: 'admin', via: 'session', csrf_token: 'tok-2' } },
      { status: 200, body: {} },
    ]);
    const api = new ApiClient({ fetch });
    expect(await api.whoami()).toEqual({ user: 'bob', role: 'admin', csrf_token: 'tok-2' });
    expect(calls[0]!.url).toBe('/api/v1/session');
    await api.post('/api/v1/logout', {});
    expect(header(calls[1]!, 'X-CSRF-Token')).toBe('tok-2');
  });

  it('a logged-out page is null, without calling the expiry handler', async () => {
    const onUnauthenticated = vi.fn();
    const { fetch } = fakeFetch([{ status: 200, body: { authenticated: false } }]);
    const api = new ApiClient({ fetch, onUnauthenticated });
    expect(await api.whoami()).toBeNull();
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });

  it('a 401 on any call ends the session: handler called, token dropped, error thrown', async () => {
    const onUnauthenticated = vi.fn();
    const { fetch } = fakeFetch([
      { status: 200, body: { user: 'a', role: 'auditor', csrf_token: 't' } },
      { status: 401, body: { error: { code: 'unauthenticated', message: 'the session expired' } } },
    ]);
    const api = new ApiClient({ fetch, onUnauthenticated });
    await api.login('a', 'b');
    const err = await api.get('/api/v1/grants').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(401);
    expect((err as ApiError).message).toBe('the session expired');
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    expect(api.csrfToken).toBeNull();
  });

  it('a failed login is an error for the form, not a session expiry', async () => {
    const onUnauthenticated = vi.fn();
    const { fetch } = fakeFetch([{ status: 401, body: { error: { code: 'unauthenticated', message: 'wrong user name or password' } } }]);
    const api = new ApiClient({ fetch, onUnauthenticated });
    await expect(api.login('a', 'b')).rejects.toMatchObject({ status: 401, code: 'unauthenticated' });
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });

  it('reads hoistd error bodies, Retry-After, and survives non-JSON errors', async () => {
    const { fetch } = fakeFetch([
      { status: 429, body: { error: { code: 'rate_limited', message: 'too many' } }, headers: { 'retry-after': '30' } },
      { status: 409, body: { error: { code: 'conflict', message: 'request changed meanwhile' } } },
    ]);
    const api = new ApiClient({ fetch });
    await expect(api.login('a', 'b')).rejects.toMatchObject({ status: 429, code: 'rate_limited', retryAfterS: 30 });
    await expect(api.post('/x')).rejects.toMatchObject({ status: 409, code: 'conflict', message: 'request changed meanwhile' });
    const html: FetchLike = async () => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' });
    await expect(new ApiClient({ fetch: html }).get('/x')).rejects.toMatchObject({ status: 502, code: 'http_502' });
  });

  it('turns a network failure into an ApiError with status 0', async () => {
    const down: FetchLike = async () => {
      throw new TypeError('Failed to fetch');
    };
    await expect(new ApiClient({ fetch: down }).get('/x')).rejects.toMatchObject({ status: 0, code: 'network' });
  });

  it('corrects for a skewed local clock from the Date header', async () => {
    const local = Date.parse('2030-01-01T00:00:00Z');
    const { fetch } = fakeFetch([{ status: 200, body: {}, headers: { date: new Date(local + 60_000).toUTCString() } }]);
    const api = new ApiClient({ fetch, now: () => local });
    await api.get('/x');
    expect(api.serverNow()).toBe(local + 60_000);
  });
});

describe('step-up (docs/api.md, "Step-up")', () => {
  const stepUp = {
    status: 403,
    body: { error: { code: 'permission_denied', reason: 'step_up_required', message: 'confirm your password first', step_up_after_s: 900 } },
  };
  const renewed = { status: 200, body: { user: 'tech', role: 'approver', csrf_token: 'tok-new', expires_at: '2030-01-01T00:00:00Z' } };

  it('asks for the password, then sends the approval again once, with the new CSRF token', async () => {
    const { fetch, calls } = fakeFetch([stepUp, renewed, { status: 200, body: { id: 'r1', state: 'approved' } }]);
    const asked: ApiError[] = [];
    const api: ApiClient = new ApiClient({
      fetch,
      onStepUp: async (e) => {
        asked.push(e);
        await api.reauth('pw');
        return true;
      },
    });
    api.csrfToken = 'tok-old';
    expect(await api.post('/api/v1/requests/r1/approve', { duration_s: 600 })).toEqual({ id: 'r1', state: 'approved' });
    expect(asked).toHaveLength(1);
    expect(asked[0]?.reason).toBe('step_up_required');
    expect(calls.map((c) => c.url)).toEqual(['/api/v1/requests/r1/approve', '/api/v1/session/reauth', '/api/v1/requests/r1/approve']);
    expect(header(calls[0]!, 'X-CSRF-Token')).toBe('tok-old');
    expect(header(calls[1]!, 'X-CSRF-Token')).toBe('tok-old');
    expect(JSON.parse(String(calls[1]?.init.body))).toEqual({ password: 'pw' });
    expect(header(calls[2]!, 'X-CSRF-Token')).toBe('tok-new');
    expect(JSON.parse(String(calls[2]?.init.body))).toEqual({ duration_s: 600 });
  });

  it('does not send the approval when the user gives up, and throws the refusal', async () => {
    const { fetch, calls } = fakeFetch([stepUp]);
    const api = new ApiClient({ fetch, onStepUp: async () => false });
    const err = await api.post('/api/v1/requests/r1/approve', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).reason).toBe('step_up_required');
    expect(calls).toHaveLength(1);
  });

  it('asks once for calls refused together, and never twice for one call', async () => {
    const { fetch, calls } = fakeFetch([stepUp, stepUp, renewed, { status: 200, body: {} }, stepUp]);
    let prompts = 0;
    let release: (ok: boolean) => void = () => undefined;
    const api: ApiClient = new ApiClient({
      fetch,
      onStepUp: () => {
        prompts++;
        return new Promise<boolean>((r) => {
          release = r;
        });
      },
    });
    const first = api.post('/api/v1/requests/r1/approve', {});
    const second = api.post('/api/v1/requests/r2/deny', {}).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    expect(prompts).toBe(1);
    await api.reauth('pw');
    release(true);
    await first;
    // r2 was retried after the same prompt and refused again: hoistd's last word.
    expect((await second) as ApiError).toBeInstanceOf(ApiError);
    expect(prompts).toBe(1);
    expect(calls.map((c) => c.url)).toEqual([
      '/api/v1/requests/r1/approve',
      '/api/v1/requests/r2/deny',
      '/api/v1/session/reauth',
      '/api/v1/requests/r1/approve',
      '/api/v1/requests/r2/deny',
    ]);
  });

  it('does not prompt for another 403, nor without a handler', async () => {
    const onStepUp = vi.fn(async () => true);
    const { fetch } = fakeFetch([{ status: 403, body: { error: { code: 'permission_denied', message: 'your own request' } } }, stepUp]);
    const api = new ApiClient({ fetch, onStepUp });
    await expect(api.post('/api/v1/requests/r1/approve', {})).rejects.toThrow('your own request');
    expect(onStepUp).not.toHaveBeenCalled();
    const bare = new ApiClient({ fetch });
    await expect(bare.post('/api/v1/requests/r1/approve', {})).rejects.toThrow('confirm your password first');
  });

  it('tells the person who gave up on the password what happened, in words', async () => {
    const { fetch } = fakeFetch([stepUp, { status: 403, body: { error: { code: 'permission_denied', message: 'your own request' } } }]);
    const api = new ApiClient({ fetch, onStepUp: async () => false });
    const gaveUp = await api.post('/api/v1/requests/r1/approve', {}).catch((e: unknown) => e);
    expect(actionErrorText(gaveUp)).toMatch(/^Not done: your password was not confirmed/);
    const other = await api.post('/api/v1/requests/r1/approve', {}).catch((e: unknown) => e);
    expect(actionErrorText(other)).toBe('your own request');
    expect(actionErrorText(new Error('plain'))).toBe('plain');
  });

  it('keeps the session on a wrong password: a 403, not the login page', async () => {
    const onUnauthenticated = vi.fn();
    const { fetch } = fakeFetch([{ status: 403, body: { error: { code: 'permission_denied', message: 'wrong password' } } }]);
    const api = new ApiClient({ fetch, onUnauthenticated });
    api.csrfToken = 'tok-old';
    await expect(api.reauth('nope')).rejects.toThrow('wrong password');
    expect(api.csrfToken).toBe('tok-old');
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });
});
