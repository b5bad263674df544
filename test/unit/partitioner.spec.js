'use strict';
const should = require('should');
const { murmur2, toPositive, partitionForKey, choosePartition, RoundRobin } = require('../../nodes/lib/partitioner');

describe('partitioner', function () {
    describe('murmur2 matches the Java client (Kafka UtilsTest vectors)', function () {
        const cases = [
            ['21', -973932308],
            ['foobar', -790332482],
            ['a-little-bit-long-string', -985981536],
            ['a-little-bit-longer-string', -1486304829],
            ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
            ['abc', 479470107],
        ];
        for (const [input, hash] of cases) {
            it(`"${input}" -> ${hash}`, function () {
                murmur2(Buffer.from(input)).should.equal(hash);
            });
        }
        it('covers every tail length (0-3 trailing bytes) the same as kafkajs\'s Java-compatible murmur2', function () {
            const javaCompatible = require('kafkajs/src/producer/partitioners/default/murmur2');
            for (let len = 0; len < 40; len++) {
                const b = Buffer.alloc(len);
                for (let i = 0; i < len; i++) b[i] = (i * 37 + 200) & 0xff; // bytes >= 0x80 exercise sign handling
                murmur2(b).should.equal(javaCompatible(b), `length ${len}`);
            }
        });
    });

    it('toPositive clears the sign bit (Java Utils.toPositive)', function () {
        toPositive(-1).should.equal(0x7fffffff);
        toPositive(-2147483648).should.equal(0);
        toPositive(5).should.equal(5);
    });

    it('keyed: toPositive(murmur2(key)) % partitions', function () {
        // toPositive(-790332482) = 1357151166; 1357151166 % 50 = 16
        partitionForKey(Buffer.from('foobar'), 50).should.equal(16);
        partitionForKey(Buffer.from('foobar'), 1).should.equal(0);
    });

    it('keyless: round-robin per topic', function () {
        const rr = new RoundRobin();
        const ids = [0, 1, 2];
        [0, 1, 2, 3].map(() => choosePartition('a', null, ids, rr)).should.deepEqual([0, 1, 2, 0]);
        choosePartition('b', null, ids, rr).should.equal(0);
    });

    it('keyed choice picks from the partition list by index', function () {
        const rr = new RoundRobin();
        choosePartition('t', Buffer.from('foobar'), [0, 1, 2, 3, 4], rr).should.equal(1357151166 % 5);
        should(choosePartition('t', Buffer.from('foobar'), [0, 1, 2, 3, 4], rr)).equal(choosePartition('t', Buffer.from('foobar'), [0, 1, 2, 3, 4], rr));
    });
});
