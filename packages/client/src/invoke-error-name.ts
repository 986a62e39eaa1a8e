/**
 * The invoke errors' names: what Lambda reports as the `errorType` of a failed `mint` or
 * `refresh` invoke, the contract between the token service and this client. The service's
 * lib/tokens/errors imports this file and nothing else of the client's (it imports nothing, so
 * the service's bundles stay as they are).
 */
export const InvokeErrorName = {
  InvalidRequest: 'InvalidRequest',
  InstanceUninstalled: 'InstanceUninstalled',
  WixRejected: 'WixRejected',
  WixUnavailable: 'WixUnavailable',
  ServiceUnavailable: 'ServiceUnavailable',
} as const;
export type InvokeErrorName = (typeof InvokeErrorName)[keyof typeof InvokeErrorName];
