import { useEffect, useState } from "preact/hooks";
import type { Alert } from "../api";
import type { AlertQuery } from "../data";
import { AsOf, Badge, describe, Failure, Priority, Status, useApp, useLoad, when } from "../ui";

export function parseQuery(search: string): AlertQuery {
  const params = new URLSearchParams(search);
  return {
    status: params.get("status") ?? "triggered,acknowledged",
    priority: params.get("priority") ?? "",
    service: params.get("service") ?? "",
    label: params.get("label") ?? "",
    q: params.get("q") ?? "",
  };
}

function queryString(query: AlertQuery): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value) params.set(name, value);
  return params.toString();
}

export function AlertsView({ search }: { search: string }) {
  const { data, navigate, announce } = useApp();
  const query = parseQuery(search);
  const key = queryString(query);
  const [cursor, setCursor] = useState<string | null>(null);
  const [selected, setSelected] = useState(0);
  const state = useLoad(() => data.alerts(query, null, key), [key]);
  const alerts: Alert[] = data.cache.list(key);
  const info = data.cache.listInfo(key);

  useEffect(() => setCursor(info?.next ?? null), [info?.next]);

  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      const target = event.target as HTMLElement;
      if (target.closest("input, textarea, select") || event.metaKey || event.ctrlKey || event.altKey) return;
      const current = alerts[selected];
      if (event.key === "j") setSelected((i) => Math.min(i + 1, alerts.length - 1));
      else if (event.key === "k") setSelected((i) => Math.max(i - 1, 0));
      else if (event.key === "Enter" && current && !target.closest("a, button")) navigate(`#/alerts/${current.id}`);
      else if (event.key === "a" && current) {
        data.act("acknowledge", current).then(
          (outcome) => announce(outcome.state === "queued" ? "Acknowledgement queued: it is sent when back online." : outcome.state === "changed" ? outcome.message : "Acknowledged."),
          (error) => announce(describe(error)),
        );
      } else return;
      event.preventDefault();
    }
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [alerts, selected]);

  useEffect(() => {
    document.getElementById(`alert-row-${selected}`)?.scrollIntoView({ block: "nearest" });
  }, [selected]);

  function filter(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const next: AlertQuery = {
      status: String(form.get("status") ?? ""),
      priority: String(form.get("priority") ?? ""),
      service: String(form.get("service") ?? "").trim(),
      label: String(form.get("label") ?? "").trim(),
      q: String(form.get("q") ?? "").trim(),
    };
    setSelected(0);
    navigate(`#/alerts?${queryString(next)}`);
  }

  async function more() {
    if (!cursor) return;
    try {
      await data.alerts(query, cursor, key);
    } catch (error) {
      announce(describe(error));
    }
  }

  return (
    <main id="main">
      <h1>Alerts</h1>
      <form class="filters" onSubmit={filter} key={key}>
        <label>
          Status
          <select name="status" value={query.status}>
            <option value="triggered,acknowledged">open</option>
            <option value="triggered">triggered</option>
            <option value="acknowledged">acknowledged</option>
            <option value="resolved">resolved</option>
            <option value="">any</option>
          </select>
        </label>
        <label>
          Priority
          <select name="priority" value={query.priority}>
            <option value="">any</option>
            {["P1", "P2", "P3", "P4", "P5"].map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label>
          Service
          <input name="service" value={query.service} />
        </label>
        <label>
          Label
          <input name="label" value={query.label} placeholder="name=value" />
        </label>
        <label>
          Text
          <input name="q" type="search" value={query.q} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <p class="muted hint">
        Keys: <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>Enter</kbd> opens, <kbd>a</kbd> acknowledges.
      </p>
      <Failure error={state.error} />
      <AsOf loaded={state.loaded} />
      {!state.loaded && !state.error && <p aria-busy="true">Loading…</p>}
      {state.loaded && alerts.length === 0 && <p>No alert matches.</p>}
      <ul class="alerts" aria-label="Alerts">
        {alerts.map((a, i) => (
          <li key={a.id} id={`alert-row-${i}`} class={i === selected ? "selected" : ""} aria-current={i === selected ? "true" : undefined} onClick={() => setSelected(i)}>
            <Priority value={a.priority} />
            <a href={`#/alerts/${a.id}`} class="summary">
              {a.summary || a.dedup_key}
            </a>
            <span class="meta">
              <Status value={a.status} />
              {data.cache.hasPending(a.id) && <Badge kind="pending">sending</Badge>}
              {a.flapping && <Badge kind="warn">flapping</Badge>}
              {a.silenced && <Badge>silenced</Badge>}
              {a.duplicates > 0 && <Badge>{a.duplicates} duplicates</Badge>}
              <span class="muted">
                {a.service || "—"} · {when(a.last_signal_at)}
              </span>
            </span>
          </li>
        ))}
      </ul>
      {cursor && (
        <button type="button" onClick={more}>
          More alerts
        </button>
      )}
    </main>
  );
}
