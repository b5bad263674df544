'use strict';
/*
 * Exactly-once scenarios (issue #10): the fault suite's flow with the config node's ack mode
 * 'eos' (exactly once, Kafka transactions) and required acks 'all'. At the end OUT is read again
 * from the beginning, read committed and read uncommitted, by Kafka's Java client (ReadTopic.java):
 * the kafkajs 2.2.4 consumer, read committed, hands out records of aborted transactions, so its
 * views (the checker's live reader, a fresh kafkajs read) are reported, not judged. Input keys are
 * unique, so an input key seen twice by the read committed view is a duplicate, whatever the
 * instance or the attempt that wrote it.
 *
 *   x1  consume -> transform -> publish, 1% of the records failing once, Node-RED killed -9
 *       three times and the leader of an input partition killed -9 (restarted later): the
 *       read-committed view has each input key exactly once; the group's committed offsets are
 *       the input's end offsets.
 *   x2  part of x1's accounting (its own line): the aborted transactions' outputs are in the
 *       read-uncommitted view (keys seen more than once there) and never in the committed one.
 *   x3  two instances in one group, one SIGSTOPped past the session timeout while records flow
 *       (a slow transform and 5 s transactions keep a transaction with outputs open), resumed
 *       once its partitions have moved: it is fenced, none of its open transaction's outputs
 *       become visible to read-committed readers, each key still exactly once.
 *
 *   npm run test:faults:eos               x1 and x3 (full sizes)
 *   npm run test:faults:eos:short         x1 (FAULTS=short)
 */
const fs = require('fs');
const path = require('path');
const { tmp } = require('./node-red');
const { ROOT, VERSION } = require('./cluster-env');
const { scenario, Run, N, rateFor, SHORT, sleep } = require('./scenario');

const SESSION_TIMEOUT_MS = 10000;
const EOS = { ackMode: 'eos', maxInFlight: 100, sessionTimeout: SESSION_TIMEOUT_MS, txnMaxRecords: 2000, txnMaxMs: 1000 };

const secs = (ms) => Math.round(ms / 100) / 10;

/** Polls until `check()` is truthy; returns ms waited, or null after `ms`. */
async function until(check, ms, every = 250) {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
        if (await check()) return Date.now() - t0;
        await sleep(every);
    }
    return null;
}

/** Counts of each key in a view. */
function keyCounts(records) {
    const counts = new Map();
    for (const r of records) counts.set(r.k, (counts.get(r.k) || 0) + 1);
    return counts;
}

/**
 * The two views of OUT against the input: the read-committed view's distinct, duplicated
 * (records beyond the first per key) and lost keys; the read-uncommitted view's keys seen more
 * than once and its extra copies; and the writes only the read-uncommitted view has (aborted
 * transactions: each write's value is unique, it names the instance and the time).
 */
async function views(run) {
    // Kafka's Java client is the reference reader; kafkajs's read-committed view is reported beside it.
    const jarsDir = run.cluster.jarsDir || path.join(ROOT, '.kafka', 'jars', VERSION);
    let reader = 'java';
    let committed;
    let uncommitted;
    try {
        committed = await run.checker.readOutputJava({ readUncommitted: false, jarsDir, bootstrap: run.cluster.bootstrap });
        uncommitted = await run.checker.readOutputJava({ readUncommitted: true, jarsDir, bootstrap: run.cluster.bootstrap });
    } catch (err) {
        run.note(`the Java reader failed (${err.message}): kafkajs reads both views`);
        reader = 'kafkajs';
    }
    const kafkajsCommitted = await run.checker.readOutput({ readUncommitted: false });
    if (reader === 'kafkajs') {
        committed = kafkajsCommitted;
        uncommitted = await run.checker.readOutput({ readUncommitted: true });
    }
    const reference = new Set(committed.map((r) => r.value));
    const kafkajsLeaked = kafkajsCommitted.filter((r) => !reference.has(r.value)).length;
    const c = keyCounts(committed);
    const u = keyCounts(uncommitted);
    const inInput = (k) => !run.checker._inputKeys || run.checker._inputKeys.has(k);
    const produced = [...run.checker.acked.keys()].filter(inInput);
    const lost = produced.filter((k) => !c.has(k));
    // A duplicate is an input record (partition, offset) output twice: the test's own producer
    // (not idempotent) can write a key twice when a leader dies under it (counted apart).
    const inputKeysTwice = run.checker._inputKeys ? [...run.checker._inputKeys.values()].filter((n) => n > 1).length : 0;
    const perRecord = new Map();
    for (const r of committed) perRecord.set(`${r.p}:${r.o}`, [...(perRecord.get(`${r.p}:${r.o}`) || []), r.k]);
    let duplicated = 0;
    const twice = [];
    for (const ks of perRecord.values()) {
        duplicated += ks.length - 1;
        if (ks.length > 1) twice.push(ks[0]);
    }
    let uncommittedExtra = 0;
    let uncommittedKeysTwice = 0;
    for (const n of u.values()) {
        uncommittedExtra += n - 1;
        if (n > 1) uncommittedKeysTwice++;
    }
    const visible = new Map();
    for (const r of committed) visible.set(r.value, (visible.get(r.value) || 0) + 1);
    const abortedWrites = [];
    for (const r of uncommitted) {
        const n = visible.get(r.value) || 0;
        if (n > 0) visible.set(r.value, n - 1);
        else abortedWrites.push(r);
    }
    const unexpected = [...c.keys()].filter((k) => !inInput(k) || !run.checker.acked.has(k));
    if (duplicated || lost.length || unexpected.length) {
        // For the post-mortem: both views, a JSON line per output record (offsets of OUT not kept: v names the input record).
        for (const [name, recs] of [['committed', committed], ['uncommitted', uncommitted], ['kafkajs-committed', kafkajsCommitted]]) {
            const file = path.join(tmp(), `${run.letter}-${name}.jsonl`);
            fs.writeFileSync(file, recs.map((r) => r.value).join('\n'));
            run.note(`read-${name} view written to ${file}`);
        }
    }
    return {
        committed, uncommitted, abortedWrites,
        figures: {
            produced: produced.length, committedRecords: committed.length, committedDistinct: c.size, committedDuplicated: duplicated,
            committedDuplicatedSample: twice.slice(0, 5), lost: lost.length, lostSample: lost.slice(0, 5), unexpected: unexpected.length,
            uncommittedRecords: uncommitted.length, uncommittedKeysTwice, uncommittedExtra, abortedWrites: abortedWrites.length,
            reader, kafkajsCommittedRecords: kafkajsCommitted.length, kafkajsLeaked, inputKeysTwice,
        },
    };
}

/** Per input partition: the group's committed offset and the input's end offset. */
async function offsetsVsEnds(run) {
    return run.checker.withAdmin(async (admin) => {
        const [t] = await admin.fetchOffsets({ groupId: run.group, topics: [run.input] });
        const ends = await admin.fetchTopicOffsets(run.input);
        return ends.map((e) => {
            const p = t.partitions.find((x) => x.partition === e.partition);
            return { partition: e.partition, committed: p ? Number(p.offset) : -1, end: Number(e.high) };
        }).sort((a, b) => a.partition - b.partition);
    });
}

/** "Transaction of ... aborted: ..." lines (the consumer's node.debug, logged at level debug) in `text`. */
const abortLines = (text) => text.split('\n').filter((l) => /\[debug\].*Transaction of .* aborted/.test(l));
const FENCED = /fenc|epoch|newer producer|PRODUCER_FENCED|INVALID_PRODUCER_EPOCH/i;

async function logSize(nr) {
    try {
        return (await fs.promises.stat(nr.logFile)).size;
    } catch {
        return 0;
    }
}

async function logFrom(nr, offset) {
    const text = await nr.log();
    return Buffer.from(text, 'utf8').subarray(offset).toString('utf8');
}

scenario('x1', 'exactly once: Node-RED killed -9 three times and an input leader killed -9, 1% of records failing once', function () {
    this.timeout(0);
    let run;
    let killedBroker = null;
    after(async () => {
        if (killedBroker !== null) await run.cluster.restart(killedBroker).catch(() => {});
        if (run) await run.close();
    });

    it('a read-committed reader sees each input key exactly once; the group commits up to the end offsets', async function () {
        run = new Run('x1', EOS, { logLevel: 'debug' });
        await run.prepare();
        const producing = run.checker.produceAtRate(N, rateFor(90, 60));
        const nr = await run.addInstance();
        const kills = [];
        let last = 0;
        // At `fraction` of the output, and at least 5% of it after the previous fault (a slow
        // broker restart must not put two kills back to back).
        const reach = async (fraction) => {
            last = Math.min(N, Math.max(Math.floor(N * fraction), last + Math.floor(N / 20)));
            await run.outputReaches(last, 180000);
        };
        const killNodeRed = async (fraction) => {
            await reach(fraction);
            const t = Date.now();
            await nr.kill();
            run.note(`killed node-red at ${run.checker.keys.size} keys`);
            await nr.start();
            run.note(`node-red restarted in ${secs(Date.now() - t)} s`);
            kills.push(t);
        };
        await killNodeRed(0.15);
        await reach(0.3);
        const leader = await run.cluster.leaderOf(run.input, 0);
        const tBroker = Date.now();
        killedBroker = leader;
        await run.cluster.kill(leader);
        run.note(`killed broker ${leader} (leader of ${run.input}/0)`);
        await sleep(SHORT ? 8000 : 20000);
        await run.cluster.restart(leader);
        killedBroker = null;
        const tBrokerBack = Date.now();
        run.note(`broker ${leader} back after ${secs(tBrokerBack - tBroker)} s`);
        await killNodeRed(0.55);
        await killNodeRed(0.8);
        await producing;
        await run.finish(async (f) => {
            const v = await views(run).catch((err) => ({ error: err }));
            const offsets = await offsetsVsEnds(run).catch(() => []);
            const offsetsOk = offsets.length === 6 && offsets.every((o) => o.committed === o.end);
            const aborts = abortLines(await nr.log()).length;
            const resumed = kills.map((t) => run.checker.resumedAfter(t));
            const slowest = kills.map((t) => run.checker.recoveryAfter(t));
            const brokerResumed = run.checker.resumedAfter(tBroker);
            if (v.error) {
                return { targets: [{ name: 'OUT read back in both views', ok: false, detail: v.error.message }] };
            }
            const x = v.figures;
            console.log(`      [faults] x2 | reader ${x.reader} | aborted transactions (consumer log) ${aborts} | read-uncommitted records ${x.uncommittedRecords} | keys seen more than once read uncommitted ${x.uncommittedKeysTwice} | extra copies read uncommitted ${x.uncommittedExtra} | writes only read uncommitted sees ${x.abortedWrites} | read-committed duplicated ${x.committedDuplicated}`);
            return {
                recovery: Math.max(...resumed, brokerResumed),
                extra: {
                    [`read committed (${x.reader}) distinct/duplicated/lost`]: `${x.committedDistinct}/${x.committedDuplicated}/${x.lost}`,
                    [`read uncommitted (${x.reader}) records/keys twice/extra copies`]: `${x.uncommittedRecords}/${x.uncommittedKeysTwice}/${x.uncommittedExtra}`,
                    'kafkajs read committed: records/of aborted transactions': `${x.kafkajsCommittedRecords}/${x.kafkajsLeaked}`,
                    'kafkajs live reader extra copies': f.duplicated,
                    'input keys written twice by the test producer': x.inputKeysTwice,
                    'aborted transactions': aborts,
                    'output resumed per node-red kill s': resumed.map((s) => s.toFixed(1)).join('/'),
                    'slowest partition per node-red kill s': slowest.map((s) => s.toFixed(1)).join('/'),
                    broker: leader,
                    'output resumed after broker kill s': brokerResumed.toFixed(1),
                    'slowest partition after broker kill s': run.checker.recoveryAfter(tBroker).toFixed(1),
                    'committed = end offsets': offsetsOk,
                },
                targets: [
                    { name: 'read committed: each input record exactly once', ok: x.committedDuplicated === 0 && x.lost === 0 && x.committedDistinct === x.produced && x.unexpected === 0, detail: `${x.committedDistinct} distinct of ${x.produced}, ${x.committedDuplicated} duplicated (e.g. ${x.committedDuplicatedSample.join(', ')}), ${x.lost} lost (e.g. ${x.lostSample.join(', ')}), ${x.unexpected} not in the input` },
                    { name: 'group committed offsets = input end offsets', ok: offsetsOk, detail: JSON.stringify(offsets) },
                    { name: 'x2: aborted outputs visible to read uncommitted only (keys seen twice > 0)', ok: x.uncommittedKeysTwice > 0, detail: `${x.uncommittedKeysTwice} keys seen more than once read uncommitted` },
                ],
            };
        });
    });
});

scenario('x3', 'exactly once: one of two instances SIGSTOPped past the session timeout, then resumed (fenced)', function () {
    this.timeout(0);
    let run;
    let stopped = null;
    after(async () => {
        if (stopped) {
            try {
                process.kill(stopped.pid, 'SIGCONT');
            } catch {
                // gone
            }
        }
        if (run) await run.close();
    });

    it('the stalled instance\'s open transaction never becomes visible; each key exactly once', async function () {
        const TXN_MS = 5000;
        const DELAY_MS = 300;
        // No deliberate failures here: every write only the read-uncommitted view has is then a fenced one.
        run = new Run('x3', { ...EOS, txnMaxMs: TXN_MS }, { logLevel: 'debug', env: { FAULTS_TRANSFORM_DELAY_MS: String(DELAY_MS), FAULTS_FAIL_ONCE: 'off' } });
        await run.prepare({ instances: 2 });
        const producing = run.checker.produceAtRate(N, rateFor(90, 60));
        await run.addInstance();
        await run.addInstance();
        const [s, other] = run.instances;
        await run.outputReaches(Math.floor(N / 5), 180000);
        // Both instances own partitions once each is the latest writer of some (a second transaction period on).
        const split = await until(() => run.checker.partitionsOf(s.name).length > 0 && run.checker.partitionsOf(other.name).length > 0, 90000);
        await sleep(TXN_MS + 2000);
        const partitions = run.checker.partitionsOf(s.name);
        // Stopped half a transaction period after one of its commits (its outputs just became
        // visible): its next transaction is then open, with outputs written in it.
        const seen = run.checker.out.length;
        await until(() => run.checker.out.slice(seen).some((r) => r.i === s.name), 30000);
        await sleep(TXN_MS / 2);
        run.note(`partitions split ${split === null ? 'NOT ' : ''}between the instances: ${s.name} ${partitions.join(',')}, ${other.name} ${run.checker.partitionsOf(other.name).join(',')}`);
        const tStop = Date.now();
        stopped = s;
        process.kill(s.pid, 'SIGSTOP');
        run.note(`SIGSTOPped ${s.name} (input partitions ${partitions.join(',')})`);
        await sleep(SESSION_TIMEOUT_MS + 5000);
        // Its partitions have moved once the other instance has written records of them.
        const movedWithin = 30000;
        const t0 = Date.now();
        let moved = false;
        while (!moved && Date.now() - t0 < movedWithin) {
            moved = partitions.length > 0 && partitions.every((p) => run.checker.out.some((r) => r.p === p && r.i === other.name && r.ts >= tStop));
            if (!moved) await sleep(250);
        }
        const logAt = await logSize(s);
        const tResume = Date.now();
        process.kill(s.pid, 'SIGCONT');
        stopped = null;
        run.note(`SIGCONT ${s.name} after ${secs(tResume - tStop)} s; its partitions ${moved ? '' : 'NOT '}at ${other.name}`);
        await producing;
        await run.finish(async (f) => {
            const v = await views(run).catch((err) => ({ error: err }));
            if (v.error) return { targets: [{ name: 'OUT read back in both views', ok: false, detail: v.error.message }] };
            const x = v.figures;
            // The stalled transactions: writes of the stalled instance, of its partitions, in the last
            // transaction period before the stop, that only read uncommitted sees (no deliberate failures here).
            const stalled = v.abortedWrites.filter((r) => r.i === s.name && partitions.includes(r.p) && r.t < tStop && r.t >= tStop - TXN_MS - 2 * DELAY_MS);
            const stalledPartitions = [...new Set(stalled.map((r) => r.p))].sort((a, b) => a - b);
            const stalledVisible = v.committed.filter((r) => r.i === s.name && stalled.some((w) => w.k === r.k));
            const after = await logFrom(s, logAt);
            const aborts = abortLines(after);
            const fenced = aborts.filter((l) => FENCED.test(l));
            const fencedAny = after.split('\n').filter((l) => FENCED.test(l));
            const movedS = partitions.map((p) => {
                const first = run.checker.out.filter((r) => r.p === p && r.i === other.name && r.ts >= tStop).reduce((m, r) => Math.min(m, r.ts), Infinity);
                return Number.isFinite(first) ? secs(first - tStop) : 'never';
            });
            const offsets = await offsetsVsEnds(run).catch(() => []);
            const offsetsOk = offsets.length === 6 && offsets.every((o) => o.committed === o.end);
            return {
                recovery: run.checker.recoveryAfter(tStop, tStop, partitions),
                extra: {
                    stalled: s.name, 'its partitions': partitions.join(','), 'stopped s': secs(tResume - tStop),
                    'first output of its partitions from the other after stop s': movedS.join('/'),
                    'its open-transaction writes (read uncommitted only)': `${stalled.length} on partitions ${stalledPartitions.join(',')}`,
                    [`read committed (${x.reader}) distinct/duplicated/lost`]: `${x.committedDistinct}/${x.committedDuplicated}/${x.lost}`,
                    [`read uncommitted (${x.reader}) records/keys twice/extra copies`]: `${x.uncommittedRecords}/${x.uncommittedKeysTwice}/${x.uncommittedExtra}`,
                    'kafkajs read committed: records/of aborted transactions': `${x.kafkajsCommittedRecords}/${x.kafkajsLeaked}`,
                    'kafkajs live reader extra copies': f.duplicated,
                    'aborts logged after resume': aborts.length,
                    'fenced lines after resume': fencedAny.length,
                    'e.g.': (fenced[0] || aborts[0] || fencedAny[0] || '').slice(0, 300),
                    'committed = end offsets': offsetsOk,
                },
                targets: [
                    { name: 'the stalled instance had a transaction with outputs open at the stop', ok: stalled.length > 0, detail: 'no write of it before the stop is missing from the read-committed view' },
                    { name: 'none of its open transaction\'s outputs visible to read committed', ok: stalledVisible.length === 0, detail: `${stalledVisible.length} visible` },
                    { name: 'its pending transaction failed to commit: an abort logged after the resume', ok: aborts.length > 0, detail: 'no "Transaction of ... aborted" line after SIGCONT' },
                    { name: 'fenced evidence in its log after the resume', ok: fencedAny.length > 0, detail: `no line matching ${FENCED} after SIGCONT; aborts: ${aborts.slice(0, 3).join(' || ')}` },
                    { name: 'read committed: each input record exactly once', ok: x.committedDuplicated === 0 && x.lost === 0 && x.committedDistinct === x.produced && x.unexpected === 0, detail: `${x.committedDistinct} distinct of ${x.produced}, ${x.committedDuplicated} duplicated (e.g. ${x.committedDuplicatedSample.join(', ')}), ${x.lost} lost` },
                    { name: 'group committed offsets = input end offsets', ok: offsetsOk, detail: JSON.stringify(offsets) },
                    { name: 'both instances had partitions before the stop', ok: partitions.length > 0 && partitions.length < 6, detail: `the stalled one had ${partitions.join(',') || 'none'}` },
                    { name: 'its partitions moved to the other instance while it was stopped', ok: moved, detail: `first output from ${other.name} per partition after the stop: ${movedS.join('/')}` },
                ],
            };
        });
    });
});
