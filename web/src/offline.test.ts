import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { ApiError } from "./api";
import { OfflineStore, type QueuedAction } from "./offline";

let n = 0;
async function fresh(): Promise<OfflineStore> {
  n += 1;
  return OfflineStore.open(`test-${n}`);
}

function action(key: string): Omit<QueuedAction, "attempts" | "queuedAt"> {
  return { key, kind: "acknowledge", target: `alert-${key}`, label: `acknowledge ${key}` };
}

describe("the offline queue", () => {
  it("keeps actions in the order they were taken, each with its key", async () => {
    const store = await fresh();
    for (const key of ["k3", "k1", "k2"]) await store.enqueue(action(key));
    expect((await store.queued()).map((a) => a.key)).toEqual(["k3", "k1", "k2"]);
  });

  it("sends each action once and empties the queue", async () => {
    const store = await fresh();
    await store.enqueue(action("k1"));
    await store.enqueue(action("k2"));
    const sent: string[] = [];
    const result = await store.flush(async (a) => void sent.push(a.key));
    expect(sent).toEqual(["k1", "k2"]);
    expect(result.sent.map((a) => a.key)).toEqual(["k1", "k2"]);
    expect(await store.queued()).toEqual([]);
    await store.flush(async (a) => void sent.push(a.key));
    expect(sent).toEqual(["k1", "k2"]);
  });

  it("stops at the first action that cannot be sent now and keeps it and the rest", async () => {
    const store = await fresh();
    for (const key of ["k1", "k2", "k3"]) await store.enqueue(action(key));
    const result = await store.flush(async (a) => {
      if (a.key === "k2") throw new ApiError(0, null);
    });
    expect(result.sent.map((a) => a.key)).toEqual(["k1"]);
    expect(result.left).toBe(2);
    const left = await store.queued();
    expect(left.map((a) => a.key)).toEqual(["k2", "k3"]);
    expect(left[0].attempts).toBe(1);
  });

  it("drops an action the server refuses, reporting it, and goes on", async () => {
    const store = await fresh();
    await store.enqueue(action("k1"));
    await store.enqueue(action("k2"));
    const problem = { type: "urn:helios:problem:not-found", title: "No such resource", status: 404, detail: "no such alert", request_id: "r" };
    const result = await store.flush(async (a) => {
      if (a.key === "k1") throw new ApiError(404, problem);
    });
    expect(result.refused.map((r) => r.action.key)).toEqual(["k1"]);
    expect(result.sent.map((a) => a.key)).toEqual(["k2"]);
    expect(await store.queued()).toEqual([]);
  });

  it("shares one flush between concurrent calls, so nothing is sent twice", async () => {
    const store = await fresh();
    await store.enqueue(action("k1"));
    const sent: string[] = [];
    const send = async (a: QueuedAction) => {
      await new Promise((r) => setTimeout(r, 10));
      sent.push(a.key);
    };
    await Promise.all([store.flush(send), store.flush(send), store.flush(send)]);
    expect(sent).toEqual(["k1"]);
  });

  it("keeps the last data with the time it was fresh", async () => {
    const store = await fresh();
    await store.save("alerts", { items: [1, 2] }, 1_700_000_000_000);
    expect(await store.load("alerts")).toEqual({ key: "alerts", value: { items: [1, 2] }, at: 1_700_000_000_000 });
    expect(await store.load("missing")).toBeUndefined();
  });
});
