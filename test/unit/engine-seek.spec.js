'use strict';
// The delivery engine's replay (seek) and lag, on its own: in-memory members and
// host, real timers. What happens to records in flight, to batches fetched before
// the seek, to acknowledgements that come back late, and to the committed offset.
const assert = require('assert');
const { DeliveryEngine } = require('../../nodes/lib/delivery-engine');

const T = 't';
const tick = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function rec(partition, offset, hw) {
    return { topic: T, partition, offset: String(offset), key: null, value: null, headers: {}, timestamp: '0', highWaterOffset: hw === undefined ? undefined : String(hw) };
}
const recs = (p, from, to, hw) => Array.from({ length: to - from + 1 }, (_, i) => rec(p, from + i, hw));

function control() {
    const c = { active: true, resolved: [], isActive: () => c.active, heartbeat: async () => undefined, resolveOffset: (o) => c.resolved.push(o) };
    return c;
}

async function started(settings = {}) {
    const h = { members: [], emitted: [], seeks: [] };
    const engine = new DeliveryEngine({
        policy: 'flow', consumerCount: 1, maxInFlight: 100, maxAttempts: 0, afterMaxAttempts: 'skip',
        retryBackoff: 20, ackTimeout: 0, commitInterval: 0, heartbeatInterval: 20, ...settings,
    }, {
        createMember(topics, hooks) {
            const m = {
                hooks, commits: [],
                start: async () => undefined,
                commit: async (o) => { m.commits.push(o.map((x) => ({ ...x }))); },
                committed: async (parts) => parts.flatMap((p) => p.partitions.map((partition) => ({ topic: p.topic, partition, offset: '-1', metadata: null }))),
                pause() {}, resume() {},
                seek: (topic, partition, offset) => h.seeks.push([topic, partition, offset]),
                stop: async () => undefined,
            };
            h.members.push(m);
            return m;
        },
        emit: (r) => h.emitted.push(Number(r.offset)),
        deadLetter: async () => undefined,
        ackTimeoutText: () => 'timeout',
        event: () => undefined,
    });
    await engine.setTopics([T]);
    h.members[0].hooks.onAssignment([{ topic: T, partitions: [0, 1] }]);
    await tick();
    h.engine = engine;
    h.m = h.members[0];
    h.ack = (o, p = 0) => engine.ack({ topic: T, partition: p, offset: String(o) });
    h.lastCommit = (p = 0) => h.m.commits.flat().filter((c) => c.partition === p).pop();
    return h;
}

describe('DeliveryEngine: seek and lag', function () {
    let h = null;
    afterEach(async function () {
        if (h) await h.engine.close();
        h = null;
    });

    it('seeks back: in-flight records are dropped, late acks ignored, the sought offset committed below the old commit, then replayed', async function () {
        h = await started();
        await h.m.hooks.onBatch(recs(0, 0, 9), control());
        for (let o = 0; o < 7; o++) h.ack(o);
        await sleep(10);
        assert.strictEqual(h.lastCommit().offset, '7');
        const moved = h.engine.seek([{ topic: T, partition: 0, offset: '2' }, { topic: T, partition: 5, offset: '0' }]);
        assert.deepStrictEqual(moved, [{ topic: T, partition: 0, offset: '2' }]); // partition 5 is not this node's
        assert.deepStrictEqual(h.seeks, [[T, 0, '2']]);
        assert.strictEqual(h.engine.view().inFlight, 0);
        await sleep(10);
        assert.deepStrictEqual(h.lastCommit(), { topic: T, partition: 0, offset: '2', metadata: null });
        h.ack(8); // for a record dropped by the seek: changes nothing
        await sleep(10);
        assert.strictEqual(h.lastCommit().offset, '2');
        h.emitted.length = 0;
        await h.m.hooks.onBatch(recs(0, 2, 9), control());
        assert.deepStrictEqual(h.emitted, [2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('a batch fetched before the seek hands nothing more out, and does not move the position', async function () {
        h = await started({ maxInFlight: 2 });
        const ctl = control();
        const batch = h.m.hooks.onBatch(recs(0, 0, 9), ctl); // waits after 2 records: the flow is full
        await sleep(30);
        assert.deepStrictEqual(h.emitted, [0, 1]);
        h.engine.seek([{ topic: T, partition: 0, offset: '100' }]);
        await batch;
        assert.deepStrictEqual(h.emitted, [0, 1]);
        assert.ok(!ctl.resolved.some((o) => Number(o) >= 2), `resolved ${ctl.resolved}`);
        await sleep(10);
        assert.deepStrictEqual(h.lastCommit(), { topic: T, partition: 0, offset: '100', metadata: null });
    });

    it("immediate policy: seek to the end commits it; the other partition's position stays", async function () {
        h = await started({ policy: 'immediate' });
        await h.m.hooks.onBatch(recs(0, 0, 4), control());
        await h.m.hooks.onBatch(recs(1, 0, 2), control());
        await sleep(10);
        h.engine.seek([{ topic: T, partition: 0, offset: '50' }]);
        await sleep(10);
        assert.deepStrictEqual(h.lastCommit(0), { topic: T, partition: 0, offset: '50', metadata: null });
        assert.strictEqual(h.lastCommit(1).offset, '3');
    });

    it('lag: the fetched end offset minus the commit point, over owned partitions; it falls as records are acknowledged', async function () {
        h = await started();
        assert.strictEqual(h.engine.lag(), null);
        await h.m.hooks.onBatch(recs(0, 0, 9, 30), control());
        await h.m.hooks.onBatch(recs(1, 5, 6, 7), control());
        assert.strictEqual(h.engine.lag(), 30 + 2); // nothing acknowledged: from 0 and from 5
        for (let o = 0; o < 10; o++) h.ack(o);
        h.ack(5, 1);
        h.ack(6, 1);
        assert.strictEqual(h.engine.lag(), 20 + 0);
        h.members[0].hooks.onAssignment([{ topic: T, partitions: [1] }]); // partition 0 went elsewhere
        assert.strictEqual(h.engine.lag(), 0);
    });
});
