import { describe, expect, it } from 'vitest';
import { auditCsvUrl, auditQuery, auditUrl, filtersFromQuery, localInputToRfc3339, rfc3339ToLocalInput, toRfc3339 } from '../src/lib/audit_query';

describe('audit query strings', () => {
  it('sends only known, non-empty filters, in a fixed order, encoded', () => {
    expect(auditQuery({})).toBe('');
    expect(auditQuery({ host: 'web 1', action: 'request.created', actor: '  ', since: '2030-01-01T00:00:00Z' })).toBe(
      '?since=2030-01-01T00%3A00%3A00Z&action=request.created&host=web+1',
    );
    const sneaky = { action: 'x', bogus: 'y' } as unknown as Parameters<typeof auditQuery>[0];
    expect(auditQuery(sneaky)).toBe('?action=x');
  });

  it('adds the page cursor and a clamped limit', () => {
    expect(auditUrl({ target: 'req-1' }, { after: 42, limit: 5000 })).toBe('/api/v1/audit?target=req-1&after=42&limit=1000');
    expect(auditUrl({}, { after: null, limit: 0 })).toBe('/api/v1/audit?limit=1');
  });

  it('builds the CSV link with the same filters and never a page', () => {
    const f = { since: '2030-01-01T00:00:00Z', until: '2030-01-31T00:00:00Z', actor: 'alice&bob', host: 'h' };
    expect(auditCsvUrl(f)).toBe(
      '/api/v1/audit/export.csv?since=2030-01-01T00%3A00%3A00Z&until=2030-01-31T00%3A00%3A00Z&actor=alice%26bob&host=h',
    );
    expect(auditCsvUrl({})).toBe('/api/v1/audit/export.csv');
  });

  it('reads filters from the route, request as an alias of target', () => {
    expect(filtersFromQuery({ action: 'a', request: 'req-1', junk: 'x' })).toEqual({ action: 'a', target: 'req-1' });
    expect(filtersFromQuery({ target: 't', request: 'r' })).toEqual({ target: 't' });
  });
});

describe('times for hoistd', () => {
  it('writes RFC 3339 UTC without fractions', () => {
    expect(toRfc3339(new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678)))).toBe('2030-01-02T03:04:05Z');
  });
  it('turns a datetime-local value (local zone) into UTC and back', () => {
    const v = '2030-06-15T14:30';
    const utc = localInputToRfc3339(v);
    expect(utc).toBe(toRfc3339(new Date(2030, 5, 15, 14, 30)));
    expect(rfc3339ToLocalInput(utc)).toBe(v);
    expect(localInputToRfc3339('')).toBeUndefined();
    expect(localInputToRfc3339('yesterday')).toBeUndefined();
  });
});
