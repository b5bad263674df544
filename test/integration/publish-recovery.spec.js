'use strict';
/*
 * Recovery is quick and quiet: the broker is stopped for longer than the old
 * backoff ever reached (35 s), then started. Within 5 s of the broker being ready
 * the kafka-config node is connected again and a publish succeeds; the outage is
 * logged once by the config node with its cause and once when it ends, and
 * kafkajs's retry chatter stays out of the warnings.
 */
const assert = require('assert');
const { helper, env, unique, createTopic, waitFor, sleep, lastStatus } = require('./support');
const { loadPublish } = require('./publish-harness');

const OUTAGE_MS = 35000;
const RECOVERY_MS = 5000;

/** Records what a node logs, by level, without silencing it. */
function logsOf(node) {
    const seen = { error: [], warn: [], log: [] };
    for (const level of Object.keys(seen)) {
        const original = node[level].bind(node);
        node[level] = (m, ...rest) => { seen[level].push(typeof m === 'string' ? m : String(m && m.message || m)); return original(m, ...rest); };
    }
    return seen;
}

describe('recovery after a long outage (real broker)', function () {
    this.timeout(240000);
    before(function () {
        if (env.info().external) this.skip(); // an external cluster cannot be stopped from here
    });
    afterEach(async function () { await helper.unload(); });

    it(`is connected and publishes within ${RECOVERY_MS / 1000} s of the broker being back, with one log line at each end of the outage`, async function () {
        const topic = await createTopic(unique('pub-recovery'), 1);
        const h = await loadPublish({ requiredAcks: 'all' }, { topic });
        const cfg = helper.getNode('cfg');
        const first = await h.send({ payload: 'before' });
        assert.strictEqual(first.error, undefined);
        await waitFor(() => cfg.state === 'connected', 'connected', 10000);
        const cfgLogs = logsOf(cfg);
        const pubLogs = logsOf(h.pub);
        const states = [];
        const seenStates = setInterval(() => { if (states[states.length - 1] !== cfg.state) states.push(cfg.state); }, 20);
        try {
            await env.broker().stop();
            await waitFor(() => cfg.state === 'retrying', 'the config node to notice the outage', 10000);
            await waitFor(() => /disconnected/.test(lastStatus(h.pub)?.text || ''), 'the publish node to show it', 5000);
            // Messages sent during the outage fail (CORE:RUNTIME) once the producer's retries run out.
            const during = h.send({ payload: 'during' });
            await sleep(OUTAGE_MS);
            await env.broker().start();
            const ready = Date.now();
            await waitFor(() => cfg.state === 'connected', 'connected again', RECOVERY_MS, 20);
            const connectedAfter = Date.now() - ready;
            let written = null;
            while (!written && Date.now() - ready < RECOVERY_MS) {
                const out = await h.send({ payload: 'after' });
                if (!out.error) written = out;
                else await sleep(100);
            }
            const publishedAfter = Date.now() - ready;
            console.log(`      connected ${connectedAfter} ms and published ${publishedAfter} ms after the broker was ready`);
            assert.ok(written, `a publish succeeded within ${RECOVERY_MS} ms of the broker being ready`);
            assert.deepStrictEqual(written.attribute.topic, topic);
            assert.ok(publishedAfter <= RECOVERY_MS, `published ${publishedAfter} ms after ready`);
            await waitFor(() => lastStatus(h.pub)?.fill === 'green', 'the publish node green again', 3000);
            const d = await during;
            if (d.error) assert.strictEqual(d.error.Code, 'CORE:RUNTIME');

            // Quiet: one error with the cause when the outage began, one line when it ended.
            // connected -> retrying (no flicker through "connecting" at each retry) -> connected
            assert.deepStrictEqual(states, ['connected', 'retrying', 'connected']);
            assert.strictEqual(cfgLogs.error.length, 1, `one error for the outage: ${cfgLogs.error.join(' | ')}`);
            assert.match(cfgLogs.error[0], /Cannot connect to Kafka: Kafka could not be reached.*ECONNREFUSED|Cannot connect to Kafka: .*(Connection|closed)/);
            assert.deepStrictEqual(cfgLogs.log.filter((l) => /restored/.test(l)).length, 1, `one line for the recovery: ${cfgLogs.log.join(' | ')}`);
            const kafkajsWarnings = cfgLogs.warn.filter((w) => w.startsWith('[kafkajs'));
            assert.deepStrictEqual(kafkajsWarnings, [], 'kafkajs retry chatter is not a warning');
            assert.deepStrictEqual(pubLogs.warn, []);
        } finally {
            clearInterval(seenStates);
            await env.broker().start();
        }
    });
});
