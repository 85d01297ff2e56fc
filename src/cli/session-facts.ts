import type { Config } from '../config/schema';
import { KratosClient, sessionFrom } from '../kratos/client';
import type { CodeMfaRule } from '../kratos/code-mfa-rule';
import type { AvailableAalOutcome, WhoamiOutcome } from '../kratos/types';
import type { AvailableAalSource, SessionSource } from '../kratos/sources';

/**
 * What Kratos would answer, given as data instead of asked for: the whoami body (Kratos's
 * session JSON) or none (whoami 401), the identity's highest available AAL (what the admin API
 * tells), or Kratos (or only its admin API) down.
 */
export interface KratosFacts {
  kratos: 'up' | 'down' | 'admin_down';
  /** A whoami 200 body, or undefined for "no session" (401). */
  whoami: unknown;
  availableAal: 'aal1' | 'aal2';
  /** kratos.whoami_enforces_highest_available: Kratos itself refuses sessions below the available AAL. */
  whoamiEnforcesHighestAvailable: boolean;
}

/** The Kratos lookups a decision made, in order, for the explanation. */
export type KratosLookup =
  { call: 'whoami'; outcome: WhoamiOutcome } | { call: 'identity'; identityId: string; outcome: AvailableAalOutcome };

export interface RecordingKratos {
  sessions: SessionSource;
  identities: AvailableAalSource;
  lookups: KratosLookup[];
  close(): Promise<void>;
}

/**
 * Kratos answering from facts. The whoami body goes through the client's own reading of a 200
 * (sessionFrom), so an inactive or expired session is a 401 here exactly as it is in the service.
 */
export function kratosFromFacts(facts: KratosFacts): RecordingKratos {
  const whoami = (): WhoamiOutcome => {
    if (facts.kratos === 'down') return { kind: 'unavailable', detail: 'kratos: down (given as a fact)' };
    if (facts.whoami === undefined) return { kind: 'unauthenticated' };
    const outcome = sessionFrom(facts.whoami);
    // Kratos's whoami at required_aal: highest_available refuses such a session with 403.
    const refused =
      facts.whoamiEnforcesHighestAvailable &&
      outcome.kind === 'active' &&
      outcome.session.aal !== 'aal2' &&
      facts.availableAal === 'aal2';
    return refused ? { kind: 'aal_refused' } : outcome;
  };
  const availableAal = (): AvailableAalOutcome =>
    facts.kratos === 'up'
      ? { kind: 'known', aal: facts.availableAal }
      : { kind: 'unavailable', detail: `kratos: ${facts.kratos} (given as a fact)` };
  return recording({ whoami: async () => whoami() }, { availableAal: async () => availableAal() }, async () => {});
}

/** The configured Kratos, asked for real (explain --kratos); the credential is sent only there. */
export function liveKratos(config: Config['kratos'], codeMfaRule: CodeMfaRule): RecordingKratos {
  const client = new KratosClient(config, undefined, undefined, () => codeMfaRule);
  return recording(client, client, () => client.close());
}

function recording(
  sessions: SessionSource,
  identities: AvailableAalSource,
  close: () => Promise<void>,
): RecordingKratos {
  const lookups: KratosLookup[] = [];
  return {
    lookups,
    close,
    sessions: {
      whoami: async (credential, context, options) => {
        const outcome = await sessions.whoami(credential, context, options);
        lookups.push({ call: 'whoami', outcome });
        return outcome;
      },
    },
    identities: {
      availableAal: async (identityId, context, options) => {
        const outcome = await identities.availableAal(identityId, context, options);
        lookups.push({ call: 'identity', identityId, outcome });
        return outcome;
      },
    },
  };
}
