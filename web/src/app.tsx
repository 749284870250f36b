import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { makeClient } from "./api";
import { Data } from "./data";
import { connectLive } from "./live";
import type { OfflineStore } from "./offline";
import { loadSession, logout, saveSession, type Session } from "./session";
import { clock, Ctx, type AppContext } from "./ui";
import { AccountView } from "./views/account";
import { ActivityView } from "./views/activity";
import { AlertView } from "./views/alert";
import { AlertsView } from "./views/alerts";
import { DashboardView } from "./views/dashboard";
import { IncidentsView, IncidentView } from "./views/incidents";
import { InsightsView, ReportView } from "./views/insights";
import { Login } from "./views/login";
import { SilenceView } from "./views/silence";

function useHash(): string {
  const [hash, setHash] = useState(location.hash || "#/");
  useEffect(() => {
    const onChange = () => setHash(location.hash || "#/");
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return hash;
}

const NAV: [string, string][] = [
  ["#/", "Dashboard"],
  ["#/alerts", "Alerts"],
  ["#/incidents", "Incidents"],
  ["#/activity", "Activity"],
  ["#/insights", "Insights"],
  ["#/account", "Account"],
];

export function App({ store }: { store: OfflineStore }) {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const sessionRef = useRef(session);
  sessionRef.current = session;
  const data = useMemo(
    () =>
      new Data(
        makeClient(
          () => sessionRef.current?.token ?? null,
          () => signedOut("Your session ended: sign in again."),
        ),
        store,
      ),
    [store],
  );
  const [, setTick] = useState(0);
  const [revision, setRevision] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const [showQueue, setShowQueue] = useState(false);
  const hash = useHash();

  function signedOut(reason: string | null) {
    saveSession(null);
    setSession(null);
    setNotice(reason);
  }

  useEffect(() => data.subscribe(() => setTick((n) => n + 1)), [data]);
  useEffect(() => void data.refreshQueue(), [data]);

  // Online again: send what was queued, then show fresh data.
  useEffect(() => {
    const flush = async () => {
      if (!sessionRef.current) return;
      const result = await data.flush();
      if (result.sent.length) setNotice(`Sent ${result.sent.length} queued action(s).`);
      if (result.refused.length) setNotice(`Refused by the server: ${result.refused.map((r) => `${r.action.label} (${r.error})`).join("; ")}`);
      setRevision((n) => n + 1);
    };
    const offline = () => data.goneOffline();
    addEventListener("online", flush);
    addEventListener("offline", offline);
    const timer = setInterval(() => {
      if (data.queue.length && navigator.onLine) void flush();
    }, 10_000);
    if (navigator.onLine) void flush();
    return () => {
      removeEventListener("online", flush);
      removeEventListener("offline", offline);
      clearInterval(timer);
    };
  }, [data, session?.token]);

  // Live updates: every activity line makes the views load again (debounced).
  useEffect(() => {
    if (!session) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = connectLive({
      token: () => sessionRef.current?.token ?? null,
      onActivity: () => {
        clearTimeout(timer);
        timer = setTimeout(() => setRevision((n) => n + 1), 300);
      },
      onState: setLive,
    });
    return () => {
      clearTimeout(timer);
      stop();
    };
  }, [session?.token]);

  // A session token expires: sign out when it does.
  useEffect(() => {
    if (!session?.expiresAt) return;
    const timer = setTimeout(() => signedOut("Your session expired: sign in again."), Math.max(0, session.expiresAt - Date.now()));
    return () => clearTimeout(timer);
  }, [session?.expiresAt]);

  if (!session) {
    return (
      <>
        {notice && <p class="notice" role="status">{notice}</p>}
        <Login
          client={data.client}
          onSignedIn={(s) => {
            saveSession(s);
            setSession(s);
            setNotice(null);
            location.hash = "#/";
          }}
        />
      </>
    );
  }

  async function signOut() {
    await logout(data.client);
    await store.forget();
    await data.refreshQueue();
    signedOut("Signed out.");
  }

  const ctx: AppContext = {
    data,
    session,
    revision,
    navigate: (next) => {
      location.hash = next;
    },
    announce: setNotice,
  };
  const [path, search = ""] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  let view;
  if (parts[0] === "alerts" && parts[1]) view = <AlertView id={decodeURIComponent(parts[1])} />;
  else if (parts[0] === "alerts") view = <AlertsView search={search} />;
  else if (parts[0] === "incidents" && parts[1]) view = <IncidentView id={decodeURIComponent(parts[1])} />;
  else if (parts[0] === "incidents") view = <IncidentsView search={search} />;
  else if (parts[0] === "activity") view = <ActivityView />;
  else if (parts[0] === "insights" && parts[1] === "reports" && parts[2]) view = <ReportView id={decodeURIComponent(parts[2])} />;
  else if (parts[0] === "insights") view = <InsightsView />;
  else if (parts[0] === "silence") view = <SilenceView search={search} />;
  else if (parts[0] === "account") view = <AccountView onSignOut={signOut} />;
  else view = <DashboardView />;
  const current = "#/" + (parts[0] ?? "");

  return (
    <Ctx.Provider value={ctx}>
      <a href="#content" class="skip" onClick={(e) => { e.preventDefault(); document.getElementById("content")?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <a href="#/" class="brand">
          <img src="/app/icons/icon.svg" alt="" width="28" height="28" /> Helios
        </a>
        <nav aria-label="Sections">
          {NAV.map(([href, text]) => (
            <a key={href} href={href} aria-current={current === href || (href === "#/" && current === "#/") ? "page" : undefined}>
              {text}
            </a>
          ))}
        </nav>
        <span class={`live ${live && !data.offline ? "on" : ""}`} title="Live updates">
          {data.offline ? "offline" : live ? "live" : "connecting"}
        </span>
        {data.queue.length > 0 && (
          <button type="button" class="queue-button" aria-expanded={showQueue} onClick={() => setShowQueue(!showQueue)}>
            {data.queue.length} queued
          </button>
        )}
      </header>
      {data.offline && (
        <p class="offline-banner" role="status">
          Offline — as of {clock(data.asOf ?? data.offlineSince ?? Date.now())}. Actions are queued and sent when the connection is back.
        </p>
      )}
      {showQueue && data.queue.length > 0 && (
        <section class="card queue" aria-labelledby="queue-title">
          <h2 id="queue-title">Waiting to be sent</h2>
          <ol>
            {data.queue.map((q) => (
              <li key={q.key}>
                {q.label} <span class="muted">— queued {clock(q.queuedAt)}{q.attempts ? `, ${q.attempts} attempt(s): ${q.lastError}` : ""}</span>
              </li>
            ))}
          </ol>
        </section>
      )}
      {notice && (
        <p class="notice" role="status">
          {notice}{" "}
          <button type="button" class="small" onClick={() => setNotice(null)} aria-label="Dismiss">
            ✕
          </button>
        </p>
      )}
      <div id="content" tabIndex={-1}>
        {view}
      </div>
    </Ctx.Provider>
  );
}
