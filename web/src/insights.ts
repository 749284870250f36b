// What the Insights page shows, read from the documents the analytics worker publishes
// (docs/analytics.md): their shapes, and the few rules that turn numbers into words.

export interface Counts {
  signals?: number;
  duplicates?: number;
  alerts?: number;
  notifications?: number;
  out_of_hours?: number;
  flapping?: number;
  silenced?: number;
  noise_ratio?: number | null;
  mtta_p50?: number | null;
  mtta_p90?: number | null;
  mttr_p50?: number | null;
  mttr_p90?: number | null;
}

export interface Overview {
  since: number;
  until: number;
  totals: Counts;
  by: Record<string, (Counts & { value: string })[]>;
}

export interface Change {
  before: number;
  after: number;
  p_value: number;
  direction: "up" | "down" | "steady";
}

export interface Trends {
  test: string;
  week_over_week: { service: string; alerts: Change; pages: Change; weekly_alerts: number[] }[];
  by_hour: (Change & { hour: number })[];
}

export interface WhatIf {
  days: number;
  alert_pages_before: number;
  alert_pages_after: number;
  pages_before: number;
  pages_after: number;
  alerts_changed: number;
  p1_changed: number;
  text: string;
}

export interface Suggestion {
  id: string;
  rank: number;
  kind: string;
  title: string;
  why: string;
  weight: number;
  change: { toml?: string; note?: string } | null;
  what_if: WhatIf | null;
}

export interface Report {
  id: string;
  period_start: string | null;
  period_end: string | null;
  summary: Record<string, unknown>;
  html_url: string;
}

export interface Insights {
  generatedAt: string | null;
  overview: Overview | null;
  trends: Trends | null;
  suggestions: Suggestion[] | null;
  reports: Report[];
}

/** Whether the analytics worker has published anything for the tenant yet. */
export function published(insights: Insights): boolean {
  return insights.overview !== null || insights.trends !== null || insights.suggestions !== null;
}

const DAY_MS = 86_400_000;

/** One value per (UTC) day the overview's window touches, oldest first (a day without a row
 * is 0); the first and last days are usually partial. */
export function perDay(overview: Overview, field: keyof Counts = "signals"): { day: string; count: number }[] {
  const rows = new Map((overview.by.day ?? []).map((row) => [row.value, Number(row[field] ?? 0)]));
  const first = Math.floor(overview.since / DAY_MS);
  const last = Math.floor((overview.until - 1) / DAY_MS);
  const days = [];
  for (let d = first; d <= last; d += 1) {
    const day = new Date(d * DAY_MS).toISOString().slice(0, 10);
    days.push({ day, count: rows.get(day) ?? 0 });
  }
  return days;
}

/** A p-value as people read it: two significant digits, tiny ones as "< 0.001". */
export function pValue(p: number): string {
  if (p < 0.001) return "p < 0.001";
  return `p = ${Number(p.toPrecision(p < 0.01 ? 1 : 2))}`;
}

/**
 * A comparison in words, with the test's verdict: "up 42 % week over week, p = 0.003 —
 * significant". Only a change the test calls up or down is "significant" (docs/analytics.md:
 * p < 0.01 and at least 25 %).
 */
export function changeInWords(change: Change, period = "week over week"): string {
  const { before, after, direction } = change;
  let moved: string;
  if (before === after) moved = "unchanged";
  else if (before === 0) moved = `up from 0 to ${after}`;
  else {
    const percent = Math.round((Math.abs(after - before) / before) * 100);
    moved = `${after > before ? "up" : "down"} ${percent} %`;
  }
  const verdict = direction === "steady" ? "not significant" : "significant";
  return `${[moved, period].filter(Boolean).join(" ")} (${before} → ${after}), ${pValue(change.p_value)} — ${verdict}`;
}

/** A duration in seconds as "45 s", "12 min", "3.5 h"; null as "—". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function ratio(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : `${Math.round(value * 1000) / 10} %`;
}

/** Whether a person of ``role`` may open the admin console's rules preview. */
export function mayEditRules(role: string): boolean {
  return role === "admin" || role === "owner";
}

/** The admin console's rules page with a draft that adds the suggestion's change. */
export function rulesPreviewUrl(suggestion: Suggestion): string | null {
  if (!suggestion.change?.toml) return null;
  return `/admin/rules?proposal=${encodeURIComponent(suggestion.id)}`;
}
