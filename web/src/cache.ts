// One normalised cache of what the server said: entities by id, lists as ids. Actions are
// applied at once (optimistic) and reconciled with the server's answers: a pending change
// stays on top of the server's copy until the server shows it (or refuses it).
import type { Alert, Incident } from "./api";

export interface Pending {
  id: string;
  alertId: string;
  patch: Partial<Alert>;
  /** The alert's version when the action was taken: a later server version settles it.
   * Null when the alert was not loaded then (an action queued before a reload): the server
   * showing the patched status settles it. */
  baseVersion: number | null;
}

export interface CacheState {
  alerts: Record<string, Alert>;
  incidents: Record<string, Incident>;
  lists: Record<string, { ids: string[]; next: string | null; at: number }>;
  pending: Pending[];
}

type Listener = () => void;

export class Cache {
  private state: CacheState;
  private listeners = new Set<Listener>();

  constructor(initial?: Partial<CacheState>) {
    this.state = { alerts: {}, incidents: {}, lists: {}, pending: [], ...initial };
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }

  snapshot(): CacheState {
    return this.state;
  }

  /** The alert as the person should see it: the server's copy with pending changes on top. */
  alert(id: string): Alert | undefined {
    const base = this.state.alerts[id];
    if (!base) return undefined;
    return this.state.pending
      .filter((p) => p.alertId === id)
      .reduce<Alert>((seen, p) => ({ ...seen, ...p.patch }), base);
  }

  list(key: string): Alert[] {
    const entry = this.state.lists[key];
    if (!entry) return [];
    return entry.ids.map((id) => this.alert(id)).filter((a): a is Alert => a !== undefined);
  }

  listInfo(key: string) {
    return this.state.lists[key];
  }

  incidentList(key: string): Incident[] {
    const entry = this.state.lists[key];
    if (!entry) return [];
    return entry.ids.map((id) => this.state.incidents[id]).filter((i): i is Incident => !!i);
  }

  /** Take the server's alerts: a copy never replaces a newer one (answers can cross). */
  putAlerts(alerts: Alert[], list?: { key: string; next: string | null; append?: boolean; at?: number }): void {
    const next = { ...this.state.alerts };
    for (const alert of alerts) {
      const held = next[alert.id];
      if (!held || (held.version ?? 0) <= (alert.version ?? 0)) next[alert.id] = alert;
    }
    const lists = { ...this.state.lists };
    if (list) {
      const before = list.append ? (lists[list.key]?.ids ?? []) : [];
      const ids = [...before, ...alerts.map((a) => a.id).filter((id) => !before.includes(id))];
      lists[list.key] = { ids, next: list.next, at: list.at ?? Date.now() };
    }
    this.state = { ...this.state, alerts: next, lists, pending: settle(this.state.pending, next) };
    this.emit();
  }

  putIncidents(incidents: Incident[], key: string, at = Date.now()): void {
    const next = { ...this.state.incidents };
    for (const incident of incidents) next[incident.id] = incident;
    const lists = { ...this.state.lists, [key]: { ids: incidents.map((i) => i.id), next: null, at } };
    this.state = { ...this.state, incidents: next, lists };
    this.emit();
  }

  /** Show an action at once; returns its id (to drop it if the server refuses it). */
  applyOptimistic(id: string, alertId: string, patch: Partial<Alert>): string {
    const known = this.state.alerts[alertId];
    const baseVersion = known ? (known.version ?? 0) : null;
    this.state = { ...this.state, pending: [...this.state.pending, { id, alertId, patch, baseVersion }] };
    this.emit();
    return id;
  }

  /** The action reached the server: the next newer copy of the alert settles it. */
  sent(id: string): void {
    this.state = {
      ...this.state,
      pending: this.state.pending.map((p) =>
        p.id === id ? { ...p, baseVersion: this.state.alerts[p.alertId]?.version ?? p.baseVersion } : p,
      ),
    };
  }

  /** The server refused the action: show the alert as the server has it. */
  rollback(id: string): void {
    this.state = { ...this.state, pending: this.state.pending.filter((p) => p.id !== id) };
    this.emit();
  }

  isPending(id: string): boolean {
    return this.state.pending.some((p) => p.id === id);
  }

  hasPending(alertId: string): boolean {
    return this.state.pending.some((p) => p.alertId === alertId);
  }
}

/** Pending changes the server has caught up with (a newer version) are settled: dropped. */
function settle(pending: Pending[], alerts: Record<string, Alert>): Pending[] {
  return pending.filter((p) => {
    const alert = alerts[p.alertId];
    if (!alert) return true;
    if (p.baseVersion === null) return alert.status !== p.patch.status;
    return (alert.version ?? 0) <= p.baseVersion;
  });
}
