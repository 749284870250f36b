import { useState } from "preact/hooks";
import { unwrap } from "../api";
import { AsOf, describe, Failure, Priority, useApp, useLoad, when } from "../ui";

export function IncidentsView({ search }: { search: string }) {
  const { data, navigate } = useApp();
  const status = new URLSearchParams(search).get("status") ?? "open";
  const state = useLoad(
    () =>
      data.read(`incidents:${status}`, async () =>
        unwrap(await data.client.GET("/v1/incidents", { params: { query: { status: status || undefined, limit: 100 } } })),
      ),
    [status],
  );
  return (
    <main id="main">
      <h1>Incidents</h1>
      <label>
        Show{" "}
        <select value={status} onChange={(e) => navigate(`#/incidents?status=${(e.currentTarget as HTMLSelectElement).value}`)}>
          <option value="open">open</option>
          <option value="resolved">resolved</option>
          <option value="">all</option>
        </select>
      </label>
      <Failure error={state.error} />
      <AsOf loaded={state.loaded} />
      {state.loaded && state.loaded.value.items.length === 0 && <p>No incident.</p>}
      <ul class="alerts">
        {state.loaded?.value.items.map((i) => (
          <li key={i.id}>
            <Priority value={i.priority} />
            <a href={`#/incidents/${i.id}`} class="summary">
              #{i.number} {i.group_key}
            </a>
            <span class="meta muted">
              {i.status} · {i.alerts} alerts · opened {when(i.opened_at)}
            </span>
          </li>
        ))}
      </ul>
    </main>
  );
}

export function IncidentView({ id }: { id: string }) {
  const { data } = useApp();
  const state = useLoad(
    () =>
      data.read(`incident:${id}`, async () =>
        unwrap(await data.client.GET("/v1/incidents/{incident_id}", { params: { path: { incident_id: id } } })),
      ),
    [id],
  );
  const [text, setText] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const detail = state.loaded?.value;

  async function addNote(event: Event) {
    event.preventDefault();
    if (!text.trim()) return;
    try {
      const outcome = await data.note(id, text.trim());
      const said = outcome.state === "queued" ? "Offline: note queued, sent when back online." : "Note added.";
      setMessage(said);
      setText("");
      state.reload();
    } catch (error) {
      setMessage(describe(error));
    }
  }

  if (!detail) {
    return (
      <main id="main">
        <Failure error={state.error} />
        {!state.error && <p aria-busy="true">Loading…</p>}
      </main>
    );
  }
  const i = detail.incident;
  return (
    <main id="main">
      <p>
        <a href="#/incidents">← Incidents</a>
      </p>
      <h1>
        <Priority value={i.priority} /> Incident #{i.number} {i.group_key}
      </h1>
      <AsOf loaded={state.loaded} />
      <p class="meta muted">
        {i.status} · opened {when(i.opened_at)} {i.resolved_at && `· resolved ${when(i.resolved_at)}`}
      </p>
      <section class="card" aria-labelledby="members">
        <h2 id="members">Alerts</h2>
        <ul class="plain">
          {detail.members.map((m) => (
            <li key={m.alert_id}>
              <a href={`#/alerts/${m.alert_id}`}>
                <Priority value={m.priority} /> {m.dedup_key}
              </a>{" "}
              <span class="muted">{m.status}</span>
            </li>
          ))}
        </ul>
      </section>
      <section class="card" aria-labelledby="notes">
        <h2 id="notes">Add a note</h2>
        <form onSubmit={addNote}>
          <label>
            Note
            <textarea value={text} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} rows={3} maxLength={4000} />
          </label>
          <button type="submit" class="primary">
            Add note
          </button>
        </form>
        {message && <p role="status">{message}</p>}
      </section>
      <section class="card" aria-labelledby="itimeline">
        <h2 id="itimeline">Timeline</h2>
        <ol class="timeline">
          {detail.timeline.map((t, n) => (
            <li key={n}>
              <time dateTime={t.at}>{when(t.at)}</time> {t.kind.replace(/_/g, " ")}
              {t.dedup_key && ` — ${t.dedup_key}`}
              {t.kind === "alert_joined" &&
                typeof (t.detail as { notification_id?: unknown }).notification_id === "string" &&
                `, notified (${String((t.detail as { reason?: unknown }).reason ?? "")})`}
              {typeof (t.detail as { text?: unknown }).text === "string" && (
                <blockquote>
                  {String((t.detail as { text: string }).text)}
                  {typeof (t.detail as { author?: unknown }).author === "string" && ` — ${(t.detail as { author: string }).author}`}
                </blockquote>
              )}
            </li>
          ))}
        </ol>
      </section>
    </main>
  );
}
