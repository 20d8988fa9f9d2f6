'use strict';
// pool.scope and pool.map.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Pool } = require('lanepool');
const { delay, rng } = require('./helpers');

test('scope settles only after every spawned task, nested ones too, settled', async () => {
  const pool = new Pool({ concurrency: 3 });
  const finished = [];
  const value = await pool.scope(async (s) => {
    for (let i = 0; i < 4; i++) {
      s.spawn(async () => {
        await delay(5 + i);
        s.spawn(async () => {
          await delay(10);
          s.spawn(() => finished.push(`deep${i}`));
          finished.push(`inner${i}`);
        });
        finished.push(`outer${i}`);
      });
    }
    return 'body';
  });
  assert.equal(value, 'body');
  assert.equal(finished.length, 12);
  for (let i = 0; i < 4; i++) for (const k of ['outer', 'inner', 'deep']) assert.ok(finished.includes(`${k}${i}`));
});

test('scope rejects, after everything settled, with an AggregateError of every error', async () => {
  const pool = new Pool({ concurrency: 2 });
  let slowDone = false;
  const errors = [new Error('a'), 'b', undefined];
  await assert.rejects(
    pool.scope((s) => {
      s.spawn(() => {
        throw errors[0];
      });
      s.spawn(async () => {
        await delay(30);
        slowDone = true;
      });
      s.spawn(async () => {
        await delay(1);
        s.spawn(() => Promise.reject(errors[2]));
        throw errors[1];
      });
    }),
    (e) => {
      assert.ok(e instanceof AggregateError);
      assert.equal(e.errors.length, 3);
      for (const x of errors) assert.ok(e.errors.includes(x));
      assert.ok(slowDone, 'rejected before the slow task finished');
      return true;
    },
  );
  // the body's own error is in it too
  await assert.rejects(
    pool.scope(async (s) => {
      s.spawn(async () => {
        throw new Error('task');
      });
      throw new Error('body');
    }),
    (e) => e instanceof AggregateError && e.errors.map((x) => x.message).sort().join() === 'body,task',
  );
});

test('scope: spawn returns the task’s promise; an unawaited failing spawn is no unhandled rejection', async () => {
  const pool = new Pool();
  let unhandled = 0;
  const onUnhandled = () => unhandled++;
  process.on('unhandledRejection', onUnhandled);
  try {
    const r = await pool.scope(async (s) => {
      const a = s.spawn(async () => 20);
      const b = s.spawn(() => 22);
      return (await a) + (await b);
    });
    assert.equal(r, 42);
    await assert.rejects(
      pool.scope((s) => {
        s.spawn(async () => {
          throw new Error('ignored promise');
        });
      }),
      AggregateError,
    );
    await delay(5);
    assert.equal(unhandled, 0);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('scope: at most `concurrency` tasks in flight; spawn after the scope settled throws', async () => {
  const pool = new Pool({ concurrency: 3 });
  let inFlight = 0;
  let peak = 0;
  let saved;
  await pool.scope((s) => {
    saved = s;
    for (let i = 0; i < 20; i++) {
      s.spawn(async () => {
        peak = Math.max(peak, ++inFlight);
        await delay(1);
        inFlight--;
      });
    }
  });
  assert.equal(peak, 3);
  assert.throws(() => saved.spawn(() => {}), /already settled/);
  await assert.rejects(pool.scope('x'), TypeError);
});

test('map: results in input order, with sync and async functions, from any iterable', async () => {
  const pool = new Pool({ concurrency: 4 });
  const random = rng(7);
  const items = Array.from({ length: 50 }, (_, i) => i);
  const results = await pool.map(items, async (x, i) => {
    assert.equal(x, i);
    await delay(random.int(0, 3));
    return x * 2;
  });
  assert.deepEqual(
    results,
    items.map((x) => x * 2),
  );
  assert.deepEqual(await pool.map(new Set(['a', 'b']), (x, i) => x + i), ['a0', 'b1']);
  assert.deepEqual(await pool.map([], () => 1), []);
  await assert.rejects(pool.map(5, () => 1), TypeError);
});

test('map: AggregateError of every error, in input order, after every call settled', async () => {
  const pool = new Pool({ concurrency: 2 });
  let finished = 0;
  await assert.rejects(
    pool.map([0, 1, 2, 3, 4, 5], async (x) => {
      await delay(x % 2 ? 1 : 8);
      finished++;
      if (x === 4) throw new Error('four');
      if (x === 1) throw 'one';
      if (x === 3) throw undefined;
      return x;
    }),
    (e) => {
      assert.ok(e instanceof AggregateError);
      assert.deepEqual(e.errors.slice(0, 2), ['one', undefined]);
      assert.equal(e.errors[2].message, 'four');
      assert.equal(finished, 6);
      return true;
    },
  );
  await assert.rejects(
    pool.map([1], () => {
      throw new Error('sync');
    }),
    (e) => e instanceof AggregateError && e.errors[0].message === 'sync',
  );
});

test('map: at most `concurrency` calls in flight', async () => {
  const pool = new Pool({ concurrency: 5 });
  let inFlight = 0;
  let peak = 0;
  await pool.map(new Array(40).fill(0), async () => {
    peak = Math.max(peak, ++inFlight);
    await delay(1);
    inFlight--;
  });
  assert.equal(peak, 5);
});

test('spawn hands the task its scope, so a task spawns from its argument (nested too)', async () => {
  const pool = new Pool({ concurrency: 2 });
  const seen = [];
  const value = await pool.scope(async (s) => {
    const nested = await s.spawn((inner) => {
      assert.equal(inner, s);
      return inner.spawn(async (deeper) => {
        assert.equal(deeper, s);
        await delay(1);
        deeper.spawn(() => seen.push('deepest'));
        return 'nested';
      });
    });
    seen.push(nested);
    return 'body';
  });
  assert.equal(value, 'body');
  assert.deepEqual(seen.sort(), ['deepest', 'nested']);
});
