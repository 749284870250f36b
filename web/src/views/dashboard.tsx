import type { Activity, Alert, Incident } from "../api";
import { unwrap } from "../api";
import { AsOf, Failure, Priority, Status, useApp, useLoad, when } from "../ui";

const PRIORITIES = ["P1", "P2", "P3", "P4", "P5"] as const;
const HOUR = 3_600_000;

interface Dashboard {
  open: Alert[];
  incidents: Incident[];
  mine: Alert[];
  triggered: Activity[];
}

export function DashboardView() {
  const { data, session } = useApp();
  const state = useLoad<Dashboard>(
    () =>
      data.read("dashboard", async () => {
        const [open, incidents, acked, triggered] = await Promise.all([
          data.client.GET("/v1/alerts", { params: { query: { status: "triggered,acknowledged", limit: 500 } } }).then(unwrap),
          data.client.GET("/v1/incidents", { params: { query: { status: "open" } } }).then(unwrap),
          data.client.GET("/v1/alerts", { params: { query: { status: "acknowledged", limit: 20 } } }).then(unwrap),
          data.client.GET("/v1/activity", { params: { query: { kind: "triggered", limit: 500 } } }).then(unwrap),
        ]);
        // Who acknowledged is in each alert's decisions: asked of the few acknowledged ones.
        const details = await Promise.all(
          acked.items.map((a) => data.client.GET("/v1/alerts/{alert_id}", { params: { path: { alert_id: a.id } } }).then(unwrap)),
        );
        const me = `user:${session.userId}`;
        const mine = details
          .filter((d) => d.decisions.some((x) => x.kind === "acknowledged" && (x.detail as { by?: string }).by === me))
          .map((d) => d.alert);
        return { open: open.items, incidents: incidents.items, mine, triggered: triggered.items };
      }).then((loaded) => {
        data.cache.putAlerts(loaded.value.open);
        return loaded;
      }),
    [],
  );
  const value = state.loaded?.value;
  const open = value ? value.open.map((a) => data.cache.alert(a.id) ?? a) : [];
  return (
    <main id="main">
      <h1>Dashboard</h1>
      <Failure error={state.error} />
      <AsOf loaded={state.loaded} />
      {!value ? (
        <p aria-busy="true">Loading…</p>
      ) : (
        <div class="grid">
          <section class="card" aria-labelledby="by-priority">
            <h2 id="by-priority">Open alerts by priority</h2>
            <ul class="counts">
              {PRIORITIES.map((p) => (
                <li key={p}>
                  <a href={`#/alerts?status=triggered,acknowledged&priority=${p}`}>
                    <Priority value={p} /> <strong>{open.filter((a) => a.priority === p).length}</strong>
                  </a>
                </li>
              ))}
            </ul>
            <p>
              <a href="#/alerts?status=triggered,acknowledged">{open.length} open alerts</a>
            </p>
          </section>
          <section class="card" aria-labelledby="incidents-now">
            <h2 id="incidents-now">Open incidents</h2>
            {value.incidents.length === 0 ? (
              <p class="muted">None.</p>
            ) : (
              <ul class="plain">
                {value.incidents.slice(0, 8).map((i) => (
                  <li key={i.id}>
                    <a href={`#/incidents/${i.id}`}>
                      <Priority value={i.priority} /> #{i.number} {i.group_key} — {i.alerts} alerts
                    </a>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section class="card" aria-labelledby="mine">
            <h2 id="mine">Acknowledged by me</h2>
            {value.mine.length === 0 ? (
              <p class="muted">None.</p>
            ) : (
              <ul class="plain">
                {value.mine.map((a) => (
                  <li key={a.id}>
                    <a href={`#/alerts/${a.id}`}>
                      <Priority value={a.priority} /> {a.summary || a.dedup_key} <Status value={a.status} />
                    </a>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section class="card wide" aria-labelledby="trend">
            <h2 id="trend">Alerts triggered, last 24 hours</h2>
            <Trend entries={value.triggered} now={state.loaded?.at ?? Date.now()} />
          </section>
          <section class="card wide" aria-labelledby="latest">
            <h2 id="latest">Latest open alerts</h2>
            <ul class="plain">
              {open.slice(0, 8).map((a) => (
                <li key={a.id}>
                  <a href={`#/alerts/${a.id}`}>
                    <Priority value={a.priority} /> {a.summary || a.dedup_key}
                  </a>{" "}
                  <Status value={a.status} /> <span class="muted">{when(a.last_signal_at)}</span>
                </li>
              ))}
            </ul>
          </section>
        </div>
      )}
    </main>
  );
}

/** Hourly counts of triggers over the last 24 hours, as bars (inline SVG). */
export function Trend({ entries, now }: { entries: Activity[]; now: number }) {
  const start = Math.floor(now / HOUR) * HOUR - 23 * HOUR;
  const buckets = new Array<number>(24).fill(0);
  for (const entry of entries) {
    const index = Math.floor((Date.parse(entry.at) - start) / HOUR);
    if (index >= 0 && index < 24) buckets[index] += 1;
  }
  const top = Math.max(1, ...buckets);
  const total = buckets.reduce((a, b) => a + b, 0);
  const width = 24 * 12;
  return (
    <figure class="trend">
      <svg viewBox={`0 0 ${width} 64`} role="img" aria-label={`${total} alerts triggered in the last 24 hours; busiest hour: ${top}`} preserveAspectRatio="none">
        {buckets.map((count, i) => {
          const height = (count / top) * 56;
          return (
            <rect key={i} x={i * 12 + 1} y={60 - height} width={10} height={Math.max(height, count ? 2 : 0)} rx="1">
              <title>{`${new Date(start + i * HOUR).getHours()}:00 — ${count}`}</title>
            </rect>
          );
        })}
        <line x1="0" y1="60.5" x2={width} y2="60.5" class="axis" />
      </svg>
      <figcaption class="muted">
        {total} in 24 h · each bar is one hour, the latest on the right
      </figcaption>
    </figure>
  );
}
