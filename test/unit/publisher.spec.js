'use strict';
const assert = require('assert');
const { Publisher, UnacknowledgedError } = require('../../nodes/lib/publisher');
const { PRODUCER_DEFAULTS } = require('../../nodes/lib/settings');

/** A client whose answers the spec writes: `answer(request)` returns the per-partition results. */
function publisherWith(answer, settings = {}) {
    const producer = { send: async (request) => answer(request), connect: async () => {}, disconnect: async () => {}, onProduceRequest: () => () => {} };
    return new Publisher({
        settings: { ...PRODUCER_DEFAULTS, requiredAcks: 'all', ...settings },
        producer: async () => producer,
        partitionsFor: async () => [0, 1, 2],
        unknownTopic: (t) => `no ${t}`,
    });
}

function publish(p, partition, value) {
    return new Promise((resolve) => p.publish({ topic: 't', partition, key: null, value, headers: null, size: 10 }, (err, written) => resolve({ err, written })));
}

describe('Publisher: every record is answered from the broker\'s own answer', function () {
    it('gives each record its partition\'s base offset plus its place in the request', async function () {
        // A log per partition: each request's records are appended, the answer names each partition's base.
        const ends = [40, 0, 7];
        const p = publisherWith((request) => {
            const counts = {};
            for (const r of request[0].records) counts[r.partition] = (counts[r.partition] || 0) + 1;
            return Object.entries(counts).map(([partition, n]) => {
                const base = ends[partition];
                ends[partition] += n;
                return { topic: 't', partition: Number(partition), baseOffset: String(base) };
            });
        });
        const [a, b, c] = await Promise.all([publish(p, 0, 'a'), publish(p, 0, 'b'), publish(p, 2, 'c')]);
        assert.deepStrictEqual([a.written, b.written, c.written].map((w) => w.offset), [40, 41, 7]);
        assert.strictEqual(p.written, 3);
    });

    it('fails the records of a partition the answer leaves out, instead of reporting them written', async function () {
        // What kafkajs 2.2.4 returns when a retried request skipped a partition whose new leader had already answered.
        const p = publisherWith(() => [{ topic: 't', partition: 0, baseOffset: '40' }]);
        const [a, b] = await Promise.all([publish(p, 0, 'a'), publish(p, 1, 'b')]);
        assert.strictEqual(a.err, null);
        assert.strictEqual(a.written.offset, 40);
        assert.ok(b.err instanceof UnacknowledgedError, String(b.err));
        assert.match(b.err.message, /t \[1\]/);
        assert.strictEqual(p.written, 1);
        assert.strictEqual(p.failed, 1);
    });

    it('with acks None nothing is answered, and every record counts as sent (offset -1)', async function () {
        const p = publisherWith(() => [], { requiredAcks: 'none' });
        const [a] = await Promise.all([publish(p, 1, 'a')]);
        assert.strictEqual(a.err, null);
        assert.strictEqual(a.written.offset, -1);
    });
});

describe('Publisher: writes inside a transaction', function () {
    /** A transaction whose requests the spec answers by hand; it records how many were under way at once. */
    function heldTransaction() {
        const t = { requests: [], underWay: 0, mostAtOnce: 0, pending: [] };
        t.txn = {
            send: (request) => {
                t.requests.push(request.flatMap((r) => r.records.map((m) => m.value)));
                t.underWay++;
                t.mostAtOnce = Math.max(t.mostAtOnce, t.underWay);
                return new Promise((resolve, reject) => t.pending.push({
                    ok: () => { t.underWay--; resolve(request.map((r) => ({ topic: r.topic, partition: 0, baseOffset: '0' }))); },
                    fail: (e) => { t.underWay--; reject(e); },
                }));
            },
        };
        return t;
    }
    const publishIn = (p, txn, value, size = 10) => new Promise((resolve) => p.publishIn(txn, { topic: 't', partition: 0, key: null, value, headers: null, size }, (err, written) => resolve({ err, written })));
    /** A few turns of the event loop: the topic's partitions are read, then the turn's records go out. */
    const turn = async () => { for (let n = 0; n < 4; n++) await new Promise((resolve) => setImmediate(resolve)); };

    it('one request under way at a time; what arrives meanwhile goes out together in the next one', async function () {
        const p = publisherWith(() => []);
        const t = heldTransaction();
        const first = [publishIn(p, t.txn, 'a'), publishIn(p, t.txn, 'b')];
        await turn();
        assert.deepStrictEqual(t.requests, [['a', 'b']]);
        const later = [publishIn(p, t.txn, 'c'), turn().then(() => publishIn(p, t.txn, 'd'))];
        await turn();
        assert.strictEqual(t.requests.length, 1, 'nothing more is sent while the first request is under way');
        t.pending.shift().ok();
        assert.deepStrictEqual((await Promise.all(first)).map((r) => r.err), [null, null]);
        await turn();
        assert.deepStrictEqual(t.requests[1], ['c', 'd']);
        t.pending.shift().fail(new Error('broker gone'));
        assert.deepStrictEqual((await Promise.all(later)).map((r) => r.err && r.err.message), ['broker gone', 'broker gone']);
        assert.strictEqual(t.mostAtOnce, 1);
    });

    it('a request carries no more than the largest batch the broker takes (at least one record)', async function () {
        const p = publisherWith(() => [], { maxMessageBytes: 25 });
        const t = heldTransaction();
        const all = ['a', 'b', 'c', 'd'].map((v) => publishIn(p, t.txn, v, 10)).concat([publishIn(p, t.txn, 'big', 100)]);
        await turn();
        for (let n = 0; n < 2; n++) {
            t.pending.shift().ok();
            await turn();
        }
        assert.deepStrictEqual(t.requests, [['a', 'b'], ['c', 'd'], ['big']]);
        t.pending.shift().ok();
        assert.ok((await Promise.all(all)).every((r) => r.err === null));
    });

    it('two transactions send side by side', async function () {
        const p = publisherWith(() => []);
        const [t1, t2] = [heldTransaction(), heldTransaction()];
        const both = [publishIn(p, t1.txn, 'x'), publishIn(p, t2.txn, 'y')];
        await turn();
        assert.deepStrictEqual([t1.requests, t2.requests], [[['x']], [['y']]]);
        t1.pending.shift().ok();
        t2.pending.shift().ok();
        await Promise.all(both);
    });
});
