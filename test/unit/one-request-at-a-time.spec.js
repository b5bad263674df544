'use strict';
// The seam's transaction wrapper (src/client/one-request-at-a-time.ts) and the
// transactional producer that starts afresh after a failed write (src/client/kafkajs.ts).
const assert = require('assert');
const { oneRequestAtATime, TransactionOverError } = require('../../nodes/client/one-request-at-a-time');
const { KafkajsTransactionalProducer } = require('../../nodes/client/kafkajs');
const { PRODUCER_DEFAULTS } = require('../../nodes/lib/settings');

/** A transaction whose operations the spec ends by hand, in a log of what started. */
function heldOps() {
    const h = { started: [], ends: {} };
    const op = (name) => () => {
        h.started.push(name);
        return new Promise((resolve, reject) => { h.ends[name] = { ok: resolve, fail: reject }; });
    };
    h.txn = { send: (b) => op(`send ${b}`)(), sendOffsets: op('offsets'), commit: op('commit'), abort: op('abort') };
    return h;
}
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('kafkajs seam: a transaction reaches the client one request at a time', function () {
    it('a second write starts only once the first has settled, even when the first failed', async function () {
        const h = heldOps();
        const t = oneRequestAtATime(h.txn);
        const a = t.send('a');
        const b = t.send('b');
        await turn();
        assert.deepStrictEqual(h.started, ['send a']);
        h.ends['send a'].fail(new Error('ECONNRESET'));
        await assert.rejects(a, /ECONNRESET/);
        await turn();
        assert.deepStrictEqual(h.started, ['send a', 'send b']);
        h.ends['send b'].ok('written');
        assert.strictEqual(await b, 'written');
    });

    it('an abort waits for the write under way; writes not started yet fail at once', async function () {
        const h = heldOps();
        const t = oneRequestAtATime(h.txn);
        const a = t.send('a');
        const b = t.send('b');
        await turn();
        const aborted = t.abort();
        await turn();
        assert.deepStrictEqual(h.started, ['send a'], 'no abort while a write is under way');
        h.ends['send a'].ok('written');
        await a;
        await assert.rejects(b, TransactionOverError);
        await turn();
        assert.deepStrictEqual(h.started, ['send a', 'abort']);
        h.ends.abort.ok();
        await aborted;
        await assert.rejects(t.send('c'), TransactionOverError);
        assert.deepStrictEqual(h.started, ['send a', 'abort']);
    });

    it('offsets and the commit follow the writes in order', async function () {
        const h = heldOps();
        const t = oneRequestAtATime(h.txn);
        const all = [t.send('a'), t.sendOffsets('g', []), t.commit()];
        for (const name of ['send a', 'offsets', 'commit']) {
            await turn();
            assert.strictEqual(h.started[h.started.length - 1], name);
            h.ends[name].ok();
        }
        await Promise.all(all);
    });
});

describe('kafkajs seam: after a failed write the next transaction starts on a new producer', function () {
    /** A stand-in for kafkajs' Kafka: each producer records its life; sends fail while `failing`. */
    function fakeKafka() {
        const k = { made: [], failing: false };
        k.kafka = {
            producer: (config) => {
                const p = { config, connects: 0, disconnects: 0 };
                p.connect = async () => { p.connects++; };
                p.disconnect = async () => { p.disconnects++; };
                p.transaction = async () => ({
                    sendBatch: async () => {
                        if (k.failing) throw new Error('Connection error: read ECONNRESET');
                        // kafkajs 2.2.4 after a leader moved: success, without a partition it was asked for
                        if (k.skipping) return [];
                        return [{ topicName: 't', partition: 0, baseOffset: '5' }];
                    },
                    sendOffsets: async () => {},
                    commit: async () => {},
                    abort: async () => {},
                });
                k.made.push(p);
                return p;
            },
        };
        return k;
    }
    const init = { settings: { producer: PRODUCER_DEFAULTS } };
    const request = [{ topic: 't', records: [{ partition: 0, key: null, value: Buffer.from('v') }] }];

    it('keeps its producer while writes succeed; a failed write makes the next begin() connect a new one (same id) and let the old go', async function () {
        const k = fakeKafka();
        const tp = new KafkajsTransactionalProducer(k.kafka, init, 'txn-id-3');
        await tp.connect();
        let txn = await tp.begin();
        assert.deepStrictEqual(await txn.send(request, { timeout: 1000, compression: 'none' }), [{ topic: 't', partition: 0, baseOffset: '5' }]);
        await txn.commit();
        txn = await tp.begin();
        assert.strictEqual(k.made.length, 1, 'no new producer after a transaction without failures');
        k.failing = true;
        await assert.rejects(txn.send(request, { timeout: 1000, compression: 'none' }), /ECONNRESET/);
        await txn.abort();
        k.failing = false;
        txn = await tp.begin();
        assert.strictEqual(k.made.length, 2);
        assert.strictEqual(k.made[1].config.transactionalId, 'txn-id-3');
        assert.strictEqual(k.made[1].config.idempotent, true);
        assert.deepStrictEqual([k.made[0].disconnects, k.made[1].connects], [1, 1]);
        await txn.send(request, { timeout: 1000, compression: 'none' });
        await txn.commit();
        await tp.begin();
        assert.strictEqual(k.made.length, 2, 'and keeps the new one');
    });

    it('an answer without one of the partitions written counts as a failed write', async function () {
        const k = fakeKafka();
        const tp = new KafkajsTransactionalProducer(k.kafka, init, 'txn-id-4');
        await tp.connect();
        let txn = await tp.begin();
        k.skipping = true;
        assert.deepStrictEqual(await txn.send(request, { timeout: 1000, compression: 'none' }), []);
        await txn.abort();
        k.skipping = false;
        txn = await tp.begin();
        assert.strictEqual(k.made.length, 2);
    });
});
