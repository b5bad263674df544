'use strict';
/*
 * kafka-publish against the real broker: every input path, read back by an
 * independent consumer; bad input gives its Code and Description, Catch fires and
 * the next message goes through; acks None / Leader / All, idempotence, compression.
 */
const should = require('should');
const { ConfigResourceTypes } = require('kafkajs');
const { helper, unique, kafka, withAdmin, createTopic, readBack, waitFor, unloadAndCheckRejections } = require('./support');
const { loadPublish } = require('./publish-harness');

/** Records read back, by offset, for one partition. */
function byOffset(records) {
    const m = new Map();
    for (const r of records) m.set(`${r.partition}:${r.offset}`, r);
    return m;
}

describe('kafka-publish (real broker)', function () {
    this.timeout(60000);
    unloadAndCheckRejections();

    describe('content', function () {
        it('writes a string, a Buffer byte for byte, a JSON object and a tombstone; attribute is where each landed', async function () {
            const topic = await createTopic(unique('pub-content'), 1);
            const h = await loadPublish({}, { topic });
            const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80]);
            const payloads = ['héllo wörld', bytes, { a: 1, nested: { b: [true, null] } }, null];
            const outs = [];
            for (const payload of payloads) outs.push(await h.send({ payload, other: 'kept' }));
            outs.forEach((o, i) => {
                should(o.error).be.undefined();
                o.attribute.should.deepEqual({ topic, partition: 0, offset: i });
                o.other.should.equal('kept');
                should(o.payload).deepEqual(payloads[i]);
            });
            const got = byOffset(await readBack(topic, 4));
            got.get('0:0').value.toString('utf8').should.equal('héllo wörld');
            got.get('0:1').value.should.deepEqual(bytes);
            JSON.parse(got.get('0:2').value.toString()).should.deepEqual(payloads[2]);
            should(got.get('0:3').value).be.null();
            await waitFor(() => h.completedMsgs.length === 4, 'four at the Complete node', 5000);
            h.caughtMsgs.length.should.equal(0);
        });
    });

    describe('partitions, keys, headers', function () {
        it('the same key lands in the same partition, and where kafkajs\'s Java-compatible partitioner puts it', async function () {
            const topic = await createTopic(unique('pub-key'), 6);
            const h = await loadPublish({}, { topic });
            const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];
            const mine = {};
            for (const key of keys) {
                const a = await h.send({ payload: 'x', key });
                const b = await h.send({ payload: 'y', key });
                a.attribute.partition.should.equal(b.attribute.partition);
                mine[key] = a.attribute.partition;
            }
            new Set(Object.values(mine)).size.should.be.above(1, 'keys spread over partitions');
            // An independent producer with kafkajs's default (Java-compatible) partitioner.
            const producer = kafka().producer();
            await producer.connect();
            try {
                for (const key of keys) {
                    const [r] = await producer.send({ topic, messages: [{ key, value: 'z' }] });
                    r.partition.should.equal(mine[key], `key ${key}`);
                }
            } finally {
                await producer.disconnect();
            }
            const back = await readBack(topic, keys.length * 3);
            for (const r of back) r.partition.should.equal(mine[r.key.toString()]);
        });

        it('keyless records go round-robin over the partitions', async function () {
            const topic = await createTopic(unique('pub-rr'), 3);
            const h = await loadPublish({}, { topic });
            const parts = [];
            for (let i = 0; i < 6; i++) parts.push((await h.send({ payload: String(i) })).attribute.partition);
            new Set(parts).size.should.equal(3);
        });

        it('honours an explicit partition (field and msg.partition), and headers round-trip', async function () {
            const topic = await createTopic(unique('pub-part'), 4);
            const h = await loadPublish({}, { topic, partition: '2', headers: '{"source":"field","n":"1"}' });
            const a = await h.send({ payload: 'a', partition: 3, headers: { source: 'msg' } });
            a.attribute.partition.should.equal(2, 'the field wins over msg.partition');
            await helper.unload();
            const h2 = await loadPublish({}, { topic });
            const b = await h2.send({ payload: 'b', partition: 3, headers: '{"source":"msg-json","bin":"x"}' });
            b.attribute.partition.should.equal(3);
            const c = await h2.send({ payload: 'c', partition: '1', headers: { list: ['x', 'y'] } });
            c.attribute.partition.should.equal(1);
            const got = byOffset(await readBack(topic, 3));
            const ra = got.get('2:0');
            ra.value.toString().should.equal('a');
            ra.headers.source.toString().should.equal('field');
            ra.headers.n.toString().should.equal('1');
            got.get('3:0').headers.source.toString().should.equal('msg-json');
            got.get('1:0').headers.list.map(String).should.deepEqual(['x', 'y']);
        });

        it('msg.topic and msg.key apply only where the field is empty', async function () {
            const fieldTopic = await createTopic(unique('pub-field'), 1);
            const msgTopic = await createTopic(unique('pub-msg'), 1);
            let h = await loadPublish({}, { topic: fieldTopic, key: 'field-key' });
            (await h.send({ payload: '1', topic: msgTopic, key: 'msg-key' })).attribute.topic.should.equal(fieldTopic);
            await helper.unload();
            h = await loadPublish({}, {});
            (await h.send({ payload: '2', topic: msgTopic, key: 'msg-key' })).attribute.topic.should.equal(msgTopic);
            (await readBack(fieldTopic, 1))[0].key.toString().should.equal('field-key');
            (await readBack(msgTopic, 1))[0].key.toString().should.equal('msg-key');
        });
    });

    describe('bad input', function () {
        it('each gives CORE:PARAM with a useful Description, fires Catch not Complete, and the next message goes through', async function () {
            const topic = await createTopic(unique('pub-bad'), 2);
            const h = await loadPublish({ maxMessageBytes: 1000 }, {});
            const cases = [
                [{ payload: 'x' }, /topic/i],
                [{ payload: 'x', topic: 'a/b' }, /topic name "a\/b" is not allowed/],
                [{ payload: 'x', topic, headers: '[1,2]' }, /JSON object/],
                [{ payload: 'x', topic, headers: '{broken' }, /not valid JSON/],
                [{ payload: 'x', topic, partition: 1.5 }, /whole number/],
                [{ payload: 'x', topic, partition: 'two' }, /whole number/],
                [{ payload: 'x', topic, partition: 7 }, /has no partition 7.*2 partitions/],
                [{ payload: Buffer.alloc(1000 - 36 + 1), topic }, /1001 bytes.*1000/],
            ];
            for (const [msg, description] of cases) {
                const o = await h.send(msg);
                should(o.attribute).be.undefined();
                o.error.Code.should.equal('CORE:PARAM');
                o.error.Description.should.match(description);
            }
            // Catch runs on done(err), a tick after the output message.
            await waitFor(() => h.caughtMsgs.length === cases.length, 'every failure at the Catch node', 5000);
            h.caughtMsgs[0].error.message.should.match(/topic/i);
            h.completedMsgs.length.should.equal(0);
            // exactly at the limit passes
            const ok = await h.send({ payload: Buffer.alloc(1000 - 36), topic, partition: 1 });
            should(ok.error).be.undefined();
            ok.attribute.should.deepEqual({ topic, partition: 1, offset: 0 });
            await waitFor(() => h.completedMsgs.length === 1, 'the good message at the Complete node', 5000);
            h.caughtMsgs.length.should.equal(cases.length);
        });

        it('a topic the cluster does not have is created by it when its auto.create.topics.enable is on, else CORE:RUNTIME', async function () {
            const topic = unique('pub-auto');
            const { auto, partitions } = await withAdmin(async (admin) => {
                const res = await admin.describeConfigs({
                    includeSynonyms: false,
                    resources: [{ type: ConfigResourceTypes.BROKER, name: String((await admin.describeCluster()).brokers[0].nodeId) }],
                });
                const value = (name) => res.resources[0].configEntries.find((e) => e.configName === name).configValue;
                (await admin.listTopics()).should.not.containEql(topic);
                return { auto: value('auto.create.topics.enable') === 'true', partitions: Number(value('num.partitions')) };
            });
            const h = await loadPublish({}, {});
            const first = await h.send({ payload: 'one', topic });
            if (!auto) {
                first.error.Code.should.equal('CORE:RUNTIME');
                first.error.Description.should.match(/^The topic "[^"]+" does not exist on the cluster, and the cluster did not create it/);
                return;
            }
            should(first.error).be.undefined();
            first.attribute.topic.should.equal(topic);
            first.attribute.offset.should.equal(0);
            first.attribute.partition.should.be.within(0, partitions - 1);
            const second = await h.send({ payload: 'two', topic, partition: first.attribute.partition });
            second.attribute.should.deepEqual({ topic, partition: first.attribute.partition, offset: 1 });
            (await readBack(topic, 2)).map((r) => r.value.toString()).should.deepEqual(['one', 'two']);
            await waitFor(() => h.completedMsgs.length === 2, 'both at the Complete node', 5000);
            h.caughtMsgs.length.should.equal(0);
        });

        it('a topic the cluster refuses to create gives CORE:RUNTIME, then a good one goes through', async function () {
            // Kafka refuses a name that differs from an existing topic's only by '.' against '_'.
            const base = unique('pub.clash').replace(/-/g, '.');
            await createTopic(base, 1);
            const good = await createTopic(unique('pub-good'), 1);
            const h = await loadPublish({}, {});
            const clash = base.replace(/\./g, '_');
            const o = await h.send({ payload: 'x', topic: clash });
            should(o.attribute).be.undefined();
            o.error.should.deepEqual({
                Code: 'CORE:RUNTIME',
                Description: `The topic "${clash}" does not exist on the cluster, and the cluster did not create it ` +
                    '(its auto.create.topics.enable is off, the name clashes with an existing topic, or this client may not create topics): ' +
                    'create the topic first, or write to an existing one.',
            });
            (await withAdmin((admin) => admin.listTopics())).should.not.containEql(clash);
            await waitFor(() => h.caughtMsgs.length === 1, 'the failure at the Catch node', 5000);
            (await h.send({ payload: 'y', topic: good })).attribute.offset.should.equal(0);
        });

        it('an unreachable cluster gives CORE:RUNTIME saying so', async function () {
            this.timeout(90000);
            const h = await loadPublish({ brokers: '127.0.0.1:1', connectionTimeout: 1000 }, { topic: 'whatever' });
            const o = await h.send({ payload: 'x' });
            o.error.Code.should.equal('CORE:RUNTIME');
            o.error.Description.should.match(/reach/i);
            await waitFor(() => h.caughtMsgs.length === 1, 'the failure at the Catch node', 5000);
            h.completedMsgs.length.should.equal(0);
        });
    });

    describe('producer settings', function () {
        for (const [acks, offsetOf] of [['none', () => -1], ['leader', (i) => i], ['all', (i) => i]]) {
            it(`required acks ${acks}`, async function () {
                const topic = await createTopic(unique(`pub-acks-${acks}`), 1);
                const h = await loadPublish({ requiredAcks: acks }, { topic });
                for (let i = 0; i < 3; i++) (await h.send({ payload: String(i) })).attribute.offset.should.equal(offsetOf(i));
                (await readBack(topic, 3)).map((r) => r.value.toString()).should.deepEqual(['0', '1', '2']);
            });
        }

        it('idempotent with acks all', async function () {
            const topic = await createTopic(unique('pub-idem'), 2);
            const h = await loadPublish({ requiredAcks: 'all', idempotent: true }, { topic });
            const outs = await Promise.all([...Array(20).keys()].map((i) => h.send({ payload: String(i), key: `k${i % 4}` })));
            outs.forEach((o) => should(o.error).be.undefined());
            const back = byOffset(await readBack(topic, 20));
            for (const o of outs) back.get(`${o.attribute.partition}:${o.attribute.offset}`).value.toString().should.equal(o.payload);
        });

        for (const compression of ['gzip', 'snappy', 'lz4', 'zstd']) {
            it(`compression ${compression}: the broker accepts it and a consumer decodes it`, async function () {
                const topic = await createTopic(unique(`pub-${compression}`), 1);
                const h = await loadPublish({ compression, flushMessages: 5 }, { topic });
                const payloads = [...Array(5).keys()].map((i) => `record ${i} `.repeat(50));
                const outs = await Promise.all(payloads.map((payload) => h.send({ payload })));
                outs.map((o) => o.attribute.offset).sort().should.deepEqual([0, 1, 2, 3, 4]);
                (await readBack(topic, 5)).map((r) => r.value.toString()).should.deepEqual(payloads);
            });
        }
    });
});
