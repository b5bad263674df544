'use strict';
const assert = require('assert');
const { afterFailure, deadLetterHeaders, failureText } = require('../../nodes/lib/failure-policy');

describe('failure policy', function () {
    const CASES = [
        // attempts, maxAttempts, afterMax, action
        [1, 0, 'dlq', 'retry'],
        [50, 0, 'skip', 'retry'],
        [1, 3, 'dlq', 'retry'],
        [2, 3, 'skip', 'retry'],
        [3, 3, 'dlq', 'dead-letter'],
        [3, 3, 'skip', 'skip'],
        [4, 3, 'dlq', 'dead-letter'],
        [1, 1, 'skip', 'skip'],
    ];
    for (const [attempts, max, afterMax, action] of CASES) {
        it(`failure ${attempts} of at most ${max} (${afterMax}): ${action}`, function () {
            assert.strictEqual(afterFailure(attempts, max, afterMax), action);
        });
    }

    it('dead-letter headers keep the record\'s own and add the error and the origin', function () {
        const h = deadLetterHeaders({ trace: 'abc', multi: ['1', '2'] }, { topic: 'orders', partition: 2, offset: '41' }, 'bad record', 3);
        assert.deepStrictEqual(h, {
            trace: 'abc', multi: '1,2', 'dlq-error': 'bad record', 'dlq-origin-topic': 'orders',
            'dlq-origin-partition': '2', 'dlq-origin-offset': '41', 'dlq-attempts': '3',
        });
    });

    it('dead-letter headers win over a record header of the same name', function () {
        assert.strictEqual(deadLetterHeaders({ 'dlq-error': 'old' }, { topic: 't', partition: 0, offset: '0' }, 'new', 1)['dlq-error'], 'new');
    });

    const TEXTS = [
        ['msg.error from a Catch node', { message: 'boom', source: { id: 'n1' } }, 'boom'],
        ['msg.error in the manual\'s shape', { Code: 'CORE:RUNTIME', Description: 'down' }, 'down'],
        ['a string', 'plain', 'plain'],
        ['another object', { code: 7 }, '{"code":7}'],
        ['true', true, 'true'],
    ];
    for (const [name, error, text] of TEXTS) {
        it(`failure text: ${name}`, function () {
            assert.strictEqual(failureText(error), text);
        });
    }
    it('failure text of an object that cannot be serialised', function () {
        const o = {};
        o.self = o;
        assert.strictEqual(failureText(o), '[object Object]');
    });
});
