/** Durations in milliseconds, named so a test's offsets read as what they mean. */
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
