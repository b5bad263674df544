'use strict';
/*
 * The schema registry path against the real broker and the real registry the test run
 * starts (test/integration/global.js): kafka-publish encodes, kafka-consumer decodes,
 * and @kafkajs/confluent-schema-registry used directly (outside Node-RED) is the
 * independent encoder and decoder. Avro, JSON Schema and Protobuf; schema evolution;
 * bad records to the dead-letter topic; the registry stopped and started again.
 */
const assert = require('assert');
const fs = require('fs');
const http = require('http');
const https = require('https');
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry');
const protobuf = require('protobufjs');
const { helper, nodeModules, configFor, unique, createTopic, readBack, withProducer, waitFor, sleep, lastStatus, unloadAndCheckRejections, kafka } = require('./support');
const { Registry } = require('../../scripts/registry/registry');
const { makeCerts } = require('../../scripts/kafka/broker');
const registryEnv = require('./registry-env');
const { TcpProxy } = require('./tcp-proxy');
const { URL } = require('url');

const NODES = nodeModules('kafka-config', 'kafka-schema-registry', 'kafka-consumer', 'kafka-publish', 'complete', 'catch', 'tls-config');

/** The independent client: the library itself, no Node-RED. */
function independent() {
    return new SchemaRegistry({ host: registryEnv.url() });
}

const SCHEMAS = {
    AVRO: JSON.stringify({
        type: 'record', name: 'Order', namespace: 'spec',
        fields: [{ name: 'id', type: 'int' }, { name: 'item', type: 'string' }, { name: 'tags', type: { type: 'array', items: 'string' } }],
    }),
    JSON: JSON.stringify({
        $schema: 'http://json-schema.org/draft-07/schema#', type: 'object',
        properties: { id: { type: 'integer' }, item: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } },
        required: ['id', 'item'],
    }),
    PROTOBUF: 'syntax = "proto3";\npackage spec;\nmessage Order {\n  int32 id = 1;\n  string item = 2;\n  repeated string tags = 3;\n}\n',
};

function registryNode(id = 'reg') {
    return { id, type: 'kafka-schema-registry', name: 'registry', url: registryEnv.url() };
}

/**
 * A flow with a registry node, a consumer decoding with it into a collector (which acks
 * through Complete/Catch), and a publish node encoding with it (output, Catch, Complete
 * into helpers). `registry` overrides the registry node's properties, `registryCredentials`
 * are its username and password, `extra` are more config nodes (a tls-config).
 */
async function load({ consumer = null, publish = null, cfg = {}, registry = {}, registryCredentials = null, extra = [] }) {
    const { nodes, credentials } = configFor('plaintext', 'cfg', { commitInterval: 200, retryBackoff: 200, initialOffset: 'oldest', ...cfg });
    if (registryCredentials) credentials.reg = registryCredentials;
    const flow = [{ id: 'f1', type: 'tab' }, ...[...nodes, ...extra].map((n) => ({ ...n, z: 'f1' })), { ...registryNode(), ...registry, z: 'f1' }];
    if (consumer) {
        flow.push(
            { id: 'c1', z: 'f1', type: 'kafka-consumer', config: 'cfg', group: unique('g'), format: 'registry', registry: 'reg', wires: [['got'], ['errs']], ...consumer },
            { id: 'got', z: 'f1', type: 'helper' },
            { id: 'errs', z: 'f1', type: 'helper' },
        );
    }
    if (publish) {
        flow.push(
            { id: 'pub', z: 'f1', type: 'kafka-publish', config: 'cfg', registry: 'reg', encode: 'value', wires: [['out']], ...publish },
            { id: 'out', z: 'f1', type: 'helper' },
            { id: 'cp', z: 'f1', type: 'complete', scope: ['pub'], wires: [['completed']] },
            { id: 'completed', z: 'f1', type: 'helper' },
        );
    }
    // One Catch node for both (the test helper loads a core node's module once per node of its type).
    flow.push(
        { id: 'cat', z: 'f1', type: 'catch', scope: ['c1', 'pub'].filter((id) => flow.some((n) => n.id === id)), uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'f1', type: 'helper' },
    );
    await helper.load(NODES, flow, credentials);
    const h = { got: [], errs: [], consumerCaught: [], outputs: [], caught: [], completed: [] };
    if (consumer) {
        const c1 = helper.getNode('c1');
        helper.getNode('got').on('input', (msg) => {
            h.got.push(msg);
            // the flow's work is done: acknowledge, as a Complete node wired back would
            if (!h.holdAcks) c1.receive({ _kafka: msg._kafka });
        });
        helper.getNode('errs').on('input', (msg) => h.errs.push(msg));
    }
    helper.getNode('caught').on('input', (msg) => (msg.error.source.id === 'c1' ? h.consumerCaught : h.caught).push(msg));
    if (publish) {
        const waiting = new Map();
        helper.getNode('out').on('input', (msg) => {
            h.outputs.push(msg);
            const w = waiting.get(msg._msgid);
            if (w) { waiting.delete(msg._msgid); w(msg); }
        });
        helper.getNode('completed').on('input', (msg) => h.completed.push(msg));
        let n = 0;
        h.send = (msg) => new Promise((resolve) => {
            const _msgid = `m${Date.now()}-${n++}`;
            waiting.set(_msgid, resolve);
            helper.getNode('pub').receive({ ...msg, _msgid });
        });
    }
    return h;
}

/** Avro subjects `<topic>-a` ({a: int}) and `<topic>-b` ({b: int}) registered by the independent library. */
async function twoSchemas(topic) {
    const lib = independent();
    const a = { type: 'record', name: 'A', namespace: 'spec', fields: [{ name: 'a', type: 'int' }] };
    const b = { type: 'record', name: 'B', namespace: 'spec', fields: [{ name: 'b', type: 'int' }] };
    const { id: idA } = await lib.register({ type: SchemaType.AVRO, schema: JSON.stringify(a) }, { subject: `${topic}-a` });
    const { id: idB } = await lib.register({ type: SchemaType.AVRO, schema: JSON.stringify(b) }, { subject: `${topic}-b` });
    return { lib, idA, idB };
}

/**
 * Runs `work` with a TCP proxy in front of the run's registry: `proxy.url` for the registry
 * node, `proxy.cut()` refuses connections (a registry that is down, its schemas kept),
 * `proxy.restore()` lets them through again.
 */
async function viaRegistryProxy(work) {
    const tcp = new TcpProxy(() => new URL(registryEnv.url()).host);
    await tcp.listen();
    const url = new URL(registryEnv.url());
    url.port = String(tcp.port);
    const cut = async () => {
        const stopped = tcp.stopListening();
        tcp.cutAll();
        await stopped;
    };
    try {
        await work({ url: url.toString(), cut, restore: () => tcp.listen() });
    } finally {
        await cut();
    }
}

const ORDERS = [
    { id: 1, item: 'apple', tags: ['red', 'fruit'] },
    { id: 2, item: 'bread', tags: [] },
    { id: 3, item: 'cheese', tags: ['aged'] },
];

/** What the library gives back, as plain data (avsc records and protobufjs messages are class instances). */
function plain(v) {
    return JSON.parse(JSON.stringify(v));
}

function httpJson(method, url, body) {
    return new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : JSON.stringify(body);
        const req = http.request(url, { method, headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' } }, (res) => {
            let text = '';
            res.on('data', (d) => { text += d; });
            res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
        });
        req.on('error', reject);
        req.end(data);
    });
}

describe('schema registry (real broker, real registry)', function () {
    this.timeout(120000);
    unloadAndCheckRejections();

    for (const type of ['AVRO', 'JSON', 'PROTOBUF']) {
        it(`${type}: kafka-publish encodes what the library decodes, and kafka-consumer decodes what the library encodes`, async function () {
            const topic = await createTopic(unique(`sr-${type.toLowerCase()}`), 1);
            const lib = independent();

            // 1. publish encodes (auto-registering the schema given in the node); the library decodes.
            const h = await load({ publish: { topic, schemaType: type, valueSchema: SCHEMAS[type], autoRegister: true } });
            for (const order of ORDERS) {
                const out = await h.send({ payload: order });
                assert.strictEqual(out.error, undefined, JSON.stringify(out.error));
            }
            const written = await readBack(topic, ORDERS.length);
            const decoded = [];
            for (const r of written) {
                assert.strictEqual(r.value[0], 0, 'magic byte 0');
                decoded.push(plain(await lib.decode(r.value)));
                if (type === 'PROTOBUF') {
                    // Confluent's framing: the message indexes [0] (the first message type) as the single
                    // byte 0, then exactly the Protobuf encoding, as protobufjs alone reads it.
                    assert.strictEqual(r.value[5], 0, 'message indexes [0] after the schema id');
                    const order = protobuf.parse(SCHEMAS.PROTOBUF).root.lookupType('spec.Order');
                    assert.deepStrictEqual(plain(order.toObject(order.decode(r.value.subarray(6)))), plain(await lib.decode(r.value)));
                }
            }
            // proto3 does not tell an empty repeated field from a missing one: protobufjs leaves it out
            const expected = type === 'PROTOBUF' ? ORDERS.map((o) => (o.tags.length ? o : { id: o.id, item: o.item })) : ORDERS;
            assert.deepStrictEqual(decoded, expected);
            const latest = await lib.getLatestSchemaId(`${topic}-value`);
            assert.strictEqual(written[0].value.readInt32BE(1), latest, 'the schema id of the subject <topic>-value');
            await helper.unload();

            // 2. the library encodes; the consumer decodes into plain objects with msg.schema.
            const extra = { id: 4, item: 'dates', tags: ['dried', 'sweet'] };
            const bytes = await lib.encode(latest, extra);
            await withProducer((p) => p.send({ topic, messages: [{ value: bytes }] }));
            const c = await load({ consumer: { topics: topic } });
            await waitFor(() => c.got.length >= 4, 'four decoded records', 60000);
            assert.deepStrictEqual(c.got.map((m) => m.payload), [...ORDERS, extra]);
            for (const m of c.got) {
                assert.deepStrictEqual(m.schema, { id: latest, subject: `${topic}-value`, version: 1, type });
                assert.strictEqual(Object.getPrototypeOf(m.payload), Object.prototype, 'a plain object');
            }
            assert.deepStrictEqual(c.errs, []);
        });
    }

    it('encodes and decodes the key too (<topic>-key); the editor\'s subject list comes from the registry', async function () {
        const topic = await createTopic(unique('sr-key'), 1);
        const lib = independent();
        const keySchema = JSON.stringify({ type: 'record', name: 'OrderKey', namespace: 'spec', fields: [{ name: 'region', type: 'string' }] });
        await lib.register({ type: SchemaType.AVRO, schema: keySchema }, { subject: `${topic}-key` });
        const h = await load({
            publish: { topic, encode: 'key-value', schemaType: 'AVRO', valueSchema: SCHEMAS.AVRO, autoRegister: true },
            consumer: { topics: topic, registryKey: true },
        });
        const out = await h.send({ payload: ORDERS[0], key: { region: 'eu' } });
        assert.strictEqual(out.error, undefined, JSON.stringify(out.error));
        await waitFor(() => h.got.length === 1, 'the record decoded', 60000);
        assert.deepStrictEqual(h.got[0].key, { region: 'eu' });
        assert.deepStrictEqual(h.got[0].payload, ORDERS[0]);
        assert.strictEqual(h.got[0].keySchema.subject, `${topic}-key`);
        const [raw] = await readBack(topic, 1);
        assert.deepStrictEqual(plain(await lib.decode(raw.key)), { region: 'eu' });

        // The admin endpoint the editor calls, with the deployed registry node.
        const res = await helper.request().get('/kafka-schema-registry/subjects').query({ id: 'reg' }).expect(200);
        assert.ok(res.body.subjects.includes(`${topic}-key`) && res.body.subjects.includes(`${topic}-value`), JSON.stringify(res.body));
        const bad = await helper.request().get('/kafka-schema-registry/subjects').query({ url: 'not a url' });
        assert.strictEqual(bad.status, 400);
    });

    it('decodes records written with two versions of a subject; an incompatible version is refused with the registry\'s message', async function () {
        const topic = await createTopic(unique('sr-evolve'), 1);
        const subject = `${topic}-value`;
        const lib = independent();
        const v1 = { type: 'record', name: 'User', namespace: 'spec', fields: [{ name: 'name', type: 'string' }] };
        const v2 = { ...v1, fields: [...v1.fields, { name: 'email', type: ['null', 'string'], default: null }] };
        const { id: id1 } = await lib.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
        const first = await lib.encode(id1, { name: 'ada' });
        const { id: id2 } = await lib.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject });
        assert.notStrictEqual(id1, id2);
        const second = await lib.encode(id2, { name: 'grace', email: 'grace@example.com' });
        await withProducer((p) => p.send({ topic, messages: [{ value: first }, { value: second }] }));

        // kafka-publish with no schema in the node writes with the latest version (v2).
        const incompatible = { ...v1, fields: [{ name: 'name', type: 'int' }] };
        const h = await load({
            consumer: { topics: topic },
            publish: { topic, schemaType: 'AVRO' },
        });
        const ok = await h.send({ payload: { name: 'linus', email: null } });
        assert.strictEqual(ok.error, undefined, JSON.stringify(ok.error));
        await waitFor(() => h.got.length >= 3, 'three decoded records', 60000);
        assert.deepStrictEqual(h.got.map((m) => [m.payload, m.schema.version, m.schema.id]), [
            [{ name: 'ada' }, 1, id1],
            [{ name: 'grace', email: 'grace@example.com' }, 2, id2],
            [{ name: 'linus', email: null }, 2, id2],
        ]);
        await helper.unload();

        const bad = await load({ publish: { topic, schemaType: 'AVRO', valueSchema: JSON.stringify(incompatible), autoRegister: true } });
        const refused = await bad.send({ payload: { name: 7 } });
        assert.strictEqual(refused.error.Code, 'CORE:PARAM');
        assert.match(refused.error.Description, new RegExp(`refused the schema for subject "${subject}" as incompatible`));
        assert.match(refused.error.Description, /Incompatible|incompatible/);
        await waitFor(() => bad.caught.length === 1, 'Catch fired', 5000);
        assert.strictEqual(bad.completed.length, 0);
    });

    it('a payload that does not match the schema is CORE:PARAM naming the failing field, and the next one goes through', async function () {
        const topic = await createTopic(unique('sr-badpayload'), 1);
        const h = await load({ publish: { topic, schemaType: 'AVRO', valueSchema: SCHEMAS.AVRO, autoRegister: true } });
        const bad = await h.send({ payload: { id: 'one', item: 'x', tags: [] } });
        assert.strictEqual(bad.error.Code, 'CORE:PARAM');
        assert.match(bad.error.Description, /does not match the schema of subject .* at id:/);
        const good = await h.send({ payload: ORDERS[0] });
        assert.strictEqual(good.error, undefined);
        assert.deepStrictEqual(good.attribute, { topic, partition: 0, offset: 0 });
        // an unknown subject, with no schema given: CORE:PARAM too
        await helper.unload();
        const other = await load({ publish: { topic: unique('sr-nosubject'), schemaType: 'AVRO' } });
        const none = await other.send({ payload: ORDERS[0] });
        assert.strictEqual(none.error.Code, 'CORE:PARAM');
        assert.match(none.error.Description, /has no schema for subject/);
    });

    it('a plain JSON record on a registry-decoded topic goes to the dead-letter topic with its cause; the records around it flow', async function () {
        const topic = await createTopic(unique('sr-dlq'), 1);
        const dlq = await createTopic(unique('sr-dlq-dead'), 1);
        const lib = independent();
        const { id } = await lib.register({ type: SchemaType.AVRO, schema: SCHEMAS.AVRO }, { subject: `${topic}-value` });
        await withProducer(async (p) => p.send({
            topic,
            messages: [
                { value: await lib.encode(id, ORDERS[0]) },
                { value: JSON.stringify({ id: 2, item: 'plain json' }), headers: { origin: 'hand-made' } },
                { value: await lib.encode(id, ORDERS[2]) },
            ],
        }));
        const h = await load({ consumer: { topics: topic, maxAttempts: 2, afterMaxAttempts: 'dlq', deadLetterTopic: dlq } });
        const [dead] = await readBack(dlq, 1, 60000);
        assert.strictEqual(dead.value.toString(), JSON.stringify({ id: 2, item: 'plain json' }));
        assert.strictEqual(dead.headers.origin.toString(), 'hand-made');
        assert.strictEqual(dead.headers['dlq-origin-topic'].toString(), topic);
        assert.strictEqual(dead.headers['dlq-origin-offset'].toString(), '1');
        assert.strictEqual(dead.headers['dlq-attempts'].toString(), '2');
        assert.match(dead.headers['dlq-error'].toString(), new RegExp(`Record ${topic}/0@1 cannot be decoded with the schema registry: not-wire-format`));
        await waitFor(() => h.got.length >= 2, 'the records around it', 30000);
        assert.deepStrictEqual(h.got.map((m) => m.payload), [ORDERS[0], ORDERS[2]]);
        assert.deepStrictEqual(h.errs, [], 'no runtime error');
        assert.strictEqual(lastStatus(helper.getNode('c1')).fill, 'green');
    });

    it('in ack mode "immediately" an undecodable record is reported to Catch and kept in the dead-letter topic', async function () {
        const topic = await createTopic(unique('sr-imm'), 1);
        const dlq = await createTopic(unique('sr-imm-dead'), 1);
        await withProducer((p) => p.send({ topic, messages: [{ value: 'not the wire format' }] }));
        const h = await load({ cfg: { ackMode: 'immediate' }, consumer: { topics: topic, deadLetterTopic: dlq } });
        const [dead] = await readBack(dlq, 1, 60000);
        assert.strictEqual(dead.value.toString(), 'not the wire format');
        await waitFor(() => h.consumerCaught.length === 1, 'Catch fired', 10000);
        const msg = h.consumerCaught[0];
        assert.match(msg.error.message, new RegExp(`Record ${topic}/0@0 cannot be decoded`));
        assert.ok(Buffer.isBuffer(msg.payload), 'the raw bytes');
        assert.strictEqual(h.got.length, 0);
    });

    it('the registry stopped and started: cached schemas keep flowing, a new schema id resolves once it is back', async function () {
        const registry = registryEnv.instance();
        if (!registry) this.skip(); // SCHEMA_REGISTRY_URL names a registry this run cannot stop
        const topic = await createTopic(unique('sr-restart'), 1);
        const lib = independent();
        const a = { type: 'record', name: 'A', namespace: 'spec', fields: [{ name: 'a', type: 'int' }] };
        const b = { type: 'record', name: 'B', namespace: 'spec', fields: [{ name: 'b', type: 'string' }] };
        const { id: idA } = await lib.register({ type: SchemaType.AVRO, schema: JSON.stringify(a) }, { subject: `${topic}-a` });
        const { id: idB } = await lib.register({ type: SchemaType.AVRO, schema: JSON.stringify(b) }, { subject: `${topic}-b` });
        await withProducer(async (p) => p.send({ topic, messages: [{ value: await lib.encode(idA, { a: 1 }) }] }));
        const h = await load({ consumer: { topics: topic } });
        await waitFor(() => h.got.length === 1, 'the first record', 60000);

        await registry.stop();
        try {
            // The library has both schemas cached since it registered them: it encodes without the registry.
            await withProducer(async (p) => p.send({
                topic,
                messages: [{ value: await lib.encode(idA, { a: 2 }) }, { value: await lib.encode(idB, { b: 'new id' }) }],
            }));
            await waitFor(() => h.got.length === 2, 'the record with a cached schema', 30000);
            assert.deepStrictEqual(h.got[1].payload, { a: 2 });
            await waitFor(() => h.errs.length >= 1, 'a runtime error for the new schema id', 30000);
            assert.strictEqual(h.errs[0].error.Code, 'CORE:RUNTIME');
            assert.match(h.errs[0].error.Description, /schema registry .* does not answer/);
            assert.strictEqual(lastStatus(helper.getNode('c1')).fill, 'red');
            await sleep(500);
            assert.strictEqual(h.got.length, 2, 'the record waits, in order');
        } finally {
            await registry.start();
        }
        // The registry keeps its schemas in memory: register again so that B gets its old id.
        const lib2 = independent();
        for (let i = 1; i < idB; i++) {
            const filler = { type: 'record', name: `F${i}`, namespace: 'spec', fields: [{ name: 'f', type: 'int' }] };
            await lib2.register({ type: SchemaType.AVRO, schema: JSON.stringify(i === idA ? a : filler) }, { subject: `${topic}-f${i}` });
        }
        const again = await lib2.register({ type: SchemaType.AVRO, schema: JSON.stringify(b) }, { subject: `${topic}-b` });
        assert.strictEqual(again.id, idB);
        await waitFor(() => h.got.length === 3, 'the record with the new schema id', 60000);
        assert.deepStrictEqual(h.got[2].payload, { b: 'new id' });
        assert.strictEqual(h.got[2].schema.id, idB);
        await waitFor(() => lastStatus(helper.getNode('c1')).fill === 'green', 'green again', 10000);
        // Compatibility is back to the run's default for the specs after this one.
        assert.strictEqual((await httpJson('GET', `${registryEnv.url()}/config`)).status, 200);
    });

    it('ack after flow: a record waiting for a registry that does not answer does not use up its ack timeout', async function () {
        const topic = await createTopic(unique('sr-ack-wait'), 1);
        const dlq = await createTopic(unique('sr-ack-wait-dead'), 1);
        const { lib, idA, idB } = await twoSchemas(topic);
        await viaRegistryProxy(async (proxy) => {
            // One attempt, then the dead-letter topic: an ack timeout counted while the record waits would send it there.
            const h = await load({
                consumer: { topics: topic, ackTimeout: 1000, maxAttempts: 1, afterMaxAttempts: 'dlq', deadLetterTopic: dlq },
                registry: { url: proxy.url },
            });
            await withProducer(async (p) => p.send({ topic, messages: [{ value: await lib.encode(idA, { a: 1 }) }] }));
            await waitFor(() => h.got.length === 1, 'the first record', 60000);
            await proxy.cut();
            await withProducer(async (p) => p.send({ topic, messages: [{ value: await lib.encode(idB, { b: 2 }) }] }));
            await waitFor(() => h.errs.length >= 1, 'a runtime error', 30000);
            await sleep(2500); // two and a half ack timeouts, the record held before the flow
            assert.strictEqual(h.got.length, 1);
            await proxy.restore();
            await waitFor(() => h.got.length === 2, 'the held record, once the registry answers', 30000);
            assert.deepStrictEqual(h.got[1].payload, { b: 2 });
            await sleep(1500);
            assert.strictEqual(h.got.length, 2, 'delivered once');
            assert.strictEqual(await endOffset(dlq), '0', 'no ack timeout: nothing dead-lettered');
        });
    });

    it('ack mode immediately: while the registry does not answer, fetching pauses and nothing is lost; it goes on by itself', async function () {
        const topic = await createTopic(unique('sr-imm-down'), 1);
        const { lib, idA, idB } = await twoSchemas(topic);
        await viaRegistryProxy(async (proxy) => {
            const h = await load({ cfg: { ackMode: 'immediate' }, consumer: { topics: topic }, registry: { url: proxy.url } });
            await withProducer(async (p) => p.send({ topic, messages: [{ value: await lib.encode(idA, { a: 1 }) }] }));
            await waitFor(() => h.got.length === 1, 'the first record', 60000);
            await proxy.cut();
            const later = [];
            for (let i = 0; i < 20; i++) later.push({ value: await lib.encode(i === 0 ? idA : idB, i === 0 ? { a: 2 } : { b: i }) });
            await withProducer((p) => p.send({ topic, messages: later }));
            await waitFor(() => h.errs.length >= 1, 'a runtime error', 30000);
            assert.strictEqual(h.errs[0].error.Code, 'CORE:RUNTIME');
            assert.deepStrictEqual(h.got.map((m) => m.payload), [{ a: 1 }, { a: 2 }], 'the cached schema flows, the new one waits');
            assert.match(lastStatus(helper.getNode('c1')).text, /does not answer/);
            await proxy.restore();
            await waitFor(() => h.got.length === 21, 'every record after the outage', 60000);
            assert.deepStrictEqual(h.got.slice(2).map((m) => m.payload.b), [...Array(19).keys()].map((i) => i + 1), 'in order, none lost');
            await waitFor(() => lastStatus(helper.getNode('c1')).fill === 'green', 'green again', 10000);
            await withProducer(async (p) => p.send({ topic, messages: [{ value: await lib.encode(idB, { b: 100 }) }] }));
            await waitFor(() => h.got.length === 22, 'fetching resumed', 30000);
        });
    });
});

describe('schema registry behind HTTPS, and behind basic auth', function () {
    this.timeout(180000);
    unloadAndCheckRejections();
    const USER = { username: 'alice', password: 'wonder-land' };
    let secured = null;
    let certs = null;
    let front = null;

    before(async function () {
        certs = await makeCerts();
        // A second real registry, serving HTTPS only with a certificate of the test CA.
        secured = new Registry({ tls: { cert: certs.brokerCert, key: certs.brokerKey, ca: certs.ca } });
        await secured.start();
        // Basic auth in front of the run's registry: Apicurio 2.4.2 authenticates only through
        // OIDC (Keycloak), so a reverse proxy that checks the credentials stands in front of
        // it, as a web server often does in front of a registry.
        front = await basicAuthFront(registryEnv.url(), USER);
    });

    after(async function () {
        if (front) await front.close();
        if (secured) await secured.stop();
    });

    /** The registry node on the HTTPS URL, trusting `ca` through a core tls-config node. */
    function overHttps(ca) {
        return {
            registry: { url: secured.url, tls: 'reg-tls' },
            extra: [{ id: 'reg-tls', type: 'tls-config', name: 'registry tls', ca, cert: '', key: '', verifyservercert: true, servername: '', alpnprotocol: '' }],
        };
    }

    it('HTTPS with the CA from a tls-config node: publish encodes, the consumer decodes, the library reads it back, the editor lists the subjects', async function () {
        const topic = await createTopic(unique('sr-https'), 1);
        const h = await load({
            ...overHttps(certs.ca),
            publish: { topic, schemaType: 'AVRO', valueSchema: SCHEMAS.AVRO, autoRegister: true },
            consumer: { topics: topic },
        });
        for (const order of ORDERS) {
            const out = await h.send({ payload: order });
            assert.strictEqual(out.error, undefined, JSON.stringify(out.error));
        }
        await waitFor(() => h.got.length === ORDERS.length, 'the records decoded', 60000);
        assert.deepStrictEqual(h.got.map((m) => m.payload), ORDERS);
        assert.deepStrictEqual(h.errs, []);
        const [raw] = await readBack(topic, 1);
        const lib = new SchemaRegistry({ host: secured.url, agent: new https.Agent({ ca: fs.readFileSync(certs.ca) }) });
        assert.deepStrictEqual(plain(await lib.decode(raw.value)), ORDERS[0]);
        const res = await helper.request().get('/kafka-schema-registry/subjects').query({ id: 'reg' }).expect(200);
        assert.ok(res.body.subjects.includes(`${topic}-value`), JSON.stringify(res.body));
    });

    it('HTTPS with a CA that did not sign the registry\'s certificate: publish answers CORE:RUNTIME naming the certificate', async function () {
        const topic = await createTopic(unique('sr-wrong-ca'), 1);
        const h = await load({ ...overHttps(certs.wrongCa), publish: { topic, schemaType: 'AVRO', valueSchema: SCHEMA_A, autoRegister: true } });
        const out = await h.send({ payload: { a: 1 } });
        assert.strictEqual(out.error.Code, 'CORE:RUNTIME', JSON.stringify(out.error));
        assert.match(out.error.Description, /certificate/i);
    });

    it('basic auth: the node sends its credentials on every request (publish, consume, the subject list)', async function () {
        const topic = await createTopic(unique('sr-auth'), 1);
        const before = front.requests.length;
        const h = await load({
            registry: { url: front.url }, registryCredentials: USER,
            publish: { topic, schemaType: 'AVRO', valueSchema: SCHEMAS.AVRO, autoRegister: true },
            consumer: { topics: topic },
        });
        const out = await h.send({ payload: ORDERS[0] });
        assert.strictEqual(out.error, undefined, JSON.stringify(out.error));
        await waitFor(() => h.got.length === 1, 'the record decoded', 60000);
        assert.deepStrictEqual(h.got[0].payload, ORDERS[0]);
        await helper.request().get('/kafka-schema-registry/subjects').query({ id: 'reg' }).expect(200);
        const seen = front.requests.slice(before);
        assert.ok(seen.length >= 3, `${seen.length} requests`);
        assert.deepStrictEqual(seen.filter((r) => r.status !== 200), [], 'every request let through');
    });

    it('basic auth with a wrong password: publish answers CORE:RUNTIME; the consumer holds the record (red), nothing goes to the dead-letter topic, and it goes on once the registry lets it in', async function () {
        const topic = await createTopic(unique('sr-denied'), 1);
        const dlq = await createTopic(unique('sr-denied-dead'), 1);
        const lib = independent();
        const { id } = await lib.register({ type: SchemaType.AVRO, schema: SCHEMA_A }, { subject: `${topic}-value` });
        await withProducer(async (p) => p.send({ topic, messages: [{ value: await lib.encode(id, { a: 7 }) }] }));
        const wrong = { username: USER.username, password: 'not-the-password' };
        const h = await load({
            registry: { url: front.url }, registryCredentials: wrong,
            publish: { topic, schemaType: 'AVRO', valueSchema: SCHEMA_A, autoRegister: true },
            consumer: { topics: topic, maxAttempts: 1, afterMaxAttempts: 'dlq', deadLetterTopic: dlq },
        });
        const out = await h.send({ payload: { a: 8 } });
        assert.strictEqual(out.error.Code, 'CORE:RUNTIME', JSON.stringify(out.error));
        assert.match(out.error.Description, /refused the credentials/);
        await waitFor(() => h.errs.length >= 1, 'the consumer\'s runtime error', 30000);
        assert.strictEqual(h.errs[0].error.Code, 'CORE:RUNTIME');
        assert.match(h.errs[0].error.Description, /refused the credentials/);
        assert.strictEqual(lastStatus(helper.getNode('c1')).fill, 'red');
        const res = await helper.request().get('/kafka-schema-registry/subjects').query({ id: 'reg' });
        assert.strictEqual(res.status, 502);
        assert.match(res.body.error, /401|nauthori/i);
        await sleep(1000);
        assert.deepStrictEqual(h.got, [], 'nothing decoded');
        assert.strictEqual(await endOffset(dlq), '0', 'not dead-lettered: the credentials are not the record\'s fault');
        // The password is changed at the registry to what the node has: the held record goes on.
        front.user = wrong;
        await waitFor(() => h.got.length === 1, 'the held record', 30000);
        assert.deepStrictEqual(h.got[0].payload, { a: 7 });
        await waitFor(() => lastStatus(helper.getNode('c1')).fill === 'green', 'green again', 10000);
        assert.strictEqual(await endOffset(dlq), '0');
    });
});

const SCHEMA_A = JSON.stringify({ type: 'record', name: 'A', namespace: 'spec', fields: [{ name: 'a', type: 'int' }] });

async function endOffset(topic) {
    const admin = kafka().admin();
    await admin.connect();
    try {
        return (await admin.fetchTopicOffsets(topic))[0].high;
    } finally {
        await admin.disconnect();
    }
}

/**
 * An HTTP reverse proxy to `target` that lets through only requests with `front.user`'s
 * basic-auth credentials (401 otherwise, as Confluent's registry answers), and notes each.
 */
async function basicAuthFront(target, user) {
    const to = new URL(target);
    const front = { user, requests: [], url: '', close: null };
    const server = http.createServer((req, res) => {
        const expected = `Basic ${Buffer.from(`${front.user.username}:${front.user.password}`).toString('base64')}`;
        const ok = req.headers.authorization === expected;
        front.requests.push({ path: req.url, status: ok ? 200 : 401 });
        if (!ok) {
            req.resume();
            res.writeHead(401, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error_code: 40101, message: 'Unauthorized' }));
            return;
        }
        const headers = { ...req.headers, host: to.host };
        delete headers.authorization;
        const upstream = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers }, (up) => {
            res.writeHead(up.statusCode, up.headers);
            up.pipe(res);
        });
        upstream.on('error', () => { res.writeHead(502); res.end(); });
        req.pipe(upstream);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    front.url = `http://127.0.0.1:${server.address().port}${to.pathname}`;
    front.close = () => new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
    });
    return front;
}
