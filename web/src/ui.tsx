// Shared pieces of the views: loading with offline fallback, times, badges.
import { useContext, useEffect, useState } from "preact/hooks";
import { createContext, type ComponentChildren } from "preact";
import { ApiError } from "./api";
import type { Data, Loaded } from "./data";
import type { Session } from "./session";

export interface AppContext {
  data: Data;
  session: Session;
  /** Grows with every live update: views that show server data load again. */
  revision: number;
  navigate: (hash: string) => void;
  announce: (message: string) => void;
}

export const Ctx = createContext<AppContext | null>(null);

export function useApp(): AppContext {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error("outside the app");
  return ctx;
}

export interface LoadState<T> {
  loaded: Loaded<T> | null;
  error: string | null;
  reload: () => void;
}

/** Load with ``load`` when ``deps`` or the live revision change; keeps the last answer shown. */
export function useLoad<T>(load: () => Promise<Loaded<T>>, deps: unknown[]): LoadState<T> {
  const { revision } = useApp();
  const [loaded, setLoaded] = useState<Loaded<T> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [again, setAgain] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (value) => {
        if (!current) return;
        setLoaded(value);
        setError(null);
      },
      (failure: unknown) => {
        if (!current) return;
        setError(describe(failure));
      },
    );
    return () => {
      current = false;
    };
  }, [...deps, revision, again]);
  return { loaded, error, reload: () => setAgain((n) => n + 1) };
}

export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 0) return "The server cannot be reached, and nothing of this was kept offline.";
    return [error.problem?.detail ?? error.message, error.fields].filter(Boolean).join(" — ");
  }
  return error instanceof Error ? error.message : String(error);
}

export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const at = Date.parse(iso);
  const ago = Math.round((Date.now() - at) / 60000);
  const text = new Date(at).toLocaleString([], { dateStyle: "short", timeStyle: "short", hourCycle: "h23" });
  if (ago < 1) return `${text} (just now)`;
  if (ago < 120) return `${text} (${ago} min ago)`;
  return text;
}

export function Priority({ value }: { value: string | null | undefined }) {
  return <span class={`badge prio prio-${value ?? "none"}`}>{value ?? "—"}</span>;
}

export function Status({ value }: { value: string }) {
  return <span class={`badge status status-${value}`}>{value}</span>;
}

export function Badge({ children, kind = "" }: { children: ComponentChildren; kind?: string }) {
  return <span class={`badge ${kind}`}>{children}</span>;
}

export function Failure({ error }: { error: string | null }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function AsOf({ loaded }: { loaded: Loaded<unknown> | null }) {
  if (!loaded?.offline) return null;
  return <p class="muted">Shown from the copy kept at {clock(loaded.at)}.</p>;
}
