'use strict';
// The delivery engine's exactly-once policy ('eos') on its own: no Node-RED, no
// broker. Each input partition gets an in-memory transactional producer that
// records every call (connect, begin, and per transaction send, sendOffsets,
// commit, abort) and fails or holds a call when a spec scripts it so.
const assert = require('assert');
const {
    TOPIC, BACKOFF, HEARTBEAT, sleep, tick, until, deferred, records, harness, startedWith, closeEngines, timers, track,
    control, rebalanceError,
} = require('./engine-support');

const GROUP = 'g';

function fenced() {
    const err = new Error('The producer has been fenced by a newer instance with the same transactional id');
    err.type = 'INVALID_PRODUCER_EPOCH';
    return err;
}

/** The next scripted outcome of a call: an Error rejects, a deferred is waited for, nothing resolves. */
function outcome(queue) {
    const next = queue.shift();
    if (next instanceof Error) return Promise.reject(next);
    return next && next.promise ? next.promise : Promise.resolve();
}

class FakeTransaction {
    constructor(producer, n) {
        this.producer = producer;
        this.n = n;
        this.state = 'open';
        this.sent = [];
        this.offsets = [];
    }

    async send(batches) {
        this.producer.note(`send#${this.n}`);
        this.sent.push(batches);
        return [];
    }

    async sendOffsets(groupId, offsets) {
        this.producer.note(`sendOffsets#${this.n}`);
        this.offsets.push({ groupId, offsets: offsets.map((o) => ({ ...o })) });
        await outcome(this.producer.script.sendOffsets);
    }

    async commit() {
        this.producer.note(`commit#${this.n}`);
        await outcome(this.producer.script.commit);
        this.state = 'committed';
    }

    async abort() {
        this.producer.note(`abort#${this.n}`);
        await outcome(this.producer.script.abort);
        this.state = 'aborted';
    }
}

class FakeProducer {
    constructor(topic, partition) {
        this.topic = topic;
        this.partition = partition;
        /** every call, in order: 'connect', 'begin', 'commit#1', ... */
        this.calls = [];
        this.txns = [];
        /** successful connects */
        this.connected = 0;
        this.disconnected = false;
        this.script = { connect: [], begin: [], disconnect: [], sendOffsets: [], commit: [], abort: [] };
    }

    note(call) { this.calls.push(call); }

    async connect() {
        this.note('connect');
        await outcome(this.script.connect);
        this.connected++;
    }

    async begin() {
        this.note('begin');
        await outcome(this.script.begin);
        const txn = new FakeTransaction(this, this.txns.length + 1);
        this.txns.push(txn);
        return txn;
    }

    async disconnect() {
        this.note('disconnect');
        await outcome(this.script.disconnect);
        this.disconnected = true;
    }
}

/** An 'eos' engine whose host makes FakeProducers; `h.onProducer(p)` may script one as it is made. */
function eosHarness(settings = {}) {
    const made = [];
    const producers = [];
    let h = null;
    h = harness({ policy: 'eos', groupId: GROUP, txnMaxRecords: 100, txnMaxMs: 60000, ...settings }, {
        transactionalProducer(topic, partition) {
            made.push([topic, partition]);
            const p = new FakeProducer(topic, partition);
            producers.push(p);
            if (h.onProducer) h.onProducer(p);
            return p;
        },
    });
    h.made = made;
    h.onProducer = null;
    /** The latest producer made for a partition. */
    h.producer = (partition) => producers.filter((p) => p.partition === partition).pop();
    /** Seqs of a partition's handings-out, in order. */
    h.seqs = (partition) => h.emitted.filter((e) => e.partition === partition).map((e) => e.seq);
    h.ref = (partition, offset, seq) => ({ topic: TOPIC, partition, offset: String(offset), seq });
    h.txnOf = (partition, offset, seq) => h.engine.transactionOf(h.ref(partition, offset, seq));
    return h;
}

function eosStarted(settings, ...assignments) {
    return startedWith(eosHarness(settings), assignments);
}

describe("DeliveryEngine, 'eos' policy", function () {
    afterEach(async function () {
        await closeEngines();
    });

    describe('handing records out inside a transaction', function () {
        it("hands a partition's records out in one transaction, begun before the first record, with a seq per handing-out", async function () {
            const h = await eosStarted({}, [0]);
            const seen = [];
            h.onEmit = (r, seq) => seen.push({ offset: r.offset, seq, calls: h.producer(0).calls.slice(), txn: h.txnOf(0, r.offset, seq) });
            const batch = h.members[0].batch(records(0, 0, 4));
            await batch.promise;
            assert.strictEqual(batch.state, 'resolved');
            const p = h.producer(0);
            assert.deepStrictEqual(h.made, [[TOPIC, 0]]);
            assert.deepStrictEqual(seen.map((s) => s.offset), ['0', '1', '2', '3', '4']);
            assert.deepStrictEqual(seen[0].calls, ['connect', 'begin'], 'connected and begun before the first record');
            assert.strictEqual(p.txns.length, 1);
            seen.forEach((s) => assert.strictEqual(s.txn, p.txns[0], `record ${s.offset} not in the open transaction`));
            const seqs = seen.map((s) => s.seq);
            assert.ok(seqs.every((s) => Number.isInteger(s)), `seqs ${seqs}`);
            assert.strictEqual(new Set(seqs).size, 5, `seqs ${seqs} are not one per handing-out`);
            assert.deepStrictEqual(p.calls, ['connect', 'begin'], 'nothing committed while it is open');
            assert.strictEqual(p.txns[0].state, 'open');
        });

        // Records 0..2 of partition 0 out in one open transaction, 2 acknowledged since.
        const LOOKUPS = [
            { name: 'a record with the seq it was handed out with', ref: (h) => h.ref(0, 0, h.seqs(0)[0]), open: true },
            { name: 'a record with no seq (any handing-out)', ref: (h) => h.ref(0, 1), open: true },
            { name: "a record with another record's seq", ref: (h) => h.ref(0, 0, h.seqs(0)[1]), open: false },
            { name: 'a record with a seq never given out', ref: (h) => h.ref(0, 0, Math.max(...h.seqs(0)) + 100), open: false },
            { name: 'an offset not handed out', ref: (h) => h.ref(0, 7), open: false },
            { name: 'a partition not held', ref: (h) => h.ref(3, 0), open: false },
            { name: 'another topic', ref: () => ({ topic: 'other', partition: 0, offset: '0' }), open: false },
            { name: 'a record acknowledged already', ref: (h) => h.ref(0, 2, h.seqs(0)[2]), open: false },
        ];
        for (const c of LOOKUPS) {
            it(`transactionOf ${c.name}: ${c.open ? 'the open transaction' : 'null'}`, async function () {
                const h = await eosStarted({}, [0]);
                await h.members[0].batch(records(0, 0, 2)).promise;
                h.ack(0, 2);
                const txn = h.engine.transactionOf(c.ref(h));
                assert.strictEqual(txn, c.open ? h.producer(0).txns[0] : null);
            });
        }
    });

    describe('commits', function () {
        it('closed by txnMaxRecords: sendOffsets (group, one past the last record) then commit, at the last ack only', async function () {
            const h = await eosStarted({ txnMaxRecords: 3 }, [0]);
            const p = h.producer(0);
            await h.members[0].batch(records(0, 0, 2)).promise;
            h.ack(0, 0);
            h.ack(0, 2);
            await sleep(3 * HEARTBEAT);
            assert.deepStrictEqual(p.calls, ['connect', 'begin'], 'committed with record 1 still out');
            h.ack(0, 1);
            await until('the commit', () => p.txns[0].state === 'committed');
            assert.deepStrictEqual(p.calls, ['connect', 'begin', 'sendOffsets#1', 'commit#1']);
            assert.deepStrictEqual(p.txns[0].offsets, [{ groupId: GROUP, offsets: [{ topic: TOPIC, partition: 0, offset: '3' }] }]);
            assert.strictEqual(h.txnOf(0, 1), null, 'no transaction for a record of a committed one');
            assert.deepStrictEqual(h.commits(), [], "the consumer's own commit");
        });

        it('closed by txnMaxMs: every record acknowledged early, it commits once the time is up', async function () {
            const h = await eosStarted({ txnMaxMs: 80 }, [0]);
            const p = h.producer(0);
            const begun = Date.now();
            await h.members[0].batch(records(0, [3, 5, 9])).promise;
            for (const o of [3, 5, 9]) h.ack(0, o);
            await sleep(30);
            assert.deepStrictEqual(p.calls, ['connect', 'begin'], 'committed before txnMaxMs');
            await until('the commit', () => p.txns[0].state === 'committed', 500);
            const after = Date.now() - begun;
            assert.ok(after >= 78, `committed after ${after} ms`);
            assert.deepStrictEqual(p.calls, ['connect', 'begin', 'sendOffsets#1', 'commit#1']);
            assert.deepStrictEqual(p.txns[0].offsets, [{ groupId: GROUP, offsets: [{ topic: TOPIC, partition: 0, offset: '10' }] }]);
        });

        it('txnMaxMs over with a record still out: it commits only when that record is acknowledged', async function () {
            const h = await eosStarted({ txnMaxMs: 30 }, [0]);
            const p = h.producer(0);
            await h.members[0].batch(records(0, 4, 6)).promise;
            h.ack(0, 4);
            h.ack(0, 6);
            await sleep(90);
            assert.deepStrictEqual(p.calls, ['connect', 'begin'], 'committed with record 5 still out');
            h.ack(0, 5);
            await until('the commit', () => p.txns[0].state === 'committed');
            assert.deepStrictEqual(p.txns[0].offsets[0].offsets, [{ topic: TOPIC, partition: 0, offset: '7' }]);
        });

        for (const commitInterval of [0, 10]) {
            it(`the consumer's own commit() is never called (commitInterval ${commitInterval})`, async function () {
                const h = await eosStarted({ commitInterval, txnMaxRecords: 2 }, [0]);
                const m = h.members[0];
                await m.batch(records(0, 0, 1)).promise;
                h.ack(0, 0);
                h.ack(0, 1);
                await until('the transaction commit', () => h.producer(0).txns[0].state === 'committed');
                await m.batch(records(0, 2, 2)).promise;
                h.ack(0, 2);
                await h.engine.commit();
                m.hooks.onRebalancing();
                m.assign([0]);
                await sleep(30);
                await h.engine.close();
                assert.deepStrictEqual(h.commits(), []);
            });
        }
    });

    describe('one transaction at a time per partition, partitions in parallel', function () {
        it("a partition's next transaction begins only after the previous one committed", async function () {
            const h = await eosStarted({ txnMaxRecords: 2 }, [0]);
            const p = h.producer(0);
            const batch = h.members[0].batch(records(0, 0, 5));
            await sleep(3 * HEARTBEAT);
            assert.deepStrictEqual(h.offsets(0), [0, 1]);
            assert.strictEqual(batch.state, 'pending');
            h.ack(0, 0);
            await sleep(3 * HEARTBEAT);
            assert.deepStrictEqual(p.calls, ['connect', 'begin'], 'a second transaction begun, or the first committed, with record 1 out');
            assert.deepStrictEqual(h.offsets(0), [0, 1]);
            h.ack(0, 1);
            await until('records 2 and 3', () => h.offsets(0).length === 4);
            assert.deepStrictEqual(p.calls, ['connect', 'begin', 'sendOffsets#1', 'commit#1', 'begin']);
            assert.strictEqual(h.txnOf(0, 2), p.txns[1]);
            h.ack(0, 2);
            h.ack(0, 3);
            await until('records 4 and 5', () => h.offsets(0).length === 6);
            h.ack(0, 4);
            h.ack(0, 5);
            await batch.promise;
            await until('the third commit', () => p.txns.length === 3 && p.txns[2].state === 'committed');
            assert.deepStrictEqual(p.txns.map((t) => t.offsets[0].offsets[0].offset), ['2', '4', '6']);
            assert.deepStrictEqual(h.offsets(0), [0, 1, 2, 3, 4, 5]);
        });

        it('partitions have their own producer, made once, and their own transactions open at once', async function () {
            const h = await eosStarted({ txnMaxRecords: 2 }, [0, 1]);
            const m = h.members[0];
            await m.batch(records(0, 0, 1)).promise;
            await m.batch(records(1, 0, 1)).promise;
            const [p0, p1] = [h.producer(0), h.producer(1)];
            assert.notStrictEqual(p0, p1);
            assert.strictEqual(h.txnOf(0, 0), p0.txns[0]);
            assert.strictEqual(h.txnOf(1, 0), p1.txns[0]);
            h.ack(1, 0);
            h.ack(1, 1);
            await until('partition 1 commits', () => p1.txns[0].state === 'committed');
            assert.strictEqual(p0.txns[0].state, 'open', 'partition 0 waits for its own acks only');
            assert.deepStrictEqual(p1.txns[0].offsets[0].offsets, [{ topic: TOPIC, partition: 1, offset: '2' }]);
            await m.batch(records(1, 2, 3)).promise;
            assert.strictEqual(h.txnOf(1, 2), p1.txns[1], "partition 1's next transaction while partition 0's is still open");
            h.ack(0, 0);
            h.ack(0, 1);
            await until('partition 0 commits', () => p0.txns[0].state === 'committed');
            assert.deepStrictEqual(p0.txns[0].offsets[0].offsets, [{ topic: TOPIC, partition: 0, offset: '2' }]);
            assert.deepStrictEqual(h.made, [[TOPIC, 0], [TOPIC, 1]]);
        });
    });

    describe('a failed record', function () {
        it('after a write for it: aborts its transaction and forgets its partition, seeks back, waits the backoff, then hands the records out again with new seqs', async function () {
            const h = await eosStarted({}, [0, 1]);
            const m = h.members[0];
            await m.batch(records(0, 5, 9)).promise;
            await m.batch(records(1, 0, 1)).promise;
            const p = h.producer(0);
            const oldSeqs = h.seqs(0);
            assert.strictEqual(h.txnOf(0, 7, oldSeqs[2]), p.txns[0], 'the flow writes an output of offset 7');
            const failedAt = Date.now();
            h.fail(0, 7, new Error('flow said no'));

            assert.deepStrictEqual(p.calls, ['connect', 'begin', 'abort#1']);
            const [aborted] = h.eventsOf('transaction-aborted');
            assert.deepStrictEqual([aborted.topic, aborted.partition, aborted.first, aborted.error.message], [TOPIC, 0, '5', 'flow said no']);
            const [retry] = h.eventsOf('retry');
            assert.deepStrictEqual([retry.record.offset, retry.attempts], ['7', 1]);
            assert.deepStrictEqual(m.seeks, [[TOPIC, 0, '5']]);
            assert.strictEqual(h.engine.view().inFlight, 2, "only partition 1's records are still out");
            [5, 6, 7, 8, 9].forEach((o, i) => assert.strictEqual(h.txnOf(0, o, oldSeqs[i]), null));

            // The other partition goes on meanwhile.
            await m.batch(records(1, 2, 2)).promise;
            assert.deepStrictEqual(h.offsets(1), [0, 1, 2]);
            assert.strictEqual(h.txnOf(1, 2), h.producer(1).txns[0]);

            // The client fetches again from offset 5.
            const again = m.batch(records(0, 5, 9));
            await sleep(BACKOFF / 2);
            assert.deepStrictEqual(h.offsets(0), [5, 6, 7, 8, 9], 'handed out again within the backoff');
            await again.promise;
            assert.strictEqual(again.state, 'resolved');
            assert.deepStrictEqual(h.offsets(0), [5, 6, 7, 8, 9, 5, 6, 7, 8, 9]);
            const gap = h.emitted.filter((e) => e.partition === 0)[5].at - failedAt;
            assert.ok(gap >= BACKOFF - 2, `handed out again after ${gap} ms`);
            assert.deepStrictEqual(p.calls, ['connect', 'begin', 'abort#1', 'begin']);
            const newSeqs = h.seqs(0).slice(5);
            assert.ok(newSeqs.every((s) => !oldSeqs.includes(s)), `new seqs ${newSeqs}, old ${oldSeqs}`);
            [5, 6, 7, 8, 9].forEach((o, i) => {
                assert.strictEqual(h.txnOf(0, o, newSeqs[i]), p.txns[1]);
                assert.strictEqual(h.txnOf(0, o, oldSeqs[i]), null);
            });

            // Late acks with the old seqs are ignored.
            [5, 6, 7, 8, 9].forEach((o, i) => h.engine.ack(h.ref(0, o, oldSeqs[i])));
            h.engine.fail(h.ref(0, 6, oldSeqs[1]), new Error('late'));
            assert.strictEqual(h.engine.view().inFlight, 8);
            assert.strictEqual(h.eventsOf('transaction-aborted').length, 1);
            assert.strictEqual(p.txns[1].state, 'open');
        });

        it('before any write for it: handed out again after the backoff inside the same transaction, with a new seq; nothing aborted, no seek; it commits once acknowledged', async function () {
            const h = await eosStarted({ txnMaxMs: 30 }, [0]);
            const m = h.members[0];
            const p = h.producer(0);
            await m.batch(records(0, 5, 7)).promise;
            const [s5, s6, s7] = h.seqs(0);
            assert.strictEqual(h.txnOf(0, 5, s5), p.txns[0], 'offset 5 writes its output');
            h.ack(0, 5);
            const failedAt = Date.now();
            h.fail(0, 6, new Error('flow said no'));
            assert.deepStrictEqual(h.eventsOf('retry').map((e) => [e.record.offset, e.attempts]), [['6', 1]]);
            assert.deepStrictEqual(h.eventsOf('transaction-aborted'), []);
            assert.strictEqual(h.txnOf(0, 6, s6), null, 'a late write of the failed attempt is refused');
            h.ack(0, 7);
            await sleep(60);
            assert.deepStrictEqual(p.calls, ['connect', 'begin'], 'txnMaxMs is over, but offset 6 is not done');
            await until('handed out again', () => h.offsets(0).length === 4);
            const again = h.emitted.filter((e) => e.partition === 0)[3];
            assert.strictEqual(again.offset, '6');
            assert.ok(again.at - failedAt >= BACKOFF - 2, `again after ${again.at - failedAt} ms`);
            assert.ok(![s5, s6, s7].includes(again.seq), 'a new seq');
            assert.strictEqual(h.txnOf(0, 6, again.seq), p.txns[0], 'the retry writes in the same transaction');
            h.engine.ack(h.ref(0, 6, s6));
            await sleep(20);
            assert.deepStrictEqual(p.calls, ['connect', 'begin'], 'a late ack of the failed attempt is ignored');
            h.engine.ack(h.ref(0, 6, again.seq));
            await until('the commit', () => p.txns[0].state === 'committed');
            assert.deepStrictEqual(p.calls, ['connect', 'begin', 'sendOffsets#1', 'commit#1']);
            assert.deepStrictEqual(p.txns[0].offsets[0].offsets, [{ topic: TOPIC, partition: 0, offset: '8' }]);
            assert.deepStrictEqual(m.seeks, []);
        });

        it('a retry inside the transaction that writes and then fails again aborts it', async function () {
            const h = await eosStarted({}, [0]);
            const m = h.members[0];
            const p = h.producer(0);
            await m.batch(records(0, 0, 1)).promise;
            h.fail(0, 1, new Error('first'));
            await until('handed out again', () => h.offsets(0).length === 3);
            const seq = h.seqs(0)[2];
            assert.strictEqual(h.txnOf(0, 1, seq), p.txns[0]);
            h.engine.fail(h.ref(0, 1, seq), new Error('second'));
            assert.deepStrictEqual(h.eventsOf('retry').map((e) => e.attempts), [1, 2]);
            assert.deepStrictEqual(h.eventsOf('transaction-aborted').map((e) => e.error.message), ['second']);
            assert.deepStrictEqual(p.calls, ['connect', 'begin', 'abort#1']);
            assert.deepStrictEqual(m.seeks, [[TOPIC, 0, '0']]);
        });

        it('a transaction older than retryInTxnMs at the retry is aborted instead', async function () {
            const h = await eosStarted({ retryInTxnMs: BACKOFF + 40 }, [0]);
            const m = h.members[0];
            const p = h.producer(0);
            await m.batch(records(0, 0, 1)).promise;
            await sleep(60);
            h.fail(0, 1, new Error('late in the transaction'));
            assert.deepStrictEqual(p.calls, ['connect', 'begin', 'abort#1']);
            assert.deepStrictEqual(m.seeks, [[TOPIC, 0, '0']]);
        });

        it('batch output: a failed record aborts its transaction even before a write (a batch message counts its writes on its first record only)', async function () {
            const batches = [];
            const made = [];
            const h = harness({ policy: 'eos', groupId: GROUP, txnMaxRecords: 100, txnMaxMs: 60000, batchSize: 3, batchWaitMs: 10 }, {
                transactionalProducer(topic, partition) {
                    const p = new FakeProducer(topic, partition);
                    made.push(p);
                    return p;
                },
                emitBatch(items) { batches.push(items.map((i) => Number(i.record.offset))); },
            });
            await startedWith(h, [[0]]);
            await h.members[0].batch(records(0, 0, 2)).promise;
            await until('the batch', () => batches.length === 1);
            assert.deepStrictEqual(batches, [[0, 1, 2]]);
            h.fail(0, 1, new Error('no'));
            assert.deepStrictEqual(made[0].calls, ['connect', 'begin', 'abort#1']);
        });

        // maxAttempts 2: the first failure (after a write) aborts, the second ends the record's attempts inside the second transaction.
        const LAST_ATTEMPT = [
            { after: 'dlq', event: 'dead-lettered', deadLetters: [['1', 'still bad', 2]] },
            { after: 'skip', event: 'skipped', deadLetters: [] },
        ];
        for (const c of LAST_ATTEMPT) {
            it(`maxAttempts 2, '${c.after}': a write, then a failure: the attempt count carries over, the second failure ends the record inside the new transaction, which commits`, async function () {
                const h = await eosStarted({ maxAttempts: 2, afterMaxAttempts: c.after, txnMaxRecords: 3 }, [0]);
                const m = h.members[0];
                const p = h.producer(0);
                await m.batch(records(0, 0, 2)).promise;
                h.txnOf(0, 1, h.seqs(0)[1]); // a write for it, so the failure aborts
                h.fail(0, 1, new Error('bad'));
                assert.deepStrictEqual(h.eventsOf('retry').map((e) => e.attempts), [1]);
                assert.deepStrictEqual(h.deadLetters, []);
                await m.batch(records(0, 0, 2)).promise;
                assert.deepStrictEqual(h.offsets(0), [0, 1, 2, 0, 1, 2]);
                h.ack(0, 0);
                h.ack(0, 2);
                h.fail(0, 1, new Error('still bad'));
                await until(c.event, () => h.eventsOf(c.event).length === 1);
                assert.strictEqual(h.eventsOf(c.event)[0].attempts, 2);
                assert.deepStrictEqual(h.deadLetters.map((d) => [d.offset, d.error, d.attempts]), c.deadLetters);
                if (c.after === 'dlq') assert.strictEqual(h.deadLetters[0].txn, p.txns[1], 'dead-lettered inside the transaction');
                assert.strictEqual(h.eventsOf('retry').length, 1);
                await until('the commit', () => p.txns[1].state === 'committed');
                assert.deepStrictEqual(p.calls, ['connect', 'begin', 'abort#1', 'begin', 'sendOffsets#2', 'commit#2']);
                assert.deepStrictEqual(p.txns[1].offsets, [{ groupId: GROUP, offsets: [{ topic: TOPIC, partition: 0, offset: '3' }] }]);
                await sleep(2 * BACKOFF);
                assert.strictEqual(h.emitted.length, 6, 'not handed out a third time');
                assert.deepStrictEqual(m.seeks, [[TOPIC, 0, '0']]);
            });
        }

        it('a dead-letter write that fails aborts the transaction: its records come again', async function () {
            const h = await eosStarted({ maxAttempts: 1, afterMaxAttempts: 'dlq' }, [0]);
            h.onDeadLetter = () => Promise.reject(new Error('dlq down'));
            await h.members[0].batch(records(0, 3, 4)).promise;
            h.fail(0, 4, new Error('bad'));
            await until('the abort', () => h.eventsOf('transaction-aborted').length === 1);
            assert.strictEqual(h.eventsOf('dead-letter-failed')[0].error.message, 'dlq down');
            assert.strictEqual(h.eventsOf('transaction-aborted')[0].first, '3');
            assert.deepStrictEqual(h.producer(0).calls, ['connect', 'begin', 'abort#1']);
            assert.deepStrictEqual(h.members[0].seeks, [[TOPIC, 0, '3']]);
            assert.strictEqual(h.engine.view().inFlight, 0);
        });
    });

    describe('a transaction that cannot begin or commit', function () {
        for (const step of ['sendOffsets', 'commit']) {
            it(`a fenced ${step} aborts: transaction-aborted, seek back to its first offset, the records again in a new transaction of a new producer`, async function () {
                const h = await eosStarted({ txnMaxRecords: 2 }, [0]);
                const m = h.members[0];
                const p = h.producer(0);
                const err = fenced();
                p.script[step].push(err);
                p.script.abort.push(fenced());
                await m.batch(records(0, 4, 5)).promise;
                h.ack(0, 4);
                h.ack(0, 5);
                await until('transaction-aborted', () => h.eventsOf('transaction-aborted').length === 1);
                const [aborted] = h.eventsOf('transaction-aborted');
                assert.deepStrictEqual([aborted.partition, aborted.first], [0, '4']);
                assert.strictEqual(aborted.error, err);
                assert.deepStrictEqual(p.calls.filter((c) => c !== 'disconnect'), ['connect', 'begin', 'sendOffsets#1', ...(step === 'commit' ? ['commit#1'] : []), 'abort#1']);
                assert.deepStrictEqual(m.seeks, [[TOPIC, 0, '4']]);
                assert.strictEqual(h.txnOf(0, 4), null);

                await m.batch(records(0, 4, 5)).promise;
                assert.deepStrictEqual(h.offsets(0), [4, 5, 4, 5]);
                // A fenced producer cannot leave its aborting state: a new one (same id) takes over.
                const p2 = h.producer(0);
                assert.notStrictEqual(p2, p);
                assert.deepStrictEqual(p2.calls, ['connect', 'begin'], 'a new producer connects before the next transaction');
                await until('the fenced producer let go', () => p.calls.includes('disconnect'));
                h.ack(0, 4);
                h.ack(0, 5);
                await until('the commit', () => p2.txns[0].state === 'committed');
                assert.deepStrictEqual(p2.txns[0].offsets[0].offsets, [{ topic: TOPIC, partition: 0, offset: '6' }]);
            });
        }

        /** A batch of partition 0 whose transaction's begin() waits for `slow`; `ctl` is its BatchControl. */
        async function slowBegin() {
            const h = await eosStarted({}, [0]);
            const p = h.producer(0);
            const slow = deferred();
            p.script.begin.push(slow);
            const ctl = control();
            return { h, p, slow, ctl, b: h.members[0].batch(records(0, 0, 1), ctl) };
        }

        it('a begin that takes long (the coordinator still ending the previous owner\'s transaction): heartbeats go on meanwhile', async function () {
            const { h, slow, ctl, b } = await slowBegin();
            await sleep(6 * HEARTBEAT);
            assert.ok(ctl.beats >= 3, `${ctl.beats} heartbeats while begin() waited`);
            assert.deepStrictEqual(h.offsets(0), []);
            slow.resolve();
            await b.promise;
            assert.strictEqual(b.state, 'resolved');
            assert.deepStrictEqual(h.offsets(0), [0, 1]);
            assert.deepStrictEqual(h.eventsOf('commit-failed'), []);
        });

        it('a rebalance while begin() waits ends the batch with the rejoin error, not a producer failure; the transaction begun late is aborted', async function () {
            const { h, p, slow, ctl, b } = await slowBegin();
            await sleep(2 * HEARTBEAT);
            ctl.rebalance = rebalanceError();
            await until('the batch ends', () => b.state !== 'pending');
            assert.strictEqual(b.state, 'rejected');
            assert.strictEqual(b.error.type, 'REBALANCE_IN_PROGRESS');
            assert.deepStrictEqual(h.eventsOf('commit-failed'), [], 'not reported as a producer failure');
            slow.resolve();
            await until('the late transaction aborted', () => p.calls.includes('abort#1'));
            assert.deepStrictEqual(p.calls, ['connect', 'begin', 'abort#1'], 'connected once: the producer is kept');
            assert.deepStrictEqual(h.offsets(0), []);
        });

        it('a producer fenced: its replacement connects (fencing in turn) only once the coordinator has answered a heartbeat since; a member told to rejoin never connects it', async function () {
            const h = await eosStarted({ txnMaxRecords: 2 }, [0]);
            const m = h.members[0];
            const p = h.producer(0);
            p.script.commit.push(fenced());
            p.script.abort.push(fenced());
            m.heartbeatAt = 0; // no heartbeat answered from now on
            await m.batch(records(0, 4, 5)).promise;
            h.ack(0, 4);
            h.ack(0, 5);
            await until('transaction-aborted', () => h.eventsOf('transaction-aborted').length === 1);
            const ctl = control();
            const b = m.batch(records(0, 4, 5), ctl);
            await sleep(5 * HEARTBEAT);
            const p2 = h.producer(0);
            assert.notStrictEqual(p2, p);
            assert.deepStrictEqual(p2.calls, [], 'not connected before a heartbeat was answered');
            assert.ok(ctl.beats >= 2, `${ctl.beats} heartbeats meanwhile`);
            m.heartbeatAt = Date.now();
            await b.promise;
            assert.deepStrictEqual(p2.calls, ['connect', 'begin']);
            assert.deepStrictEqual(h.offsets(0), [4, 5, 4, 5]);

            // The same after a second fence, but the heartbeat says the group is rebalancing: the member rejoins instead.
            const h2 = await eosStarted({ txnMaxRecords: 2 }, [0]);
            const m2 = h2.members[0];
            const q = h2.producer(0);
            q.script.commit.push(fenced());
            q.script.abort.push(fenced());
            m2.heartbeatAt = 0;
            await m2.batch(records(0, 4, 5)).promise;
            h2.ack(0, 4);
            h2.ack(0, 5);
            await until('transaction-aborted', () => h2.eventsOf('transaction-aborted').length === 1);
            const ctl2 = control();
            ctl2.rebalance = rebalanceError();
            const b2 = m2.batch(records(0, 4, 5), ctl2);
            await until('the batch ends', () => b2.state !== 'pending');
            assert.strictEqual(b2.state, 'rejected');
            assert.strictEqual(b2.error.type, 'REBALANCE_IN_PROGRESS');
            assert.deepStrictEqual(h2.producer(0).calls, [], 'the new producer never connected');
        });

        it('a begin that fails is reported, and tried again after the backoff with the producer connected again', async function () {
            const h = await eosStarted({}, [0]);
            const p = h.producer(0);
            const err = fenced();
            p.script.begin.push(err);
            const handed = Date.now();
            const batch = h.members[0].batch(records(0, 0, 1));
            await batch.promise;
            assert.strictEqual(batch.state, 'resolved');
            assert.strictEqual(h.eventsOf('commit-failed')[0].error, err);
            assert.deepStrictEqual(p.calls, ['connect', 'begin', 'connect', 'begin']);
            const gap = h.emitted[0].at - handed;
            assert.ok(gap >= BACKOFF - 2, `handed out after ${gap} ms`);
            assert.deepStrictEqual(h.offsets(0), [0, 1]);
            assert.strictEqual(h.txnOf(0, 0), p.txns[0]);
        });
    });

    describe('partitions assigned and lost', function () {
        for (const committed of ['10', '-1']) {
            it(`a new partition's producer connects (fencing) before committed() is asked; committed ${committed}: ${committed === '-1' ? 'no seek' : 'seek there'}`, async function () {
                const h = eosHarness();
                const connecting = deferred();
                h.onProducer = (p) => p.script.connect.push(connecting);
                let connectedWhenAsked = null;
                h.onCommitted = (parts) => {
                    connectedWhenAsked = h.producer(0).connected;
                    return Promise.resolve(parts.flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition, offset: committed, metadata: null }))));
                };
                await startedWith(h, [[0]]);
                const m = h.members[0];
                assert.deepStrictEqual(h.producer(0).calls, ['connect']);
                await sleep(2 * HEARTBEAT);
                assert.deepStrictEqual(m.committedAsked, [], 'committed() asked before the producer connected');
                connecting.resolve();
                await until('committed()', () => m.committedAsked.length === 1);
                assert.strictEqual(connectedWhenAsked, 1);
                await tick();
                assert.deepStrictEqual(m.seeks, committed === '-1' ? [] : [[TOPIC, 0, committed]]);
                await m.batch(records(0, 10, 12)).promise;
                assert.deepStrictEqual(h.offsets(0), [10, 11, 12]);
                assert.deepStrictEqual(h.producer(0).calls, ['connect', 'begin'], 'connected once');
            });
        }

        // Bug hunt: fence() swallows a failed connect and committed() is read anyway, before any fencing.
        it('a producer that fails to connect at takeover: committed() is asked only once it has connected', async function () {
            const h = eosHarness();
            h.onProducer = (p) => p.script.connect.push(new Error('coordinator not available'));
            const connectedWhenAsked = [];
            h.onCommitted = (parts) => {
                connectedWhenAsked.push(h.producer(0).connected);
                return Promise.resolve(parts.flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition, offset: '10', metadata: null }))));
            };
            await startedWith(h, [[0]]);
            const m = h.members[0];
            m.batch(records(0, 10, 12));
            await until('committed()', () => m.committedAsked.length >= 1, 20 * BACKOFF);
            assert.deepStrictEqual(connectedWhenAsked.filter((n) => n === 0), [],
                "the previous owner's committed offset was read before its producer was fenced: it may still commit past it");
        });

        it("a lost partition: its open transaction is aborted, its producer disconnected, its acks ignored; the kept partition's goes on", async function () {
            const h = await eosStarted({ txnMaxMs: 50 }, [0, 1]);
            const m = h.members[0];
            await m.batch(records(0, 0, 1)).promise;
            await m.batch(records(1, 0, 1)).promise;
            const [p0, p1] = [h.producer(0), h.producer(1)];
            m.hooks.onRebalancing();
            m.assign([0]);
            await tick();
            assert.deepStrictEqual(p1.calls, ['connect', 'begin', 'abort#1', 'disconnect']);
            assert.ok(p1.disconnected);
            const [aborted] = h.eventsOf('transaction-aborted');
            assert.deepStrictEqual([aborted.partition, aborted.first], [1, '0']);
            assert.deepStrictEqual(m.seeks, [], 'no seek for a partition no longer ours');
            assert.strictEqual(h.txnOf(1, 0), null);
            h.ack(1, 0);
            h.ack(1, 1);
            assert.strictEqual(h.engine.view().inFlight, 2);

            assert.deepStrictEqual(p0.calls, ['connect', 'begin']);
            assert.strictEqual(h.txnOf(0, 0), p0.txns[0]);
            h.ack(0, 0);
            h.ack(0, 1);
            await until('partition 0 commits', () => p0.txns[0].state === 'committed', 500);
            assert.deepStrictEqual(p0.txns[0].offsets[0].offsets, [{ topic: TOPIC, partition: 0, offset: '2' }]);
            assert.deepStrictEqual(h.made, [[TOPIC, 0], [TOPIC, 1]]);
        });
    });

    describe('close()', function () {
        it('commits a transaction whose records are all acknowledged, aborts the others, disconnects every producer, leaves no timer', async function () {
            await tick(); // mocha's own test timer is armed once the spec has returned its promise
            const baseline = timers();
            const h = await eosStarted({ retryBackoff: 60000, ackTimeout: 60000 }, [0, 1, 2]);
            const m = h.members[0];
            await m.batch(records(0, 0, 1)).promise;
            await m.batch(records(1, 0, 1)).promise;
            await m.batch(records(2, 0, 0)).promise;
            h.ack(0, 0);
            h.ack(0, 1);
            h.ack(1, 0);
            h.fail(2, 0);
            const waiting = m.batch(records(2, 0, 0)); // fetched again, waits out the backoff
            await sleep(2 * HEARTBEAT);
            assert.strictEqual(waiting.state, 'pending');
            assert.ok(timers() > baseline);

            await h.engine.close();
            await waiting.promise;
            assert.strictEqual(waiting.state, 'resolved');
            const [p0, p1, p2] = [0, 1, 2].map((i) => h.producer(i));
            assert.deepStrictEqual(p0.calls, ['connect', 'begin', 'sendOffsets#1', 'commit#1', 'disconnect']);
            assert.deepStrictEqual(p0.txns[0].offsets[0].offsets, [{ topic: TOPIC, partition: 0, offset: '2' }]);
            assert.deepStrictEqual(p1.calls, ['connect', 'begin', 'abort#1', 'disconnect']);
            assert.deepStrictEqual(p2.calls, ['connect', 'begin', 'abort#1', 'disconnect']);
            assert.deepStrictEqual(h.commits(), []);
            assert.ok(m.stopped);
            assert.deepStrictEqual(h.offsets(2), [0], 'not handed out again after close');

            h.ack(1, 1);
            await tick();
            await tick();
            assert.deepStrictEqual(p1.calls.slice(-1), ['disconnect'], 'a late ack changes nothing');
            assert.strictEqual(timers(), baseline, 'timers left after close');
        });

        // Bug hunt: dropDeliveries starts endTxns without waiting for it.
        it('close() resolves only once every producer has disconnected', async function () {
            const h = await eosStarted({}, [0]);
            const p = h.producer(0);
            const gone = deferred();
            p.script.disconnect.push(gone);
            await h.members[0].batch(records(0, 0, 0)).promise;
            const closed = track(h.engine.close());
            await sleep(3 * HEARTBEAT);
            const state = closed.state;
            gone.resolve();
            await closed.promise;
            assert.deepStrictEqual(p.calls, ['connect', 'begin', 'abort#1', 'disconnect']);
            assert.strictEqual(state, 'pending', 'close() resolved while a producer was still disconnecting');
        });

        // Bug hunt: endTxns disconnects the producer while the abort it started is still under way.
        it("a producer is disconnected only once its transaction's abort has finished", async function () {
            const h = await eosStarted({}, [0]);
            const p = h.producer(0);
            const aborting = deferred();
            p.script.abort.push(aborting);
            await h.members[0].batch(records(0, 0, 0)).promise;
            const closed = track(h.engine.close());
            await sleep(3 * HEARTBEAT);
            const calls = p.calls.slice();
            aborting.resolve();
            await closed.promise;
            await tick();
            assert.deepStrictEqual(calls, ['connect', 'begin', 'abort#1'], 'disconnected with the abort still under way');
        });
    });
});
