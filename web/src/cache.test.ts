import { describe, expect, it } from "vitest";
import type { Alert } from "./api";
import { Cache } from "./cache";

function alert(id: string, version: number, status: Alert["status"] = "triggered"): Alert {
  return {
    id, version, status, dedup_key: id, priority: "P2", score: 60, severity: "critical", summary: `alert ${id}`,
    service: "db", sources: ["alertmanager"], labels: {}, occurrences: 1, episode: 1, duplicates: 0,
    flapping: false, silenced: false, group_key: "g", incident_id: null, first_seen_at: null,
    last_signal_at: null, last_change_at: null, links: [], details: {},
  };
}

describe("the normalised cache", () => {
  it("keeps one copy of an alert that two lists show", () => {
    const cache = new Cache();
    cache.putAlerts([alert("a", 1), alert("b", 1)], { key: "open", next: null });
    cache.putAlerts([alert("a", 2, "acknowledged")], { key: "acked", next: null });
    expect(cache.list("open").map((a) => [a.id, a.status])).toEqual([["a", "acknowledged"], ["b", "triggered"]]);
  });

  it("never lets an older answer replace a newer copy", () => {
    const cache = new Cache();
    cache.putAlerts([alert("a", 5, "acknowledged")]);
    cache.putAlerts([alert("a", 3, "triggered")]);
    expect(cache.alert("a")?.status).toBe("acknowledged");
  });

  it("shows an action at once and keeps it until the server's copy moves past it", () => {
    const cache = new Cache();
    cache.putAlerts([alert("a", 4)]);
    cache.applyOptimistic("k1", "a", { status: "acknowledged" });
    expect(cache.alert("a")?.status).toBe("acknowledged");
    expect(cache.hasPending("a")).toBe(true);
    // A list loaded before the server decided still says triggered: the action stays shown.
    cache.putAlerts([alert("a", 4)]);
    expect(cache.alert("a")?.status).toBe("acknowledged");
    // The server's newer copy settles it, whatever it says.
    cache.putAlerts([alert("a", 6, "acknowledged")]);
    expect(cache.hasPending("a")).toBe(false);
    expect(cache.alert("a")?.version).toBe(6);
  });

  it("keeps an action queued before a reload shown until the server shows its status", () => {
    const cache = new Cache();
    cache.applyOptimistic("k1", "a", { status: "acknowledged" });
    cache.putAlerts([alert("a", 9)]);
    expect(cache.alert("a")?.status).toBe("acknowledged");
    cache.putAlerts([alert("a", 11, "acknowledged")]);
    expect(cache.hasPending("a")).toBe(false);
  });

  it("settles a sent action with the next newer copy, whatever its status", () => {
    const cache = new Cache();
    cache.applyOptimistic("k1", "a", { status: "acknowledged" });
    cache.putAlerts([alert("a", 9)]);
    cache.sent("k1");
    cache.putAlerts([alert("a", 12, "resolved")]);
    expect(cache.alert("a")?.status).toBe("resolved");
  });

  it("shows the server's copy again when the action is refused", () => {
    const cache = new Cache();
    cache.putAlerts([alert("a", 4)]);
    cache.applyOptimistic("k1", "a", { status: "resolved" });
    cache.rollback("k1");
    expect(cache.alert("a")?.status).toBe("triggered");
  });

  it("appends a next page to a list without repeating an alert", () => {
    const cache = new Cache();
    cache.putAlerts([alert("a", 1), alert("b", 1)], { key: "l", next: "c1" });
    cache.putAlerts([alert("b", 1), alert("c", 1)], { key: "l", next: null, append: true });
    expect(cache.list("l").map((a) => a.id)).toEqual(["a", "b", "c"]);
    expect(cache.listInfo("l")?.next).toBeNull();
  });

  it("tells its listeners about each change", () => {
    const cache = new Cache();
    let calls = 0;
    const stop = cache.subscribe(() => (calls += 1));
    cache.putAlerts([alert("a", 1)]);
    cache.applyOptimistic("k", "a", { status: "acknowledged" });
    stop();
    cache.rollback("k");
    expect(calls).toBe(2);
  });
});
