// The app's one way to the server: reads that fall back to the last copy when offline,
// actions that are shown at once, sent with an Idempotency-Key, and queued when offline.
import { ApiError, newKey, unwrap, type Alert, type AlertDetail, type Client, type Matcher } from "./api";
import { Cache } from "./cache";
import type { Insights, Overview, Report, Suggestion, Trends } from "./insights";
import type { ActionKind, FlushResult, OfflineStore, QueuedAction } from "./offline";

export interface Loaded<T> {
  value: T;
  at: number;
  offline: boolean;
}

export interface AlertQuery {
  status?: string;
  priority?: string;
  service?: string;
  label?: string;
  q?: string;
}

export type ActionOutcome =
  | { state: "sent"; actionId?: string }
  | { state: "queued" }
  | { state: "changed"; message: string };

type Listener = () => void;

export class Data {
  readonly cache = new Cache();
  private listeners = new Set<Listener>();
  offlineSince: number | null = null;
  /** When the data shown was last fresh from the server (the banner's "as of"). */
  asOf: number | null = null;
  queue: QueuedAction[] = [];
  lastFlush: FlushResult | null = null;

  constructor(
    readonly client: Client,
    readonly store: OfflineStore,
  ) {}

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    const unsubscribe = this.cache.subscribe(listener);
    return () => {
      this.listeners.delete(listener);
      unsubscribe();
    };
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }

  get offline(): boolean {
    return this.offlineSince !== null;
  }

  private setOnline(online: boolean): void {
    const was = this.offline;
    this.offlineSince = online ? null : (this.offlineSince ?? Date.now());
    if (was !== this.offline) this.emit();
  }

  /** ``load`` from the server (and keep a copy); offline, the last copy kept under ``key``. */
  async read<T>(key: string, load: () => Promise<T>): Promise<Loaded<T>> {
    if (typeof navigator !== "undefined" && navigator.onLine === false) this.setOnline(false);
    if (!this.offline || navigator.onLine !== false) {
      try {
        const value = await load();
        this.setOnline(true);
        const at = Date.now();
        this.asOf = at;
        void this.store.save(key, value, at);
        return { value, at, offline: false };
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 0) throw error;
        this.setOnline(false);
      }
    }
    const kept = await this.store.load<T>(key);
    if (!kept) throw new ApiError(0, null);
    this.asOf = kept.at;
    this.emit();
    return { value: kept.value, at: kept.at, offline: true };
  }

  async alerts(query: AlertQuery, cursor: string | null, key: string): Promise<Loaded<{ items: Alert[]; next_cursor: string | null }>> {
    const page = await this.read(`alerts:${key}:${cursor ?? ""}`, async () =>
      unwrap(
        await this.client.GET("/v1/alerts", {
          params: {
            query: {
              status: query.status || undefined,
              priority: query.priority || undefined,
              service: query.service || undefined,
              label: query.label ? [query.label] : undefined,
              q: query.q || undefined,
              cursor: cursor ?? undefined,
              limit: 50,
            },
          },
        }),
      ),
    );
    this.cache.putAlerts(page.value.items, { key, next: page.value.next_cursor, append: cursor !== null, at: page.at });
    return page;
  }

  async alert(id: string): Promise<Loaded<AlertDetail>> {
    const found = await this.read(`alert:${id}`, async () =>
      unwrap(await this.client.GET("/v1/alerts/{alert_id}", { params: { path: { alert_id: id } } })),
    );
    this.cache.putAlerts([found.value.alert]);
    return found;
  }

  /**
   * Acknowledge or resolve: shown at once, sent with a new Idempotency-Key and the version the
   * person saw (If-Match). Offline (or the server unreachable), queued with its key.
   */
  async act(kind: "acknowledge" | "resolve", alert: Alert, note = ""): Promise<ActionOutcome> {
    const key = newKey();
    const status = kind === "acknowledge" ? "acknowledged" : "resolved";
    this.cache.applyOptimistic(key, alert.id, { status });
    const label = `${kind} ${alert.summary || alert.dedup_key}`;
    if (this.offline) {
      await this.enqueue({ key, kind, target: alert.id, label, text: note });
      return { state: "queued" };
    }
    try {
      const actionId = await this.send({ key, kind, target: alert.id, label, text: note, queuedAt: Date.now(), attempts: 0 }, alert.version);
      void this.alert(alert.id).catch(() => undefined);
      return { state: "sent", actionId };
    } catch (error) {
      if (error instanceof ApiError && error.retryable) {
        this.setOnline(error.status !== 0);
        await this.enqueue({ key, kind, target: alert.id, label, text: note });
        return { state: "queued" };
      }
      this.cache.rollback(key);
      if (error instanceof ApiError && error.status === 412) {
        void this.alert(alert.id).catch(() => undefined);
        return { state: "changed", message: "This alert changed since you looked at it: look again, then act." };
      }
      throw error;
    }
  }

  async note(incidentId: string, text: string): Promise<ActionOutcome> {
    const action = { key: newKey(), kind: "note" as const, target: incidentId, label: `note on incident: ${text.slice(0, 40)}`, text };
    if (this.offline) {
      await this.enqueue(action);
      return { state: "queued" };
    }
    try {
      await this.send({ ...action, queuedAt: Date.now(), attempts: 0 });
      return { state: "sent" };
    } catch (error) {
      if (error instanceof ApiError && error.retryable) {
        await this.enqueue(action);
        return { state: "queued" };
      }
      throw error;
    }
  }

  private async enqueue(action: Omit<QueuedAction, "attempts" | "queuedAt">): Promise<void> {
    await this.store.enqueue(action);
    await this.refreshQueue();
  }

  /** Read the queue (after a reload too): its actions show as pending on their alerts. */
  async refreshQueue(): Promise<void> {
    this.queue = await this.store.queued();
    for (const action of this.queue) {
      if (action.kind === "note" || this.cache.isPending(action.key)) continue;
      this.cache.applyOptimistic(action.key, action.target, {
        status: action.kind === "acknowledge" ? "acknowledged" : "resolved",
      });
    }
    this.emit();
  }

  /** One action to the server (its Idempotency-Key makes a resend harmless); an alert
   * action's answer names its action id. */
  async send(action: QueuedAction, version?: number): Promise<string | undefined> {
    const headers: Record<string, string> = { "Idempotency-Key": action.key };
    if (version !== undefined) headers["If-Match"] = `"${version}"`;
    const kind: ActionKind = action.kind;
    if (kind === "note") {
      unwrap(
        await this.client.POST("/v1/incidents/{incident_id}/notes", {
          params: { path: { incident_id: action.target } },
          body: { text: action.text ?? "" },
          headers,
        }),
      );
      return;
    }
    const path = kind === "acknowledge" ? "/v1/alerts/{alert_id}/acknowledge" : "/v1/alerts/{alert_id}/resolve";
    const accepted = unwrap(
      await this.client.POST(path, {
        params: { path: { alert_id: action.target } },
        body: action.text ? { note: action.text } : null,
        headers,
      }),
    );
    return accepted.action_id;
  }

  /** What became of an action: asked a few times while the workers decide it. */
  async outcome(alertId: string, actionId: string, tries = 10): Promise<{ state: string; reason: string }> {
    for (let attempt = 0; ; attempt += 1) {
      const found = unwrap(
        await this.client.GET("/v1/alerts/{alert_id}/actions/{action_id}", {
          params: { path: { alert_id: alertId, action_id: actionId } },
        }),
      );
      if (found.state !== "pending" || attempt >= tries) return found;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Back online: send what was queued, in order, each once. */
  async flush(): Promise<FlushResult> {
    const result = await this.store.flush(async (action) => void (await this.send(action)));
    this.lastFlush = result;
    for (const { action } of result.refused) this.cache.rollback(action.key);
    for (const action of result.sent) this.cache.sent(action.key);
    if (result.left === 0) this.setOnline(true);
    await this.refreshQueue();
    return result;
  }

  goneOffline(): void {
    this.setOnline(false);
  }

  /** The tenant's insights as analytics last published them, kept for offline as one copy
   * (so the overview, trends and suggestions shown are always of one moment). */
  async insights(): Promise<Loaded<Insights>> {
    return this.read("insights", async () => {
      const [overview, trends, suggestions, reports] = await Promise.all([
        this.client.GET("/v1/insights/overview").then(unwrap),
        this.client.GET("/v1/insights/trends").then(unwrap),
        this.client.GET("/v1/insights/suggestions").then(unwrap),
        this.client.GET("/v1/insights/reports").then(unwrap),
      ]);
      const ranked = suggestions.data as { suggestions: Suggestion[] } | null;
      return {
        generatedAt: overview.generated_at ?? null,
        overview: overview.data as Overview | null,
        trends: trends.data as Trends | null,
        suggestions: ranked ? ranked.suggestions : null,
        reports: reports.items as Report[],
      };
    });
  }

  /** One weekly report's HTML page (asked with the bearer token, so shown in the app). */
  async reportHtml(id: string): Promise<Loaded<string>> {
    return this.read(`report:${id}`, async () => {
      const answer = await this.client.GET("/v1/insights/reports/{report_id}", {
        params: { path: { report_id: id } },
        parseAs: "text",
      });
      return unwrap(answer);
    });
  }

  async createSilence(matchers: Matcher[], endsAt: string, comment: string): Promise<void> {
    unwrap(await this.client.POST("/v1/silences", { body: { matchers, ends_at: endsAt, comment } }));
  }
}

/** Whether ``labels`` match every matcher (the server's RE2 and JavaScript's regular
 * expressions agree on the usual patterns; the server's answer is the one that counts). */
export function matches(labels: Record<string, string>, matchers: Matcher[]): boolean {
  return matchers.every((m) => {
    const value = labels[m.name] ?? "";
    switch (m.op) {
      case "=":
        return value === m.value;
      case "!=":
        return value !== m.value;
      case "=~":
      case "!~": {
        let pattern: RegExp;
        try {
          pattern = new RegExp(`^(?:${m.value})$`);
        } catch {
          return false;
        }
        return pattern.test(value) === (m.op === "=~");
      }
    }
  });
}
