/**
 * The simulator's HTTP side: the loopback server, body reading, call counters, latency,
 * interception hooks, and routing to the grants (./grants) and installer pages (./pages).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { APP_INSTANCE_PATH, WixSimulatorPaths, type CallCounts, type WixSimulator, type WixSimulatorOptions } from './contract';
import { mulberry32, type Intercept, type InterceptedCall, type Interception } from './faults';
import { Grants } from './grants';
import { closeWindow, installer } from './pages';
import { failReply, htmlPage, methodNotAllowed, send, type Reply, type WixErrorShape } from './replies';
import { SimulatorState } from './state';

const TOKEN_PATHS: ReadonlySet<string> = new Set([WixSimulatorPaths.legacyAccess, WixSimulatorPaths.token, WixSimulatorPaths.tokenInfo]);
const INSTALL_PATHS: ReadonlySet<string> = new Set([WixSimulatorPaths.install, WixSimulatorPaths.legacyConsent]);
const MAX_BODY_BYTES = 64 * 1024;

/** A running simulator: the state's methods, served over HTTP. */
export class Simulator extends SimulatorState implements WixSimulator {
  url = '';
  readonly calls: CallCounts = { total: 0, byPath: {}, byGrant: {} };
  readonly closedWindows: string[] = [];

  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly grants: Grants;
  private hooks: Intercept[] = [];
  private latencyMs: number;
  private stopping: Promise<void> | undefined;
  private readonly random: () => number;
  private readonly errorShape: WixErrorShape;
  private readonly consentPage: boolean;

  constructor(options: WixSimulatorOptions) {
    super(options.now ?? Date.now);
    this.random = options.random ?? mulberry32(42);
    this.errorShape = options.errorShape ?? 'rfc6749';
    this.consentPage = options.consentPage ?? false;
    this.grants = new Grants(this, {
      errorShape: this.errorShape,
      legacyExpiresIn: options.legacyExpiresIn ?? false,
      rotateRefreshTokens: options.rotateRefreshTokens ?? false,
      tokenInfoAsStrings: options.tokenInfoAsStrings ?? true,
    });
    this.latencyMs = checkLatency(options.latencyMs ?? 0);
    for (const app of options.apps ?? []) this.addApp(app);

    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(port: number, host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `http://${hostPart}:${address.port}`;
  }

  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      this.server.close(() => resolve());
      // close() waits for open connections; hanging and keep-alive ones must not hold it up.
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
    });
    return this.stopping;
  }

  setLatency(ms: number): void {
    this.latencyMs = checkLatency(ms);
  }

  intercept(hook: Intercept): void {
    if (typeof hook !== 'function') throw new TypeError('intercept takes a function');
    this.hooks.push(hook);
  }

  clearIntercepts(): void {
    this.hooks = [];
  }

  resetCalls(): void {
    this.calls.total = 0;
    for (const key of Object.keys(this.calls.byPath)) delete this.calls.byPath[key];
    for (const key of Object.keys(this.calls.byGrant)) delete this.calls.byGrant[key];
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('x-wix-request-id', randomUUID());
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => this.handle(req, res, tooLarge ? undefined : Buffer.concat(chunks).toString('utf8')));
  }

  private handle(req: IncomingMessage, res: ServerResponse, rawBody: string | undefined): void {
    const url = new URL(req.url ?? '/', 'http://wix-simulator.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const body = TOKEN_PATHS.has(path) && method === 'POST' ? parseJsonObject(rawBody) : undefined;
    const grant = typeof body?.grant_type === 'string' ? body.grant_type : undefined;
    this.count(path, grant);

    const interception = this.interception({ path, method, grant, random: this.random, errorShape: this.errorShape });
    if (interception && 'hang' in interception) return;
    if (interception && 'reset' in interception) return this.later(res, () => req.socket.destroy());
    if (interception && 'reply' in interception) return this.later(res, () => send(res, interception.reply));

    const reply = this.route(req, url, rawBody, body);
    if (interception && reply.kind === 'json' && reply.status === 200) interception.damage(reply.body);
    this.later(res, () => send(res, reply));
  }

  /** The first installed hook's interception of the call, if any hook takes it. */
  private interception(call: InterceptedCall): Interception | undefined {
    for (const hook of this.hooks) {
      const interception = hook(call);
      if (interception !== undefined) return interception;
    }
    return undefined;
  }

  private route(req: IncomingMessage, url: URL, rawBody: string | undefined, body: Record<string, unknown> | undefined): Reply {
    const path = url.pathname;
    if (TOKEN_PATHS.has(path)) {
      if (req.method !== 'POST') return methodNotAllowed(this.errorShape, 'POST');
      if (rawBody === undefined) return this.invalidRequest(413, 'The request body is too large');
      if (!isJsonContentType(req.headers['content-type'])) return this.invalidRequest(400, 'Content-Type must be application/json');
      if (!body) return this.invalidRequest(400, 'The request body must be a JSON object');
      return this.grants.answer(path, body);
    }
    if (INSTALL_PATHS.has(path)) {
      if (this.consentPage) {
        // The consent form posts the installer's own query back, form-encoded.
        if (req.method === 'GET') return installer(this, url.searchParams, 'ask');
        if (req.method !== 'POST') return methodNotAllowed(this.errorShape, 'GET, POST');
        if (rawBody === undefined) return htmlPage(413, 'Payload too large', 'The consent form is too large.');
        return installer(this, new URLSearchParams(rawBody), 'consented');
      }
      if (req.method !== 'GET') return methodNotAllowed(this.errorShape, 'GET');
      return installer(this, url.searchParams, 'consented');
    }
    if (path === WixSimulatorPaths.closeWindow || path === APP_INSTANCE_PATH) {
      if (req.method !== 'GET') return methodNotAllowed(this.errorShape, 'GET');
      const authorization = req.headers['authorization'];
      return path === APP_INSTANCE_PATH ? this.grants.appInstance(authorization) : closeWindow(this.closedWindows, url.searchParams);
    }
    return failReply(this.errorShape, { status: 404, error: 'not_found', description: 'No such endpoint' });
  }

  private invalidRequest(status: number, description: string): Reply {
    return failReply(this.errorShape, { status, error: 'invalid_request', description });
  }

  private count(path: string, grant: string | undefined): void {
    this.calls.total += 1;
    this.calls.byPath[path] = (this.calls.byPath[path] ?? 0) + 1;
    if (grant !== undefined) this.calls.byGrant[grant] = (this.calls.byGrant[grant] ?? 0) + 1;
  }

  /** Runs `action` after the configured latency, unless the client went away or stop() ran. */
  private later(res: ServerResponse, action: () => void): void {
    if (this.latencyMs <= 0) {
      action();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!res.destroyed) action();
    }, this.latencyMs);
    this.timers.add(timer);
  }
}

function checkLatency(ms: number): number {
  if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError('latency must be a finite number >= 0');
  return ms;
}

function parseJsonObject(raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isJsonContentType(header: string | undefined): boolean {
  return header?.split(';')[0]?.trim().toLowerCase() === 'application/json';
}
