import { randomUUID } from 'node:crypto';

import { demoAppSecret, type DemoAppSecret } from '../../infra/local/demo-app';
import { startWixSimulator, type WixSimulator, type WixSimulatorOptions } from '../../infra/local/wix-simulator';

/** A demo app with a fresh id, and Wix simulators that know it: where most integration tests start. */
export interface AppWithSimulator {
  app: DemoAppSecret;
  sim: WixSimulator;
}

/** A fresh demo app and one simulator serving it (`options` e.g. rotating refresh tokens). */
export async function startSimulatedApp(options: Omit<WixSimulatorOptions, 'apps'> = {}): Promise<AppWithSimulator> {
  const app = demoAppSecret(randomUUID());
  return { app, sim: await simulatorFor(app, options) };
}

/** Another simulator for an app already made, e.g. a rotating one next to the plain one. */
export function simulatorFor(app: DemoAppSecret, options: Omit<WixSimulatorOptions, 'apps'> = {}): Promise<WixSimulator> {
  return startWixSimulator({ ...options, apps: [{ appId: app.appId, appSecret: app.appSecret }] });
}
