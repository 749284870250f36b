// The signed-in person: a session token from a password login, or a personal token pasted in.
// Kept in localStorage so a reload (and the app offline) stays signed in until it expires.
import { ApiError, unwrap, type Client } from "./api";

export interface Session {
  token: string;
  kind: "session" | "personal";
  email: string;
  role: string;
  tenant: string;
  userId: string;
  /** Epoch ms; null: the token does not expire. */
  expiresAt: number | null;
}

const KEY = "helios.session";

export function loadSession(now = Date.now()): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const session = JSON.parse(raw) as Session;
    if (session.expiresAt !== null && session.expiresAt <= now) {
      localStorage.removeItem(KEY);
      return null;
    }
    return session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) localStorage.setItem(KEY, JSON.stringify(session));
  else localStorage.removeItem(KEY);
}

export async function passwordLogin(client: Client, tenant: string, email: string, password: string): Promise<Session> {
  const issued = unwrap(await client.POST("/v1/auth/login", { body: { tenant, email, password } }));
  return {
    token: issued.token,
    kind: "session",
    email: issued.user.email,
    role: issued.user.role,
    tenant,
    userId: issued.user.id,
    expiresAt: Date.parse(issued.expires_at),
  };
}

/** A personal token, checked with /v1/me (which says whose it is and when it expires). */
export async function tokenLogin(token: string): Promise<Session> {
  let response: Response;
  try {
    response = await fetch("/v1/me", { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    throw new ApiError(0, null);
  }
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const me = await response.json();
  return {
    token,
    kind: me.token_kind,
    email: me.user.email,
    role: me.user.role,
    tenant: me.tenant_id,
    userId: me.user.id,
    expiresAt: me.token_expires_at ? Date.parse(me.token_expires_at) : null,
  };
}

export async function logout(client: Client): Promise<void> {
  try {
    await client.POST("/v1/auth/logout", {});
  } catch {
    // Offline: the token is forgotten here; it expires on the server by itself.
  }
}
