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
