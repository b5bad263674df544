'use strict';
/*
 * The schema registry path against the real broker and the real registry the test run
 * starts (test/integration/global.js): kafka-publish encodes, kafka-consumer decodes,
 * and @kafkajs/confluent-schema-registry used directly (outside Node-RED) is the
 * independent encoder and decoder. Avro, JSON Schema and Protobuf; schema evolution;
 * bad records to the dead-letter topic; the registry stopped and started again.
 */
const assert = require('assert');
const http = require('http');
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry');
const protobuf = require('protobufjs');
const { helper, nodeModules, configFor, unique, createTopic, readBack, withProducer, waitFor, sleep, lastStatus, unloadAndCheckRejections } = require('./support');
const registryEnv = require('./registry-env');
const { TcpProxy } = require('./tcp-proxy');
const { URL } = require('url');

const NODES = nodeModules('kafka-config', 'kafka-schema-registry', 'kafka-consumer', 'kafka-publish', 'complete', 'catch');

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
 * into helpers).
 */
async function load({ consumer = null, publish = null, cfg = {}, registryUrl = null }) {
    const { nodes, credentials } = configFor('plaintext', 'cfg', { commitInterval: 200, retryBackoff: 200, initialOffset: 'oldest', ...cfg });
    const flow = [{ id: 'f1', type: 'tab' }, ...nodes.map((n) => ({ ...n, z: 'f1' })), { ...registryNode(), ...(registryUrl ? { url: registryUrl } : {}), z: 'f1' }];
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

    it('ack mode immediately: while the registry does not answer, fetching pauses and nothing is lost; it goes on by itself', async function () {
        const topic = await createTopic(unique('sr-imm-down'), 1);
        const lib = independent();
        const a = { type: 'record', name: 'A', namespace: 'spec', fields: [{ name: 'a', type: 'int' }] };
        const b = { type: 'record', name: 'B', namespace: 'spec', fields: [{ name: 'b', type: 'int' }] };
        const { id: idA } = await lib.register({ type: SchemaType.AVRO, schema: JSON.stringify(a) }, { subject: `${topic}-a` });
        const { id: idB } = await lib.register({ type: SchemaType.AVRO, schema: JSON.stringify(b) }, { subject: `${topic}-b` });
        // The node reaches the registry through a proxy that can refuse connections (a registry that is down, schemas kept).
        const proxy = new TcpProxy(() => new URL(registryEnv.url()).host);
        await proxy.listen();
        try {
            const viaProxy = new URL(registryEnv.url());
            viaProxy.port = String(proxy.port);
            const h = await load({ cfg: { ackMode: 'immediate' }, consumer: { topics: topic }, registryUrl: viaProxy.toString() });
            await withProducer(async (p) => p.send({ topic, messages: [{ value: await lib.encode(idA, { a: 1 }) }] }));
            await waitFor(() => h.got.length === 1, 'the first record', 60000);
            const stopped = proxy.stopListening();
            proxy.cutAll();
            await stopped;
            const later = [];
            for (let i = 0; i < 20; i++) later.push({ value: await lib.encode(i === 0 ? idA : idB, i === 0 ? { a: 2 } : { b: i }) });
            await withProducer((p) => p.send({ topic, messages: later }));
            await waitFor(() => h.errs.length >= 1, 'a runtime error', 30000);
            assert.strictEqual(h.errs[0].error.Code, 'CORE:RUNTIME');
            assert.deepStrictEqual(h.got.map((m) => m.payload), [{ a: 1 }, { a: 2 }], 'the cached schema flows, the new one waits');
            assert.match(lastStatus(helper.getNode('c1')).text, /does not answer/);
            await proxy.listen();
            await waitFor(() => h.got.length === 21, 'every record after the outage', 60000);
            assert.deepStrictEqual(h.got.slice(2).map((m) => m.payload.b), [...Array(19).keys()].map((i) => i + 1), 'in order, none lost');
            await waitFor(() => lastStatus(helper.getNode('c1')).fill === 'green', 'green again', 10000);
            await withProducer(async (p) => p.send({ topic, messages: [{ value: await lib.encode(idB, { b: 100 }) }] }));
            await waitFor(() => h.got.length === 22, 'fetching resumed', 30000);
        } finally {
            const stopped = proxy.stopListening();
            proxy.cutAll();
            await stopped;
        }
    });
});
