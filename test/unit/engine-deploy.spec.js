'use strict';
// The delivery engine after a Node-RED deploy that kept the consumer running
// (afterDeploy): records out then that never come back count as failed after the grace.
const assert = require('assert');
const { sleep, until, records, started, closeEngines } = require('./engine-support');

describe('DeliveryEngine after a deploy', function () {
    afterEach(async function () {
        await closeEngines();
    });

    it('records out at the deploy and unacknowledged after the grace fail once and come again; acknowledged ones do not', async function () {
        const h = await started({}, [0]);
        h.members[0].batch(records(0, 0, 3));
        await until('four out', () => h.emitted.length === 4);
        h.engine.afterDeploy(60, 'lost in a deploy');
        h.ack(0, 0);
        h.ack(0, 2);
        await sleep(30);
        assert.deepStrictEqual(h.eventsOf('retry'), [], 'nothing before the grace');
        await until('the retries', () => h.eventsOf('retry').length === 2, 1000);
        assert.deepStrictEqual(h.eventsOf('retry').map((e) => [e.record.offset, e.error, e.attempts]), [['1', 'lost in a deploy', 1], ['3', 'lost in a deploy', 1]]);
        await until('handed out again', () => h.offsets(0).length === 6);
        assert.deepStrictEqual(h.offsets(0), [0, 1, 2, 3, 1, 3]);
        h.ack(0, 1);
        h.ack(0, 3);
        await until('the commit', () => h.lastCommit(0) && h.lastCommit(0).offset === '4');
    });

    it('a record failed and handed out again within the grace is not failed a second time by it', async function () {
        const h = await started({}, [0]);
        h.members[0].batch(records(0, 0, 0));
        await until('one out', () => h.emitted.length === 1);
        h.engine.afterDeploy(80, 'lost in a deploy');
        h.fail(0, 0);
        await until('handed out again', () => h.emitted.length === 2);
        await sleep(120);
        assert.strictEqual(h.eventsOf('retry').length, 1, 'only the flow\'s own failure');
        assert.strictEqual(h.emitted.length, 2);
    });

    it("does nothing in ack mode 'immediate' or when nothing is out", async function () {
        const imm = await started({ policy: 'immediate' }, [0]);
        await imm.members[0].batch(records(0, 0, 2)).promise;
        imm.engine.afterDeploy(10, 'x');
        const idle = await started({}, [0]);
        idle.engine.afterDeploy(10, 'x');
        await sleep(40);
        assert.deepStrictEqual([imm.eventsOf('retry'), idle.eventsOf('retry')], [[], []]);
        assert.strictEqual(imm.emitted.length, 3);
    });
});
