import { useState } from "preact/hooks";
import type { AlertDetail } from "../api";
import { AsOf, Badge, describe, Failure, Priority, Status, useApp, useLoad, when } from "../ui";

const FACTOR_WORDS: Record<string, string> = {
  severity: "the severity the source gave",
  service: "how much the service matters",
  source: "where the alert came from",
  flapping: "it keeps flipping between firing and resolved",
  occurrences: "how often it fired",
  duplicates: "how many sources sent it",
  hours: "the time of day",
};

function factorWords(name: string): string {
  const base = name.split(/[.:_]/)[0] ?? name;
  return FACTOR_WORDS[base] ?? name.replace(/_/g, " ");
}

export function AlertView({ id }: { id: string }) {
  const { data, navigate } = useApp();
  const state = useLoad(() => data.alert(id), [id]);
  const [note, setNote] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const detail = state.loaded?.value;
  const alert = detail ? (data.cache.alert(detail.alert.id) ?? detail.alert) : undefined;

  async function act(kind: "acknowledge" | "resolve") {
    if (!alert) return;
    try {
      const outcome = await data.act(kind, alert, note);
      const text =
        outcome.state === "queued"
          ? `Offline: ${kind} queued, sent when back online.`
          : outcome.state === "changed"
            ? outcome.message
            : kind === "acknowledge"
              ? "Acknowledged."
              : "Resolved.";
      setMessage(text);
      if (outcome.state !== "changed") setNote("");
      if (outcome.state === "sent" && outcome.actionId) {
        const found = await data.outcome(alert.id, outcome.actionId);
        if (found.state === "recorded") setMessage(`${text} Recorded.`);
        else if (found.state === "rejected") setMessage(`Helios refused it: ${found.reason}`);
      }
    } catch (error) {
      setMessage(describe(error));
    }
  }

  if (!detail || !alert) {
    return (
      <main id="main">
        <Failure error={state.error} />
        {!state.error && <p aria-busy="true">Loading…</p>}
      </main>
    );
  }
  const total = detail.factors.reduce((sum, f) => sum + f.effect, 0);
  return (
    <main id="main">
      <p>
        <a href="#/alerts">← Alerts</a>
      </p>
      <h1>
        <Priority value={alert.priority} /> {alert.summary || alert.dedup_key}
      </h1>
      <AsOf loaded={state.loaded} />
      <p class="meta">
        <Status value={alert.status} />
        {data.cache.hasPending(alert.id) && <Badge kind="pending">sending</Badge>}
        {alert.flapping && <Badge kind="warn">flapping</Badge>}
        {alert.silenced && <Badge>silenced</Badge>}
        <span>service {alert.service || "—"}</span> · <span>{alert.occurrences} signals</span> ·{" "}
        <span>{alert.duplicates} duplicates</span> · <span>first seen {when(alert.first_seen_at)}</span>
        {alert.incident_id && (
          <>
            {" "}
            · <a href={`#/incidents/${alert.incident_id}`}>its incident</a>
          </>
        )}
      </p>
      <section class="card actions" aria-labelledby="act">
        <h2 id="act">Act</h2>
        <label>
          Note (optional)
          <input value={note} onInput={(e) => setNote((e.currentTarget as HTMLInputElement).value)} maxLength={1024} />
        </label>
        <div class="buttons">
          <button type="button" class="primary" disabled={alert.status !== "triggered"} onClick={() => act("acknowledge")}>
            Acknowledge
          </button>
          <button type="button" disabled={alert.status === "resolved"} onClick={() => act("resolve")}>
            Resolve
          </button>
          <button type="button" onClick={() => navigate(`#/silence?alert=${alert.id}`)}>
            Silence…
          </button>
        </div>
        {message && (
          <p role="status" class="message">
            {message}
          </p>
        )}
      </section>
      <section class="card" aria-labelledby="why">
        <h2 id="why">
          Why {alert.priority ?? "this priority"}: score {alert.score ?? "—"}
        </h2>
        {detail.factors.length === 0 ? (
          <p class="muted">No score yet.</p>
        ) : (
          <table class="factors">
            <caption class="muted">
              Each factor adds to (or takes from) the score; {detail.ruleset_version ? `ruleset version ${detail.ruleset_version}` : "the built-in rules"}.
            </caption>
            <thead>
              <tr>
                <th scope="col">Because</th>
                <th scope="col">Input</th>
                <th scope="col">Points</th>
              </tr>
            </thead>
            <tbody>
              {detail.factors.map((f) => (
                <tr key={f.name}>
                  <th scope="row">
                    {factorWords(f.name)} <span class="muted">({f.name})</span>
                  </th>
                  <td>{f.input}</td>
                  <td class="num">{f.effect > 0 ? `+${f.effect}` : f.effect}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row">Total</th>
                <td />
                <td class="num">{total}</td>
              </tr>
            </tfoot>
          </table>
        )}
      </section>
      <Context detail={detail} />
      <Timeline detail={detail} />
      <section class="card" aria-labelledby="notifications">
        <h2 id="notifications">Notifications</h2>
        {detail.notifications.length === 0 ? (
          <p class="muted">None.</p>
        ) : (
          <ul class="plain">
            {detail.notifications.map((n) => (
              <li key={n.notification_id}>
                {when(n.at)} — {n.outcome} ({n.reason}){n.channel && ` via ${n.channel}`}
                {n.because && ` — ${n.because}`}
              </li>
            ))}
          </ul>
        )}
        {detail.silence_ids.length > 0 && <p>Silenced by: {detail.silence_ids.join(", ")}</p>}
      </section>
    </main>
  );
}

function isImage(value: string): boolean {
  return /^https?:\/\/\S+\.(png|jpe?g|gif|svg|webp)(\?\S*)?$/i.test(value);
}

function Context({ detail }: { detail: AlertDetail }) {
  const details = detail.alert.details as Record<string, unknown>;
  const entries = Object.entries(details);
  const urls = entries.filter(([, v]) => typeof v === "string" && /^https?:\/\//.test(v)) as [string, string][];
  const runbook = urls.find(([k]) => /runbook/i.test(k));
  const images = urls.filter(([k, v]) => isImage(v) || /image|snapshot/i.test(k));
  return (
    <section class="card" aria-labelledby="context">
      <h2 id="context">What the source sent</h2>
      <ul class="plain">
        {runbook && (
          <li>
            <a href={runbook[1]} rel="noopener noreferrer" target="_blank">
              Runbook
            </a>
          </li>
        )}
        {detail.alert.links.map((link) => (
          <li key={link.href}>
            <a href={link.href} rel="noopener noreferrer" target="_blank">
              {link.text || link.href}
            </a>
          </li>
        ))}
      </ul>
      {images.map(([k, v]) => (
        <img key={k} src={v} alt={`${k} sent with the alert`} loading="lazy" class="context-image" />
      ))}
      <dl class="details">
        <dt>labels</dt>
        <dd>
          {Object.entries(detail.alert.labels).map(([k, v]) => (
            <code key={k} class="label">
              {k}={v}
            </code>
          ))}
        </dd>
        {entries.map(([k, v]) => (
          <>
            <dt key={`k-${k}`}>{k}</dt>
            <dd key={`v-${k}`}>{typeof v === "string" ? v : <code>{JSON.stringify(v)}</code>}</dd>
          </>
        ))}
      </dl>
    </section>
  );
}

type Decision = AlertDetail["decisions"][number];

/** When a decision was made: its own time, else that of the signal it is about. */
function decisionTime(d: Decision): string {
  if (d.at) return d.at;
  const detail = d.detail as { received_at?: number; occurred_at?: number; signal?: { received_at?: number } };
  const ms = detail.received_at ?? detail.signal?.received_at ?? detail.occurred_at;
  return typeof ms === "number" ? new Date(ms).toISOString() : "";
}

function decisionText(d: Decision): string {
  const detail = d.detail as { source?: string; signal?: { source?: string } };
  const source = detail.source ?? detail.signal?.source;
  const what = d.kind.replace(/_/g, " ");
  return source ? `decided: ${what} (from ${source})` : `decided: ${what}`;
}

function Timeline({ detail }: { detail: AlertDetail }) {
  type Line = { at: string; key: string; text: string; badges: string[] };
  const lines: Line[] = [
    ...detail.signals.map((s) => ({
      at: s.occurred_at,
      key: `s-${s.signal_id}`,
      text: `${s.action} from ${s.source}: ${s.summary}`,
      badges: s.late ? ["late"] : [],
    })),
    ...detail.decisions
      .map((d) => ({ d, at: decisionTime(d) }))
      .filter(({ at }) => at)
      .map(({ d, at }) => ({
        at,
        key: `d-${d.position}-${d.name}`,
        text: decisionText(d),
        badges: /deduplicated|repeated/.test(d.kind) ? ["duplicate"] : /late/.test(d.kind) ? ["late"] : [],
      })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  return (
    <section class="card" aria-labelledby="timeline">
      <h2 id="timeline">Timeline</h2>
      <ol class="timeline">
        {lines.map((line) => (
          <li key={line.key}>
            <time dateTime={line.at}>{when(line.at)}</time> {line.text}{" "}
            {line.badges.map((b) => (
              <Badge key={b} kind={b === "late" ? "warn" : ""}>
                {b}
              </Badge>
            ))}
          </li>
        ))}
      </ol>
    </section>
  );
}
