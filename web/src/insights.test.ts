import { describe, expect, it } from "vitest";
import { changeInWords, duration, mayEditRules, perDay, published, pValue, rulesPreviewUrl, type Overview, type Suggestion } from "./insights";

const DAY = 86_400_000;

describe("trends in words", () => {
  it("states the change, the p-value and the test's verdict", () => {
    expect(changeInWords({ before: 10, after: 30, p_value: 0.00213, direction: "up" })).toBe(
      "up 200 % week over week (10 → 30), p = 0.002 — significant",
    );
    expect(changeInWords({ before: 20, after: 28, p_value: 0.3135, direction: "steady" })).toBe(
      "up 40 % week over week (20 → 28), p = 0.31 — not significant",
    );
    expect(changeInWords({ before: 40, after: 10, p_value: 0.0000012, direction: "down" })).toBe(
      "down 75 % week over week (40 → 10), p < 0.001 — significant",
    );
  });

  it("says a count from nothing without a percentage, and no change as unchanged", () => {
    expect(changeInWords({ before: 0, after: 7, p_value: 0.0156, direction: "steady" })).toBe(
      "up from 0 to 7 week over week (0 → 7), p = 0.016 — not significant",
    );
    expect(changeInWords({ before: 5, after: 5, p_value: 1, direction: "steady" })).toContain("unchanged");
    expect(pValue(1)).toBe("p = 1");
    expect(changeInWords({ before: 2, after: 12, p_value: 0.0117, direction: "steady" }, "")).toBe(
      "up 500 % (2 → 12), p = 0.012 — not significant",
    );
  });
});

describe("the overview", () => {
  it("has one value per day its window touches, a day without a row being zero", () => {
    const since = Date.UTC(2026, 10, 1, 12);
    const overview: Overview = {
      since,
      until: since + 3 * DAY,
      totals: {},
      by: { day: [{ value: "2026-11-03", signals: 9 }] },
    };
    expect(perDay(overview)).toEqual([
      { day: "2026-11-01", count: 0 },
      { day: "2026-11-02", count: 0 },
      { day: "2026-11-03", count: 9 },
      { day: "2026-11-04", count: 0 },
    ]);
  });

  it("reads durations at a human scale", () => {
    expect([duration(42), duration(720), duration(12_600), duration(null)]).toEqual(["42 s", "12 min", "3.5 h", "—"]);
  });

  it("is unpublished until analytics has written any document", () => {
    expect(published({ generatedAt: null, overview: null, trends: null, suggestions: null, reports: [] })).toBe(false);
  });
});

describe("a suggestion's way to the rules preview", () => {
  const suggestion: Suggestion = {
    id: "noisy:alertname=DiskFull/db",
    rank: 1,
    kind: "noisy",
    title: "DiskFull pages",
    why: "",
    weight: 3,
    change: { toml: "[[multipliers]]\n" },
    what_if: null,
  };

  it("is offered to admins and owners only", () => {
    expect(["viewer", "responder", "admin", "owner"].map(mayEditRules)).toEqual([false, false, true, true]);
  });

  it("names the suggestion in the admin rules page's address, encoded", () => {
    expect(rulesPreviewUrl(suggestion)).toBe("/admin/rules?proposal=noisy%3Aalertname%3DDiskFull%2Fdb");
    expect(rulesPreviewUrl({ ...suggestion, change: { note: "group them" } })).toBeNull();
  });
});
