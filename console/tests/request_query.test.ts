import { describe, expect, it } from 'vitest';
import { clampSearchText, decisionSummary, requestFiltersFromQuery, requestHistoryUrl } from '../src/lib/request_query';

describe('request history filters', () => {
  it('asks hoistd newest first, with its filter names only', () => {
    expect(requestHistoryUrl({})).toBe('/api/v1/requests?order=newest');
    expect(
      requestHistoryUrl(
        { state: 'denied', user: ' alice ', host: 'laptop-7', since: '2026-03-01T00:00:00Z', until: '2026-03-02T00:00:00Z', text: 'a&b=c' },
        { after: 'req-1-2', limit: 50 },
      ),
    ).toBe(
      '/api/v1/requests?state=denied&user=alice&host=laptop-7&since=2026-03-01T00%3A00%3A00Z&until=2026-03-02T00%3A00%3A00Z&text=a%26b%3Dc&order=newest&after=req-1-2&limit=50',
    );
    expect(requestHistoryUrl({ text: '   ' }, { after: null, limit: 5000 })).toBe('/api/v1/requests?order=newest&limit=1000');
  });

  it('reads known filters from the route only', () => {
    expect(requestFiltersFromQuery({ state: 'denied', user: 'bob', order: 'oldest', limit: '1', evil: 'x' })).toEqual({ state: 'denied', user: 'bob' });
    expect(requestFiltersFromQuery({ state: 'nonsense', text: '<b>' })).toEqual({ text: '<b>' });
  });

  it('cuts search text to 256 bytes, whole characters only', () => {
    expect(clampSearchText('abc')).toBe('abc');
    const cut = clampSearchText('é'.repeat(200));
    expect(new TextEncoder().encode(cut).length).toBe(256);
    expect(clampSearchText('🙂'.repeat(100))).toBe('🙂'.repeat(64));
  });

  it('says who decided, and how', () => {
    const review = (by: 'approver' | 'self' | 'autonomous', approved = true) => ({ by, reviewer: 'bob', approved, comment: '', at: '' });
    expect(decisionSummary({ state: 'pending', review: null, ended_by: '', requester: 'alice' })).toBe('waiting for a decision');
    expect(decisionSummary({ state: 'approved', review: review('approver'), ended_by: '', requester: 'alice' })).toBe('approved by bob');
    expect(decisionSummary({ state: 'active', review: review('autonomous'), ended_by: '', requester: 'alice' })).toBe('approved at once (auto-approval)');
    expect(decisionSummary({ state: 'denied', review: review('approver', false), ended_by: '', requester: 'alice' })).toBe('denied by bob');
    expect(decisionSummary({ state: 'cancelled', review: null, ended_by: 'alice', requester: 'alice' })).toBe('withdrawn by alice');
    expect(decisionSummary({ state: 'expired', review: null, ended_by: '', requester: 'alice' })).toBe('expired without an answer');
    expect(decisionSummary({ state: 'expired', review: review('self'), ended_by: '', requester: 'alice' })).toBe(
      'approved by alice (self-approval); the grant has ended',
    );
    expect(decisionSummary({ state: 'revoked', review: review('approver'), ended_by: 'carol', requester: 'alice' })).toBe('approved by bob; revoked by carol');
  });
});
