// The start queue's bound (src/main/lifecycle/start-queue.ts): never more than `concurrency`
// starts at once, waiting ones run in the order they came, and a start added while a slot is
// being handed over does not run ahead of one that waited.
import { expect } from 'chai';
import { StartQueue } from '../../src/main/lifecycle/start-queue.js';

/** A start that runs until its `finish` is called. */
function gate(): { promise: Promise<void>; finish: () => void } {
  let finish!: () => void;
  const promise = new Promise<void>((resolve) => { finish = resolve; });
  return { promise, finish };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('start queue', () => {
  it('runs at most `concurrency` at once, the rest in order, a slot going to the one that waited longest', async () => {
    const q = new StartQueue(2);
    const order: string[] = [];
    let running = 0;
    let most = 0;
    const gates = new Map<string, ReturnType<typeof gate>>();
    const add = (name: string) => {
      const g = gate();
      gates.set(name, g);
      return q.add(async () => {
        order.push(name);
        most = Math.max(most, ++running);
        await g.promise;
        running--;
        return name;
      });
    };
    const a = add('a'), b = add('b'), c = add('c'), d = add('d');
    await turn();
    expect(order).to.deep.equal(['a', 'b']);
    expect([q.pending, q.size]).to.deep.equal([2, 2]);
    gates.get('a')!.finish();
    // Added while a's slot goes to c: e waits behind d.
    const e = add('e');
    expect(await a).to.equal('a');
    await turn();
    expect(order).to.deep.equal(['a', 'b', 'c']);
    for (const name of ['b', 'c', 'd']) {
      gates.get(name)!.finish();
      await turn();
    }
    gates.get('e')!.finish();
    expect(await Promise.all([b, c, d, e])).to.deep.equal(['b', 'c', 'd', 'e']);
    expect(order).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    expect(most).to.equal(2);
    expect([q.pending, q.size]).to.deep.equal([0, 0]);
  });

  it('frees the slot of a start that fails, and passes its error on', async () => {
    const q = new StartQueue(1);
    const failed = q.add(() => Promise.reject(new Error('launch failed')));
    const next = q.add(() => Promise.resolve('ran'));
    const err = await failed.then(() => null, (x: Error) => x);
    expect(err?.message).to.equal('launch failed');
    expect(await next).to.equal('ran');
    expect([q.pending, q.size]).to.deep.equal([0, 0]);
  });
});
