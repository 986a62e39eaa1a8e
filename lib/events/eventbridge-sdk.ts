/**
 * The part of the EventBridge SDK the service uses, imported on the first publish
 * (`import('./eventbridge-sdk')`, from ./eventbridge). A module of its own because esbuild cannot
 * tree-shake a package imported dynamically: `import('@aws-sdk/client-eventbridge')` put the whole
 * client (every command, the aggregated client, the paginators: about 55 KiB minified) into every
 * function's bundle, which each cold start parses; these two exports are about 15 KiB (bench/bundles).
 */
export { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
