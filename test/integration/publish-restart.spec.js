'use strict';
/*
 * kafka-publish through a broker restart: publishing recovers by itself and, with
 * acks All, every message that got done() (counted by a Complete node) is in the
 * topic where msg.attribute says.
 */
const should = require('should');
const { helper, env, unique, createTopic, readBack, waitFor, endOffsets } = require('./support');
const { loadPublish } = require('./publish-harness');

describe('kafka-publish across a broker restart (real broker)', function () {
    this.timeout(180000);
    before(function () {
        if (env.info().external) this.skip(); // an external cluster cannot be restarted from here
    });
    afterEach(async function () { await helper.unload(); });

    it('recovers by itself; every acknowledged message is in the topic', async function () {
        const topic = await createTopic(unique('pub-restart'), 2);
        const h = await loadPublish({ requiredAcks: 'all' }, { topic });
        const outs = [];
        let i = 0;
        let sending = true;
        const pump = (async () => {
            while (sending) {
                const n = i++;
                h.send({ payload: `r${n}`, key: `k${n % 5}` }).then((o) => outs.push(o));
                await new Promise((r) => setTimeout(r, 20));
            }
        })();
        await waitFor(() => outs.length >= 50, 'messages before the stop', 20000);
        const beforeStop = i;
        await env.broker().stop();
        const stoppedAt = i;
        await new Promise((r) => setTimeout(r, 2000));
        await env.broker().start();
        const afterRestart = i;
        // Recovery without help: a message sent after the restart is written.
        await waitFor(() => outs.some((o) => !o.error && Number(o.payload.slice(1)) > afterRestart + 20),
            'a message sent after the restart written', 90000);
        sending = false;
        await pump;
        await waitFor(() => outs.length === i, 'every message answered', 90000);

        // And it stays recovered: a burst sent now is written in full, in order per partition.
        const burst = await Promise.all([...Array(50).keys()].map((n) => h.send({ payload: `b${n}`, key: `k${n % 5}` })));
        burst.filter((o) => o.error).should.deepEqual([], 'no message fails after the recovery');
        const lastOffset = new Map();
        for (const o of burst) {
            should(o.attribute.offset).be.above(lastOffset.get(o.attribute.partition) ?? -1);
            lastOffset.set(o.attribute.partition, o.attribute.offset);
        }

        const all = outs.concat(burst);
        const ok = all.filter((o) => !o.error);
        const failed = all.filter((o) => o.error);
        // Only messages in the air around the outage may fail, and they fail as runtime errors.
        failed.forEach((o) => {
            o.error.Code.should.equal('CORE:RUNTIME');
            Number(o.payload.slice(1)).should.be.aboveOrEqual(beforeStop - 50);
        });
        console.log(`      ${all.length} messages: ${failed.length} failed during the outage ` +
            `(${stoppedAt - beforeStop} sent while stopping, ${afterRestart - stoppedAt} while stopped), ${ok.length} written`);
        await waitFor(() => h.completedMsgs.length === ok.length, 'Complete for every written message', 10000);
        await waitFor(() => h.caughtMsgs.length === failed.length, 'Catch for every failed message', 10000);
        // With acks All, every message that got done() is in the topic, where msg.attribute says.
        // Everything in the topic: a produce retried across the outage may have written a record twice.
        const inTopic = Object.values(await endOffsets(topic)).reduce((a, b) => a + b, 0);
        inTopic.should.be.aboveOrEqual(ok.length);
        const back = new Map((await readBack(topic, inTopic, 60000)).map((r) => [`${r.partition}:${r.offset}`, r.value.toString()]));
        h.completedMsgs.length.should.equal(ok.length);
        for (const o of h.completedMsgs) {
            should(back.get(`${o.attribute.partition}:${o.attribute.offset}`)).equal(o.payload);
        }
    });
});
