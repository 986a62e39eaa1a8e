import { EXPIRY_SKEW_MS, isUsable, LEASE_WRITE_MARGIN_MS, leasedCallDeadline, retryDelayMs } from '../../../../lib/tokens/refresh-policy';

const now = Date.UTC(2030, 0, 1);

describe('isUsable', () => {
  it('accepts a token that outlives the skew and the asked validity by a millisecond', () => {
    expect(isUsable(now + EXPIRY_SKEW_MS + 300_000 + 1, now, 300_000)).toBe(true);
  });

  it('refuses a token that would last exactly the skew plus the asked validity', () => {
    expect(isUsable(now + EXPIRY_SKEW_MS + 300_000, now, 300_000)).toBe(false);
  });

  it('never hands out a token within the skew of its expiry, even when no validity is asked', () => {
    expect(isUsable(now + EXPIRY_SKEW_MS, now, 0)).toBe(false);
    expect(isUsable(now - 1, now, 0)).toBe(false);
  });

  it('refuses a record that has no token expiry', () => {
    expect(isUsable(undefined, now, 0)).toBe(false);
  });
});

describe('retryDelayMs', () => {
  it.each([
    [1, 60_000],
    [2, 120_000],
    [3, 240_000],
    [7, 3_600_000],
    [50, 3_600_000],
    [5000, 3_600_000],
  ])('keeps failure %i in a row between half the cap and the cap (%i ms)', (failures, cap) => {
    expect(retryDelayMs(failures, () => 0)).toBe(cap / 2);
    expect(retryDelayMs(failures, () => 0.999_999)).toBeLessThan(cap);
    expect(retryDelayMs(failures, () => 0.999_999)).toBeGreaterThan(cap * 0.99);
  });

  it('treats a count below one as the first failure', () => {
    expect(retryDelayMs(0, () => 0)).toBe(30_000);
  });
});

describe('leasedCallDeadline', () => {
  it('ends the Wix call the write margin before the lease expires when the lease ends first', () => {
    expect(leasedCallDeadline(now + 60_000, now + 10_000)).toBe(now + 10_000 - LEASE_WRITE_MARGIN_MS);
  });

  it("keeps the write margin before the caller's deadline when it comes first, so the write after the call has its time", () => {
    expect(leasedCallDeadline(now + 3000, now + 10_000)).toBe(now + 3000 - LEASE_WRITE_MARGIN_MS);
  });

  it('takes the margin it is given', () => {
    expect(leasedCallDeadline(now + 60_000, now + 10_000, 0)).toBe(now + 10_000);
  });
});
