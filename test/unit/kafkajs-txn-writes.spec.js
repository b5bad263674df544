'use strict';
// The transactional-writes mend: AddPartitionsToTxn answered CONCURRENT_TRANSACTIONS (the
// coordinator still ending the transaction before) is asked again after short pauses
// instead of failing the write (with kafkajs's own protocol errors; anything else fails as
// before); a transactional produce holding records the same producer already had
// acknowledged is refused, not sent.
const assert = require('assert');
const { askingAgain, onceOnly, mendTransactionalWrites } = require('../../nodes/client/kafkajs-txn-writes');
const Broker = require('kafkajs/src/broker');
const { KafkaJSProtocolError, KafkaJSNonRetriableError } = require('kafkajs/src/errors');
const { createErrorFromCode } = require('kafkajs/src/protocol/error');

const protocolError = (code) => new KafkaJSProtocolError(createErrorFromCode(code));
const CONCURRENT_TRANSACTIONS = 51;
const INVALID_PRODUCER_EPOCH = 47;

/** An AddPartitionsToTxn that fails with `errors` in turn, then answers; it notes each call's time and `this`. */
function scripted(errors) {
    const calls = [];
    const add = async function (args) {
        calls.push({ at: Date.now(), self: this, args });
        const next = errors.shift();
        if (next) throw next;
        return { answered: args };
    };
    return { add, calls };
}

describe('kafkajs transactional writes mend', function () {
    it('is applied to the kafkajs Broker once', function () {
        const first = mendTransactionalWrites();
        assert.strictEqual(first.applied, true, first.reason);
        assert.deepStrictEqual(mendTransactionalWrites(), { applied: true, reason: 'already' });
        assert.strictEqual(typeof Broker.prototype.addPartitionsToTxn, 'function');
    });

    it('asks again while the coordinator answers CONCURRENT_TRANSACTIONS, after growing pauses, then answers', async function () {
        assert.strictEqual(protocolError(CONCURRENT_TRANSACTIONS).type, 'CONCURRENT_TRANSACTIONS');
        const { add, calls } = scripted([1, 2, 3].map(() => protocolError(CONCURRENT_TRANSACTIONS)));
        const self = { nodeId: 1 };
        const answer = await askingAgain(add).call(self, { topics: ['t'] });
        assert.deepStrictEqual(answer, { answered: { topics: ['t'] } });
        assert.strictEqual(calls.length, 4);
        assert.ok(calls.every((c) => c.self === self && c.args.topics[0] === 't'));
        const pauses = calls.slice(1).map((c, i) => c.at - calls[i].at);
        assert.ok(pauses[0] >= 15 && pauses[1] >= 35 && pauses[2] >= 75, `pauses ${pauses}`);
    });

    it('fails at once on any other error', async function () {
        const { add, calls } = scripted([protocolError(INVALID_PRODUCER_EPOCH)]);
        await assert.rejects(askingAgain(add)({}), (err) => err.type === 'INVALID_PRODUCER_EPOCH');
        assert.strictEqual(calls.length, 1);
    });

    it('fails with CONCURRENT_TRANSACTIONS once its budget is spent', async function () {
        const { add, calls } = scripted(Array.from({ length: 100 }, () => protocolError(CONCURRENT_TRANSACTIONS)));
        const t0 = Date.now();
        await assert.rejects(askingAgain(add, 300)({}), (err) => err.type === 'CONCURRENT_TRANSACTIONS');
        const spent = Date.now() - t0;
        assert.ok(spent <= 400, `gave up after ${spent} ms`);
        assert.ok(calls.length >= 3 && calls.length < 100, `${calls.length} calls`);
    });

    describe('a transactional produce', function () {
        const refusal = (message) => new KafkaJSNonRetriableError(message);
        const request = (messages, { producerId = 7, producerEpoch = 0, transactionalId = 'txn-a' } = {}) => ({
            transactionalId, producerId, producerEpoch, acks: -1,
            topicData: [{ topic: 'out', partitions: [{ partition: 0, firstSequence: 0, messages }] }],
        });
        /** A Broker.produce stand-in: notes each request it sends, fails the next one if told to. */
        function broker() {
            const b = { sent: [], failNext: null };
            b.produce = onceOnly(async function (req) {
                b.sent.push(req);
                if (b.failNext) {
                    const err = b.failNext;
                    b.failNext = null;
                    throw err;
                }
                return { topics: [] };
            }, refusal);
            return b;
        }

        it('holding records its producer already had acknowledged is refused, not sent, and not retried', async function () {
            const b = broker();
            const m1 = { key: 'k1', value: 'v1' };
            const m2 = { key: 'k2', value: 'v2' };
            await b.produce(request([m1, m2]));
            await assert.rejects(b.produce(request([m2])), (err) => err instanceof KafkaJSNonRetriableError && err.retriable === false && /a second time/.test(err.message));
            assert.strictEqual(b.sent.length, 1, 'the second request was not sent');
        });

        it('is sent again when the first try failed (nothing was acknowledged)', async function () {
            const b = broker();
            const m = { key: 'k', value: 'v' };
            b.failNext = protocolError(6); // NOT_LEADER_FOR_PARTITION
            await assert.rejects(b.produce(request([m])));
            await b.produce(request([m]));
            assert.strictEqual(b.sent.length, 2);
        });

        it('of another producer or epoch, and any non-transactional produce, goes through', async function () {
            const b = broker();
            const m = { key: 'k', value: 'v' };
            await b.produce(request([m]));
            await b.produce(request([m], { producerEpoch: 1 }));
            await b.produce(request([m], { producerId: 8 }));
            await b.produce(request([m], { transactionalId: null }));
            await b.produce(request([m], { transactionalId: null }));
            assert.strictEqual(b.sent.length, 5);
        });
    });
});
