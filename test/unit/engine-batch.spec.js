'use strict';
// Batch output of the delivery engine (settings batchSize / batchWaitMs): records of
// one partition handed out as groups through host.emitBatch. No Node-RED, no broker.
const assert = require('assert');
const {
    TOPIC, BACKOFF, sleep, tick, until, records, harness, startedWith, closeEngines,
} = require('./engine-support');

/** A harness whose host records each batch: h.batches = [[offsets], ...] (numbers). */
function batchHarness(settings) {
    const batches = [];
    const h = harness({ batchWaitMs: 30, ...settings }, {
        emitBatch(items) {
            batches.push(items.map((i) => Number(i.record.offset)));
            if (h.onBatchOut) h.onBatchOut(items);
        },
    });
    h.batches = batches;
    h.ackBatch = (partition, offsets) => offsets.forEach((o) => h.engine.ack({ topic: TOPIC, partition, offset: String(o) }));
    h.failBatch = (partition, offsets) => offsets.forEach((o) => h.engine.fail({ topic: TOPIC, partition, offset: String(o) }, new Error('batch failed')));
    return h;
}

describe('DeliveryEngine batch output', function () {
    afterEach(async function () {
        await closeEngines();
    });

    it("'immediate': full batches at once, the rest after the batch wait; every record committed", async function () {
        const h = await startedWith(batchHarness({ policy: 'immediate', batchSize: 4 }), [[0]]);
        await h.members[0].batch(records(0, 0, 9)).promise;
        assert.deepStrictEqual(h.batches, [[0, 1, 2, 3], [4, 5, 6, 7]]);
        assert.strictEqual(h.emitted.length, 0, 'nothing goes out record by record');
        await until('the partial batch', () => h.batches.length === 3);
        assert.deepStrictEqual(h.batches[2], [8, 9]);
        await until('the commit', () => h.lastCommit(0) && h.lastCommit(0).offset === '10');
    });

    it("'flow': max in flight counts batches; acking a whole batch makes room; commits reach the end", async function () {
        // batchSize 5 x maxInFlight 2: 10 records out at most
        const h = await startedWith(batchHarness({ batchSize: 5, maxInFlight: 2 }), [[0]]);
        const batch = h.members[0].batch(records(0, 0, 24));
        await sleep(60);
        assert.deepStrictEqual(h.batches, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]);
        assert.strictEqual(h.engine.view().inFlight, 10);
        h.onBatchOut = (items) => setImmediate(() => h.ackBatch(0, items.map((i) => i.record.offset)));
        h.ackBatch(0, [0, 1, 2, 3, 4]);
        h.ackBatch(0, [5, 6, 7, 8, 9]);
        await batch.promise;
        assert.strictEqual(batch.state, 'resolved');
        assert.deepStrictEqual(h.batches.flat(), Array.from({ length: 25 }, (_, i) => i));
        assert.ok(h.batches.every((b) => b.length === 5), JSON.stringify(h.batches));
        await until('the last commit', () => h.lastCommit(0) && h.lastCommit(0).offset === '25');
    });

    it("'flow': partial batches go out at once when the flow is full, not after the batch wait", async function () {
        // 12 records out at most. Partition 0 fetched 6 records: a batch of 4 goes, 2 wait for more;
        // partition 1 then fills the flow with 4 + 2, and its next record must wait: both partial ones go.
        const h = await startedWith(batchHarness({ batchSize: 4, maxInFlight: 3, batchWaitMs: 10000 }), [[0, 1]]);
        h.members[0].batch(records(0, 0, 5));
        h.members[0].batch(records(1, 0, 19));
        await until('both partitions out', () => h.engine.view().inFlight === 12);
        await sleep(50);
        const sizes = h.batches.map((b) => b.length).sort();
        assert.deepStrictEqual(sizes, [2, 2, 4, 4], `partial batches sent while waiting: ${JSON.stringify(h.batches)}`);
    });

    it("'flow': a failed batch retried while newer records of its partition wait in a group: every message keeps offset order", async function () {
        const h = await startedWith(batchHarness({ batchSize: 3, maxInFlight: 3, batchWaitMs: 10000 }), [[0]]);
        h.members[0].batch(records(0, 0, 3));
        await until('the first batch', () => h.batches.length === 1);
        assert.deepStrictEqual(h.batches, [[0, 1, 2]], 'record 3 waits for two more');
        h.failBatch(0, [0, 1, 2]);
        await until('the retry', () => h.batches.flat().length === 7, 2000);
        assert.deepStrictEqual(h.batches, [[0, 1, 2], [3], [0, 1, 2]]);
    });

    it("'flow': a failed batch fails each record; they come again together, with their own attempts, then are skipped", async function () {
        const h = await startedWith(batchHarness({ batchSize: 3, maxAttempts: 2, afterMaxAttempts: 'skip' }), [[0]]);
        h.members[0].batch(records(0, 0, 2));
        await until('the batch', () => h.batches.length === 1);
        h.failBatch(0, [0, 1, 2]);
        await until('the retry', () => h.batches.length === 2, 2000);
        assert.deepStrictEqual(h.batches[1], [0, 1, 2], 'retried as one batch');
        assert.strictEqual(h.eventsOf('retry').length, 3);
        h.failBatch(0, [0, 1, 2]);
        await until('the skips', () => h.eventsOf('skipped').length === 3);
        assert.deepStrictEqual(h.eventsOf('skipped').map((e) => [e.record.offset, e.attempts]), [['0', 2], ['1', 2], ['2', 2]]);
        await sleep(3 * BACKOFF);
        assert.strictEqual(h.batches.length, 2);
        await until('the commit', () => h.lastCommit(0) && h.lastCommit(0).offset === '3');
    });

    it("'flow': part of a batch acknowledged and part failed: only the failed records come again", async function () {
        const h = await startedWith(batchHarness({ batchSize: 4 }), [[0]]);
        h.members[0].batch(records(0, 0, 3));
        await until('the batch', () => h.batches.length === 1);
        h.ackBatch(0, [0, 2]);
        h.failBatch(0, [1, 3]);
        await until('the retry', () => h.batches.length === 2, 2000);
        assert.deepStrictEqual(h.batches[1], [1, 3]);
        h.ackBatch(0, [1, 3]);
        await until('the commit', () => h.lastCommit(0) && h.lastCommit(0).offset === '4');
    });

    it("'flow': a partition's share of the flow is in whole batches", async function () {
        // 4 batches of 25 over 3 busy partitions: 2 batches each, at most 100 records in all
        const h = await startedWith(batchHarness({ batchSize: 25, maxInFlight: 4, batchWaitMs: 10000 }), [[0, 1, 2]]);
        for (const p of [0, 1, 2]) h.members[0].batch(records(p, 0, 99));
        await until('the flow full', () => h.engine.view().inFlight === 100);
        await sleep(30);
        assert.deepStrictEqual(h.batches.map((b) => b.length), [25, 25, 25, 25], JSON.stringify(h.batches));
    });

    it('a batch gathered for a partition the member lost meanwhile is not sent', async function () {
        const h = await startedWith(batchHarness({ batchSize: 10, batchWaitMs: 40 }), [[0, 1]]);
        await h.members[0].batch(records(0, 0, 2)).promise;
        assert.deepStrictEqual(h.batches, []);
        h.members[0].hooks.onRebalancing();
        h.members[0].assign([1]);
        await sleep(80);
        assert.deepStrictEqual(h.batches, [], 'partition 0 moved away before its batch went out');
        assert.strictEqual(h.engine.view().inFlight, 0);
        await tick();
    });
});
