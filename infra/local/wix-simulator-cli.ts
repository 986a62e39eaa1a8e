/**
 * Runs the Wix simulator on its own: `tsx infra/local/wix-simulator-cli.ts`.
 *
 * Port from `WIX_SIMULATOR_PORT` (default 3100). The app is `WIX_APP_ID` / `WIX_APP_SECRET`
 * when both are set, otherwise a demo app with fresh credentials, printed so a developer can
 * use them. Stops on SIGINT or SIGTERM.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { startWixSimulator, type SimulatedApp, type WixSimulator } from './wix-simulator';

/** The port the CLI listens on when `WIX_SIMULATOR_PORT` is not set. */
export const DEFAULT_WIX_SIMULATOR_PORT = 3100;

/**
 * Starts the simulator as the environment says and prints its URL (and demo credentials, if any).
 * @throws Error when `WIX_SIMULATOR_PORT` is not a port number, or the port is taken.
 */
export async function runWixSimulatorCli(
  env: NodeJS.ProcessEnv = process.env,
  print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<WixSimulator> {
  const port = parsePort(env.WIX_SIMULATOR_PORT);
  const configured = env.WIX_APP_ID && env.WIX_APP_SECRET ? { appId: env.WIX_APP_ID, appSecret: env.WIX_APP_SECRET } : undefined;
  const app: SimulatedApp = configured ?? { appId: randomUUID(), appSecret: randomBytes(24).toString('base64url') };
  const simulator = await startWixSimulator({ port, apps: [app] });
  print(`Wix simulator listening on ${simulator.url}`);
  if (configured) print(`app ${app.appId} (secret from WIX_APP_SECRET)`);
  else print(`demo app: WIX_APP_ID=${app.appId} WIX_APP_SECRET=${app.appSecret}`);
  return simulator;
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_WIX_SIMULATOR_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('WIX_SIMULATOR_PORT must be a port number (0-65535)');
  return port;
}

async function main(): Promise<void> {
  const simulator = await runWixSimulatorCli();
  const shutdown = (): void => {
    void simulator.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
