import { useState } from "preact/hooks";
import { unwrap } from "../api";
import { clock, describe, Failure, useApp, useLoad, when } from "../ui";

export function AccountView({ onSignOut }: { onSignOut: () => void }) {
  const { data, session } = useApp();
  const tokens = useLoad(() => data.read("tokens", async () => unwrap(await data.client.GET("/v1/me/tokens"))), []);
  const [issued, setIssued] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function create(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    try {
      const made = unwrap(await data.client.POST("/v1/me/tokens", { body: { name: String(form.get("name")), expires_in_days: 90 } }));
      setIssued(made.token);
      tokens.reload();
    } catch (failure) {
      setError(describe(failure));
    }
  }

  async function revoke(id: string) {
    try {
      unwrap(await data.client.POST("/v1/me/tokens/{token_id}/revoke", { params: { path: { token_id: id } } }));
      tokens.reload();
    } catch (failure) {
      setError(describe(failure));
    }
  }

  return (
    <main id="main">
      <h1>Account</h1>
      <section class="card">
        <p>
          Signed in as <strong>{session.email}</strong> ({session.role}) in tenant <code>{session.tenant}</code> with a {session.kind} token
          {session.expiresAt ? `, which expires at ${clock(session.expiresAt)}` : ""}.
        </p>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </section>
      <section class="card" aria-labelledby="tokens">
        <h2 id="tokens">Personal API tokens</h2>
        <Failure error={tokens.error ?? error} />
        <ul class="plain">
          {tokens.loaded?.value.items.map((t) => (
            <li key={t.id}>
              {t.name} — created {when(t.created_at)}
              {t.expires_at && `, expires ${when(t.expires_at)}`}
              {t.revoked_at ? (
                " (revoked)"
              ) : (
                <button type="button" class="small" onClick={() => revoke(t.id)} aria-label={`Revoke ${t.name}`}>
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
        <form onSubmit={create}>
          <label>
            New token's name
            <input name="name" required />
          </label>
          <button type="submit">Create (90 days)</button>
        </form>
        {issued && (
          <p role="status">
            Copy it now, it is shown once: <code class="secret">{issued}</code>
          </p>
        )}
      </section>
    </main>
  );
}
