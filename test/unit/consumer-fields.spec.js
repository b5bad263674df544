'use strict';
const assert = require('assert');
const { readConsumerFields, CONSUMER_FIELD_DEFAULTS } = require('../../nodes/lib/consumer-fields');

const base = { group: 'g1', topics: 'orders' };

describe('consumer fields', function () {
    it('takes the defaults for empty fields', function () {
        const { fields, problems } = readConsumerFields(base);
        assert.deepStrictEqual(problems, []);
        assert.deepStrictEqual(fields, {
            group: 'g1', topics: { names: ['orders'], patterns: [] }, consumerCount: 1, format: 'buffer', registry: null, maxInFlight: 100,
            maxAttempts: 0, afterMaxAttempts: 'dlq', deadLetterTopic: '', ackTimeout: 0, batchSize: 1, batchWait: 100, topicRefresh: 30000,
        });
        assert.strictEqual(fields.maxInFlight, CONSUMER_FIELD_DEFAULTS.maxInFlight);
    });

    const CASES = [
        { name: 'group trimmed', raw: { group: '  g2 ' }, expect: { group: 'g2' } },
        { name: 'numbers as strings', raw: { consumerCount: '3', maxInFlight: '7', maxAttempts: '2', deadLetterTopic: 'dlq', ackTimeout: '500' }, expect: { consumerCount: 3, maxInFlight: 7, maxAttempts: 2, deadLetterTopic: 'dlq', ackTimeout: 500 } },
        { name: 'string and json formats', raw: { format: 'json' }, expect: { format: 'json' } },
        { name: 'an unknown format is buffer', raw: { format: 'xml' }, expect: { format: 'buffer' } },
        { name: 'registry format: raw bytes underneath, the registry node named', raw: { format: 'registry', registry: ' r1 ' }, expect: { format: 'buffer', registry: { config: 'r1', key: false } } },
        { name: 'registry format decoding keys too', raw: { format: 'registry', registry: 'r1', registryKey: 'true' }, expect: { registry: { config: 'r1', key: true } } },
        { name: 'the registry node is ignored for other formats', raw: { format: 'json', registry: 'r1' }, expect: { registry: null } },
        { name: 'registry format without a registry node', raw: { format: 'registry' }, problems: [{ key: 'registry-missing' }] },
        { name: 'skip after max attempts needs no topic', raw: { maxAttempts: 3, afterMaxAttempts: 'skip' }, expect: { maxAttempts: 3, afterMaxAttempts: 'skip' } },
        { name: 'topic refresh below 100 ms is ignored', raw: { topicRefresh: 5 }, expect: { topicRefresh: 30000 } },
        { name: 'topic refresh as set', raw: { topicRefresh: 250 }, expect: { topicRefresh: 250 } },
        { name: 'no group', raw: { group: ' ' }, problems: [{ key: 'group-empty' }] },
        { name: 'no topics', raw: { topics: '' }, problems: [{ key: 'topics-empty' }] },
        { name: 'consumer count 0', raw: { consumerCount: 0 }, problems: [{ key: 'bad-number', params: { field: 'consumerCount', min: 1 } }] },
        { name: 'max in flight not an integer', raw: { maxInFlight: '1.5' }, problems: [{ key: 'bad-number', params: { field: 'maxInFlight', min: 1 } }] },
        { name: 'negative max attempts', raw: { maxAttempts: -1 }, problems: [{ key: 'bad-number', params: { field: 'maxAttempts', min: 0 } }] },
        { name: 'ack timeout not a number', raw: { ackTimeout: 'soon' }, problems: [{ key: 'bad-number', params: { field: 'ackTimeout', min: 0 } }] },
        { name: 'dead-letter without a topic', raw: { maxAttempts: 2, afterMaxAttempts: 'dlq', deadLetterTopic: ' ' }, problems: [{ key: 'dlq-empty' }] },
        { name: 'batch output as set', raw: { batchSize: '500', batchWait: '0' }, expect: { batchSize: 500, batchWait: 0 } },
        { name: 'batch size 0', raw: { batchSize: 0 }, problems: [{ key: 'bad-number', params: { field: 'batchSize', min: 1 } }] },
        { name: 'batch wait negative', raw: { batchWait: -5 }, problems: [{ key: 'bad-number', params: { field: 'batchWait', min: 0 } }] },
        { name: 'batch output with registry decoding', raw: { batchSize: 10, format: 'registry', registry: 'r1' }, problems: [{ key: 'batch-registry' }] },
        { name: 'registry decoding with batch size 1', raw: { batchSize: 1, format: 'registry', registry: 'r1' }, expect: { batchSize: 1 } },
        { name: 'several problems at once', raw: { group: '', consumerCount: 'x' }, problems: [{ key: 'group-empty' }, { key: 'bad-number', params: { field: 'consumerCount', min: 1 } }] },
    ];
    for (const c of CASES) {
        it(c.name, function () {
            const { fields, problems } = readConsumerFields({ ...base, ...c.raw });
            assert.deepStrictEqual(problems, c.problems || []);
            for (const [k, v] of Object.entries(c.expect || {})) assert.deepStrictEqual(fields[k], v, k);
        });
    }
});
