'use strict';
// The fetch-retry mend (src/client/kafkajs-fetch-retry.ts), against kafkajs's own Runner with
// a stand-in consumer group: a fetch that fails for a while (a partition leader's broker died
// and the cluster has not moved its leadership yet) does not crash the consumer.
const assert = require('assert');
const { mendFetchRetry } = require('../../nodes/client/kafkajs-fetch-retry');
const Runner = require('kafkajs/src/consumer/runner');
const { KafkaJSConnectionError } = require('kafkajs/src/errors');

const logger = { namespace: () => logger, info() {}, warn() {}, debug() {}, error() {} };
const refused = () => new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9', { code: 'ECONNREFUSED' });

/** A Runner on a group whose fetches fail `failures` times, then succeed (empty). */
function runnerFailing(failures) {
    const r = { fetches: 0, crashed: null, heartbeats: 0 };
    let fetched;
    r.succeeded = new Promise((resolve) => { fetched = resolve; });
    const consumerGroup = {
        groupId: 'g', memberId: 'member-1',
        connect: async () => {}, joinAndSync: async () => {},
        getNodeIds: () => [1],
        fetch: async () => {
            r.fetches++;
            if (r.fetches <= failures) throw refused();
            fetched();
            await new Promise((resolve) => setTimeout(resolve, 20)); // a long poll that found nothing
            return [];
        },
        heartbeat: async () => { r.heartbeats++; },
        commitOffsetsIfNecessary: async () => {},
        leave: async () => {},
    };
    r.runner = new Runner({
        logger, consumerGroup, instrumentationEmitter: { emit() {} }, concurrency: 1,
        eachBatch: async () => {}, heartbeatInterval: 0,
        // the rebalance settings: one retry, 10 ms apart
        retry: { retries: 1, initialRetryTime: 10, maxRetryTime: 10, factor: 0, multiplier: 1 },
        onCrash: (e) => { r.crashed = e; },
    });
    return r;
}

describe('kafkajs seam: the fetch loop outlasts a leader failover', function () {
    before(function () {
        const m = mendFetchRetry();
        assert.strictEqual(m.applied, true, m.reason);
        assert.deepStrictEqual(mendFetchRetry(), { applied: true, reason: 'already' });
    });

    it('three failed fetches in a row (past the rebalance retries): the consumer fetches again instead of crashing', async function () {
        this.timeout(10000);
        const r = runnerFailing(3);
        await r.runner.start();
        await Promise.race([r.succeeded, new Promise((resolve) => setTimeout(resolve, 8000))]);
        await r.runner.stop();
        assert.strictEqual(r.crashed, null, r.crashed && r.crashed.message);
        assert.strictEqual(r.fetches >= 4, true, `${r.fetches} fetches`);
        assert.ok(r.heartbeats >= 1);
    });

    it('the runner keeps its own retry (offset commits) as it was given', async function () {
        const r = runnerFailing(0);
        const own = r.runner.retrier;
        await r.runner.start();
        await r.succeeded;
        await r.runner.stop();
        assert.strictEqual(r.runner.retrier, own);
    });
});
