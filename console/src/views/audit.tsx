import { useState } from 'preact/hooks';
import { AUDIT_KINDS } from '../lib/audit_kinds';
import {
  auditCsvUrl,
  auditUrl,
  filtersFromQuery,
  localInputToRfc3339,
  rfc3339ToLocalInput,
  toRfc3339,
  type AuditFilters,
} from '../lib/audit_query';
import { CHART_ACTIONS, OUTCOMES, OUTCOME_LABELS, chartGeometry, requestsPerDay, utcDay, type DayBucket } from '../lib/chart_data';
import { buildHash } from '../lib/router';
import type { AuditEvent, AuditPage } from '../lib/types';
import { AuditTable } from '../ui/audit_line';
import { Empty, Field, Loaded } from '../ui/common';
import { useApp } from '../ui/context';
import { useLoad } from '../ui/hooks';

const DEFAULT_DAYS = 14;

export function AuditView({ query }: { query: Record<string, string> }) {
  const filters = filtersFromQuery(query);
  const key = auditUrl(filters);
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit report (JIT events)</h1>
      <FilterForm key={key} filters={filters} />
      <p>
        <a class="btn" href={auditCsvUrl(filters)} download="hoist-audit.csv">
          Export these events as CSV
        </a>
      </p>
      <Chart filters={filters} />
      <Events key={key} filters={filters} />
    </section>
  );
}

function FilterForm({ filters }: { filters: AuditFilters }) {
  const [f, setF] = useState({
    since: rfc3339ToLocalInput(filters.since),
    until: rfc3339ToLocalInput(filters.until),
    actor: filters.actor ?? '',
    action: filters.action ?? '',
    target: filters.target ?? '',
    host: filters.host ?? '',
  });
  const set = (k: keyof typeof f, v: string) => setF({ ...f, [k]: v });
  const apply = (e: Event) => {
    e.preventDefault();
    location.hash = buildHash('audit', undefined, {
      since: localInputToRfc3339(f.since),
      until: localInputToRfc3339(f.until),
      actor: f.actor.trim(),
      action: f.action.trim(),
      target: f.target.trim(),
      host: f.host.trim(),
    });
  };
  return (
    <form class="panel filters" onSubmit={apply} aria-label="Filters">
      <div class="grid-3">
        <Field label="From (your time)">
          {(p) => <input {...p} type="datetime-local" value={f.since} onInput={(e) => set('since', e.currentTarget.value)} />}
        </Field>
        <Field label="Until (your time)">
          {(p) => <input {...p} type="datetime-local" value={f.until} onInput={(e) => set('until', e.currentTarget.value)} />}
        </Field>
        <Field label="Action">
          {(p) => (
            <>
              <input {...p} type="text" list="audit-actions" value={f.action} onInput={(e) => set('action', e.currentTarget.value)} />
              <datalist id="audit-actions">
                {AUDIT_KINDS.map((a) => (
                  <option key={a} value={a} />
                ))}
              </datalist>
            </>
          )}
        </Field>
        <Field label="Actor">{(p) => <input {...p} type="text" value={f.actor} onInput={(e) => set('actor', e.currentTarget.value)} />}</Field>
        <Field label="Target (request, grant, user…)">
          {(p) => <input {...p} type="text" value={f.target} onInput={(e) => set('target', e.currentTarget.value)} />}
        </Field>
        <Field label="Host">{(p) => <input {...p} type="text" value={f.host} onInput={(e) => set('host', e.currentTarget.value)} />}</Field>
      </div>
      <div class="actions">
        <button type="submit" class="btn btn-primary">
          Apply filters
        </button>
        <a class="btn" href={buildHash('audit')}>
          Clear
        </a>
      </div>
    </form>
  );
}

function Events({ filters }: { filters: AuditFilters }) {
  const { api } = useApp();
  const [more, setMore] = useState<AuditEvent[]>([]);
  const [cursor, setCursor] = useState<number | null | undefined>(undefined);
  const first = useLoad(
    () => api.get<AuditPage>(auditUrl(filters, { limit: 100 })),
    `events-${auditUrl(filters)}`,
    ['audit'],
    () => undefined,
  );
  const next = cursor === undefined ? (first.data?.next_after ?? null) : cursor;
  const loadMore = async () => {
    if (next === null) return;
    const page = await api.get<AuditPage>(auditUrl(filters, { after: next, limit: 100 }));
    setMore([...more, ...page.events]);
    setCursor(page.next_after);
  };
  return (
    <>
      <h2>Events</h2>
      <Loaded state={first} what="events">
        {(data) => {
          const events = [...data.events, ...more.filter((m) => !data.events.some((d) => d.seq === m.seq))];
          if (events.length === 0)
            return (
              <Empty>
                <p>No event matches these filters.</p>
              </Empty>
            );
          return (
            <>
              <AuditTable events={events} caption="Audit events, oldest first" />
              {next !== null && (
                <button type="button" class="btn" onClick={() => void loadMore()}>
                  Load more
                </button>
              )}
            </>
          );
        }}
      </Loaded>
    </>
  );
}

// Requests per day by outcome over the filters' time range (default: the
// last 14 days) and host.
function Chart({ filters }: { filters: AuditFilters }) {
  const { api } = useApp();
  const now = api.serverNow();
  const since = filters.since ?? toRfc3339(new Date(Date.parse(`${new Date(now - (DEFAULT_DAYS - 1) * 86400000).toISOString().slice(0, 10)}T00:00:00Z`)));
  const until = filters.until;
  const chartFilters: AuditFilters = { since };
  if (until) chartFilters.until = until;
  if (filters.host) chartFilters.host = filters.host;
  const key = auditUrl(chartFilters);
  const state = useLoad(
    async () => {
      const all: AuditEvent[] = [];
      let truncated = false;
      await Promise.all(
        CHART_ACTIONS.map(async (action) => {
          let after: number | null = null;
          for (let i = 0; ; i++) {
            if (i === 10) {
              truncated = true;
              break;
            }
            const page: AuditPage = await api.get<AuditPage>(auditUrl({ ...chartFilters, action }, { after, limit: 1000 }));
            all.push(...page.events);
            if (page.next_after === null) break;
            after = page.next_after;
          }
        }),
      );
      const range: { fromDay?: string; toDay?: string } = {};
      const from = utcDay(since);
      if (from) range.fromDay = from;
      const to = utcDay(until ?? new Date(api.serverNow()).toISOString());
      if (to) range.toDay = to;
      return { buckets: requestsPerDay(all, range), truncated };
    },
    `chart-${key}`,
    ['requests'],
  );
  return (
    <section aria-labelledby="chart-title" class="panel">
      <h2 id="chart-title">Requests per day by outcome (UTC days)</h2>
      <Loaded state={state} what="the chart">
        {(d) => (
          <>
            {d.truncated && <p class="muted">Only the first 10,000 events of each kind are counted: narrow the range.</p>}
            <BarChart buckets={d.buckets} />
          </>
        )}
      </Loaded>
    </section>
  );
}

const W = 720;
const H = 220;
const LEFT = 36;
const BOTTOM = 28;

export function BarChart({ buckets }: { buckets: DayBucket[] }) {
  const total = buckets.reduce((s, b) => s + b.total, 0);
  if (buckets.length === 0 || total === 0)
    return (
      <Empty>
        <p>No request was decided in this range.</p>
      </Empty>
    );
  const g = chartGeometry(buckets, W - LEFT, H - BOTTOM);
  const labelEvery = Math.ceil(buckets.length / 10);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-desc" class="chart-svg">
        <desc id="chart-desc">
          Stacked bars of request outcomes per day, {buckets[0]?.day} to {buckets[buckets.length - 1]?.day}; {total} outcomes in all. The table below
          has the numbers.
        </desc>
        {g.ticks.map((t) => (
          <g key={t.value}>
            <line x1={LEFT} x2={W} y1={t.y} y2={t.y} class="chart-grid" />
            <text x={LEFT - 4} y={t.y + 4} class="chart-axis" text-anchor="end">
              {t.value}
            </text>
          </g>
        ))}
        {g.bars.map((b, i) => (
          <g key={b.day} transform={`translate(${LEFT} 0)`}>
            {b.segments.map((s) => (
              <rect key={s.outcome} x={s.x} y={s.y} width={s.width} height={s.height} class={`bar-${s.outcome}`}>
                <title>
                  {b.day}: {s.value} {OUTCOME_LABELS[s.outcome].toLowerCase()}
                </title>
              </rect>
            ))}
            {i % labelEvery === 0 && (
              <text x={b.x + (b.segments[0]?.width ?? 0) / 2} y={H - BOTTOM + 16} class="chart-axis" text-anchor="middle">
                {b.day.slice(5)}
              </text>
            )}
          </g>
        ))}
      </svg>
      <figcaption>
        <ul class="legend">
          {OUTCOMES.map((o) => (
            <li key={o}>
              <span class={`swatch bar-${o}`} aria-hidden="true" />
              {OUTCOME_LABELS[o]}
            </li>
          ))}
        </ul>
      </figcaption>
      <details>
        <summary>Numbers per day</summary>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Day</th>
                <th scope="col">Requested</th>
                {OUTCOMES.map((o) => (
                  <th scope="col" key={o}>
                    {OUTCOME_LABELS[o]}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {buckets.map((b) => (
                <tr key={b.day}>
                  <th scope="row">{b.day}</th>
                  <td>{b.requested}</td>
                  {OUTCOMES.map((o) => (
                    <td key={o}>{b.counts[o]}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
