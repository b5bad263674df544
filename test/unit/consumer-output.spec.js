'use strict';
const assert = require('assert');
const { recordToMessage, recordsToBatchMessage, ackCoordinates, ackFor, acksFor } = require('../../nodes/lib/consumer-output');
const { cloneMessage } = require('@node-red/util').util;

const rec = (value, key = 'k1') => ({
    topic: 't', partition: 2, offset: '41', key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value), headers: { h: 'v', m: ['1', '2'] }, timestamp: '1700000000000',
});

const CASES = [
    { name: 'buffer by default', format: 'buffer', value: 'hi', payload: Buffer.from('hi'), key: Buffer.from('k1') },
    { name: 'string', format: 'string', value: 'héllo', payload: 'héllo', key: 'k1' },
    { name: 'json', format: 'json', value: '{"a":[1,2]}', payload: { a: [1, 2] }, key: 'k1' },
    { name: 'json that does not parse is a string', format: 'json', value: '{nope', payload: '{nope', key: 'k1', parseError: true },
    { name: 'tombstone', format: 'string', value: null, payload: null, key: 'k1' },
    { name: 'no key', format: 'string', value: 'x', payload: 'x', key: null, rawKey: null },
];

describe('consumer output', function () {
    for (const c of CASES) {
        it(c.name, function () {
            const { msg, parseError } = recordToMessage(rec(c.value, c.rawKey === undefined ? 'k1' : c.rawKey), c.format, 'node-1', 'id-1');
            assert.deepStrictEqual(msg.payload, c.payload);
            assert.deepStrictEqual(msg.key, c.key);
            assert.deepStrictEqual(msg.attribute, { topic: 't', partition: 2, offset: 41 });
            assert.strictEqual(msg._msgid, 'id-1');
            assert.strictEqual(msg.topic, 't');
            assert.deepStrictEqual(msg.headers, { h: 'v', m: ['1', '2'] });
            assert.strictEqual(msg.timestamp, 1700000000000);
            assert.strictEqual(parseError !== undefined, !!c.parseError);
            assert.deepStrictEqual(msg._kafka, { consumer: 'node-1', topic: 't', partition: 2, offset: 41 });
            assert.deepStrictEqual(cloneMessage(msg), msg, 'plain data that survives Node-RED\'s deep clone');
        });
    }

    const ACKS = [
        ['the receipt wins over a rewritten attribute',
            { _kafka: { consumer: 'n1', topic: 'in', partition: 0, offset: 7 }, attribute: { topic: 'out', partition: 3, offset: 99 } },
            { topic: 'in', partition: 0, offset: '7' }],
        ['a receipt of another consumer node is not ours',
            { _kafka: { consumer: 'n2', topic: 'in', partition: 0, offset: 7 }, attribute: { topic: 'in', partition: 0, offset: 7 } }, null],
        ['without a receipt, msg.attribute', { attribute: { topic: 'in', partition: 1, offset: 2 } }, { topic: 'in', partition: 1, offset: '2' }],
        ['nothing', { payload: 'x' }, null],
    ];
    for (const [name, msg, want] of ACKS) {
        it(`ack: ${name}`, () => assert.deepStrictEqual(ackFor(msg, 'n1'), want));
    }

    const COORDS = [
        [{ topic: 't', partition: 1, offset: 5 }, { topic: 't', partition: 1, offset: '5' }],
        [{ topic: 't', partition: '1', offset: '5' }, { topic: 't', partition: 1, offset: '5' }],
        [{ topic: '', partition: 1, offset: 5 }, null],
        [{ topic: 't', partition: 1.5, offset: 5 }, null],
        [{ topic: 't', partition: 1, offset: -1 }, null],
        [null, null],
        ['t/1/5', null],
    ];
    for (const [attr, want] of COORDS) {
        it(`reads ack coordinates from ${JSON.stringify(attr)}`, () => assert.deepStrictEqual(ackCoordinates(attr), want));
    }

    describe('batch output', function () {
        const item = (offset, value, seq) => ({
            record: { ...rec(value), offset: String(offset), highWaterOffset: '50' }, seq,
        });

        it('one message: an array of the records, the first and last offsets, a receipt of every record', function () {
            const { msg, parseError } = recordsToBatchMessage([item(41, '{"a":1}', 7), item(43, '{"b":2}', 9)], 'json', 'node-1', 'id-9', true);
            assert.strictEqual(parseError, undefined);
            assert.strictEqual(msg._msgid, 'id-9');
            assert.strictEqual(msg.topic, 't');
            assert.deepStrictEqual(msg.payload, [
                { value: { a: 1 }, key: 'k1', headers: { h: 'v', m: ['1', '2'] }, timestamp: 1700000000000, offset: 41 },
                { value: { b: 2 }, key: 'k1', headers: { h: 'v', m: ['1', '2'] }, timestamp: 1700000000000, offset: 43 },
            ]);
            assert.deepStrictEqual(msg.attribute, { topic: 't', partition: 2, offset: 41, lastOffset: 43, count: 2 });
            assert.deepStrictEqual(msg._kafka, { consumer: 'node-1', topic: 't', partition: 2, offsets: [41, 43], seqs: [7, 9] });
            assert.deepStrictEqual(msg.kafka, { highWaterOffset: 50 });
            assert.deepStrictEqual(cloneMessage(msg), msg, 'plain data that survives Node-RED\'s deep clone');
        });

        it('buffers stay buffers; no handing-out numbers in immediate mode; a value that is not JSON is a string and reported', function () {
            const buf = recordsToBatchMessage([item(1, 'x', 1)], 'buffer', 'n', 'i', false).msg;
            assert.deepStrictEqual(buf.payload[0].value, Buffer.from('x'));
            assert.deepStrictEqual(buf.payload[0].key, Buffer.from('k1'));
            assert.deepStrictEqual(buf._kafka, { consumer: 'n', topic: 't', partition: 2, offsets: [1] });
            const bad = recordsToBatchMessage([item(1, '{"ok":1}', 1), item(2, '{nope', 2)], 'json', 'n', 'i', true);
            assert.strictEqual(bad.msg.payload[1].value, '{nope');
            assert.match(bad.parseError, /^offset 2: /);
        });

        const ACKS_FOR = [
            ['every record of a batch receipt, with its handing-out',
                { _kafka: { consumer: 'n1', topic: 'in', partition: 1, offsets: [4, 6], seqs: [10, 11] }, attribute: { topic: 'out', partition: 0, offset: 1 } },
                [{ topic: 'in', partition: 1, offset: '4', seq: 10 }, { topic: 'in', partition: 1, offset: '6', seq: 11 }]],
            ['a batch receipt without handing-outs',
                { _kafka: { consumer: 'n1', topic: 'in', partition: 1, offsets: [4] } },
                [{ topic: 'in', partition: 1, offset: '4' }]],
            ['a batch receipt of another consumer', { _kafka: { consumer: 'n2', topic: 'in', partition: 1, offsets: [4] } }, null],
            ['a batch receipt with nothing usable', { _kafka: { consumer: 'n1', topic: 'in', partition: 1, offsets: ['x'] } }, null],
            ['a single record as ackFor finds it', { _kafka: { consumer: 'n1', topic: 'in', partition: 0, offset: 7, seq: 3 } }, [{ topic: 'in', partition: 0, offset: '7', seq: 3 }]],
            ['nothing', { payload: 1 }, null],
        ];
        for (const [name, msg, expected] of ACKS_FOR) {
            it(`acksFor: ${name}`, function () {
                assert.deepStrictEqual(acksFor(msg, 'n1'), expected);
            });
        }
    });
});
