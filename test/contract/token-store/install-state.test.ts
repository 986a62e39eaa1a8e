import { randomUUID } from 'node:crypto';

import { ScanCommand } from '@aws-sdk/client-dynamodb';

import { STORE_KINDS, useStoreFixture } from '../../support/token-store';

describe.each(STORE_KINDS)('%s install state store: consume and release', (kind) => {
  const f = useStoreFixture('state', kind);

  /** A fresh state good for ten minutes, and a try at consuming it as the callback `consumer`. */
  function freshState() {
    const state = randomUUID();
    const expiresAt = f.clock.now + 600_000;
    return { state, consumeAs: (consumer: string) => f.states.consume(state, expiresAt, consumer) };
  }

  /** What each of `next` gets, in turn, trying a state callback-1 consumed and `releaser` then released. */
  async function triesAfterRelease(releaser: string, next: string[]): Promise<boolean[]> {
    const { state, consumeAs } = freshState();
    await consumeAs('callback-1');
    await f.states.release(state, releaser);
    const results: boolean[] = [];
    for (const consumer of next) results.push(await consumeAs(consumer));
    return results;
  }

  it('accepts a state once and refuses it afterwards', async () => {
    const { consumeAs } = freshState();

    const first = await consumeAs('callback-1');
    const second = await consumeAs('callback-2');

    expect(first).toBe(true);
    expect(second).toBe(false);
  });

  it('accepts the same consumer again (its first answer was lost), and still no one else', async () => {
    const { consumeAs } = freshState();

    const first = await consumeAs('callback-1');
    const retried = await consumeAs('callback-1');
    const other = await consumeAs('callback-2');
    const retriedAgain = await consumeAs('callback-1');

    expect([first, retried, other, retriedAgain]).toEqual([true, true, false, true]);
  });

  it('lets exactly one of several concurrent callbacks consume the same state', async () => {
    const state = randomUUID();

    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => f.states.consume(state, f.clock.now + 600_000, `callback-${i}`)));

    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('refuses an expired state without consuming it', async () => {
    const state = randomUUID();

    const expired = await f.states.consume(state, f.clock.now, 'callback-1');
    const fresh = await f.states.consume(state, f.clock.now + 600_000, 'callback-2');

    expect(expired).toBe(false);
    expect(fresh).toBe(true);
  });

  it('lets a released state be consumed once more, and only once', async () => {
    const [again, third] = await triesAfterRelease('callback-1', ['callback-2', 'callback-3']);

    expect(again).toBe(true);
    expect(third).toBe(false);
  });

  it('treats a release by another consumer as a no-op: the state stays with its consumer', async () => {
    const [byThird, byReleaser, byOwner] = await triesAfterRelease('callback-2', ['callback-3', 'callback-2', 'callback-1']);

    expect(byThird).toBe(false);
    expect(byReleaser).toBe(false);
    expect(byOwner).toBe(true);
  });

  it('treats releasing a state that was never consumed as a no-op', async () => {
    const state = randomUUID();

    await f.states.release(state, 'callback-1');
    const consumed = await f.states.consume(state, f.clock.now + 600_000, 'callback-2');

    expect(consumed).toBe(true);
  });

  if (kind === 'dynamodb') {
    it('stores a hash of the state with a ttl in epoch seconds, never the state itself', async () => {
      const table = f.table;
      if (table === undefined) throw new Error('arrange: no table');
      const state = randomUUID();
      const consumer = randomUUID();
      const expiresAt = f.clock.now + 600_000;
      await f.states.consume(state, expiresAt, consumer);

      const scan = await table.client.send(new ScanCommand({ TableName: table.tableName, ConsistentRead: true }));
      const raw = JSON.stringify(scan.Items);

      expect(raw).not.toContain(state);
      expect(scan.Items?.some((item) => item.ttl?.N === String(Math.ceil(expiresAt / 1000)) && item.consumer?.S === consumer)).toBe(true);
      expect(scan.Items?.every((item) => item.pk?.S?.startsWith('state#') === true)).toBe(true);
    });
  }
});
