import { useState } from "preact/hooks";
import type { Client } from "../api";
import { passwordLogin, tokenLogin, type Session } from "../session";
import { describe } from "../ui";

export function Login({ client, onSignedIn }: { client: Client; onSignedIn: (session: Session) => void }) {
  const [mode, setMode] = useState<"password" | "token">("password");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      const session =
        mode === "password"
          ? await passwordLogin(client, String(form.get("tenant")), String(form.get("email")), String(form.get("password")))
          : await tokenLogin(String(form.get("token")).trim());
      onSignedIn(session);
    } catch (failure) {
      setError(describe(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login" id="main">
      <h1>
        <img src="/app/icons/icon.svg" alt="" width="40" height="40" /> Helios
      </h1>
      <p>Sign in to see and act on your team's alerts.</p>
      <div class="tabs" role="group" aria-label="How to sign in">
        <button type="button" aria-pressed={mode === "password"} onClick={() => setMode("password")}>
          Password
        </button>
        <button type="button" aria-pressed={mode === "token"} onClick={() => setMode("token")}>
          Personal token
        </button>
      </div>
      <form onSubmit={submit} class="card">
        {mode === "password" ? (
          <>
            <label>
              Tenant
              <input name="tenant" required autocomplete="organization" />
            </label>
            <label>
              Email
              <input name="email" type="email" required autocomplete="username" />
            </label>
            <label>
              Password
              <input name="password" type="password" required autocomplete="current-password" />
            </label>
          </>
        ) : (
          <label>
            Personal API token
            <input name="token" required autocomplete="off" spellcheck={false} />
          </label>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
