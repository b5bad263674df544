'use strict';
const assert = require('assert');
const { parseTopics, resolveTopics } = require('../../nodes/lib/topics');

const PARSE = [
    { raw: 'orders', names: ['orders'], patterns: [], problems: [] },
    { raw: 'a\nb, c\n\n a ', names: ['a', 'b', 'c'], patterns: [], problems: [] },
    { raw: ['x', '/^log\\..*/'], names: ['x'], patterns: ['/^log\\..*/'], problems: [] },
    { raw: '/Orders/i', names: [], patterns: ['/Orders/i'], problems: [] },
    { raw: '/a/g', names: [], patterns: ['/a/'], problems: [] },
    { raw: '', names: [], patterns: [], problems: ['topics-empty'] },
    { raw: 'bad topic', names: [], patterns: [], problems: ['topic-invalid'] },
    { raw: '/(/', names: [], patterns: [], problems: ['pattern-invalid'] },
];

const RESOLVE = [
    { raw: 'b\na', existing: [], want: ['a', 'b'] },
    { raw: '/^log-/', existing: ['log-1', 'x', 'log-2', '__consumer_offsets'], want: ['log-1', 'log-2'] },
    { raw: 'fixed\n/^log-/', existing: ['log-9'], want: ['fixed', 'log-9'] },
    { raw: '/.*/', existing: ['__transaction_state', 'a'], want: ['a'] },
];

describe('topics', function () {
    for (const c of PARSE) {
        it(`parses ${JSON.stringify(c.raw)}`, function () {
            const { spec, problems } = parseTopics(c.raw);
            assert.deepStrictEqual(spec.names, c.names);
            assert.deepStrictEqual(spec.patterns.map(String), c.patterns);
            assert.deepStrictEqual(problems.map((p) => p.key), c.problems);
        });
    }
    for (const c of RESOLVE) {
        it(`resolves ${JSON.stringify(c.raw)} against ${c.existing.join(',') || 'nothing'}`, function () {
            assert.deepStrictEqual(resolveTopics(parseTopics(c.raw).spec, c.existing), c.want);
        });
    }
});
