import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import type { FetchLike } from '../../../lib/wix';

/**
 * Faults the model-based tests arm for one action of one container, so that a command names the
 * fault it injects and a shrunk counterexample still injects it (no random rate).
 */

/**
 * How a DynamoDB call fails once the SDK's own retries are spent: `ddb-lost-answer`, applied by
 * DynamoDB and the answer lost (the socket reset); `ddb-throttled`, a ThrottlingException, nothing
 * written; `ddb-internal`, a 500, nothing written.
 */
export type DdbFault = 'ddb-lost-answer' | 'ddb-throttled' | 'ddb-internal';

/** Which DynamoDB command a fault targets (the document client's command class names). */
export type DdbCommandName = 'UpdateCommand' | 'PutCommand' | 'GetCommand' | 'QueryCommand' | 'DeleteCommand';

export interface ArmedDdbFault {
  kind: DdbFault;
  /** Only this command; any when absent. */
  command?: DdbCommandName;
  /** Matching calls to let through first. */
  skip?: number;
  /** How many matching calls it fails (default 1). */
  times?: number;
}

export interface ControlledDocumentClient extends Pick<DynamoDBDocumentClient, 'send'> {
  arm(fault: ArmedDdbFault): void;
  /** Drops what is armed and not used, and says how many faults hit since the last call. */
  disarm(): number;
  /** Faults injected so far, by kind (never reset). */
  readonly injected: Record<string, number>;
}

function sdkError(kind: DdbFault): Error {
  if (kind === 'ddb-throttled') {
    return Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
      name: 'ThrottlingException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400, attempts: 3 },
    });
  }
  return Object.assign(new Error('Internal server error'), { name: 'InternalServerError', $fault: 'server', $metadata: { httpStatusCode: 500, attempts: 3 } });
}

/** A document client that fails exactly the calls armed on it; everything else passes through. */
export function controlledDocumentClient(client: Pick<DynamoDBDocumentClient, 'send'>, injected: Record<string, number>): ControlledDocumentClient {
  let armed: Array<Required<Omit<ArmedDdbFault, 'command'>> & { command?: DdbCommandName }> = [];
  let hits = 0;
  const forward = client.send.bind(client) as (command: unknown, options?: unknown) => Promise<unknown>;
  return {
    injected,
    arm(fault) {
      armed.push({ kind: fault.kind, skip: fault.skip ?? 0, times: fault.times ?? 1, ...(fault.command === undefined ? {} : { command: fault.command }) });
    },
    disarm() {
      armed = [];
      const count = hits;
      hits = 0;
      return count;
    },
    send: (async (command: { constructor: { name: string } }, options?: unknown) => {
      const name = command.constructor.name;
      const fault = armed.find((entry) => entry.command === undefined || entry.command === name);
      if (fault === undefined) return forward(command, options);
      if (fault.skip > 0) {
        fault.skip -= 1;
        return forward(command, options);
      }
      fault.times -= 1;
      if (fault.times <= 0) armed = armed.filter((entry) => entry !== fault);
      hits += 1;
      injected[fault.kind] = (injected[fault.kind] ?? 0) + 1;
      if (fault.kind === 'ddb-lost-answer') {
        await forward(command, options).catch(() => undefined);
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', $metadata: { attempts: 3 } });
      }
      throw sdkError(fault.kind);
    }) as ControlledDocumentClient['send'],
  };
}

/**
 * What can happen to one Wix call of a container: `wix-answer-lost`, Wix acts (issues, rotates,
 * spends the code) and the answer never arrives, a network error; `wix-crash`, Wix answers and the
 * caller dies before doing anything with it (its promise never settles); `wix-pause`, the call is
 * held (before or after Wix acts) until the test releases it, a holder paused past its lease.
 */
export type WixFault = 'wix-answer-lost' | 'wix-crash' | 'wix-pause';

export type WixGrant = 'client_credentials' | 'refresh_token' | 'authorization_code';

export interface ArmedWixFault {
  kind: WixFault;
  /** Only calls of this grant (Token Info has none); any grant when absent. */
  grant?: WixGrant;
  /** Pause only: hold the call before it reaches Wix (Wix latency) or after Wix acted. */
  pauseAt?: 'before' | 'after';
  /**
   * Pause only: still count the call as in flight. A paused holder is kept past its lease and is
   * not counted; a slow Wix answer to a holder within its lease is.
   */
  counted?: boolean;
}

/** A paused call: resolves `reached` when the call is held, and goes on when `release` is called. */
export interface PauseHandle {
  reached: Promise<void>;
  release(): void;
}

/** Tracks Wix token calls in flight per instance across every container of a run. */
export interface InFlightTracker {
  /** Which instance a grant call is for (client_credentials names it; a refresh token must be looked up). */
  instanceOf(body: Record<string, unknown>): string | undefined;
  start(instanceId: string, who: string): void;
  end(instanceId: string, who: string): void;
}

export interface ControlledWix {
  fetch: FetchLike;
  arm(fault: ArmedWixFault): PauseHandle | undefined;
  /** Drops what is armed and unused; says how many faults hit since the last call. */
  disarm(): number;
  /** Grant calls this container sent, per instance, since the last {@link takeCalls}. */
  takeCalls(): Map<string, number>;
}

/**
 * The fetch one container's Wix client uses: counts its grant calls, reports them to the shared
 * in-flight tracker (a paused call is not counted: its holder was deliberately kept past its
 * lease) and applies the fault armed for the next matching call.
 */
export function controlledWixFetch(who: string, tracker: InFlightTracker, injected: Record<string, number>): ControlledWix {
  let armed: Array<{ fault: ArmedWixFault; pause?: { release: () => void; reached: () => void; gate: Promise<void> } }> = [];
  let hits = 0;
  let calls = new Map<string, number>();

  const fetchLike: FetchLike = async (input, init) => {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(String(init.body ?? '{}')) as Record<string, unknown>;
    } catch {
      body = {};
    }
    const grant = typeof body.grant_type === 'string' ? (body.grant_type as WixGrant) : undefined;
    const entry = armed.find((candidate) => candidate.fault.grant === undefined || candidate.fault.grant === grant);
    if (entry !== undefined) {
      armed = armed.filter((candidate) => candidate !== entry);
      hits += 1;
      injected[entry.fault.kind] = (injected[entry.fault.kind] ?? 0) + 1;
    }
    const leased = grant === 'client_credentials' || grant === 'refresh_token';
    const instanceId = leased ? tracker.instanceOf(body) : undefined;
    if (instanceId !== undefined) calls.set(instanceId, (calls.get(instanceId) ?? 0) + 1);
    const counted = instanceId !== undefined && (entry?.fault.kind !== 'wix-pause' || entry.fault.counted === true);
    if (counted) tracker.start(instanceId, who);
    let ended = false;
    const end = () => {
      if (counted && !ended) tracker.end(instanceId, who);
      ended = true;
    };
    try {
      const pause = entry?.pause;
      if (pause !== undefined && entry?.fault.pauseAt !== 'after') {
        pause.reached();
        await pause.gate;
      }
      const response = await fetch(input, init);
      if (entry === undefined) return response;
      switch (entry.fault.kind) {
        case 'wix-answer-lost':
          // Wix has acted once its answer is read: then the connection drops.
          await response.text();
          throw Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
        case 'wix-crash':
          await response.text();
          end();
          // The caller's process is gone: nothing it would do next ever happens.
          return new Promise<Response>(() => undefined);
        case 'wix-pause': {
          const text = await response.text();
          if (pause !== undefined && entry.fault.pauseAt === 'after') {
            pause.reached();
            await pause.gate;
          }
          return new Response(text, { status: response.status, headers: response.headers });
        }
      }
      return response;
    } finally {
      end();
    }
  };

  return {
    fetch: fetchLike,
    arm(fault) {
      if (fault.kind !== 'wix-pause') {
        armed.push({ fault });
        return undefined;
      }
      let release!: () => void;
      let reached!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
      armed.push({ fault, pause: { release, reached, gate } });
      return { reached: reachedPromise, release };
    },
    disarm() {
      for (const entry of armed) entry.pause?.release();
      armed = [];
      const count = hits;
      hits = 0;
      return count;
    },
    takeCalls() {
      const taken = calls;
      calls = new Map();
      return taken;
    },
  };
}
