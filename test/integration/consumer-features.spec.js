'use strict';
/*
 * kafka-consumer settings against the real broker: isolation level, initial
 * offset, regex subscriptions, pause/resume, dead-letter topic, compressed
 * records, and an unreachable cluster.
 */
const assert = require('assert');
const { CompressionTypes } = require('kafkajs');
const { helper, env, nodeModules, unique, kafka, withProducer, sleep, lastStatus, createTopic, configFor, waitFor, readBack } = require('./support');

const NODES = nodeModules('kafka-config', 'kafka-consumer', 'function', 'complete', 'catch');

/** consumer -> collector (records into an array; fails every record when `fail`) ; Complete + Catch wired back. */
function flowFor({ topics, group, consumer = {}, cfg = {}, fail = false, listener = 'plaintext' }) {
    const { nodes, credentials } = configFor(listener, 'cfg', { commitInterval: 200, retryBackoff: 200, ...cfg });
    return {
        credentials,
        flow: [
            ...nodes,
            { id: 'c1', type: 'kafka-consumer', config: 'cfg', group: group || unique('g'), topics, format: 'string', wires: [['w1']], ...consumer },
            {
                id: 'w1', type: 'function', wires: [[]],
                func: `const got = global.get('got') || []; got.push(msg); global.set('got', got);
${fail ? "throw new Error('always fails');" : 'node.send(msg); node.done(); return null;'}`,
            },
            { id: 'done1', type: 'complete', scope: ['w1'], uncaught: false, wires: [['c1']] },
            { id: 'catch1', type: 'catch', scope: ['w1'], uncaught: false, wires: [['c1']] },
        ],
    };
}

// Arrays made in the function node's sandbox: copy into this realm for deepStrictEqual.
const got = () => Array.from(helper.getNode('w1').context().global.get('got') || []);

async function send(topic, messages, extra = {}) {
    await withProducer((p) => p.send({ topic, messages, ...extra }));
}

describe('kafka-consumer settings', function () {
    this.timeout(120000);
    afterEach(async function () {
        await helper.unload();
    });

    for (const [isolation, expected] of [['committed', ['after']], ['uncommitted', ['a0', 'a1', 'a2', 'after']]]) {
        it(`read ${isolation} ${isolation === 'committed' ? 'hides' : 'shows'} an aborted transaction's records`, async function () {
            const topic = await createTopic(unique('cons-txn'), 1);
            const producer = kafka().producer({ transactionalId: unique('tx'), idempotent: true, maxInFlightRequests: 1 });
            await producer.connect();
            try {
                const tx = await producer.transaction();
                await tx.send({ topic, messages: [0, 1, 2].map((i) => ({ value: `a${i}` })) });
                await tx.abort();
            } finally {
                await producer.disconnect();
            }
            await send(topic, [{ value: 'after' }]);
            const { flow, credentials } = flowFor({ topics: topic, cfg: { isolationLevel: isolation, initialOffset: 'oldest' } });
            await helper.load(NODES, flow, credentials);
            await waitFor(() => got().some((m) => m.payload === 'after'), 'the committed record', 30000);
            await sleep(500);
            assert.deepStrictEqual(got().map((m) => m.payload), expected);
        });
    }

    it('starts from the oldest or the newest offset as configured', async function () {
        const topic = await createTopic(unique('cons-initial'), 1);
        await send(topic, [{ value: 'old1' }, { value: 'old2' }]);
        const newest = flowFor({ topics: topic, cfg: { initialOffset: 'newest' } });
        await helper.load(NODES, newest.flow, newest.credentials);
        await waitFor(() => /consuming/.test((lastStatus(helper.getNode('c1')) || {}).text || ''), 'joined', 30000);
        await sleep(500);
        await send(topic, [{ value: 'new1' }]);
        await waitFor(() => got().length >= 1, 'the new record', 30000);
        await sleep(500);
        assert.deepStrictEqual(got().map((m) => m.payload), ['new1']);
        await helper.unload();
        const oldest = flowFor({ topics: topic, cfg: { initialOffset: 'oldest' } });
        await helper.load(NODES, oldest.flow, oldest.credentials);
        await waitFor(() => got().length >= 3, 'every record', 30000);
        assert.deepStrictEqual(got().map((m) => m.payload), ['old1', 'old2', 'new1']);
        const m = got()[0];
        assert.deepStrictEqual({ ...m.attribute }, { topic, partition: 0, offset: 0 });
        assert.strictEqual(m.topic, topic);
        assert.strictEqual(typeof m.timestamp, 'number');
    });

    it('picks up a topic created after deploy that matches a /regex/ entry', async function () {
        const prefix = unique('cons-rx');
        const first = await createTopic(`${prefix}-one`, 1);
        const { flow, credentials } = flowFor({ topics: `/^${prefix}-/`, consumer: { topicRefresh: 500 }, cfg: { initialOffset: 'oldest' } });
        await helper.load(NODES, flow, credentials);
        await send(first, [{ value: 'one' }]);
        await waitFor(() => got().length >= 1, 'a record of the first topic', 30000);
        const second = await createTopic(`${prefix}-two`, 1);
        await send(second, [{ value: 'two' }]);
        await waitFor(() => got().some((m) => m.payload === 'two'), 'a record of the topic created later', 30000);
        assert.deepStrictEqual([...new Set(got().map((m) => m.topic))].sort(), [first, second]);
    });

    it('pauses and resumes on msg.action', async function () {
        const topic = await createTopic(unique('cons-pause'), 1);
        const { flow, credentials } = flowFor({ topics: topic, cfg: { initialOffset: 'oldest' } });
        await helper.load(NODES, flow, credentials);
        const c1 = helper.getNode('c1');
        await waitFor(() => /consuming/.test((lastStatus(c1) || {}).text || ''), 'joined', 30000);
        c1.receive({ action: 'pause' });
        await send(topic, [{ value: 'p1' }, { value: 'p2' }]);
        await sleep(2000);
        assert.strictEqual(got().length, 0);
        assert.match(lastStatus(c1).text, /paused/);
        c1.receive({ action: 'resume' });
        await waitFor(() => got().length === 2, 'records after resume', 30000);
    });

    it('sends a record that failed its maximum attempts to the dead-letter topic', async function () {
        const topic = await createTopic(unique('cons-src'), 1);
        const dlq = await createTopic(unique('cons-dlq'), 1);
        await send(topic, [{ key: 'k', value: 'bad', headers: { h: 'x' } }]);
        const { flow, credentials } = flowFor({
            topics: topic, fail: true,
            consumer: { maxAttempts: 3, afterMaxAttempts: 'dlq', deadLetterTopic: dlq },
            cfg: { initialOffset: 'oldest' },
        });
        await helper.load(NODES, flow, credentials);
        const [dead] = await readBack(dlq, 1, 30000);
        assert.strictEqual(dead.value.toString(), 'bad');
        assert.strictEqual(dead.key.toString(), 'k');
        assert.strictEqual(dead.headers.h.toString(), 'x');
        assert.strictEqual(dead.headers['dlq-origin-topic'].toString(), topic);
        assert.strictEqual(dead.headers['dlq-origin-partition'].toString(), '0');
        assert.strictEqual(dead.headers['dlq-origin-offset'].toString(), '0');
        assert.match(dead.headers['dlq-error'].toString(), /always fails/);
        assert.strictEqual(got().length, 3);
    });

    it('decodes gzip-compressed records', async function () {
        const topic = await createTopic(unique('cons-gzip'), 1);
        await send(topic, [{ value: 'z'.repeat(1000) }, { value: '{"a":1}' }], { compression: CompressionTypes.GZIP });
        const { flow, credentials } = flowFor({ topics: topic, cfg: { initialOffset: 'oldest' } });
        await helper.load(NODES, flow, credentials);
        await waitFor(() => got().length === 2, 'both records', 30000);
        assert.strictEqual(got()[0].payload, 'z'.repeat(1000));
    });

    it('reports an unreachable cluster once with CORE:RUNTIME and a red status, and recovers after a broker restart', async function () {
        if (!env.broker()) this.skip();
        this.timeout(240000);
        const topic = await createTopic(unique('cons-down'), 1);
        const { flow, credentials } = flowFor({ topics: topic, cfg: { initialOffset: 'oldest', retryBackoff: 500, sessionTimeout: 6000, heartbeatInterval: 1000 } });
        flow.push({ id: 'errs', type: 'function', wires: [[]], func: "const e = global.get('errs') || []; e.push(msg); global.set('errs', e); return null;" });
        flow.push({ id: 'bad', type: 'function', wires: [[]], func: "if (msg.error || msg.payload === null) { const b = global.get('bad') || []; b.push(msg); global.set('bad', b); } return null;" });
        flow.find((n) => n.id === 'c1').wires = [['w1', 'bad'], ['errs']];
        await helper.load(NODES, flow, credentials);
        const c1 = helper.getNode('c1');
        const globalCtx = helper.getNode('w1').context().global;
        await waitFor(() => /consuming/.test((lastStatus(c1) || {}).text || ''), 'joined', 30000);
        await env.broker().stop();
        try {
            await waitFor(() => (globalCtx.get('errs') || []).some((m) => m.error), 'an error message', 120000, 200);
            const errs = globalCtx.get('errs').filter((m) => m.error);
            assert.strictEqual(errs[0].error.Code, 'CORE:RUNTIME');
            assert.ok(errs[0].error.Description.length > 10);
            assert.strictEqual(lastStatus(c1).fill, 'red');
            await sleep(3000);
            assert.strictEqual(globalCtx.get('errs').filter((m) => m.error).length, 1, 'one error message per episode');
            assert.deepStrictEqual(globalCtx.get('bad') || [], [], 'nothing but records on the records output');
        } finally {
            await env.broker().start();
        }
        await waitFor(() => /consuming/.test((lastStatus(c1) || {}).text || ''), 'recovered', 120000, 200);
        await send(topic, [{ value: 'back' }]);
        await waitFor(() => got().some((m) => m.payload === 'back'), 'a record after recovery', 60000);
    });
});
