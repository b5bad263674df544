'use strict';
/*
 * kafka-publish through a broker restart: publishing recovers by itself and, with
 * acks All, every message that got done() (counted by a Complete node) is in the
 * topic where msg.attribute says.
 */
const should = require('should');
const { helper, env, unique, createTopic, readBack, waitFor } = require('./support');
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
        await env.broker().stop();
        await new Promise((r) => setTimeout(r, 2000));
        await env.broker().start();
        const afterRestart = i;
        await waitFor(() => outs.some((o) => !o.error && Number(o.payload.slice(1)) > afterRestart + 20),
            'a message sent after the restart written', 90000);
        sending = false;
        await pump;
        await waitFor(() => outs.length === i, 'every message answered', 90000);
        const ok = outs.filter((o) => !o.error);
        const failed = outs.filter((o) => o.error);
        failed.forEach((o) => o.error.Code.should.equal('CORE:RUNTIME'));
        await waitFor(() => h.completedMsgs.length === ok.length, 'Complete for every written message', 10000);
        await waitFor(() => h.caughtMsgs.length === failed.length, 'Catch for every failed message', 10000);
        const back = new Map((await readBack(topic, ok.length, 60000)).map((r) => [`${r.partition}:${r.offset}`, r.value.toString()]));
        for (const o of h.completedMsgs) {
            should(back.get(`${o.attribute.partition}:${o.attribute.offset}`)).equal(o.payload);
        }
    });
});
