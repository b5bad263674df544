'use strict';
/*
 * The schema registry modules without a registry: wire-format checks, plain data,
 * error sorting, the node fields, the consumer's ordered decoder and the publish
 * encoder's order (with stand-in decode/encode functions).
 */
const assert = require('assert');
const { isWireFormat, schemaIdOf, toPlain, classify, RegistryError } = require('../../nodes/lib/registry-client');
const { registryUrlProblem, readPublishRegistry, choiceFor } = require('../../nodes/lib/registry-fields');
const { OrderedDecoder, decodeRecord, decodedFields } = require('../../nodes/lib/registry-decoder');
const { RegistryEncoder } = require('../../nodes/lib/registry-encoder');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rec = (partition, offset, value = Buffer.from([0, 0, 0, 0, 1, 2])) => ({
    topic: 't', partition, offset: String(offset), key: null, value, headers: {}, timestamp: '0',
});

describe('registry: wire format and plain data', function () {
    const CASES = [
        ['magic byte 0 and an id', Buffer.from([0, 0, 0, 0, 7, 42]), true],
        ['only the header', Buffer.from([0, 0, 0, 1, 0]), true],
        ['JSON text', Buffer.from('{"a":1}'), false],
        ['too short', Buffer.from([0, 0, 1]), false],
        ['magic byte 1', Buffer.from([1, 0, 0, 0, 7, 42]), false],
        ['null', null, false],
    ];
    for (const [name, bytes, expected] of CASES) {
        it(`${name}: ${expected ? '' : 'not '}the wire format`, function () {
            assert.strictEqual(isWireFormat(bytes), expected);
        });
    }

    it('reads the schema id with the library\'s wire decoder', function () {
        assert.strictEqual(schemaIdOf(Buffer.from([0, 0, 0, 1, 2, 9])), 258);
    });

    it('turns class instances, Maps and Uint8Arrays into plain data that survives a deep clone', function () {
        class Rec { constructor() { this.a = 1; this.b = new Map([['k', 2]]); this.c = new Uint8Array([1, 2]); this.d = [new Rec2()]; } }
        class Rec2 { constructor() { this.x = 10n; } }
        const out = toPlain(new Rec());
        assert.strictEqual(Object.getPrototypeOf(out), Object.prototype);
        assert.deepStrictEqual(out, { a: 1, b: { k: 2 }, c: Buffer.from([1, 2]), d: [{ x: '10' }] });
    });
});

describe('registry: errors sorted by whose fault they are', function () {
    const http = (status, message) => Object.assign(new Error(message), { status });
    const CASES = [
        ['a 404', http(404, 'Schema not found'), 'unknown-schema', false],
        ['a 409', http(409, 'Incompatible artifact'), 'incompatible', false],
        ['a 422', http(422, 'Invalid schema'), 'bad-schema', false],
        ['a 401', http(401, 'Unauthorized'), 'denied', true],
        ['a 403', http(403, 'Forbidden'), 'denied', true],
        ['a 503', http(503, 'Service unavailable'), 'unreachable', true],
        ['a refused connection (mappersmith: status 400)', http(400, 'Error, status 400: connect ECONNREFUSED 127.0.0.1:1'), 'unreachable', true],
        ['a socket timeout', new Error('timeout after 10000 ms'), 'unreachable', true],
        ['a certificate its CA did not sign', Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'unreachable', true],
        ['a certificate for another host', Object.assign(new Error('Hostname/IP does not match certificate\'s altnames'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 'unreachable', true],
        ['anything else', new Error('index out of range'), 'corrupt', false],
    ];
    for (const [name, err, problem, transient] of CASES) {
        it(`${name}: ${problem}${transient ? ', retried' : ''}`, function () {
            const e = classify(err, 'x');
            assert.strictEqual(e.problem, problem);
            assert.strictEqual(e.transient, transient);
        });
    }
});

describe('registry: node fields', function () {
    it('checks the registry URL', function () {
        assert.strictEqual(registryUrlProblem(''), 'url-empty');
        assert.strictEqual(registryUrlProblem('registry:8081'), 'url-invalid');
        assert.strictEqual(registryUrlProblem('ftp://r'), 'url-invalid');
        assert.strictEqual(registryUrlProblem('https://r:8081/apis/ccompat/v7'), null);
    });

    it('publish: no encoding by default', function () {
        assert.deepStrictEqual(readPublishRegistry({}), { fields: null, problems: [] });
    });

    it('publish: topic-name strategy subjects, latest version unless a schema is given', function () {
        const { fields, problems } = readPublishRegistry({ encode: 'key-value', registry: 'r', schemaType: 'protobuf' });
        assert.deepStrictEqual(problems, []);
        assert.strictEqual(fields.schemaType, 'PROTOBUF');
        assert.deepStrictEqual(choiceFor(fields, 'orders', 'value'), { subject: 'orders-value' });
        assert.deepStrictEqual(choiceFor(fields, 'orders', 'key'), { subject: 'orders-key' });
        const given = readPublishRegistry({ encode: 'value', registry: 'r', valueSubject: 'custom', valueSchema: ' {"type":"string"} ', autoRegister: 'true' }).fields;
        assert.deepStrictEqual(choiceFor(given, 'orders', 'value'), { subject: 'custom', schema: '{"type":"string"}', type: 'AVRO', autoRegister: true });
    });

    it('publish: problems', function () {
        assert.deepStrictEqual(readPublishRegistry({ encode: 'value' }).problems, [{ key: 'registry-missing' }]);
        assert.deepStrictEqual(readPublishRegistry({ encode: 'value', registry: 'r', autoRegister: true }).problems, [{ key: 'schema-needed' }]);
    });
});

describe('registry: the consumer\'s ordered decoder', function () {
    function harness(decode, backoff = 10) {
        const log = [];
        const d = new OrderedDecoder({
            decode,
            deliver: (r, v) => log.push(['deliver', r.partition, r.offset, v]),
            reject: (r, e) => log.push(['reject', r.partition, r.offset, e.problem]),
            trouble: (e) => log.push(['trouble', e.problem]),
            recovered: () => log.push(['recovered']),
        }, backoff);
        return { d, log };
    }

    it('keeps offset order per partition even when a later record decodes first', async function () {
        const { d, log } = harness(async (r) => { await sleep(r.offset === '0' ? 30 : 1); return r.offset; });
        d.push(rec(0, 0));
        d.push(rec(0, 1));
        d.push(rec(1, 7));
        await sleep(80);
        const p0 = log.filter((e) => e[1] === 0).map((e) => e[2]);
        assert.deepStrictEqual(p0, ['0', '1']);
        // partition 1 did not wait for partition 0's slow record
        assert.ok(log.findIndex((e) => e[1] === 1) < log.findIndex((e) => e[1] === 0 && e[2] === '0'));
    });

    it('rejects a record that is not its fault to retry, and goes on with the next', async function () {
        const { d, log } = harness(async (r) => {
            if (r.offset === '1') throw new RegistryError('not-wire-format', 'plain JSON');
            return r.offset;
        });
        [0, 1, 2].forEach((o) => d.push(rec(0, o)));
        await sleep(20);
        assert.deepStrictEqual(log.map((e) => e.slice(0, 3)), [['deliver', 0, '0'], ['reject', 0, '1'], ['deliver', 0, '2']]);
    });

    it('holds the partition while the registry does not answer, then delivers in order and says so once', async function () {
        this.timeout(3000);
        let down = 3;
        const { d, log } = harness(async (r) => {
            if (r.offset === '0' && down-- > 0) throw Object.assign(new Error('connect ECONNREFUSED'), { status: 400 });
            return r.offset;
        }, 5);
        d.push(rec(0, 0));
        d.push(rec(0, 1));
        await sleep(900); // retry backoff: at least 100 ms, doubling
        assert.deepStrictEqual(log.map((e) => e[0]), ['trouble', 'trouble', 'trouble', 'recovered', 'deliver', 'deliver']);
        assert.deepStrictEqual(log.filter((e) => e[0] === 'deliver').map((e) => e[2]), ['0', '1']);
    });

    it('does not queue a record twice while it is still being decoded (a retry handed out meanwhile)', async function () {
        const { d, log } = harness(async (r) => { await sleep(10); return r.offset; });
        d.push(rec(0, 5));
        d.push(rec(0, 5));
        assert.strictEqual(d.size, 1);
        await sleep(40);
        assert.strictEqual(log.length, 1);
        d.push(rec(0, 5)); // done: a later retry is decoded again
        await sleep(40);
        assert.strictEqual(log.length, 2);
    });

    it('drops what is queued on close', async function () {
        const { d, log } = harness(async (r) => { await sleep(10); return r.offset; });
        d.push(rec(0, 0));
        d.push(rec(0, 1));
        d.close();
        await sleep(40);
        assert.deepStrictEqual(log, []);
    });

    it('decodes the value, a tombstone stays null, the key only when asked', async function () {
        const client = { decode: async (b) => ({ value: b.toString('hex'), schema: { id: 1, subject: 's', version: 1, type: 'AVRO' } }) };
        const r = { ...rec(0, 0), key: Buffer.from([0, 0, 0, 0, 1]) };
        assert.deepStrictEqual((await decodeRecord(client, r, false)).key, null);
        assert.strictEqual((await decodeRecord(client, r, true)).key.value, '0000000001');
        assert.strictEqual((await decodeRecord(client, { ...r, value: null }, false)).value, null);
        const fields = decodedFields(await decodeRecord(client, r, false), 'raw-key');
        assert.deepStrictEqual(fields, { payload: '000000000102', key: 'raw-key', schema: { id: 1, subject: 's', version: 1, type: 'AVRO' } });
    });
});

describe('registry: the publish encoder', function () {
    const fields = readPublishRegistry({ encode: 'key-value', registry: 'r' }).fields;

    it('hands messages back in arrival order even when a later one encodes first', async function () {
        const client = {
            encode: async (value, choice) => {
                await sleep(value === 'slow' ? 30 : 1);
                return { bytes: Buffer.from(`${choice.subject}:${value}`), id: 1 };
            },
        };
        const enc = new RegistryEncoder(client, fields);
        const order = [];
        enc.run({ topic: 'orders' }, { payload: 'slow', key: 'k1' }, (err, out) => order.push(out.msg.payload.toString()));
        enc.run({ topic: 'orders' }, { payload: 'fast', key: 'k2' }, (err, out) => order.push(out.msg.payload.toString()));
        await enc.idle();
        assert.deepStrictEqual(order, ['orders-value:slow', 'orders-value:fast']);
    });

    it('encodes the key with <topic>-key, leaves a tombstone null, and names the failing subject', async function () {
        const client = {
            encode: async (value, choice) => {
                if (value === 'bad') throw Object.assign(new Error('invalid'), { status: 0 });
                return { bytes: Buffer.from(`${choice.subject}:${value}`), id: 3 };
            },
        };
        const enc = new RegistryEncoder(client, fields);
        const results = [];
        enc.run({ topic: 'orders', key: 'fromfield' }, { payload: null }, (err, out) => results.push([err, out]));
        enc.run({ topic: 'orders' }, { payload: 'v', key: 'bad' }, (err, out) => results.push([err, out]));
        await enc.idle();
        const [[err0, out0], [err1]] = results;
        assert.strictEqual(err0, null);
        assert.strictEqual(out0.msg.payload, null);
        assert.strictEqual(out0.msg.key.toString(), 'orders-key:fromfield');
        assert.strictEqual(out0.fields.key, '', 'the node\'s key field is now the encoded msg.key');
        assert.strictEqual(err1.subject, 'orders-key');
        assert.strictEqual(err1.part, 'key');
    });
});
