// The typed client of Helios's API (types generated from the app's own OpenAPI document).
import createClient from "openapi-fetch";
import type { components, paths } from "./api.d";

export type Schemas = components["schemas"];
export type Alert = Schemas["AlertSummary"];
export type AlertDetail = Schemas["AlertDetail"];
export type Incident = Schemas["IncidentSummary"];
export type IncidentDetail = Schemas["IncidentDetail"];
export type Activity = Schemas["ActivityEntry"];
export type Matcher = Schemas["Matcher"];
export type Silence = Schemas["SilenceDocument"];
export type Me = Schemas["Me"];
export type Problem = Schemas["Problem"];
export type Client = ReturnType<typeof makeClient>;

/** A refusal of the API (a problem document), or the network being unreachable (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
  ) {
    super(problem ? `${problem.title}: ${problem.detail}` : "the server cannot be reached");
  }

  /** Whether sending the same request later may succeed (offline, busy, server trouble). */
  get retryable(): boolean {
    return this.status === 0 || this.status === 409 || this.status === 429 || this.status >= 500;
  }

  /** The field errors, as one readable line. */
  get fields(): string {
    return (this.problem?.errors ?? []).map((e) => `${e.field}: ${e.message}`).join("; ");
  }
}

export function makeClient(token: () => string | null, onUnauthorized: () => void) {
  const client = createClient<paths>({
    baseUrl: location.origin,
    fetch: async (request: Request) => {
      const bearer = token();
      if (bearer) request.headers.set("Authorization", `Bearer ${bearer}`);
      let response: Response;
      try {
        response = await fetch(request);
      } catch {
        throw new ApiError(0, null);
      }
      if (response.status === 401 && bearer) onUnauthorized();
      return response;
    },
  });
  return client;
}

/** The data of an openapi-fetch answer, or the ApiError it stands for. */
export function unwrap<T>(answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.response.ok && answer.data !== undefined) return answer.data;
  const problem = answer.error && typeof answer.error === "object" ? (answer.error as Problem) : null;
  throw new ApiError(answer.response.status, problem);
}

/** A fresh Idempotency-Key (one per human action, kept with it while it waits to be sent). */
export function newKey(): string {
  return crypto.randomUUID();
}
