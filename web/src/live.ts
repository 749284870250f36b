// Live updates: /v1/live's server-sent events, read with fetch (so the bearer token goes in a
// header, never in a URL), resumed from the last event id after every disconnect.
import type { Activity } from "./api";

export interface LiveOptions {
  token: () => string | null;
  onActivity: (entry: Activity) => void;
  onState?: (connected: boolean) => void;
}

/** Parse complete events out of ``buffer``; returns them and what is left over. */
export function parseEvents(buffer: string): { events: { event: string; id?: string; data: string }[]; rest: string } {
  const events: { event: string; id?: string; data: string }[] = [];
  const blocks = buffer.replace(/\r\n/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "id") id = value;
      else if (field === "data") data.push(value);
    }
    if (data.length || id !== undefined) events.push({ event, id, data: data.join("\n") });
  }
  return { events, rest };
}

export function connectLive(options: LiveOptions): () => void {
  let stopped = false;
  let lastId: string | undefined;
  let controller: AbortController | null = null;

  async function once(): Promise<void> {
    const token = options.token();
    if (!token) return;
    controller = new AbortController();
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: "text/event-stream" };
    if (lastId !== undefined) headers["Last-Event-ID"] = lastId;
    const response = await fetch("/v1/live", { headers, signal: controller.signal, cache: "no-store" });
    if (!response.ok || !response.body) throw new Error(`live: ${response.status}`);
    options.onState?.(true);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const parsed = parseEvents(buffer);
      buffer = parsed.rest;
      for (const event of parsed.events) {
        if (event.id !== undefined) lastId = event.id;
        if (event.event === "activity") options.onActivity(JSON.parse(event.data) as Activity);
      }
    }
  }

  (async () => {
    let delay = 1000;
    while (!stopped) {
      try {
        await once();
        delay = 1000;
      } catch {
        options.onState?.(false);
        delay = Math.min(delay * 2, 15000);
      }
      if (!stopped) await new Promise((r) => setTimeout(r, delay));
    }
  })();

  return () => {
    stopped = true;
    controller?.abort();
  };
}
