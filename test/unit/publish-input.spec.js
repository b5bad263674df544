'use strict';
const should = require('should');
const { readInput, recordSize, MAX_RECORD_OVERHEAD } = require('../../nodes/lib/publish-input');

const MAX = 1000000;
const read = (fields, msg, max = MAX) => readInput(fields, msg, max);

describe('publish input', function () {
    describe('content (msg.payload)', function () {
        const table = [
            ['a string as is (written as UTF-8)', 'héllo', 'héllo'],
            ['a Buffer byte for byte', Buffer.from([0, 255, 128]), Buffer.from([0, 255, 128])],
            ['an object as JSON', { a: 1, b: [true] }, Buffer.from('{"a":1,"b":[true]}')],
            ['a number as JSON', 42, Buffer.from('42')],
            ['a boolean as JSON', false, Buffer.from('false')],
            ['null as a tombstone', null, null],
        ];
        for (const [name, payload, value] of table) {
            it(name, function () {
                const r = read({ topic: 't' }, { payload });
                should(r.problem).be.undefined();
                should(r.record.value).deepEqual(value);
            });
        }
        it('undefined is refused', function () {
            read({ topic: 't' }, {}).problem.key.should.equal('no-payload');
        });
        it('a value JSON cannot hold is refused', function () {
            read({ topic: 't' }, { payload: 10n }).problem.key.should.equal('bad-payload');
        });
    });

    describe('fields first, msg.* where the field is empty', function () {
        const msg = { payload: 'x', topic: 'm-topic', partition: 2, key: 'm-key', headers: { h: 'm' } };
        const table = [
            ['all from msg', {}, { topic: 'm-topic', partition: 2, key: 'm-key', headers: { h: Buffer.from('m') } }],
            ['all from fields', { topic: 'f-topic', partition: '1', key: 'f-key', headers: '{"h":"f"}' },
                { topic: 'f-topic', partition: 1, key: 'f-key', headers: { h: Buffer.from('f') } }],
            ['empty strings mean "from msg"', { topic: ' ', partition: '', key: '', headers: '' },
                { topic: 'm-topic', partition: 2, key: 'm-key', headers: { h: Buffer.from('m') } }],
            ['a mix', { topic: 'f-topic', partition: '' }, { topic: 'f-topic', partition: 2, key: 'm-key', headers: { h: Buffer.from('m') } }],
        ];
        for (const [name, fields, want] of table) {
            it(name, function () {
                const r = read(fields, msg).record;
                r.topic.should.equal(want.topic);
                r.partition.should.equal(want.partition);
                r.key.toString().should.equal(want.key);
                r.headers.should.deepEqual(want.headers);
            });
        }
        it('no partition and no key when neither gives one', function () {
            const r = read({ topic: 't' }, { payload: 'x' }).record;
            should(r.partition).be.null();
            should(r.key).be.null();
            should(r.headers).be.undefined();
        });
        it('msg.partition as a numeric string', function () {
            read({ topic: 't' }, { payload: 'x', partition: '3' }).record.partition.should.equal(3);
        });
        it('msg.key as a Buffer or a number', function () {
            read({ topic: 't' }, { payload: 'x', key: Buffer.from([1, 2]) }).record.key.should.deepEqual(Buffer.from([1, 2]));
            read({ topic: 't' }, { payload: 'x', key: 7 }).record.key.toString().should.equal('7');
        });
        it('msg.headers as a JSON string; values as bytes, arrays repeat the header', function () {
            const r = read({ topic: 't' }, { payload: 'x', headers: '{"a":"1","b":2,"c":["x","y"],"d":null}' }).record;
            r.headers.should.deepEqual({ a: Buffer.from('1'), b: Buffer.from('2'), c: [Buffer.from('x'), Buffer.from('y')], d: Buffer.alloc(0) });
        });
    });

    describe('bad input gives its problem', function () {
        const table = [
            ['no topic', {}, { payload: 'x' }, 'no-topic'],
            ['a topic that is not a string', {}, { payload: 'x', topic: 5 }, 'no-topic'],
            ['a topic name with a slash', {}, { payload: 'x', topic: 'a/b' }, 'bad-topic'],
            ['a topic name with a space inside', { topic: 'a b' }, { payload: 'x' }, 'bad-topic'],
            ['the topic name ".."', {}, { payload: 'x', topic: '..' }, 'bad-topic'],
            ['a topic name of 250 characters', {}, { payload: 'x', topic: 't'.repeat(250) }, 'bad-topic'],
            ['a partition that is not an integer', { topic: 't' }, { payload: 'x', partition: 1.5 }, 'bad-partition'],
            ['a negative partition', { topic: 't' }, { payload: 'x', partition: -1 }, 'bad-partition'],
            ['a partition field that is not a number', { topic: 't', partition: 'two' }, { payload: 'x' }, 'bad-partition'],
            ['headers that are not JSON', { topic: 't', headers: '{nope' }, { payload: 'x' }, 'headers-json'],
            ['headers that are a JSON list', { topic: 't', headers: '[1]' }, { payload: 'x' }, 'headers-object'],
            ['msg.headers that are a string value', { topic: 't' }, { payload: 'x', headers: '"v"' }, 'headers-object'],
            ['msg.headers that are a number', { topic: 't' }, { payload: 'x', headers: 5 }, 'headers-object'],
        ];
        for (const [name, fields, msg, key] of table) {
            it(name, function () {
                read(fields, msg).problem.key.should.equal(key);
            });
        }
        it('legal topic names pass: 249 characters, dots, underscores, dashes', function () {
            read({}, { payload: 'x', topic: 't'.repeat(249) }).record.topic.should.equal('t'.repeat(249));
            read({}, { payload: 'x', topic: 'a.b_c-D9' }).record.topic.should.equal('a.b_c-D9');
            read({}, { payload: 'x', topic: '...' }).record.topic.should.equal('...');
        });
        it('names the bad topic, shortened when long', function () {
            read({}, { payload: 'x', topic: 'a/b' }).problem.params.topic.should.equal('a/b');
            read({}, { payload: 'x', topic: '/'.repeat(300) }).problem.params.topic.should.have.length(60);
        });
        it('says where bad headers came from', function () {
            read({ topic: 't', headers: '[1]' }, { payload: 'x' }).problem.params.source.should.equal('field');
            read({ topic: 't' }, { payload: 'x', headers: '[1]' }).problem.params.source.should.equal('msg');
        });
    });

    describe('size against max message bytes (record batch v2 bound, as Sarama counts it)', function () {
        it('the per-record overhead is 36 bytes: five int32 varints, one int64 varint, attributes', function () {
            MAX_RECORD_OVERHEAD.should.equal(36);
        });
        const table = [
            ['value only', null, Buffer.alloc(100), undefined, 136],
            ['key and value', Buffer.alloc(3), Buffer.alloc(100), undefined, 139],
            ['tombstone with key', Buffer.alloc(3), null, undefined, 39],
            ['headers: name + value + 10 each', null, Buffer.alloc(1), { ab: Buffer.alloc(4), c: [Buffer.alloc(1), Buffer.alloc(2)] }, 37 + (2 + 4 + 10) + (1 + 1 + 10) + (1 + 2 + 10)],
        ];
        for (const [name, key, value, headers, size] of table) {
            it(name, function () {
                recordSize(key, value, headers).should.equal(size);
            });
        }
        it('a record exactly at the limit passes, one byte over is refused', function () {
            const max = 1000;
            read({ topic: 't' }, { payload: Buffer.alloc(max - 36) }, max).record.size.should.equal(max);
            const r = read({ topic: 't' }, { payload: Buffer.alloc(max - 35) }, max);
            r.problem.key.should.equal('too-large');
            r.problem.params.should.deepEqual({ size: 1001, max: 1000 });
        });
        it('counts the key and headers too', function () {
            read({ topic: 't', key: 'k' }, { payload: Buffer.alloc(1000 - 36) }, 1000).problem.key.should.equal('too-large');
            read({ topic: 't', headers: '{"a":""}' }, { payload: Buffer.alloc(1000 - 36) }, 1000).problem.key.should.equal('too-large');
        });
    });
});
