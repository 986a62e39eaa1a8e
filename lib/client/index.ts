// The client now lives in the installable package packages/client (@wix-token-service/client);
// this re-export keeps old imports in this repository working.
export * from '../../packages/client/src';
