/**
 * A loopback stand-in for Wix's OAuth endpoints and installer pages.
 *
 * It speaks the protocol described in the shared protocol notes (wix-oauth.md): the legacy
 * `/oauth/access` grants, client credentials on `/oauth2/token`, Token Info, and the two
 * installer pages of the legacy install flow. Tests, benchmarks and `npm start` use it; it
 * depends on nothing but `node:http`, `node:crypto` and ./issued-values (where it records what it
 * issues for the tests' log audit, when that is on) and never logs.
 *
 * ```
 *   app under test ──POST /oauth/access────────▶ ┌──────────────┐
 *                  ──POST /oauth2/token────────▶ │ WixSimulator │  state: apps, installs,
 *                  ──POST /oauth2/token-info───▶ │              │  codes, refresh and
 *   browser        ──GET /installer/install────▶ │              │  access tokens, hooks,
 *                  ──POST /installer/install───▶ │              │  (Allow, with consentPage)
 *                  ──GET /installer/close-window▶└──────────────┘  call counters
 * ```
 */
import type { WixSimulator, WixSimulatorOptions } from './wix-simulator/contract';
import { Simulator } from './wix-simulator/server';

// The parts: contract (this surface's types and routes), state (what was issued and what Wix
// accepts now), grants (the OAuth rules), faults (interception hooks), pages (the installer),
// server (HTTP), replies (answer shapes).
export * from './wix-simulator/contract';
export type { Reply } from './wix-simulator/replies';
export { mulberry32, wixFaults, type FaultScope, type Intercept, type InterceptedCall, type Interception, type StatusFault } from './wix-simulator/faults';

/**
 * Starts a simulator listening on loopback.
 * @throws Error when the port cannot be bound.
 * @see https://dev.wix.com/docs/rest/app-management/oauth-2/introduction
 */
export async function startWixSimulator(options: WixSimulatorOptions = {}): Promise<WixSimulator> {
  const simulator = new Simulator(options);
  await simulator.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return simulator;
}
