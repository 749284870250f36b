import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, unwrap, type Alert, type Matcher } from "../api";
import { matches } from "../data";
import { describe, Priority, useApp, useLoad } from "../ui";

const DURATIONS: [string, number][] = [
  ["1 hour", 1],
  ["4 hours", 4],
  ["1 day", 24],
  ["1 week", 168],
];

export function SilenceView({ search }: { search: string }) {
  const { data, navigate, announce } = useApp();
  const alertId = new URLSearchParams(search).get("alert");
  const source = alertId ? data.cache.alert(alertId) : undefined;
  const [matchers, setMatchers] = useState<Matcher[]>(() =>
    source
      ? Object.entries(source.labels)
          .filter(([name]) => name === "alertname" || name === "service" || name === "instance")
          .map(([name, value]) => ({ name, op: "=" as const, value }))
      : [{ name: "alertname", op: "=", value: "" }],
  );
  const [hours, setHours] = useState(4);
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const open = useLoad(
    () =>
      data.read("open-alerts", async () =>
        unwrap(await data.client.GET("/v1/alerts", { params: { query: { status: "triggered,acknowledged", limit: 500 } } })),
      ),
    [],
  );
  // Offline (or before the server answered): matched here against the open alerts kept.
  const local = useMemo(
    () => (open.loaded?.value.items ?? []).filter((a) => matchers.every((m) => m.name) && matches(a.labels, matchers)),
    [open.loaded, matchers],
  );
  // Online: the server's answer, matched with RE2 exactly as the silence will be.
  const [server, setServer] = useState<{ items: Alert[]; complete: boolean } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    setServer(null);
    if (data.offline || matchers.length === 0 || !matchers.every((m) => m.name)) return;
    const timer = setTimeout(async () => {
      try {
        const found = unwrap(await data.client.POST("/v1/silences/preview", { body: { matchers } }));
        setServer({ items: found.items, complete: found.complete });
        setProblem(null);
      } catch (failure) {
        setProblem(failure instanceof ApiError && failure.status === 400 ? describe(failure) : null);
      }
    }, 300);
    return () => clearTimeout(timer);
  }, [matchers, data.offline]);
  const matched = server?.items ?? local;

  function change(index: number, patch: Partial<Matcher>) {
    setMatchers((all) => all.map((m, i) => (i === index ? { ...m, ...patch } : m)));
  }

  async function create(event: Event) {
    event.preventDefault();
    try {
      const ends = new Date(Date.now() + hours * 3_600_000).toISOString();
      await data.createSilence(matchers, ends, comment);
      announce("Silence created.");
      navigate(alertId ? `#/alerts/${alertId}` : "#/alerts");
    } catch (failure) {
      setError(describe(failure));
    }
  }

  return (
    <main id="main">
      <h1>New silence</h1>
      <form class="card" onSubmit={create}>
        <fieldset>
          <legend>Alerts whose labels match all of</legend>
          {matchers.map((m, i) => (
            <div class="matcher" key={i}>
              <label>
                Label
                <input value={m.name} required onInput={(e) => change(i, { name: (e.currentTarget as HTMLInputElement).value })} />
              </label>
              <label>
                Match
                <select value={m.op} onChange={(e) => change(i, { op: (e.currentTarget as HTMLSelectElement).value as Matcher["op"] })}>
                  <option value="=">equals</option>
                  <option value="!=">differs from</option>
                  <option value="=~">matches pattern</option>
                  <option value="!~">does not match pattern</option>
                </select>
              </label>
              <label>
                Value
                <input value={m.value} onInput={(e) => change(i, { value: (e.currentTarget as HTMLInputElement).value })} />
              </label>
              <button type="button" aria-label={`Remove matcher ${i + 1}`} onClick={() => setMatchers((all) => all.filter((_, j) => j !== i))}>
                ✕
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setMatchers((all) => [...all, { name: "", op: "=", value: "" }])}>
            Add a matcher
          </button>
        </fieldset>
        <label>
          For
          <select value={hours} onChange={(e) => setHours(Number((e.currentTarget as HTMLSelectElement).value))}>
            {DURATIONS.map(([text, h]) => (
              <option key={h} value={h}>
                {text}
              </option>
            ))}
          </select>
        </label>
        <label>
          Comment
          <input value={comment} onInput={(e) => setComment((e.currentTarget as HTMLInputElement).value)} />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={matchers.length === 0}>
          Create silence
        </button>
      </form>
      <section class="card" aria-labelledby="preview" aria-live="polite">
        <h2 id="preview">
          Would silence now: {matched.length}
          {server && !server.complete ? "+" : ""} open alerts
        </h2>
        {!server && <p class="muted">Matched on this device ({data.offline ? "offline" : "checking with Helios…"}).</p>}
        {problem && (
          <p class="error" role="alert">
            {problem}
          </p>
        )}
        <ul class="plain">
          {matched.slice(0, 50).map((a) => (
            <li key={a.id}>
              <Priority value={a.priority} /> {a.summary || a.dedup_key}
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
