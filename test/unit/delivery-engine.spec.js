'use strict';
// The consumer's delivery engine on its own: no Node-RED, no broker. Members are
// in-memory ConsumerClients whose hooks the specs call as a Kafka client would;
// the host records what the engine emits and reports. Real timers, small values.
const assert = require('assert');
const { encodeDone, decodeDone } = require('../../nodes/lib/commit-metadata');
const {
    TOPIC, BACKOFF, HEARTBEAT, sleep, tick, until, deferred, records, rebalanceError, control, harness, started, closeEngines, timers,
} = require('./engine-support');

describe('DeliveryEngine', function () {
    afterEach(async function () {
        await closeEngines();
    });

    describe("'immediate' policy", function () {
        // Each case: batches handed over (a 'rejoin' between them), then what was emitted and the last commit.
        const CASES = [
            { name: 'every record of a batch once', batches: [[0, 4]], emitted: [0, 1, 2, 3, 4], commit: '5' },
            { name: 'offsets with gaps (transaction markers)', batches: [[[0, 1, 3, 7]]], emitted: [0, 1, 3, 7], commit: '8' },
            { name: 'the same batch again after a rejoin', batches: [[0, 4], 'rejoin', [0, 4]], emitted: [0, 1, 2, 3, 4], commit: '5', commits: 1 },
            { name: 'an overlapping batch after a rejoin', batches: [[0, 4], 'rejoin', [3, 7]], emitted: [0, 1, 2, 3, 4, 5, 6, 7], commit: '8' },
            { name: 'consecutive batches', batches: [[0, 2], [3, 5]], emitted: [0, 1, 2, 3, 4, 5], commit: '6' },
        ];
        for (const c of CASES) {
            it(`${c.name}: emitted ${c.emitted.join(',')}, committed ${c.commit} with no metadata`, async function () {
                const h = await started({ policy: 'immediate' }, [0]);
                const m = h.members[0];
                for (const b of c.batches) {
                    if (b === 'rejoin') {
                        m.hooks.onRebalancing();
                        m.assign([0]);
                        continue;
                    }
                    const ctl = control();
                    const batch = m.batch(records(0, b[0], b[1]), ctl);
                    await batch.promise;
                    assert.strictEqual(batch.state, 'resolved');
                    assert.strictEqual(ctl.resolved[ctl.resolved.length - 1], b.length === 2 ? String(b[1]) : String(b[0][b[0].length - 1]));
                    await tick();
                }
                await tick();
                assert.deepStrictEqual(h.offsets(0), c.emitted);
                assert.deepStrictEqual(h.lastCommit(0), { topic: TOPIC, partition: 0, offset: c.commit, metadata: null });
                if (c.commits) assert.strictEqual(h.commits().length, c.commits);
                assert.strictEqual(h.engine.view().inFlight, 0);
            });
        }
    });

    describe("'flow' policy", function () {
        it('hands out at most maxInFlight records, and continues only when acks drain to the low-water mark', async function () {
            // maxInFlight 8: the low-water mark is 8 - 8/4 = 6
            const h = await started({ maxInFlight: 8 }, [0]);
            const batch = h.members[0].batch(records(0, 0, 19));
            await sleep(3 * HEARTBEAT);
            assert.deepStrictEqual(h.offsets(0), [0, 1, 2, 3, 4, 5, 6, 7]);
            assert.strictEqual(h.engine.view().inFlight, 8);
            assert.strictEqual(batch.state, 'pending');

            h.ack(0, 0);
            await sleep(3 * HEARTBEAT);
            assert.strictEqual(h.emitted.length, 8, 'one ack (7 in flight) is above the low-water mark');

            h.ack(0, 1);
            await until('the refill', () => h.emitted.length === 10);
            await sleep(HEARTBEAT);
            assert.deepStrictEqual(h.offsets(0), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'refilled up to the bound, no further');
            assert.strictEqual(h.engine.view().inFlight, 8);

            // Acknowledging everything as it comes out finishes the batch, each record once, never more than 8 out.
            h.onEmit = (r) => setImmediate(() => h.ack(r.partition, r.offset));
            for (let o = 2; o < 10; o++) h.ack(0, o);
            await batch.promise;
            assert.strictEqual(batch.state, 'resolved');
            assert.deepStrictEqual(h.offsets(0), Array.from({ length: 20 }, (_, i) => i));
            await until('the last ack', () => h.engine.view().inFlight === 0);
            await tick();
            assert.deepStrictEqual(h.lastCommit(0), { topic: TOPIC, partition: 0, offset: '20', metadata: null });
        });

        it('never has more than maxInFlight out when the flow acknowledges slowly', async function () {
            const h = await started({ maxInFlight: 5 }, [0]);
            let max = 0;
            h.onEmit = (r) => {
                max = Math.max(max, h.engine.view().inFlight);
                setTimeout(() => h.ack(r.partition, r.offset), 3);
            };
            const batch = h.members[0].batch(records(0, 0, 39));
            await batch.promise;
            assert.strictEqual(batch.state, 'resolved');
            assert.strictEqual(h.emitted.length, 40);
            assert.strictEqual(max, 5);
        });

        it('ignores an ack of a record it never handed out', async function () {
            const h = await started({}, [0]);
            await h.members[0].batch(records(0, 0, 2)).promise;
            h.engine.ack({ topic: TOPIC, partition: 0, offset: '99' });
            h.engine.ack({ topic: TOPIC, partition: 7, offset: '0' });
            h.engine.ack({ topic: 'other', partition: 0, offset: '0' });
            h.engine.fail({ topic: TOPIC, partition: 0, offset: '98' }, new Error('x'));
            await sleep(2 * BACKOFF);
            assert.strictEqual(h.engine.view().inFlight, 3);
            assert.deepStrictEqual(h.commits(), []);
            assert.deepStrictEqual(h.eventsOf('retry'), []);
            assert.strictEqual(h.emitted.length, 3);
        });

        // Records 0..5 out; acknowledged in steps; the commit after each step and what its metadata names as done.
        const COMMITS = [
            { acks: [[1, 2, 4]], offset: '0', done: [[1, 2], [4, 4]] },
            { acks: [[1, 2, 4], [0]], offset: '3', done: [[4, 4]] },
            { acks: [[5]], offset: '0', done: [[5, 5]] },
            { acks: [[1, 2, 4], [0], [3]], offset: '5', done: [] },
            { acks: [[5, 4, 3, 2, 1], [0]], offset: '6', done: [] },
        ];
        for (const c of COMMITS) {
            const steps = c.acks.map((s) => s.join(',')).join(' then ');
            it(`acks ${steps}: commits ${c.offset}, metadata naming ${JSON.stringify(c.done)}`, async function () {
                const h = await started({}, [0]);
                await h.members[0].batch(records(0, 0, 5)).promise;
                const acked = [];
                for (const step of c.acks) {
                    const before = h.commits().length;
                    for (const o of step) h.ack(0, o);
                    acked.push(...step);
                    await until('a commit', () => h.commits().length > before);
                    const oldestOut = Math.min(...[0, 1, 2, 3, 4, 5, 6].filter((o) => !acked.includes(o)));
                    assert.ok(Number(h.lastCommit(0).offset) <= oldestOut, `committed ${h.lastCommit(0).offset} with ${oldestOut} out`);
                }
                const last = h.lastCommit(0);
                assert.strictEqual(last.offset, c.offset);
                const done = decodeDone(BigInt(last.offset), last.metadata).map((r) => [Number(r.first), Number(r.last)]);
                assert.deepStrictEqual(done, c.done);
                if (!c.done.length) assert.strictEqual(last.metadata, null);
            });
        }

        it('the commit point never passes a record still out, whatever order the acks come in', async function () {
            const h = await started({}, [0]);
            await h.members[0].batch(records(0, 0, 9)).promise;
            const order = [7, 3, 9, 0, 8, 1, 5, 2, 6, 4];
            const acked = new Set();
            for (const o of order) {
                const before = h.commits().length;
                h.ack(0, o);
                acked.add(o);
                await until('a commit', () => h.commits().length > before);
                const oldestOut = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].find((x) => !acked.has(x));
                const last = h.lastCommit(0);
                assert.strictEqual(last.offset, String(oldestOut ?? 10), `after acking ${[...acked]}`);
                for (const r of decodeDone(BigInt(last.offset), last.metadata)) {
                    for (let x = r.first; x <= r.last; x++) assert.ok(acked.has(Number(x)), `metadata names ${x}, not acked`);
                }
            }
        });
    });

    describe('failures', function () {
        it('fail() retries after the backoff: event retry, emitted again', async function () {
            const h = await started({}, [0]);
            await h.members[0].batch(records(0, 0, 1)).promise;
            const failedAt = Date.now();
            h.fail(0, 0, new Error('flow said no'));
            assert.strictEqual(h.emitted.length, 2, 'not emitted again at once');
            const [retry] = h.eventsOf('retry');
            assert.strictEqual(retry.record.offset, '0');
            assert.strictEqual(retry.attempts, 1);
            assert.strictEqual(retry.error, 'flow said no');
            await until('the retry', () => h.emitted.length === 3);
            assert.deepStrictEqual(h.offsets(0), [0, 1, 0]);
            assert.ok(h.emitted[2].at - failedAt >= BACKOFF - 2, `retried after ${h.emitted[2].at - failedAt} ms`);
            h.ack(0, 1);
            await tick();
            await tick();
            assert.strictEqual(h.lastCommit(0).offset, '0', 'the failed record holds the commit point');
            h.ack(0, 0);
            await until('the commit', () => h.lastCommit(0).offset === '2');
        });

        it("after maxAttempts with 'skip' the record is skipped: event skipped, the commit passes it", async function () {
            const h = await started({ maxAttempts: 3, afterMaxAttempts: 'skip' }, [0]);
            await h.members[0].batch(records(0, 0, 0)).promise;
            for (let attempt = 1; attempt <= 3; attempt++) {
                await until(`emission ${attempt}`, () => h.emitted.length === attempt);
                h.fail(0, 0, new Error(`no ${attempt}`));
            }
            await sleep(2 * BACKOFF);
            assert.strictEqual(h.emitted.length, 3, 'three attempts, then no more');
            assert.deepStrictEqual(h.eventsOf('retry').map((e) => e.attempts), [1, 2]);
            const skipped = h.eventsOf('skipped');
            assert.strictEqual(skipped.length, 1);
            assert.deepStrictEqual([skipped[0].record.offset, skipped[0].attempts, skipped[0].error], ['0', 3, 'no 3']);
            assert.strictEqual(h.engine.view().inFlight, 0);
            assert.deepStrictEqual(h.lastCommit(0), { topic: TOPIC, partition: 0, offset: '1', metadata: null });
            assert.deepStrictEqual(h.deadLetters, []);
        });

        it("after maxAttempts with 'dlq' the record is dead-lettered, then done", async function () {
            const h = await started({ maxAttempts: 2, afterMaxAttempts: 'dlq' }, [0]);
            await h.members[0].batch(records(0, 0, 1)).promise;
            h.fail(0, 0, new Error('bad'));
            await until('the retry', () => h.emitted.length === 3);
            h.fail(0, 0, new Error('still bad'));
            await until('the dead letter', () => h.eventsOf('dead-lettered').length === 1);
            assert.deepStrictEqual(h.deadLetters.map((d) => [d.partition, d.offset, d.error, d.attempts]), [[0, '0', 'still bad', 2]]);
            assert.strictEqual(h.eventsOf('dead-lettered')[0].attempts, 2);
            assert.strictEqual(h.engine.view().inFlight, 1);
            await tick();
            assert.deepStrictEqual(h.lastCommit(0), { topic: TOPIC, partition: 0, offset: '1', metadata: null });
            await sleep(2 * BACKOFF);
            assert.strictEqual(h.emitted.length, 3, 'a dead-lettered record is not emitted again');
        });

        it('a dead-letter write that fails is tried again after the backoff', async function () {
            const h = await started({ maxAttempts: 1, afterMaxAttempts: 'dlq' }, [0]);
            let writes = 0;
            h.onDeadLetter = () => (++writes === 1 ? Promise.reject(new Error('dlq down')) : Promise.resolve());
            await h.members[0].batch(records(0, 0, 0)).promise;
            h.fail(0, 0, new Error('bad'));
            await until('the second write', () => h.eventsOf('dead-lettered').length === 1);
            assert.strictEqual(h.deadLetters.length, 2);
            assert.deepStrictEqual(h.deadLetters.map((d) => [d.error, d.attempts]), [['bad', 1], ['bad', 1]]);
            const failed = h.eventsOf('dead-letter-failed');
            assert.strictEqual(failed.length, 1);
            assert.strictEqual(failed[0].error.message, 'dlq down');
            const gap = h.deadLetters[1].at - h.deadLetters[0].at;
            assert.ok(gap >= BACKOFF - 2, `tried again after ${gap} ms`);
            assert.strictEqual(h.emitted.length, 1, 'not handed to the flow again meanwhile');
            await tick();
            assert.strictEqual(h.lastCommit(0).offset, '1');
        });

        it('ackTimeout: a record not acknowledged in time fails and is retried; one acknowledged in time does not', async function () {
            const h = await started({ ackTimeout: 40 }, [0]);
            const sent = Date.now();
            await h.members[0].batch(records(0, 0, 1)).promise;
            h.ack(0, 1);
            await until('the timeout', () => h.eventsOf('retry').length === 1, 500);
            const [retry] = h.eventsOf('retry');
            assert.deepStrictEqual([retry.record.offset, retry.attempts, retry.error], ['0', 1, 'not acknowledged within 40 ms']);
            assert.ok(retry.at - sent >= 38, `timed out after ${retry.at - sent} ms`);
            await until('the retry', () => h.emitted.length === 3);
            assert.deepStrictEqual(h.offsets(0), [0, 1, 0]);
            h.ack(0, 0);
            await sleep(60);
            assert.strictEqual(h.eventsOf('retry').length, 1, 'acknowledged in time: no second timeout');
        });

        it('ackTimeoutFromReachedFlow: the ack timeout starts at reachedFlow(), not at hand-out (a registry that did not answer held the record)', async function () {
            const h = await started({ ackTimeout: 60, retryBackoff: 100, ackTimeoutFromReachedFlow: true }, [0]);
            await h.members[0].batch(records(0, 0, 0)).promise;
            const [r] = h.emitted;
            await sleep(150);
            assert.deepStrictEqual(h.eventsOf('retry'), [], 'held before the flow for 150 ms: no timeout');
            const reached = Date.now();
            h.engine.reachedFlow({ topic: TOPIC, partition: 0, offset: '0', seq: r.seq });
            await until('the timeout, counted from reachedFlow()', () => h.eventsOf('retry').length === 1, 500);
            assert.ok(h.eventsOf('retry')[0].at - reached >= 58, 'a full ack timeout after it reached the flow');
            // a retry waiting for its backoff is not touched by a late reachedFlow() of its earlier copy
            h.engine.reachedFlow({ topic: TOPIC, partition: 0, offset: '0', seq: r.seq });
            await until('the retry', () => h.emitted.length === 2, 500);
            h.ack(0, 0);
            await sleep(100);
            assert.strictEqual(h.eventsOf('retry').length, 1);
        });
    });

    describe('fairness between partitions', function () {
        // Two partitions' batches of 100 handed over at once, maxInFlight 10, the flow acking each record 2 ms later.
        async function twoPartitions() {
            const h = await started({ maxInFlight: 10 }, [0, 1]);
            const samples = [];
            let total = 0;
            h.onEmit = (r) => {
                total = Math.max(total, h.engine.view().inFlight);
                samples.push({ n: h.emitted.length, p0: h.out.get(0) ?? 0, p1: h.out.get(1) ?? 0 });
                setTimeout(() => h.ack(r.partition, r.offset), 2);
            };
            const m = h.members[0];
            const b0 = m.batch(records(0, 0, 99));
            const b1 = m.batch(records(1, 0, 99));
            const finished = [];
            b0.promise.then(() => finished.push({ p: 0, n: h.emitted.length }));
            b1.promise.then(() => finished.push({ p: 1, n: h.emitted.length }));
            await Promise.all([b0.promise, b1.promise]);
            return { h, b0, b1, samples, total, firstDone: finished[0].n };
        }

        it('both partitions get records out before either finishes, each record once, never more than the bound', async function () {
            const { h, b0, b1, total, firstDone } = await twoPartitions();
            assert.deepStrictEqual([b0.state, b1.state], ['resolved', 'resolved']);
            assert.deepStrictEqual(h.offsets(0), Array.from({ length: 100 }, (_, i) => i));
            assert.deepStrictEqual(h.offsets(1), Array.from({ length: 100 }, (_, i) => i));
            assert.ok(total <= 10, `${total} in flight`);
            const before = h.emitted.slice(0, firstDone);
            assert.ok(before.some((e) => e.partition === 0) && before.some((e) => e.partition === 1),
                'both partitions had records out before the first batch finished');
            // interleaved, not one after the other: each partition's records are spread over the first half
            const firstHalf = h.emitted.slice(0, 100);
            assert.ok(firstHalf.filter((e) => e.partition === 1).length >= 30, 'partition 1 in the first 100 records');
            assert.ok(firstHalf.filter((e) => e.partition === 0).length >= 30, 'partition 0 in the first 100 records');
        });

        it('once the first window has drained, neither partition holds more than about half the bound', async function () {
            const { samples, firstDone } = await twoPartitions();
            const steady = samples.filter((s) => s.n > 20 && s.n <= firstDone);
            assert.ok(steady.length > 50, `${steady.length} samples`);
            const most = Math.max(...steady.map((s) => Math.max(s.p0, s.p1)));
            assert.ok(most <= 6, `a partition held ${most} of 10`);
        });

        it('neither partition holds more than about half the bound while both are active, from the first record', async function () {
            const { samples, firstDone } = await twoPartitions();
            const both = samples.filter((s) => s.n <= firstDone);
            const most = Math.max(...both.map((s) => Math.max(s.p0, s.p1)));
            assert.ok(most <= 6, `a partition held ${most} of the 10 in-flight records while both batches were being handed out`);
        });
    });

    describe('a rebalance ends handing out at once', function () {
        // maxInFlight 6: partitions 0 and 1 each have 0,1 out, then batches 2..9 of both share the
        // rest of the bound and wait for capacity.
        async function waitingForCapacity(settings = {}) {
            const h = await started({ maxInFlight: 6, ...settings }, [0, 1]);
            const m = h.members[0];
            await m.batch(records(0, 0, 1)).promise;
            await m.batch(records(1, 0, 1)).promise;
            const c0 = control();
            const c1 = control();
            const b0 = m.batch(records(0, 2, 9), c0);
            const b1 = m.batch(records(1, 2, 9), c1);
            await until('both batches to heartbeat', () => c0.beats >= 1 && c1.beats >= 1);
            assert.strictEqual(h.engine.view().inFlight, 6);
            assert.deepStrictEqual([b0.state, b1.state], ['pending', 'pending']);
            return { h, m, c0, c1, b0, b1 };
        }

        it('the batch whose heartbeat threw rejects with that error, the other returns promptly, nothing more is emitted', async function () {
            const { h, m, c0, b0, b1 } = await waitingForCapacity();
            const emitted = h.emitted.length;
            const err = rebalanceError();
            c0.rebalance = err;
            await b0.promise;
            assert.strictEqual(b0.state, 'rejected');
            assert.strictEqual(b0.error, err);
            await until('the other batch', () => b1.state !== 'pending', 200);
            assert.strictEqual(b1.state, 'resolved');
            assert.ok(b1.settledAt - b0.settledAt < HEARTBEAT, `the other batch returned ${b1.settledAt - b0.settledAt} ms later`);

            // Capacity comes back, a new batch arrives: still nothing until the next assignment.
            const out0 = h.offsets(0);
            const next = Math.max(...out0) + 1;
            for (const o of out0) h.ack(0, o);
            const late = m.batch(records(0, 10, 12));
            await late.promise;
            assert.strictEqual(late.state, 'resolved');
            await sleep(3 * HEARTBEAT);
            assert.strictEqual(h.emitted.length, emitted);

            m.assign([0, 1]);
            const again = m.batch(records(0, next, 12));
            await until('emission after the assignment', () => h.emitted.length > emitted);
            await sleep(HEARTBEAT);
            const after = h.offsets(0).slice(out0.length);
            const outOf1 = h.offsets(1).length;
            assert.deepStrictEqual(after, Array.from({ length: 6 - outOf1 }, (_, i) => next + i), 'the rest of the bound, in order, from where it stopped');
            assert.strictEqual(again.state, 'pending');
        });

        it('after the new assignment acks of kept partitions count, acks of lost ones are ignored, lost records are not emitted again', async function () {
            const { h, m, c1, b0, b1 } = await waitingForCapacity();
            c1.rebalance = rebalanceError();
            await Promise.all([b0.promise, b1.promise]);
            assert.deepStrictEqual([b0.state, b1.state], ['resolved', 'rejected']);
            const emitted = h.emitted.length;
            const out0 = h.offsets(0);
            h.fail(1, 0, new Error('fails just before the partition is lost'));
            m.assign([0]);
            assert.strictEqual(h.engine.view().inFlight, out0.length, 'partition 1\'s records are forgotten');
            const commitsBefore = h.commits().length;
            h.ack(1, 1);
            await tick();
            await tick();
            assert.strictEqual(h.commits().length, commitsBefore, 'an ack of a lost partition commits nothing');

            for (const o of out0) h.ack(0, o);
            await until('the commit of partition 0', () => h.commits().length > commitsBefore);
            assert.deepStrictEqual(h.lastCommit(0), { topic: TOPIC, partition: 0, offset: String(Math.max(...out0) + 1), metadata: null });
            assert.ok(h.commits().slice(commitsBefore).every((c) => c.partition === 0), 'nothing committed for the lost partition');
            await sleep(3 * BACKOFF);
            assert.strictEqual(h.emitted.length, emitted, 'the lost partition\'s failed record is not retried here');
            assert.strictEqual(h.engine.view().inFlight, 0);
        });

        it('a heartbeat error that brings no rejoin (a timeout) does not hold the member: it hands out again without a new assignment', async function () {
            const { h, m, c0, b0 } = await waitingForCapacity();
            const err = new Error('request timed out');
            err.type = 'REQUEST_TIMED_OUT';
            c0.rebalance = err;
            await b0.promise;
            assert.strictEqual(b0.state, 'rejected');
            assert.strictEqual(b0.error, err);
            // The client fetches again with the same assignment: records are handed out once capacity is back.
            const out0 = h.offsets(0);
            for (const o of out0) h.ack(0, o);
            const next = Math.max(...out0) + 1;
            const again = m.batch(records(0, next, next + 1));
            await again.promise;
            assert.strictEqual(again.state, 'resolved');
            assert.deepStrictEqual(h.offsets(0).slice(out0.length), [next, next + 1]);
        });

        it('onRebalancing ends waiting batches at once as well, and commits what is done', async function () {
            const { h, m, b0, b1 } = await waitingForCapacity();
            h.ack(0, 0);
            h.ack(1, 0);
            h.ack(1, 1);
            await tick();
            await tick();
            const before = h.commits().length;
            h.ack(0, 1);
            m.hooks.onRebalancing();
            await Promise.all([b0.promise, b1.promise]);
            assert.deepStrictEqual([b0.state, b1.state], ['resolved', 'resolved']);
            await until('the commit', () => h.commits().length > before);
            assert.strictEqual(h.lastCommit(0).offset, '2');
        });

        // Bug hunt: "nothing more is emitted until onAssignment" must hold for retries too.
        for (const kept of [true, false]) {
            it(`a retry falling due during the rebalance waits for the assignment (partition ${kept ? 'kept' : 'lost'})`, async function () {
                const { h, m, c0, b0, b1 } = await waitingForCapacity();
                c0.rebalance = rebalanceError();
                await Promise.all([b0.promise, b1.promise]);
                const emitted = h.emitted.length;
                h.fail(1, 0, new Error('retry me'));
                await sleep(3 * BACKOFF);
                assert.strictEqual(h.emitted.length, emitted, 'a record emitted while the group rebalances (its partition may be reassigned)');
                m.assign(kept ? [0, 1] : [0]);
                await sleep(3 * BACKOFF);
                assert.deepStrictEqual(h.emitted.slice(emitted).map((e) => [e.partition, e.offset]), kept ? [[1, '0']] : []);
            });
        }
    });

    describe('members of one node join before anything is handed out', function () {
        // Each case: member 0 owns partition 0; member 1's first assignment holds the batch, its second lets it go.
        const CASES = [
            { name: 'member 1 has no assignment yet', first: null, then: [1] },
            { name: 'both members claim partition 0', first: [0, 1], then: [1] },
        ];
        for (const c of CASES) {
            it(`holds a batch while ${c.name}`, async function () {
                const h = await started({ consumerCount: 2 }, [0], c.first);
                assert.strictEqual(h.members.length, 2);
                const ctl = control();
                const batch = h.members[0].batch(records(0, 0, 4), ctl);
                await sleep(4 * HEARTBEAT);
                assert.deepStrictEqual(h.emitted, []);
                assert.strictEqual(batch.state, 'pending');
                assert.ok(ctl.beats >= 1, 'the waiting batch keeps the membership alive');
                h.members[1].assign(c.then);
                await batch.promise;
                assert.strictEqual(batch.state, 'resolved');
                assert.deepStrictEqual(h.offsets(0), [0, 1, 2, 3, 4]);
            });
        }

        it('does not hold a batch when the other member is idle (empty assignment)', async function () {
            const h = await started({ consumerCount: 2 }, [0], []);
            const batch = h.members[0].batch(records(0, 0, 2));
            await batch.promise;
            assert.deepStrictEqual(h.offsets(0), [0, 1, 2]);
        });
    });

    describe('taking a partition over', function () {
        const CASES = [
            {
                name: 'skips what the previous owner named as done', policy: 'flow',
                committed: () => Promise.resolve([{ topic: TOPIC, partition: 0, offset: '10', metadata: encodeDone(10n, [{ first: 12n, last: 13n }]) }]),
                emitted: [10, 11, 14, 15],
            },
            {
                name: 'skips what the previous owner named as done', policy: 'immediate',
                committed: () => Promise.resolve([{ topic: TOPIC, partition: 0, offset: '10', metadata: encodeDone(10n, [{ first: 11n, last: 11n }, { first: 15n, last: 15n }]) }]),
                emitted: [10, 12, 13, 14],
            },
            {
                name: 'ignores metadata another client wrote', policy: 'flow',
                committed: () => Promise.resolve([{ topic: TOPIC, partition: 0, offset: '10', metadata: 'something else' }]),
                emitted: [10, 11, 12, 13, 14, 15],
            },
            {
                name: 'emits everything when committed() fails', policy: 'flow',
                committed: () => Promise.reject(new Error('coordinator not available')),
                emitted: [10, 11, 12, 13, 14, 15],
            },
        ];
        for (const c of CASES) {
            it(`${c.name} (${c.policy})`, async function () {
                const h = await started({ policy: c.policy });
                h.onCommitted = c.committed;
                const m = h.members[0];
                m.assign([0]);
                assert.deepStrictEqual(m.committedAsked, [[{ topic: TOPIC, partitions: [0] }]]);
                const batch = m.batch(records(0, 10, 15));
                await batch.promise;
                assert.strictEqual(batch.state, 'resolved');
                assert.deepStrictEqual(h.offsets(0), c.emitted);
                if (c.policy === 'flow') for (const o of c.emitted) h.ack(0, o);
                await until('the commit', () => h.lastCommit(0) && h.lastCommit(0).offset === '16');
                assert.strictEqual(h.lastCommit(0).metadata, null);
            });
        }

        it('a batch waits for the previous owner\'s progress; a later assignment asks only about new partitions', async function () {
            const h = await started({});
            const answer = deferred();
            h.onCommitted = () => answer.promise;
            const m = h.members[0];
            m.assign([0]);
            const batch = m.batch(records(0, 5, 7));
            await sleep(2 * HEARTBEAT);
            assert.deepStrictEqual(h.emitted, []);
            answer.resolve([{ topic: TOPIC, partition: 0, offset: '5', metadata: encodeDone(5n, [{ first: 6n, last: 6n }]) }]);
            await batch.promise;
            assert.deepStrictEqual(h.offsets(0), [5, 7]);
            h.onCommitted = null;
            m.assign([0, 1]);
            assert.deepStrictEqual(m.committedAsked.slice(1), [[{ topic: TOPIC, partitions: [1] }]]);
        });
    });

    describe('a member that crashes', function () {
        it('reports member-failed, drops its records, restarts after the backoff and reports member-recovered', async function () {
            const h = await started({}, [0]);
            const first = h.members[0];
            await first.batch(records(0, 0, 2)).promise;
            const err = new Error('broker gone');
            const crashedAt = Date.now();
            first.hooks.onCrash(err);
            const [failed] = h.eventsOf('member-failed');
            assert.strictEqual(failed.member, 0);
            assert.strictEqual(failed.error, err);
            assert.ok(first.stopped, 'the crashed client is stopped');
            assert.deepStrictEqual(h.engine.view().members, [{ assignment: null, failing: true }]);
            assert.strictEqual(h.engine.view().inFlight, 0);
            h.ack(0, 0);
            await tick();
            assert.deepStrictEqual(first.commits, [], 'acks of the crashed member\'s records are ignored');

            await until('the restart', () => h.members.length === 2, 2000);
            const restartedAfter = Date.now() - crashedAt;
            assert.ok(restartedAfter >= BACKOFF, `restarted after ${restartedAfter} ms`);
            assert.deepStrictEqual(h.members[1].topics, [TOPIC]);
            assert.deepStrictEqual(h.engine.view().members, [{ assignment: null, failing: true }], 'still failing while joining');
            assert.deepStrictEqual(h.eventsOf('member-recovered'), []);

            h.members[1].assign([0]);
            assert.deepStrictEqual(h.eventsOf('member-recovered').map((e) => e.member), [0]);
            assert.deepStrictEqual(h.engine.view().members, [{ assignment: [{ topic: TOPIC, partitions: [0] }], failing: false }]);
            await tick();
            const batch = h.members[1].batch(records(0, 0, 2));
            await batch.promise;
            assert.deepStrictEqual(h.offsets(0), [0, 1, 2, 0, 1, 2], 'the new member delivers what the crashed one had not finished');
            first.hooks.onAssignment([{ topic: TOPIC, partitions: [5] }]);
            assert.deepStrictEqual(h.engine.view().members[0].assignment, [{ topic: TOPIC, partitions: [0] }], 'the old client is not heard any more');
        });

        it('retryNow() restarts a failed member at once', async function () {
            const h = await started({ retryBackoff: 5000 }, [0]);
            h.members[0].hooks.onCrash(new Error('x'));
            await sleep(10);
            assert.strictEqual(h.members.length, 1);
            h.engine.retryNow();
            await until('the restart', () => h.members.length === 2, 100);
        });

        it('retryNow() during a start begun while the cluster was away: if that start fails, the member starts again at once', async function () {
            const h = harness({ retryBackoff: 5000 });
            let starts = 0;
            let failSecond;
            h.onStart = () => {
                starts++;
                if (starts === 1) return Promise.reject(new Error('no broker'));
                return new Promise((resolve, reject) => { failSecond = reject; });
            };
            await h.engine.setTopics([TOPIC]);
            await until('member-failed', () => h.eventsOf('member-failed').length === 1);
            h.engine.retryNow();
            await until('the second start', () => h.members.length === 2 && failSecond, 100);
            // the cluster is back while the second start is under way; that start then fails on what it met before
            h.engine.retryNow();
            failSecond(new Error('group coordinator not available'));
            await until('a third start without the 5 s backoff', () => h.members.length === 3, 200);
        });

        it('a member whose start() fails is reported and restarted', async function () {
            const h = harness({});
            let starts = 0;
            h.onStart = () => (++starts === 1 ? Promise.reject(new Error('no broker')) : Promise.resolve());
            await h.engine.setTopics([TOPIC]);
            await until('member-failed', () => h.eventsOf('member-failed').length === 1);
            assert.strictEqual(h.eventsOf('member-failed')[0].error.message, 'no broker');
            assert.strictEqual(h.engine.view().members[0].failing, true);
            h.engine.retryNow();
            await until('the restart', () => h.members.length === 2, 100);
            h.members[1].assign([0]);
            assert.strictEqual(h.engine.view().members[0].failing, false);
            assert.strictEqual(h.eventsOf('member-recovered').length, 1);
        });
    });

    describe('pause and resume', function () {
        for (const policy of ['immediate', 'flow']) {
            it(`paused, nothing is emitted; resumed, emission continues (${policy})`, async function () {
                const h = await started({ policy, consumerCount: 2 }, [0], [1]);
                h.engine.pause();
                assert.deepStrictEqual(h.members.map((m) => m.pauses), [1, 1]);
                assert.strictEqual(h.engine.view().paused, true);
                const batch = h.members[0].batch(records(0, 0, 4));
                await sleep(3 * HEARTBEAT);
                assert.deepStrictEqual(h.emitted, []);
                assert.strictEqual(batch.state, 'pending');
                h.engine.resume();
                assert.deepStrictEqual(h.members.map((m) => m.resumes), [1, 1]);
                assert.strictEqual(h.engine.view().paused, false);
                await batch.promise;
                assert.deepStrictEqual(h.offsets(0), [0, 1, 2, 3, 4]);
            });
        }

        it('a pause in the middle of a batch stops it there', async function () {
            const h = await started({ maxInFlight: 4 }, [0]);
            const batch = h.members[0].batch(records(0, 0, 9));
            await until('the first records', () => h.emitted.length === 4);
            h.engine.pause();
            for (const o of [0, 1, 2, 3]) h.ack(0, o);
            await sleep(3 * HEARTBEAT);
            assert.strictEqual(h.emitted.length, 4);
            h.onEmit = (r) => setImmediate(() => h.ack(r.partition, r.offset));
            h.engine.resume();
            await batch.promise;
            assert.deepStrictEqual(h.offsets(0), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        });

        it('a member started while paused is paused once it runs', async function () {
            const h = harness({});
            h.engine.pause();
            await h.engine.setTopics([TOPIC]);
            await tick();
            assert.strictEqual(h.members[0].pauses, 1);
        });

        // Bug hunt: "pause stops fetching and sending records" (the consumer's help) must hold for retries too.
        it('a retry falling due while paused is emitted only after resume', async function () {
            const h = await started({}, [0]);
            await h.members[0].batch(records(0, 0, 0)).promise;
            h.engine.pause();
            h.fail(0, 0);
            await sleep(3 * BACKOFF);
            assert.strictEqual(h.emitted.length, 1, 'a record was sent to the flow while paused');
            h.engine.resume();
            await until('the retry after resume', () => h.emitted.length === 2, 500);
        });
    });

    describe('commits', function () {
        it('a failed commit is reported and tried again on the next ack', async function () {
            const h = await started({}, [0]);
            let calls = 0;
            h.onCommit = () => (++calls === 1 ? Promise.reject(new Error('NOT_COORDINATOR')) : Promise.resolve());
            await h.members[0].batch(records(0, 0, 1)).promise;
            h.ack(0, 0);
            await until('commit-failed', () => h.eventsOf('commit-failed').length === 1);
            assert.strictEqual(h.eventsOf('commit-failed')[0].error.message, 'NOT_COORDINATOR');
            h.ack(0, 1);
            await until('the second commit', () => h.commits().length === 2);
            assert.deepStrictEqual(h.lastCommit(0), { topic: TOPIC, partition: 0, offset: '2', metadata: null });
        });

        // Bug hunt: with commitInterval 0 there is no "next tick" to retry a failed commit (delivery-engine.ts, commitMember).
        it('with commitInterval 0, a failed commit is tried again without waiting for another ack', async function () {
            const h = await started({}, [0]);
            let calls = 0;
            h.onCommit = () => (++calls === 1 ? Promise.reject(new Error('NOT_COORDINATOR')) : Promise.resolve());
            await h.members[0].batch(records(0, 0, 1)).promise;
            h.ack(0, 0);
            h.ack(0, 1);
            await until('commit-failed', () => h.eventsOf('commit-failed').length === 1);
            await until('the commit tried again', () => h.commits().length === 2, 20 * BACKOFF);
            assert.deepStrictEqual(h.lastCommit(0), { topic: TOPIC, partition: 0, offset: '2', metadata: null });
        });

        it('immediate, with an interval: commits on the interval, not before', async function () {
            const h = await started({ policy: 'immediate', commitInterval: 30 }, [0]);
            await h.members[0].batch(records(0, 0, 1)).promise;
            await tick();
            assert.deepStrictEqual(h.commits(), [], 'not before the interval');
            await until('the interval commit', () => h.commits().length === 1, 200);
            assert.strictEqual(h.lastCommit(0).offset, '2');
            await h.engine.close();
        });

        it('after flow, whatever the interval: acknowledged records are committed once the burst of acks is over', async function () {
            const h = await started({ commitInterval: 60000 }, [0]);
            await h.members[0].batch(records(0, 0, 3)).promise;
            h.ack(0, 0);
            h.ack(0, 1);
            assert.deepStrictEqual(h.commits(), [], 'not within the burst');
            await until('a commit after the acks', () => h.commits().length === 1, 200);
            assert.strictEqual(h.lastCommit(0).offset, '2');
            h.ack(0, 3);
            await until('the next commit', () => h.commits().length === 2, 200);
            assert.strictEqual(h.lastCommit(0).offset, '2', 'offset 2 is still out');
            assert.deepStrictEqual(decodeDone(2n, h.lastCommit(0).metadata), [{ first: 3n, last: 3n }], 'what is done above it travels with it');
            await h.engine.close();
        });

        it('after flow: one commit under way per member; acks meanwhile go in one following commit', async function () {
            const h = await started({ commitInterval: 60000 }, [0]);
            let release;
            h.onCommit = () => (h.commits().length === 1 ? new Promise((r) => { release = r; }) : Promise.resolve());
            await h.members[0].batch(records(0, 0, 9)).promise;
            h.ack(0, 0);
            await until('the first commit under way', () => h.commits().length === 1, 200);
            for (const o of [1, 2, 3, 4, 5]) { h.ack(0, o); await tick(); }
            assert.strictEqual(h.commits().length, 1, 'no second commit while the first is under way');
            release();
            await until('one following commit', () => h.commits().length === 2, 200);
            await tick();
            assert.strictEqual(h.commits().length, 2);
            assert.strictEqual(h.lastCommit(0).offset, '6');
            await h.engine.close();
        });
    });

    describe('close()', function () {
        it('commits what is done, stops every member, ignores later acks, leaves no timer', async function () {
            await tick(); // mocha's own test timer is armed once the spec has returned its promise
            const baseline = timers();
            // long timers everywhere: a commit interval, an ack timeout, a retry, a waiting batch, a member restart
            const h = await started({ consumerCount: 2, maxInFlight: 4, commitInterval: 60000, ackTimeout: 60000, retryBackoff: 60000 }, [0], [1]);
            const batch = h.members[0].batch(records(0, 0, 9));
            await until('the first records', () => h.emitted.length === 4);
            h.ack(0, 0);
            h.ack(0, 1);
            h.fail(0, 2);
            h.members[1].hooks.onCrash(new Error('crash'));
            assert.ok(timers() > baseline);
            assert.deepStrictEqual(h.commits(), [], 'commit interval not yet due');

            await h.engine.close();
            await batch.promise;
            assert.strictEqual(batch.state, 'resolved');
            assert.deepStrictEqual(h.commits(), [{ topic: TOPIC, partition: 0, offset: '2', metadata: null }]);
            assert.deepStrictEqual(h.members.map((m) => m.stopped), [true, true]);
            assert.strictEqual(h.members.length, 2, 'the crashed member is not restarted');

            h.ack(0, 2);
            h.ack(0, 3);
            h.engine.fail({ topic: TOPIC, partition: 0, offset: '3' }, new Error('late'));
            await tick();
            await tick();
            assert.strictEqual(h.commits().length, 1, 'later acks are ignored');
            assert.strictEqual(h.emitted.length, 4);
            assert.strictEqual(timers(), baseline, 'timers left after close');
        });

        // Bug hunt: a dead-letter write still under way at close must not arm a retry timer when it fails.
        it('a dead-letter write that fails after close arms no timer', async function () {
            await tick(); // mocha's own test timer is armed once the spec has returned its promise
            const baseline = timers();
            const h = await started({ maxAttempts: 1, afterMaxAttempts: 'dlq', retryBackoff: 1000 }, [0]);
            const write = deferred();
            h.onDeadLetter = () => write.promise;
            await h.members[0].batch(records(0, 0, 0)).promise;
            h.fail(0, 0);
            assert.strictEqual(h.deadLetters.length, 1);
            await h.engine.close();
            write.reject(new Error('dlq down'));
            await tick();
            await tick();
            assert.strictEqual(timers(), baseline, 'a retry timer was armed after close');
        });
    });
});
