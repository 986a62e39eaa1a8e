import fs from 'node:fs';
import { format } from 'node:util';

import { enableIssuedValues, issuedValues, issuedValuesEnabled, type IssuedKind } from '../../infra/local/issued-values';

/**
 * The suite-wide log audit (issue 8): everything a test process prints (process.stdout and
 * process.stderr writes, console.*), every line a test's captured logger records, and whatever a
 * test forwards from a child process is kept and searched for the values issued during the run
 * (infra/local/issued-values: Wix codes and tokens, install states and tokens, app secrets, token
 * keys). A hit fails the test that was running, naming the kind of value and where it was
 * printed, never the value.
 *
 * test/support/log-audit.setup.ts installs it in every test file (jest `setupFilesAfterEnv`).
 */

/** One leak: what kind of value, printed where, during which test. */
export interface Leak {
  kind: IssuedKind;
  source: string;
  test: string;
}

interface Chunk {
  /** Offset of the chunk in the joined text. */
  start: number;
  source: string;
  test: string;
}

interface AuditState {
  /** Everything captured in this test file, chunks separated by NUL. */
  text: string;
  chunks: Chunk[];
  /** The text up to here was searched for every value up to `checkedValues`. */
  checkedLength: number;
  checkedValues: number;
  restore: Array<() => void>;
}

const STATE = Symbol.for('wix-token-service.test.log-audit');

function auditState(): AuditState {
  const holder = globalThis as typeof globalThis & { [STATE]?: AuditState };
  holder[STATE] ??= { text: '', chunks: [], checkedLength: 0, checkedValues: 0, restore: [] };
  return holder[STATE];
}

function currentTest(): string {
  const expectGlobal = (globalThis as { expect?: { getState?: () => { currentTestName?: string } } }).expect;
  return expectGlobal?.getState?.().currentTestName ?? '(outside a test)';
}

/**
 * Adds text to what the audit searches: a test's captured logger lines, a child process's output.
 * `source` says where it was printed (shown in a failure). A no-op where the audit is not installed.
 */
export function auditText(source: string, text: string): void {
  // Outside the test suite (a benchmark, a child process) there is no audit to feed.
  if (text === '' || !issuedValuesEnabled()) return;
  const state = auditState();
  state.chunks.push({ start: state.text.length, source, test: currentTest() });
  state.text += `${text}\u0000`;
}

/**
 * Searches what was captured since the last call for every recorded value, and what was captured
 * before for the values recorded since (a value may be printed before a fixture records it), and
 * returns the leaks found. Each leak is reported once.
 */
export function takeLeaks(): Leak[] {
  const state = auditState();
  const values = [...issuedValues()];
  const leaks = new Map<string, Leak>();
  const note = (kind: IssuedKind, at: number) => {
    const chunk = chunkAt(state.chunks, at);
    const leak = { kind, source: chunk?.source ?? 'output', test: chunk?.test ?? '(unknown)' };
    leaks.set(`${leak.kind}|${leak.source}|${leak.test}`, leak);
  };

  for (const [index, [value, kind]] of values.entries()) {
    // Old values: only the new text (and the seam before it); new values: all of it.
    const from = index < state.checkedValues ? Math.max(0, state.checkedLength - value.length + 1) : 0;
    let at = state.text.indexOf(value, from);
    while (at !== -1) {
      note(kind, at);
      at = state.text.indexOf(value, at + value.length);
    }
  }
  state.checkedLength = state.text.length;
  state.checkedValues = values.length;
  return [...leaks.values()];
}

/** A failure message that names each leak's kind, source and test, and no value. */
export function describeLeaks(leaks: readonly Leak[]): string {
  const lines = leaks.map((leak) => `  - an issued ${leak.kind} appeared in ${leak.source} (during "${leak.test}")`);
  return `Log audit: ${leaks.length} issued value(s) appeared in log output:\n${lines.join('\n')}`;
}

/** Throws when anything issued so far appears in what was captured. */
export function assertNoLeaks(): void {
  const leaks = takeLeaks();
  if (leaks.length > 0) throw new Error(describeLeaks(leaks));
}

/**
 * Starts capturing this test file's output and turns on the registry of issued values; checks
 * after every test and once more after the file. Call once, from the setup file.
 */
export function installLogAudit(): void {
  enableIssuedValues();
  const state = auditState();
  if (state.restore.length > 0) return;

  for (const stream of [process.stdout, process.stderr]) {
    const source = stream === process.stdout ? 'process.stdout' : 'process.stderr';
    const original = stream.write;
    const patched = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      auditText(source, typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : String(chunk));
      return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    };
    stream.write = patched as typeof stream.write;
    state.restore.push(() => {
      if (stream.write === patched) stream.write = original;
    });
  }

  // The service's logger writes its lines to descriptors 1 and 2 with fs.writeSync (lib/runtime/logger).
  const originalWriteSync = fs.writeSync;
  const patchedWriteSync = function (this: unknown, fd: number, chunk: unknown, ...rest: unknown[]) {
    if (fd === 1 || fd === 2) {
      const source = fd === 1 ? 'process.stdout' : 'process.stderr';
      const offset = typeof chunk === 'string' ? 0 : typeof rest[0] === 'number' ? rest[0] : 0;
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).subarray(offset).toString('utf8') : String(chunk);
      auditText(source, text);
    }
    return (originalWriteSync as (...args: unknown[]) => number).call(this, fd, chunk, ...rest);
  };
  fs.writeSync = patchedWriteSync as typeof fs.writeSync;
  state.restore.push(() => {
    if (fs.writeSync === patchedWriteSync) fs.writeSync = originalWriteSync;
  });

  const consoleObject = globalThis.console as unknown as Record<string, (...args: unknown[]) => void>;
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
    const original = consoleObject[method];
    if (typeof original !== 'function') continue;
    const patched = (...args: unknown[]) => {
      auditText(`console.${method}`, format(...args));
      original.apply(globalThis.console, args);
    };
    consoleObject[method] = patched;
    state.restore.push(() => {
      if (consoleObject[method] === patched) consoleObject[method] = original;
    });
  }

  afterEach(() => assertNoLeaks());
  afterAll(() => {
    try {
      assertNoLeaks();
    } finally {
      for (const undo of state.restore.splice(0)) undo();
    }
  });
}

function chunkAt(chunks: readonly Chunk[], offset: number): Chunk | undefined {
  let low = 0;
  let high = chunks.length - 1;
  let found: Chunk | undefined;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const chunk = chunks[middle] as Chunk;
    if (chunk.start <= offset) {
      found = chunk;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}
