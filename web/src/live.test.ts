import { describe, expect, it } from "vitest";
import { parseEvents } from "./live";

describe("reading server-sent events", () => {
  it("reads complete events and keeps a partial one for the next chunk", () => {
    const { events, rest } = parseEvents('retry: 1000\n\nevent: activity\nid: 7\ndata: {"id":7}\n\n: keep-alive\n\nevent: act');
    expect(events).toEqual([{ event: "activity", id: "7", data: '{"id":7}' }]);
    expect(rest).toBe("event: act");
  });
});
