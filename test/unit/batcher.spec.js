'use strict';
require('should');
const { Batcher } = require('../../nodes/lib/batcher');

/** A clock whose timers run only when the test advances it. */
function fakeClock() {
    let now = 0;
    let timers = [];
    return {
        setTimeout(fn, ms) { const t = { at: now + ms, fn }; timers.push(t); return t; },
        clearTimeout(t) { timers = timers.filter((x) => x !== t); },
        advance(ms) {
            now += ms;
            const due = timers.filter((t) => t.at <= now);
            timers = timers.filter((t) => t.at > now);
            due.forEach((t) => t.fn());
        },
        get pending() { return timers.length; },
    };
}

const settle = () => new Promise((r) => setImmediate(r));

/**
 * Runs a scenario: `steps` are ['add', n, {topic, partition, size}] / ['tick', ms] / ['answer'] (the oldest
 * request in flight is answered) / ['drain']. Returns the sizes of the requests sent (ids of their items).
 */
async function run(settings, steps, maxInFlight = 1) {
    const clock = fakeClock();
    const sent = [];
    const answers = [];
    const s = { flushBytes: 0, flushMessages: 0, flushFrequency: 0, flushMaxMessages: 0, maxBatchBytes: 1e6, maxRequestBytes: 64e6, ...settings };
    const b = new Batcher(s, (batch) => {
        sent.push(batch.map((x) => x.id));
        return new Promise((resolve) => answers.push(resolve));
    }, clock, maxInFlight);
    let id = 0;
    let drained = null;
    for (const step of steps) {
        if (step[0] === 'add') {
            for (let i = 0; i < step[1]; i++) b.add({ id: id++, topic: 't', partition: 0, size: 10, ...(step[2] || {}) });
        } else if (step[0] === 'tick') {
            clock.advance(step[1]);
        } else if (step[0] === 'answer') {
            answers.shift()();
        } else if (step[0] === 'drain') {
            drained = b.drain();
        }
        await settle();
    }
    return { sent: sent.map((ids) => ids.length), ids: sent, batcher: b, drained, clock, answers };
}

describe('batcher', function () {
    const table = [
        ['no threshold: the first message goes at once, the rest wait for the answer and go together',
            {}, [['add', 1], ['add', 4], ['answer'], ['answer']], [1, 4]],
        ['flush messages: sends when the count is reached',
            { flushMessages: 3 }, [['add', 2], ['add', 1]], [3]],
        ['flush messages: fewer wait',
            { flushMessages: 3 }, [['add', 2]], []],
        ['flush bytes: sends when the bytes are reached',
            { flushBytes: 25 }, [['add', 2], ['add', 1]], [3]],
        ['flush frequency: sends when the time since the first queued message passes',
            { flushFrequency: 100 }, [['add', 1], ['tick', 50], ['add', 1], ['tick', 49], ['tick', 1]], [2]],
        ['flush frequency with flush messages: whichever first (count)',
            { flushFrequency: 100, flushMessages: 2 }, [['add', 2]], [2]],
        ['flush frequency with flush messages: whichever first (time)',
            { flushFrequency: 100, flushMessages: 5 }, [['add', 1], ['tick', 100]], [1]],
        ['flush max messages caps each request; a full request goes, the rest waits for its threshold',
            { flushMessages: 5, flushMaxMessages: 2 }, [['add', 5], ['answer'], ['answer']], [2, 2]],
        ['flush max messages alone (no trigger): at once, capped',
            { flushMaxMessages: 2 }, [['add', 1], ['add', 5], ['answer'], ['answer'], ['answer']], [1, 2, 2, 1]],
        ['a partition batch never passes maxBatchBytes',
            { maxBatchBytes: 30, flushMessages: 100 }, [['add', 7], ['answer'], ['answer']], [3, 3]],
        ['maxBatchBytes is per partition',
            { maxBatchBytes: 20 }, [['add', 1], ['add', 2, { partition: 0 }], ['add', 2, { partition: 1 }], ['answer']], [1, 4]],
        ['maxBatchBytes counts each topic-partition apart: the same partition number of two topics does not add up',
            { maxBatchBytes: 20, flushMessages: 100 }, [['add', 1, { topic: 'a' }], ['add', 1, { topic: 'b' }], ['tick', 1]], []],
        ['a topic-partition reaching maxBatchBytes sends what is queued',
            { maxBatchBytes: 20, flushMessages: 100 }, [['add', 1, { topic: 'a' }], ['add', 1, { topic: 'b' }], ['add', 1, { topic: 'a' }]], [3]],
        ['a request never passes maxRequestBytes',
            { maxRequestBytes: 25 }, [['add', 1], ['add', 4], ['answer'], ['answer']], [1, 2, 2]],
        ['an item larger than the limits still goes (alone)',
            { maxBatchBytes: 5, maxRequestBytes: 5 }, [['add', 2], ['answer']], [1, 1]],
        ['drain sends what the thresholds hold back',
            { flushMessages: 100 }, [['add', 3], ['drain']], [3]],
    ];
    for (const [name, settings, steps, expected] of table) {
        it(name, async function () {
            (await run(settings, steps)).sent.should.deepEqual(expected);
        });
    }

    it('keeps order: items leave in the order they came', async function () {
        const r = await run({ flushMaxMessages: 3 }, [['add', 1], ['add', 7], ['answer'], ['answer'], ['answer'], ['answer']]);
        [].concat(...r.ids).should.deepEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it('one request in flight at a time (by default)', async function () {
        const r = await run({}, [['add', 1], ['add', 1], ['add', 1]]);
        r.sent.should.deepEqual([1]);
        r.batcher.inFlight.should.equal(1);
        r.batcher.queued.should.equal(2);
    });

    it('more in flight when allowed', async function () {
        (await run({}, [['add', 1], ['add', 1], ['add', 1]], 2)).sent.should.deepEqual([1, 1]);
    });

    it('drain resolves once nothing is queued or in flight', async function () {
        const r = await run({ flushFrequency: 1000 }, [['add', 2], ['drain']]);
        let done = false;
        r.drained.then(() => { done = true; });
        await settle();
        done.should.be.false();
        r.sent.should.deepEqual([2]);
        r.answers.shift()();
        await settle();
        done.should.be.true();
    });

    it('a failed request does not stop the next one', async function () {
        const sent = [];
        const b = new Batcher({ flushBytes: 0, flushMessages: 0, flushFrequency: 0, flushMaxMessages: 0, maxBatchBytes: 1e6, maxRequestBytes: 1e9 },
            (batch) => { sent.push(batch.length); return sent.length === 1 ? Promise.reject(new Error('x')) : Promise.resolve(); });
        b.add({ topic: 't', partition: 0, size: 1 });
        b.add({ topic: 't', partition: 0, size: 1 });
        await b.drain();
        sent.should.deepEqual([1, 1]);
    });

    it('the timer stops once the queue is empty', async function () {
        const r = await run({ flushFrequency: 100 }, [['add', 1], ['tick', 100]]);
        r.clock.pending.should.equal(0);
    });
});
