'use strict';
// Read committed for kafkajs 2.2.4 (src/client/kafkajs-aborted.ts): which fetched records
// belong to aborted transactions. Against the real broker: test/integration/exactly-once.spec.js.
const assert = require('assert');
const { withoutAborted, mendReadCommitted } = require('../../nodes/client/kafkajs-aborted');

const ABORT = Buffer.from([0, 0, 0, 0]);
const COMMIT = Buffer.from([0, 0, 0, 1]);
/** A transactional record of producer `pid` at `offset`. */
const rec = (offset, pid, inTransaction = true) => ({ offset: String(offset), key: Buffer.from('k'), batchContext: { producerId: String(pid), inTransaction } });
/** A control record (marker) of producer `pid`. */
const marker = (offset, pid, key) => ({ offset: String(offset), key, isControlRecord: true, batchContext: { producerId: String(pid), inTransaction: true } });
const offsets = (list) => list.filter((m) => !m.isControlRecord).map((m) => Number(m.offset));

describe('kafkajs seam: read committed drops the records of aborted transactions', function () {
    it('nothing listed: the records as they are', function () {
        const messages = [rec(0, 1), rec(1, 2)];
        assert.strictEqual(withoutAborted(messages, []), messages);
    });

    it('aborted transactions listed in marker order, not first-offset order (kafkajs 2.2.4 let the first record through)', function () {
        // producers 1, 2, 3 start at offsets 0, 1, 2 and abort in the reverse order
        const messages = [rec(0, 1), rec(1, 2), rec(2, 3), rec(3, 9, false), marker(4, 3, ABORT), marker(5, 2, ABORT), marker(6, 1, ABORT), rec(7, 9, false)];
        const aborted = [{ producerId: '3', firstOffset: '2' }, { producerId: '2', firstOffset: '1' }, { producerId: '1', firstOffset: '0' }];
        assert.deepStrictEqual(offsets(withoutAborted(messages, aborted)), [3, 7]);
    });

    it('a fetch that starts after several aborted transactions began: all of them apply from the first record', function () {
        const messages = [rec(10, 3), rec(11, 1), rec(12, 2), marker(13, 1, ABORT), marker(14, 2, ABORT), marker(15, 3, ABORT), rec(16, 1)];
        const aborted = [{ producerId: '1', firstOffset: '0' }, { producerId: '2', firstOffset: '1' }, { producerId: '3', firstOffset: '2' }];
        // producer 1's record after its abort marker is not transactional-aborted: it stays
        assert.deepStrictEqual(offsets(withoutAborted(messages, aborted)), [16]);
    });

    it('a committed transaction of another producer in between stays; the same producer aborting twice is dropped twice', function () {
        const messages = [
            rec(0, 1), rec(1, 2), marker(2, 1, ABORT), marker(3, 2, COMMIT),
            rec(4, 1), marker(5, 1, COMMIT), rec(6, 1), marker(7, 1, ABORT),
        ];
        const aborted = [{ producerId: '1', firstOffset: '0' }, { producerId: '1', firstOffset: '6' }];
        assert.deepStrictEqual(offsets(withoutAborted(messages, aborted)), [1, 4]);
    });

    it('a non-transactional record of an aborting producer id, and a plain record whose key looks like a marker, stay', function () {
        const messages = [rec(0, 1), rec(1, 1, false), { offset: '2', key: ABORT, batchContext: { producerId: '5', inTransaction: false } }, marker(3, 1, ABORT)];
        assert.deepStrictEqual(offsets(withoutAborted(messages, [{ producerId: '1', firstOffset: '0' }])), [1, 2]);
    });

    it('is applied to the kafkajs this package loads, once', function () {
        const first = mendReadCommitted();
        assert.strictEqual(first.applied, true, JSON.stringify(first));
        assert.deepStrictEqual(mendReadCommitted(), { applied: true, reason: 'already' });
    });
});
