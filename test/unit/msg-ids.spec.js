'use strict';
const assert = require('assert');
const { messageIds } = require('../../nodes/lib/msg-ids');

describe('message ids', function () {
    it('are 16 hex digits, distinct, from a random prefix and a counter', function () {
        const next = messageIds();
        const ids = Array.from({ length: 1000 }, next);
        assert.ok(ids.every((id) => /^[0-9a-f]{16}$/.test(id)), ids[0]);
        assert.strictEqual(new Set(ids).size, ids.length);
        assert.strictEqual(new Set(ids.map((id) => id.slice(0, 8))).size, 1);
        assert.strictEqual(ids[1].slice(8), '00000001');
    });

    it('differ between sources', function () {
        assert.notStrictEqual(messageIds()().slice(0, 8), messageIds()().slice(0, 8));
    });

    it('draw a new prefix when the counter wraps', function () {
        let draws = 0;
        const next = messageIds((n) => Buffer.alloc(n, ++draws), 0xfffffffe);
        assert.deepStrictEqual([next(), next(), next()], ['01010101fffffffe', '01010101ffffffff', '0202020200000000']);
    });
});
