// What the app keeps in IndexedDB: the actions taken while offline (each with its
// Idempotency-Key, sent on reconnect, exactly once) and the last data seen (shown offline).
import { openDB, type DBSchema, type IDBPDatabase } from "idb";
import { ApiError } from "./api";

export type ActionKind = "acknowledge" | "resolve" | "note";

export interface QueuedAction {
  /** The Idempotency-Key: a resend after an unknown outcome cannot act twice. */
  key: string;
  kind: ActionKind;
  /** The alert (acknowledge, resolve) or incident (note) acted on. */
  target: string;
  label: string;
  text?: string;
  queuedAt: number;
  attempts: number;
  lastError?: string;
}

export interface Snapshot<T = unknown> {
  key: string;
  value: T;
  at: number;
}

interface Schema extends DBSchema {
  queue: { key: string; value: QueuedAction & { order: number }; indexes: { order: number } };
  snapshots: { key: string; value: Snapshot };
}

export interface FlushResult {
  sent: QueuedAction[];
  refused: { action: QueuedAction; error: string }[];
  /** Still queued (the server could not be reached, or was busy). */
  left: number;
}

export class OfflineStore {
  private flushing: Promise<FlushResult> | null = null;

  private constructor(private db: IDBPDatabase<Schema>) {}

  static async open(name = "helios-app"): Promise<OfflineStore> {
    const db = await openDB<Schema>(name, 1, {
      upgrade(db) {
        const queue = db.createObjectStore("queue", { keyPath: "key" });
        queue.createIndex("order", "order");
        db.createObjectStore("snapshots", { keyPath: "key" });
      },
    });
    return new OfflineStore(db);
  }

  close(): void {
    this.db.close();
  }

  async enqueue(action: Omit<QueuedAction, "attempts" | "queuedAt">, now = Date.now()): Promise<QueuedAction> {
    const queued: QueuedAction = { ...action, queuedAt: now, attempts: 0 };
    const order = (await this.db.count("queue")) ? await this.lastOrder() + 1 : 1;
    await this.db.put("queue", { ...queued, order });
    return queued;
  }

  private async lastOrder(): Promise<number> {
    const cursor = await this.db.transaction("queue").store.index("order").openCursor(null, "prev");
    return cursor?.value.order ?? 0;
  }

  /** The queue in the order the actions were taken. */
  async queued(): Promise<QueuedAction[]> {
    const rows = await this.db.getAllFromIndex("queue", "order");
    return rows.map(({ order: _order, ...action }) => action);
  }

  /**
   * Send the queued actions in order with ``send``. A sent action leaves the queue; one the
   * server refuses (a 4xx other than 409/429) leaves it too, reported; at the first that cannot
   * be sent now (offline, 409, 429, 5xx) the flush stops and the rest wait for the next one.
   * Concurrent calls share one flush, so no action is sent twice at once.
   */
  flush(send: (action: QueuedAction) => Promise<void>): Promise<FlushResult> {
    if (!this.flushing) {
      this.flushing = this.flushOnce(send).finally(() => {
        this.flushing = null;
      });
    }
    return this.flushing;
  }

  private async flushOnce(send: (action: QueuedAction) => Promise<void>): Promise<FlushResult> {
    const result: FlushResult = { sent: [], refused: [], left: 0 };
    const actions = await this.queued();
    for (const [index, action] of actions.entries()) {
      try {
        await send(action);
        await this.db.delete("queue", action.key);
        result.sent.push(action);
      } catch (error) {
        const failure = error instanceof ApiError ? error : new ApiError(0, null);
        if (failure.retryable) {
          const row = await this.db.get("queue", action.key);
          if (row) {
            await this.db.put("queue", { ...row, attempts: row.attempts + 1, lastError: failure.message });
          }
          result.left = actions.length - index;
          return result;
        }
        await this.db.delete("queue", action.key);
        result.refused.push({ action, error: failure.message });
      }
    }
    return result;
  }

  async save<T>(key: string, value: T, at = Date.now()): Promise<void> {
    await this.db.put("snapshots", { key, value, at });
  }

  async load<T>(key: string): Promise<Snapshot<T> | undefined> {
    return (await this.db.get("snapshots", key)) as Snapshot<T> | undefined;
  }

  async forget(): Promise<void> {
    await this.db.clear("snapshots");
    await this.db.clear("queue");
  }
}
