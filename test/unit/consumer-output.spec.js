'use strict';
const assert = require('assert');
const { recordToMessage, ackCoordinates, ackFor } = require('../../nodes/lib/consumer-output');
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
});
