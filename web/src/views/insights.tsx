import { changeInWords, duration, mayEditRules, perDay, published, ratio, rulesPreviewUrl, type Insights, type Overview, type Suggestion, type Trends } from "../insights";
import { AsOf, Failure, useApp, useLoad, when } from "../ui";

export function InsightsView() {
  const { data } = useApp();
  const state = useLoad(() => data.insights(), []);
  const value = state.loaded?.value;
  return (
    <main id="main">
      <h1>Insights</h1>
      <Failure error={state.error} />
      <AsOf loaded={state.loaded} />
      {!value ? (
        state.error ? null : <p aria-busy="true">Loading…</p>
      ) : !published(value) ? (
        <Empty />
      ) : (
        <>
          <p class="muted">Computed by analytics {when(value.generatedAt)}, over the last 30 days (UTC).</p>
          {value.overview && <OverviewCard overview={value.overview} />}
          {value.trends && <TrendsCard trends={value.trends} />}
          <SuggestionsCard suggestions={value.suggestions ?? []} />
          <ReportsCard insights={value} />
        </>
      )}
    </main>
  );
}

function Empty() {
  return (
    <section class="card" aria-labelledby="no-insights">
      <h2 id="no-insights">Nothing published yet</h2>
      <p>
        Analytics has not published insights for your team yet. It counts the decisions of the log apart from alerting and
        publishes every few minutes once it runs (<code>helios analytics</code>, or <code>helios up</code>). Come back later.
      </p>
    </section>
  );
}

function OverviewCard({ overview }: { overview: Overview }) {
  const t = overview.totals;
  const stats: [string, string][] = [
    ["Signals", String(t.signals ?? 0)],
    ["Alerts", String(t.alerts ?? 0)],
    ["Noise (repeats dropped)", ratio(t.noise_ratio)],
    ["Notifications", String(t.notifications ?? 0)],
    ["Pages out of hours", String(t.out_of_hours ?? 0)],
    ["Time to acknowledge, p50 / p90", `${duration(t.mtta_p50)} / ${duration(t.mtta_p90)}`],
    ["Time to resolve, p50 / p90", `${duration(t.mttr_p50)} / ${duration(t.mttr_p90)}`],
  ];
  return (
    <section class="card" aria-labelledby="overview">
      <h2 id="overview">Last 30 days</h2>
      <dl class="stats">
        {stats.map(([name, shown]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{shown}</dd>
          </div>
        ))}
      </dl>
      <DailyChart overview={overview} />
    </section>
  );
}

/** Signals per day over the window, as bars (inline SVG; the numbers are in each bar's title). */
function DailyChart({ overview }: { overview: Overview }) {
  const days = perDay(overview, "signals");
  const top = Math.max(1, ...days.map((d) => d.count));
  const total = days.reduce((sum, d) => sum + d.count, 0);
  const busiest = days.reduce((best, d) => (d.count > best.count ? d : best), days[0] ?? { day: "", count: 0 });
  const step = 10;
  const width = Math.max(1, days.length) * step;
  return (
    <figure class="trend">
      <svg
        viewBox={`0 0 ${width} 64`}
        role="img"
        aria-label={`Signals per day: ${total} in ${days.length} days; busiest ${busiest.day || "none"} with ${busiest.count}`}
        preserveAspectRatio="none"
      >
        {days.map((d, i) => {
          const height = (d.count / top) * 56;
          return (
            <rect key={d.day} x={i * step + 1} y={60 - height} width={step - 2} height={Math.max(height, d.count ? 2 : 0)} rx="1">
              <title>{`${d.day} — ${d.count} signals`}</title>
            </rect>
          );
        })}
        <line x1="0" y1="60.5" x2={width} y2="60.5" class="axis" />
      </svg>
      <figcaption class="muted">Signals per day · each bar is one day (UTC), the latest on the right</figcaption>
    </figure>
  );
}

function TrendsCard({ trends }: { trends: Trends }) {
  const hours = trends.by_hour.filter((h) => h.direction !== "steady");
  return (
    <section class="card" aria-labelledby="trends">
      <h2 id="trends">Trends, last week against the one before</h2>
      {trends.week_over_week.length === 0 ? (
        <p class="muted">No alerts in the last two weeks.</p>
      ) : (
        <ul class="plain trends">
          {trends.week_over_week.map((row) => (
            <li key={row.service}>
              <strong>{row.service || "(no service)"}</strong>
              <br />
              Alerts: {changeInWords(row.alerts)}
              <br />
              Pages: {changeInWords(row.pages)}
            </li>
          ))}
        </ul>
      )}
      <p>
        {hours.length === 0
          ? "No hour of the day changed significantly."
          : `Hours of the day (UTC) that changed: ${hours.map((h) => `${h.hour}:00 ${changeInWords(h, "")}`).join("; ")}.`}
      </p>
      <details>
        <summary>The test</summary>
        <p class="muted">{trends.test}</p>
      </details>
    </section>
  );
}

function SuggestionsCard({ suggestions }: { suggestions: Suggestion[] }) {
  return (
    <section class="card" aria-labelledby="suggestions">
      <h2 id="suggestions">Suggestions</h2>
      {suggestions.length === 0 ? (
        <p class="muted">Nothing to suggest: no alert is noisy, flapping or resolving by itself.</p>
      ) : (
        <ol class="suggestions">
          {suggestions.map((s) => (
            <SuggestionItem key={s.id} suggestion={s} />
          ))}
        </ol>
      )}
    </section>
  );
}

function SuggestionItem({ suggestion: s }: { suggestion: Suggestion }) {
  const { session } = useApp();
  const url = mayEditRules(session.role) ? rulesPreviewUrl(s) : null;
  const titleId = `suggestion-${s.rank}`;
  return (
    <li>
      <article aria-labelledby={titleId} class="suggestion">
        <h3 id={titleId}>{s.title}</h3>
        <p>{s.why}.</p>
        {s.change?.toml && (
          <>
            <p class="muted">The rule change it proposes:</p>
            <pre>
              <code>{s.change.toml}</code>
            </pre>
          </>
        )}
        {s.change?.note && <p>Proposed: {s.change.note}.</p>}
        {s.what_if && (
          <div class="what-if">
            <p>
              <strong>What if:</strong> {s.what_if.text}.
            </p>
            <dl class="stats">
              <div>
                <dt>Pages of this alert</dt>
                <dd>
                  {s.what_if.alert_pages_before} → {s.what_if.alert_pages_after}
                </dd>
              </div>
              <div>
                <dt>Pages for the team, {s.what_if.days} days</dt>
                <dd>
                  {s.what_if.pages_before} → {s.what_if.pages_after}
                </dd>
              </div>
              <div>
                <dt>P1 alerts changed</dt>
                <dd>{s.what_if.p1_changed}</dd>
              </div>
            </dl>
          </div>
        )}
        {url && (
          <p>
            <a href={url}>Open in the rules preview</a>
          </p>
        )}
      </article>
    </li>
  );
}

function ReportsCard({ insights }: { insights: Insights }) {
  return (
    <section class="card" aria-labelledby="reports">
      <h2 id="reports">Weekly reports</h2>
      {insights.reports.length === 0 ? (
        <p class="muted">No report yet: one is made once a week is over (Monday 00:00 UTC).</p>
      ) : (
        <ul class="plain">
          {insights.reports.map((r) => (
            <li key={r.id}>
              <a href={`#/insights/reports/${encodeURIComponent(r.id)}`}>Week {r.id}</a>{" "}
              <span class="muted">
                {r.period_start?.slice(0, 10)} to {r.period_end?.slice(0, 10)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** One weekly report: its own HTML page (no script), shown in a sandboxed frame. */
export function ReportView({ id }: { id: string }) {
  const { data } = useApp();
  const state = useLoad(() => data.reportHtml(id), [id]);
  return (
    <main id="main">
      <p>
        <a href="#/insights">← Insights</a>
      </p>
      <h1>Weekly report {id}</h1>
      <Failure error={state.error} />
      <AsOf loaded={state.loaded} />
      {state.loaded ? (
        <iframe class="report" title={`Weekly report ${id}`} sandbox="" srcdoc={state.loaded.value} />
      ) : (
        !state.error && <p aria-busy="true">Loading…</p>
      )}
    </main>
  );
}
