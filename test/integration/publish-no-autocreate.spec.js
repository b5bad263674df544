'use strict';
/*
 * kafka-publish against a cluster that does not create topics on demand
 * (auto.create.topics.enable=false, as most production clusters run): a missing
 * topic is reported at once, with a sentence that says what to do, and an
 * existing topic is written as usual. This spec starts a broker of its own.
 */
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { Kafka, logLevel } = require('kafkajs');
const { Broker, CACHE } = require('../../scripts/kafka/broker');
const { helper, unique, waitFor } = require('./support');
const { loadPublish } = require('./publish-harness');

describe('kafka-publish on a cluster that does not create topics', function () {
    this.timeout(180000);
    let broker = null;
    const dir = path.join(CACHE, `run-no-autocreate-${process.pid}`);

    before(async function () {
        // Needs a broker with its own settings: not possible against KAFKA_BROKERS.
        if (process.env.KAFKA_BROKERS) this.skip();
        broker = new Broker({
            dir,
            properties: { 'auto.create.topics.enable': 'false' },
        });
        await broker.start();
    });

    after(async function () {
        if (!broker) return;
        await broker.close();
        await fs.promises.rm(dir, { recursive: true, force: true });
    });

    afterEach(async function () {
        await helper.unload();
    });

    it('reports a missing topic at once as CORE:RUNTIME, creates nothing, and writes to an existing topic', async function () {
        const kafka = new Kafka({ clientId: 'spec-checker', brokers: [broker.info().plaintext], logLevel: logLevel.NOTHING });
        const admin = kafka.admin();
        await admin.connect();
        try {
            const existing = unique('exists');
            await admin.createTopics({ waitForLeaders: true, topics: [{ topic: existing, numPartitions: 1 }] });
            const h = await loadPublish({ brokers: broker.info().plaintext });

            const missing = unique('missing');
            const t0 = Date.now();
            const failed = await h.send({ topic: missing, payload: 'lost?' });
            const ms = Date.now() - t0;
            assert.strictEqual(failed.error.Code, 'CORE:RUNTIME');
            assert.match(failed.error.Description, new RegExp(`"${missing}" does not exist.*create the topic first`));
            assert.ok(ms < 3000, `answered in ${ms} ms, without waiting for a creation that never comes`);
            await waitFor(() => h.caughtMsgs.length === 1, 'the Catch node fired', 5000);
            assert.ok(!(await admin.listTopics()).includes(missing), 'the topic was not created');

            const ok = await h.send({ topic: existing, payload: 'kept' });
            assert.strictEqual(ok.error, undefined);
            assert.deepStrictEqual(ok.attribute, { topic: existing, partition: 0, offset: 0 });
        } finally {
            await admin.disconnect();
        }
    });
});
