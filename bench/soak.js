'use strict';
/*
 * Soak: SOAK_RECORDS (default 1,000,000) small records through consume -> transform -> publish
 * in ack mode "after flow" (the fault suite's flow, test/faults/flow.js, without its deliberate
 * failures), in a real Node-RED process with the packed package installed as the palette
 * manager does (test/faults/node-red.js), on the fault suite's cluster (scripts/kafka/cluster.js
 * when there, else one broker) or on KAFKA_BROKERS.
 *
 *   npm run bench:soak
 *   SOAK_RECORDS=50000 npm run bench:soak        a short try
 *   SOAK_MAX_RSS_MB_PER_MIN=2 SOAK_MAX_HEAP_MB_PER_MIN=1 SOAK_MIN_JUDGED_S=60
 *
 * Inside the Node-RED process, settings.js starts test/faults/sampler.js: RSS, heap used and
 * event-loop delay (perf_hooks.monitorEventLoopDelay) once a second. The input is written up
 * front as a backlog; the run ends when the group has committed every record. Over the second
 * half of the run (the first half holds start-up, JIT and buffer growth), least-squares slopes
 * are printed: RSS and heap used MB/min of the samples taken right after a forced full collection
 * (Node-RED runs with --expose-gc; every 10th sample, SAMPLER_GC_EVERY), so that the collector's
 * sawtooth, whose period at full speed is a minute or two, is not mistaken for growth; event-loop
 * delay p99 and mean ms/min (the forced collections add their pauses to these).
 *
 * Verdict (exit 1): RSS slope above SOAK_MAX_RSS_MB_PER_MIN (2 MB/min) or heap slope above
 * SOAK_MAX_HEAP_MB_PER_MIN (1 MB/min) over the second half. At ~2,000 records/s a 2 MB/min
 * RSS rise is ~17 bytes kept per record: any per-record leak shows well above it, while the
 * collector's and the allocator's noise over several minutes stays below it. A second half
 * shorter than SOAK_MIN_JUDGED_S (60 s) is reported but not judged (exit 0, says so).
 * Also exit 1 when the group does not catch up or the output holds fewer records than the input.
 */
const fs = require('fs');
const path = require('path');
const { newCluster, kafkaFor } = require('../test/faults/cluster-env');
const { NodeRedProcess, packOnce, cleanup, tmp } = require('../test/faults/node-red');
const { buildFlow } = require('../test/faults/flow');

const N = Number(process.env.SOAK_RECORDS || 1000000);
const MAX_RSS = Number(process.env.SOAK_MAX_RSS_MB_PER_MIN || 2);
const MAX_HEAP = Number(process.env.SOAK_MAX_HEAP_MB_PER_MIN || 1);
const MIN_JUDGED_S = Number(process.env.SOAK_MIN_JUDGED_S || 60);
const PARTITIONS = 6;
const STALL_S = 120; // no commit progress for this long ends the run

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MB = 1048576;

/** Least-squares slope of y over t (ms), per minute. */
function slopePerMin(points) {
    if (points.length < 2) return NaN;
    const n = points.length;
    const mt = points.reduce((s, p) => s + p.t, 0) / n;
    const my = points.reduce((s, p) => s + p.y, 0) / n;
    let num = 0;
    let den = 0;
    for (const p of points) {
        num += (p.t - mt) * (p.y - my);
        den += (p.t - mt) ** 2;
    }
    return den === 0 ? NaN : (num / den) * 60000;
}

function minima(points, windowMs) {
    const out = new Map();
    for (const p of points) {
        const w = Math.floor(p.t / windowMs);
        if (!out.has(w) || p.y < out.get(w).y) out.set(w, p);
    }
    return [...out.values()];
}

async function produce(kafka, topic) {
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const batch = 5000;
    const inFlight = [];
    try {
        for (let i = 0; i < N; i += batch) {
            const messages = [];
            for (let j = i; j < Math.min(N, i + batch); j++) {
                messages.push({ key: `key-${String(j).padStart(7, '0')}`, value: `v${j}`, partition: j % PARTITIONS });
            }
            inFlight.push(producer.send({ topic, acks: -1, messages }));
            if (inFlight.length >= 4) await inFlight.shift();
        }
        await Promise.all(inFlight);
    } finally {
        await producer.disconnect();
    }
}

async function committed(admin, group, topic) {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return t.partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
}

async function main() {
    let cluster = null;
    let bootstrap = process.env.KAFKA_BROKERS;
    let replication = Number(process.env.SOAK_REPLICATION || 1);
    const packing = packOnce();
    if (!bootstrap) {
        cluster = newCluster();
        await cluster.start();
        bootstrap = cluster.bootstrap;
        replication = cluster.replication;
    }
    const tarball = await packing;
    const kafka = kafkaFor(bootstrap, 'soak-bench');
    const admin = kafka.admin();
    const id = Date.now().toString(36);
    const input = `soak-in-${id}`;
    const output = `soak-out-${id}`;
    const group = `soak-${id}`;
    const sampleFile = path.join(tmp(), `soak-samples-${id}.jsonl`);
    // A full collection before every 10th sample: the slopes are of the live heap, not of the collector's sawtooth
    // (at this rate a full collection comes only every minute or two, as long as a 1,000,000-record run's half).
    const nr = new NodeRedProcess({
        name: `soak-${id}`, tarball, sampleFile, nodeArgs: ['--expose-gc'], env: { FAULTS_FAIL_ONCE: 'off', SAMPLER_GC_EVERY: '10' },
    });
    let ok = false;
    try {
        await admin.connect();
        // kafkajs's own waitForLeaders gives up on KRaft's transient "unknown topic": polled here.
        await admin.createTopics({
            waitForLeaders: false,
            topics: [input, output].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: replication })),
        });
        for (const deadline = Date.now() + 60000; ;) {
            const meta = await admin.fetchTopicMetadata({ topics: [input, output] }).catch(() => null);
            if (meta && meta.topics.every((t) => t.partitions.length === PARTITIONS && t.partitions.every((p) => p.leader >= 0))) break;
            if (Date.now() > deadline) throw new Error(`${input}, ${output}: no leader for every partition after 60 s`);
            await sleep(250);
        }
        const t0 = Date.now();
        await produce(kafka, input);
        console.log(`soak: ${N} records written to ${input} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${cluster ? `${cluster.nodeIds.length} broker(s)` : bootstrap}, RF ${replication})`);
        await nr.install();
        await nr.start();
        await nr.deploy(buildFlow({ bootstrap, group, input, output }), 'full');
        const tStart = Date.now();
        let done = 0;
        let lastProgress = Date.now();
        let lastPrint = 0;
        while (done < N) {
            await sleep(1000);
            let now = done;
            try {
                now = await committed(admin, group, input);
            } catch {
                // coordinator busy: next second
            }
            if (now > done) lastProgress = Date.now();
            done = now;
            if (Date.now() - lastPrint > 30000) {
                lastPrint = Date.now();
                const s = (Date.now() - tStart) / 1000;
                console.log(`soak: ${done} committed after ${s.toFixed(0)} s (${(done / s).toFixed(0)} records/s)`);
            }
            if (Date.now() - lastProgress > STALL_S * 1000) break;
            if (!nr.running) throw new Error(`Node-RED exited (log ${nr.logFile})`);
        }
        const tEnd = Date.now();
        const outCount = (await admin.fetchTopicOffsets(output)).reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
        await nr.stop();

        const samples = fs.readFileSync(sampleFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
            .filter((s) => s.t >= tStart && s.t <= tEnd);
        const half = tStart + (tEnd - tStart) / 2;
        const second = samples.filter((s) => s.t >= half);
        const series = (f) => second.map((s) => ({ t: s.t, y: f(s) }));
        // After a forced full collection when there are such samples, else the 10-second minima.
        const afterGc = second.filter((s) => s.gc);
        const floor = afterGc.length >= 3 ? afterGc : null;
        const rss = slopePerMin((floor || second).map((s) => ({ t: s.t, y: s.rss / MB })));
        const heap = slopePerMin(floor ? floor.map((s) => ({ t: s.t, y: s.heapUsed / MB })) : minima(series((s) => s.heapUsed / MB), 10000));
        const p99 = slopePerMin(series((s) => s.delay.p99));
        const mean = slopePerMin(series((s) => s.delay.mean));
        const secs = (tEnd - tStart) / 1000;
        const last = samples[samples.length - 1] || { rss: 0, heapUsed: 0 };
        const maxP99 = Math.max(0, ...samples.map((s) => s.delay.p99));
        console.log(`soak: ${done} of ${N} committed, ${outCount} on ${output}, in ${secs.toFixed(0)} s (${(done / secs).toFixed(0)} records/s)`);
        console.log(`soak: end RSS ${(last.rss / MB).toFixed(1)} MB, heap used ${(last.heapUsed / MB).toFixed(1)} MB; event-loop delay p99 max ${maxP99} ms`);
        console.log(`soak: second half (${((tEnd - half) / 1000).toFixed(0)} s, ${second.length} samples, ${floor ? `${afterGc.length} after a full collection` : 'no forced collection'}): RSS ${rss.toFixed(2)} MB/min, heap used ${heap.toFixed(2)} MB/min, event-loop delay p99 ${p99.toFixed(3)} ms/min, mean ${mean.toFixed(3)} ms/min`);
        const problems = [];
        if (done < N) problems.push(`the group committed only ${done} of ${N} (no progress for ${STALL_S} s)`);
        if (outCount < N) problems.push(`only ${outCount} records on the output for ${N} in`);
        const judged = (tEnd - half) / 1000 >= MIN_JUDGED_S;
        if (judged) {
            if (!(rss <= MAX_RSS)) problems.push(`RSS grows ${rss.toFixed(2)} MB/min (limit ${MAX_RSS})`);
            if (!(heap <= MAX_HEAP)) problems.push(`heap used grows ${heap.toFixed(2)} MB/min (limit ${MAX_HEAP})`);
        } else {
            console.log(`soak: second half shorter than ${MIN_JUDGED_S} s: memory slopes not judged (more SOAK_RECORDS)`);
        }
        for (const p of problems) console.log(`soak: FAIL ${p}`);
        if (!problems.length) console.log(`soak: ok${judged ? ` (RSS <= ${MAX_RSS} MB/min, heap <= ${MAX_HEAP} MB/min)` : ''}`);
        console.log(`soak: samples in ${sampleFile}, Node-RED log ${nr.logFile}`);
        ok = problems.length === 0;
    } finally {
        await nr.kill();
        await admin.disconnect().catch(() => {});
        await cleanup({ keep: true });
        if (cluster) {
            await cluster.stop();
            await cluster.removeData();
        }
    }
    return ok;
}

main().then((ok) => process.exit(ok ? 0 : 1), (err) => {
    console.error(err);
    process.exit(1);
});
