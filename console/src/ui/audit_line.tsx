import { Fragment } from 'preact';
import { describeEvent, detailRows, policyChange } from '../lib/audit_sentence';
import { formatTime } from '../lib/format';
import { REQUEST_ID, buildHash } from '../lib/router';
import type { AuditEvent } from '../lib/types';
import { Badge } from './common';
import { DiffView } from './diff';

// Where an event's target leads: a request's page, a code session's page.
function targetHref(target: string): string | null {
  if (REQUEST_ID.test(target)) return buildHash('request', target);
  if (target.startsWith('code-')) return buildHash('grant', target);
  return null;
}

// An audit event as one line of the report: the sentence, then its kind
// (a link that filters the report to it) and its details folded; a policy
// change's diff folded too, so a long diff costs one line until opened.
export function EventText({ event: e, linkTarget = true }: { event: AuditEvent; linkTarget?: boolean }) {
  const line = describeEvent(e);
  const rows = detailRows(e);
  const change = policyChange(e);
  const href = linkTarget ? targetHref(e.target) : null;
  return (
    <>
      <span class="event-text">{line.text}</span>
      <div class="event-folds">
        <a class="event-kind" href={buildHash('audit', undefined, { action: e.action })} title={`Only ${e.action} events`}>
          {e.action}
        </a>
        {href && (
          <a class="event-open" href={href}>
            Open {e.target.startsWith('req-') ? 'request' : 'session'}
          </a>
        )}
        <details class="event-fold">
          <summary>Details</summary>
          <dl class="event-details">
            <dt>Event</dt>
            <dd>
              #{e.seq} at {e.time}
            </dd>
            <dt>Actor</dt>
            <dd>{e.actor || '—'}</dd>
            <dt>Target</dt>
            <dd>{e.target || '—'}</dd>
            {rows.map((r) => (
              <Fragment key={r.key}>
                <dt>{r.key}</dt>
                <dd>{r.value}</dd>
              </Fragment>
            ))}
          </dl>
        </details>
        {change && (
          <details class="event-fold policy-change">
            <summary>
              Changes: +{change.added} −{change.removed} line{change.added + change.removed === 1 ? '' : 's'}
              {change.truncated ? ' (cut: compare the versions in Policies)' : ''}
            </summary>
            <DiffView diff={change.diff} label={`Changes to policy ${e.target}`} />
          </details>
        )}
      </div>
    </>
  );
}

// The report's table: when, what happened, where, the outcome. On a
// request's own page its events need no link back to it (linkTargets).
export function AuditTable({ events, caption, linkTargets = true }: { events: AuditEvent[]; caption: string; linkTargets?: boolean }) {
  return (
    <div class="table-wrap">
      <table class="audit-table">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">What happened</th>
            <th scope="col">Host</th>
            <th scope="col">Outcome</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => {
            const line = describeEvent(e);
            return (
              <tr key={e.seq} class="audit-row" data-seq={e.seq}>
                <td data-label="When" class="event-time">
                  {formatTime(e.time)}
                </td>
                <td data-label="What" class="event-what">
                  <EventText event={e} linkTarget={linkTargets} />
                </td>
                <td data-label="Host">{e.host || <span class="muted">—</span>}</td>
                <td data-label="Outcome">
                  <Badge kind={`outcome-${line.outcome}`}>{line.label}</Badge>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
