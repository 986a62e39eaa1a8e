/** A Wix id (app, instance, site): a GUID, any case. */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` is a GUID string such as Wix uses for app and instance ids. */
export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID.test(value);
}
