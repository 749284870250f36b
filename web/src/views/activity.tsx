import { useState } from "preact/hooks";
import { unwrap, type Activity } from "../api";
import { AsOf, describe, Failure, useApp, useLoad, when } from "../ui";

export function ActivityView() {
  const { data } = useApp();
  const state = useLoad(() => data.read("activity", async () => unwrap(await data.client.GET("/v1/activity", { params: { query: { limit: 50 } } }))), []);
  const [older, setOlder] = useState<Activity[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const next = cursor === undefined ? state.loaded?.value.next_cursor : cursor;

  async function more() {
    if (!next) return;
    try {
      const page = unwrap(await data.client.GET("/v1/activity", { params: { query: { limit: 50, cursor: next } } }));
      setOlder((items) => [...items, ...page.items]);
      setCursor(page.next_cursor);
    } catch (failure) {
      setError(describe(failure));
    }
  }

  const items = [...(state.loaded?.value.items ?? []), ...older];
  return (
    <main id="main">
      <h1>Activity</h1>
      <Failure error={state.error ?? error} />
      <AsOf loaded={state.loaded} />
      <ol class="timeline">
        {items.map((entry) => (
          <li key={entry.id}>
            <time dateTime={entry.at}>{when(entry.at)}</time> <span class={`badge kind-${entry.kind}`}>{entry.kind.replace(/_/g, " ")}</span> {entry.text}
          </li>
        ))}
      </ol>
      {next && (
        <button type="button" onClick={more}>
          Older
        </button>
      )}
    </main>
  );
}
