'use strict';
/* global fetch, AbortSignal */
/*
 * Throughput as users run the product: real Node-RED processes (node_modules/node-red/red.js,
 * Node-RED 4) with this package packed and installed into the user folder the way the palette
 * manager does (test/faults/node-red.js), against raw kafkajs and against
 * node-red-contrib-kafkajs (installed from npm into its own user folder and process), on one
 * broker started for the run (bench/common.js) or KAFKA_BROKERS.
 *
 *   npm run bench:real
 *   BENCH_RECORDS=20000 BENCH_MESSAGES=10000 BENCH_ROUNDS=1 BENCH_SLOW_SECS=10 npm run bench:real   a short try
 *   BENCH_ONLY=immediate,ceiling-immediate   some rows only (names below)
 *   BENCH_CPU_PROF=/tmp/prof BENCH_ONLY=immediate BENCH_ROUNDS=1 ...   V8 CPU profiles of the connector's Node-RED process
 *                                         (node bench/profile-summary.js /tmp/prof: self time by module)
 *   BENCH_OUTSTANDING=2000 BENCH_BATCH=500 BENCH_STALL_SECS=60 BENCH_KAFKAJS_PKG=node-red-contrib-kafkajs@0.0.7
 *
 * Reading: a 4-partition topic is pre-filled with BENCH_RECORDS (300,000) records of 1 KiB and
 * read from the beginning by a fresh group each time. Rows (each flow in bench/real-flows.js):
 *   raw-consume         kafkajs 2.2.4 consumer, eachBatch, in this (plain Node.js) process
 *   ceiling-immediate   Node-RED alone: a function node emitting consumer-shaped messages in runs of
 *                       1000 -> the counting function node
 *   immediate           kafka-consumer, ack mode immediate -> the counting function node
 *   ceiling-flow        Node-RED alone, after flow: the source keeps 100 in flight, a Complete node on
 *                       the counting node wired back into the source
 *   after-flow          kafka-consumer, ack mode after flow -> counting node, Complete wired back
 *   eos                 kafka-consumer, ack mode exactly once -> counting node, Complete wired back
 *   kafkajs-consume     node-red-contrib-kafkajs consumer -> the counting node
 * Records/s = BENCH_RECORDS / (time the counting node saw the last record - time it saw the
 * first), both Date.now() inside Node-RED (the raw consumer: first batch to last record): the
 * process start, the deploy and the group join are not counted.
 *
 * Writing: BENCH_MESSAGES (100,000) records of 1 KiB to a fresh 4-partition topic, acks leader.
 *   raw-publish         kafkajs sendBatch of BENCH_BATCH (500) records, awaited in turn, in this process
 *   publish             a generator function node -> kafka-publish (no flush settings)
 *   publish-flush       the same with flush settings: 500 messages or 10 ms
 *   publish-burst       the burst generator -> kafka-publish without flush settings
 *   publish-flush-burst the burst generator -> kafka-publish with the flush settings
 *   kafkajs-publish     the burst generator -> node-red-contrib-kafkajs producer
 * The generator keeps BENCH_OUTSTANDING (2000) messages not yet completed: a Complete node on
 * kafka-publish, which completes a message once the broker acknowledged it, is wired back.
 * node-red-contrib-kafkajs's producer never completes a message (its input handler takes no done
 * callback), so it is fed by the burst generator: all messages in runs of 1000, one run per timer
 * tick, nothing held back; kafka-publish gets the same once for the comparison. One warm-up record
 * is written first.
 * Records/s = BENCH_MESSAGES / (time the topic's end offsets, polled every 50 ms from this
 * process, show every record written - time the generator sent the first): first send to last
 * record acknowledged, as for the raw sendBatch.
 *
 * Rows run in interleaved rounds (BENCH_ROUNDS, 3), each Node-RED row in a freshly started
 * process; the table gives the median with the spread (min-max) and the peak RSS of the
 * Node-RED process during the row (test/faults/sampler.js, once a second). Then, once each:
 *   slow                kafka-consumer after flow, maxInFlight 100, -> a delay node letting 100
 *                       records/s through -> counting node (Complete back), for BENCH_SLOW_SECS (30):
 *                       RSS at the deploy, peak, mean of each half
 *   slow-kafkajs        node-red-contrib-kafkajs consumer -> the same delay node -> counting node
 * Results also go to bench/results/real-<time>.json. Exit 1 when a row failed (its error is printed;
 * the Node-RED logs are then kept).
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { Kafka, logLevel } = require('kafkajs');

const { ROOT, unique, withBroker, newTopic, prefill, rawConsume, rawSendBatch } = require('./common');
const { NodeRedProcess, packOnce, cleanup, tmp } = require('../test/faults/node-red');
const flows = require('./real-flows');

const N = Number(process.env.BENCH_RECORDS || 300000);
const MESSAGES = Number(process.env.BENCH_MESSAGES || 100000);
const WINDOW = Number(process.env.BENCH_OUTSTANDING || 2000);
const BATCH = Number(process.env.BENCH_BATCH || 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const SLOW_SECS = Number(process.env.BENCH_SLOW_SECS || 30);
const STALL_SECS = Number(process.env.BENCH_STALL_SECS || 60);
const KAFKAJS_PKG = process.env.BENCH_KAFKAJS_PKG || 'node-red-contrib-kafkajs';
const KAFKAJS_NAME = KAFKAJS_PKG.replace(/(.)@.*$/, '$1');
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : null;
const PARTITIONS = 4;
const FLUSH = { flushMessages: 500, flushFrequency: 10 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MB = 1048576;

async function stats(nr) {
    const res = await fetch(`${nr.url}/bench/stats`, { signal: AbortSignal.timeout(10000) });
    if (!res.ok) throw new Error(`GET /bench/stats: ${res.status}`);
    return res.json();
}

/** POST /bench/start until the flow's http in node answers (it exists once the deploy is done). */
async function post(nr, body, { retry = true } = {}) {
    const deadline = Date.now() + 30000;
    for (;;) {
        try {
            const res = await fetch(`${nr.url}/bench/start`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10000) });
            if (res.ok) return;
            if (!retry) throw new Error(`POST /bench/start: ${res.status}`);
        } catch (err) {
            if (!retry) throw err;
        }
        if (Date.now() > deadline) throw new Error(`POST /bench/start not answered in 30 s (log ${nr.logFile})`);
        await sleep(200);
    }
}

function errorsOf(s) {
    return s && s.errors ? `; ${s.errors.n} errors, the last: ${s.errors.last}` : '';
}

/** Polls progress() (a number) until done() says so; throws when it has not moved for STALL_SECS or Node-RED exited. */
async function until(nr, everyMs, progress, done, what) {
    let seen = -1;
    let moved = Date.now();
    for (;;) {
        await sleep(everyMs);
        const now = await progress();
        if (done(now)) return now;
        if (now !== seen) {
            seen = now;
            moved = Date.now();
        }
        if (!nr.running) throw new Error(`Node-RED exited with ${seen} ${what} (log ${nr.logFile})`);
        if (Date.now() - moved > STALL_SECS * 1000) {
            const s = await stats(nr).catch(() => null);
            throw new Error(`stalled at ${seen} ${what} for ${STALL_SECS} s${errorsOf(s)} (log ${nr.logFile})`);
        }
    }
}

function samples(nr, from, to) {
    if (!fs.existsSync(nr.sampleFile)) return [];
    return fs.readFileSync(nr.sampleFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
        .filter((s) => s.t >= from && s.t <= to);
}

/** Starts the process, deploys, runs measure(), stops it; adds the peak RSS between the deploy and the end. */
async function inNodeRed(nr, flow, measure) {
    await nr.start();
    try {
        const t0 = Date.now();
        await nr.deploy(flow, 'full');
        const result = await measure();
        const rss = samples(nr, t0, Date.now()).map((s) => s.rss);
        return { ...result, peakRss: rss.length ? Math.max(...rss) : null };
    } finally {
        await nr.stop();
    }
}

/** Until the counting node has seen n records: n / (its n-th - its first). */
async function counted(nr, n) {
    let last = null;
    await until(nr, 250, async () => {
        last = await stats(nr).catch(() => null);
        return last && last.count ? last.count.n : 0;
    }, (seen) => seen >= n, `of ${n} records counted`);
    const c = last.count;
    return { secs: Math.max(1, c.atN - c.first) / 1000, count: n, errors: last.errors ? last.errors.n : 0 };
}

async function endOffsets(admin, topic) {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high), 0);
}

/** A warm-up record, then n from the generator: n / (end offsets show them all - the generator's first send). */
async function written(nr, admin, topic, n) {
    const deadline = Date.now() + 60000;
    while (await endOffsets(admin, topic) < 1) {
        if (Date.now() > deadline) throw new Error(`the warm-up record was not written in 60 s (log ${nr.logFile})`);
        await post(nr, { warmup: true });
        await sleep(500);
    }
    await sleep(1000); // any warm-up still on its way
    const base = await endOffsets(admin, topic);
    await post(nr, {}, { retry: false });
    const total = await until(nr, 50, () => endOffsets(admin, topic), (sum) => sum >= base + n, `of ${n} records written`);
    const tEnd = Date.now();
    const s = await stats(nr);
    return { secs: Math.max(1, tEnd - s.gen.t0) / 1000, count: total - base, errors: s.errors ? s.errors.n : 0 };
}

async function slowFlow(nr, flow) {
    await nr.start();
    try {
        await sleep(2500); // the idle process's first samples
        const t0 = Date.now();
        await nr.deploy(flow, 'full');
        await sleep(SLOW_SECS * 1000);
        const t1 = Date.now();
        const s = await stats(nr);
        await sleep(1100);
        const before = samples(nr, 0, t0);
        const during = samples(nr, t0, t1).map((x) => x.rss);
        if (!before.length || during.length < 2) throw new Error(`too few RSS samples in ${nr.sampleFile}`);
        const half = Math.floor(during.length / 2);
        const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
        return {
            records: s.count ? s.count.n : 0, start: before[before.length - 1].rss, peak: Math.max(...during),
            firstHalf: mean(during.slice(0, half)), secondHalf: mean(during.slice(half)), samples: during,
        };
    } finally {
        await nr.stop();
    }
}

/** The version of `pkg` in the user dir: the one beside node-red-contrib-kafkajs's own when it has one, else the top-level one. */
function installedVersion(nr, pkg) {
    const top = path.join(nr.userDir, 'node_modules');
    for (const dir of [path.join(top, KAFKAJS_NAME, 'node_modules', pkg), path.join(top, pkg)]) {
        try {
            return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
        } catch {
            // not there
        }
    }
    return '?';
}

const ROWS = [
    ['raw-consume', 'raw kafkajs consumer, eachBatch (plain Node.js)'],
    ['ceiling-immediate', 'Node-RED ceiling, immediate: source fn -> count'],
    ['immediate', 'kafka-consumer immediate -> count'],
    ['ceiling-flow', 'Node-RED ceiling, after flow: + Complete back'],
    ['after-flow', 'kafka-consumer after flow -> count, Complete back'],
    ['eos', 'kafka-consumer exactly once -> count, Complete back'],
    ['kafkajs-consume', 'node-red-contrib-kafkajs consumer -> count'],
    ['batch-immediate', 'kafka-consumer batches of 500, immediate -> count'],
    ['batch-flow', 'kafka-consumer batches of 500, after flow, Complete back'],
    ['raw-publish', `raw kafkajs sendBatch of ${BATCH}`],
    ['publish', 'generator -> kafka-publish, no flush settings'],
    ['publish-flush', 'generator -> kafka-publish, flush 500 / 10 ms'],
    ['publish-burst', 'burst generator -> kafka-publish, no flush settings'],
    ['publish-flush-burst', 'burst generator -> kafka-publish, flush 500 / 10 ms'],
    ['kafkajs-publish', 'burst generator -> node-red-contrib-kafkajs producer'],
];
const runs = (row) => !ONLY || ONLY.includes(row);

function summary(list) {
    const rates = list.filter((r) => !r.error).map((r) => r.count / r.secs).sort((a, b) => a - b);
    if (!rates.length) return null;
    const rss = list.filter((r) => r.peakRss).map((r) => r.peakRss);
    return {
        median: rates[Math.floor(rates.length / 2)], min: rates[0], max: rates[rates.length - 1], rounds: list.map((r) => (r.error ? null : Math.round(r.count / r.secs))),
        peakRssMb: rss.length ? Math.round(Math.max(...rss) / MB) : null,
    };
}

const fmt = (x) => Math.round(x).toLocaleString('en-US');

function printTable(results, meta) {
    console.log(`\n${meta.title}`);
    console.log(`${'row'.padEnd(54)}${'records/s'.padStart(10)}  ${'spread (min-max)'.padEnd(19)}${'peak RSS'.padStart(9)}  rounds`);
    const med = {};
    for (const [key, label] of ROWS) {
        if (!results[key]) continue;
        const s = summary(results[key]);
        const failed = results[key].filter((r) => r.error).length;
        if (s) med[key] = s.median;
        const line = s
            ? `${fmt(s.median).padStart(10)}  ${`${fmt(s.min)}-${fmt(s.max)}`.padEnd(19)}${(s.peakRssMb ? `${s.peakRssMb} MB` : '').padStart(9)}  ${s.rounds.map((r) => (r === null ? 'failed' : fmt(r))).join(', ')}`
            : `${'failed'.padStart(10)}`;
        console.log(`${label.padEnd(54)}${line}${failed && s ? `  (${failed} failed)` : ''}`);
    }
    const ratios = [
        ['immediate', 'ceiling-immediate', 'kafka-consumer immediate / Node-RED ceiling immediate'],
        ['after-flow', 'ceiling-flow', 'kafka-consumer after flow / Node-RED ceiling after flow'],
        ['eos', 'ceiling-flow', 'kafka-consumer exactly once / Node-RED ceiling after flow'],
        ['immediate', 'raw-consume', 'kafka-consumer immediate / raw kafkajs consumer'],
        ['batch-immediate', 'raw-consume', 'kafka-consumer batches of 500, immediate / raw kafkajs consumer'],
        ['batch-flow', 'raw-consume', 'kafka-consumer batches of 500, after flow / raw kafkajs consumer'],
        ['after-flow', 'raw-consume', 'kafka-consumer after flow / raw kafkajs consumer'],
        ['eos', 'raw-consume', 'kafka-consumer exactly once / raw kafkajs consumer'],
        ['ceiling-immediate', 'raw-consume', 'Node-RED ceiling immediate / raw kafkajs consumer'],
        ['kafkajs-consume', 'raw-consume', 'node-red-contrib-kafkajs consumer / raw kafkajs consumer'],
        ['publish-flush', 'raw-publish', `kafka-publish flush / raw sendBatch ${BATCH}`],
        ['publish', 'raw-publish', `kafka-publish no flush / raw sendBatch ${BATCH}`],
        ['publish-flush-burst', 'raw-publish', `kafka-publish flush, burst / raw sendBatch ${BATCH}`],
        ['publish-burst', 'raw-publish', `kafka-publish no flush, burst / raw sendBatch ${BATCH}`],
        ['publish-flush-burst', 'publish-burst', 'kafka-publish burst: flush / no flush settings'],
        ['kafkajs-publish', 'raw-publish', `node-red-contrib-kafkajs producer / raw sendBatch ${BATCH}`],
        ['immediate', 'kafkajs-consume', 'kafka-consumer immediate / node-red-contrib-kafkajs consumer'],
        ['after-flow', 'kafkajs-consume', 'kafka-consumer after flow / node-red-contrib-kafkajs consumer'],
        ['eos', 'kafkajs-consume', 'kafka-consumer exactly once / node-red-contrib-kafkajs consumer'],
        ['publish-flush-burst', 'kafkajs-publish', 'kafka-publish flush, burst / node-red-contrib-kafkajs producer (same generator)'],
        ['publish', 'kafkajs-publish', 'kafka-publish no flush / node-red-contrib-kafkajs producer'],
        ['publish-flush', 'kafkajs-publish', 'kafka-publish flush / node-red-contrib-kafkajs producer'],
    ];
    // The load of the machine changes between rounds; the ratio within each round (both rows ran
    // minutes apart at most) shows how far that moves a ratio.
    const rate = (r) => (r && !r.error ? r.count / r.secs : null);
    const pct = (x) => `${(100 * x).toFixed(0)}%`;
    const shown = {};
    console.log('\nratios of the medians (per round: min-max of the same ratio within each round)');
    for (const [a, b, label] of ratios) {
        if (!med[a] || !med[b]) continue;
        const perRound = results[a].map((r, i) => rate(r) && rate(results[b][i]) && rate(r) / rate(results[b][i])).filter(Boolean);
        shown[`${a}/${b}`] = { ofMedians: med[a] / med[b], perRound };
        const spread = perRound.length ? `  (per round: ${pct(Math.min(...perRound))}-${pct(Math.max(...perRound))})` : '';
        console.log(`  ${label.padEnd(86)}${pct(med[a] / med[b]).padStart(6)}${spread}`);
    }
    return shown;
}

function printSlow(label, m) {
    const growth = m.secondHalf - m.firstHalf;
    const mb = (x) => (x / MB).toFixed(1);
    console.log(`${label}: ${m.records} records in ${SLOW_SECS} s; RSS at deploy ${mb(m.start)} MB, peak ${mb(m.peak)} MB (+${mb(m.peak - m.start)}), ` +
        `mean first half ${mb(m.firstHalf)} MB, second half ${mb(m.secondHalf)} MB (${growth >= 0 ? '+' : ''}${mb(growth)})`);
}

function gitState() {
    try {
        const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
        const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
        return `${head}${dirty ? ` + uncommitted changes in src/ (${dirty.split('\n').length} files)` : ''}`;
    } catch {
        return '?';
    }
}

async function main() {
    const source = gitState(); // what npm run build (in packOnce) compiles
    const packing = packOnce();
    let failed = false;
    // BENCH_CPU_PROF=<dir>: each connector Node-RED process writes a V8 CPU profile there when it stops
    // (node bench/profile-summary.js <dir> sums where the time went).
    const nodeArgs = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [];
    const connector = new NodeRedProcess({ name: 'connector', tarball: null, nodeArgs, sampleFile: path.join(tmp(), 'connector-samples.jsonl') });
    const kafkajsNr = new NodeRedProcess({ name: 'kafkajs', tarball: KAFKAJS_PKG, sampleFile: path.join(tmp(), 'kafkajs-samples.jsonl') });
    try {
        await withBroker(async (broker) => {
            const kafka = new Kafka({ clientId: 'bench-real', brokers: [broker], logLevel: logLevel.NOTHING });
            const admin = kafka.admin();
            await admin.connect();
            const topic = await newTopic(kafka, unique('bench-real'), PARTITIONS);
            const t0 = Date.now();
            const needsTopic = ROWS.slice(0, 7).some(([key]) => runs(key)) || runs('slow') || runs('slow-kafkajs');
            if (needsTopic) {
                await prefill(kafka, topic, N, PARTITIONS);
                console.log(`pre-filled ${topic}: ${N} records of 1 KiB in ${PARTITIONS} partitions (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
            }
            connector.tarball = await packing;
            const t1 = Date.now();
            await connector.install();
            console.log(`installed ${path.basename(connector.tarball)} into ${connector.userDir} (${((Date.now() - t1) / 1000).toFixed(1)} s)`);
            const wantsKafkajs = ['kafkajs-consume', 'kafkajs-publish', 'slow-kafkajs'].some(runs);
            if (wantsKafkajs) {
                await kafkajsNr.install();
                console.log(`installed ${KAFKAJS_PKG} ${installedVersion(kafkajsNr, KAFKAJS_NAME)} (kafkajs ${installedVersion(kafkajsNr, 'kafkajs')}) into ${kafkajsNr.userDir}`);
            }

            const consume = (nr, build, extra = {}) => inNodeRed(nr, build({ n: N, broker, topic, group: unique('bench-real'), ...extra }), () => counted(nr, N));
            const publish = async (nr, build, extra = {}) => {
                const out = await newTopic(kafka, unique('bench-real-out'), PARTITIONS);
                return inNodeRed(nr, build({ n: MESSAGES, window: WINDOW, broker, topic: out, ...extra }), () => written(nr, admin, out, MESSAGES));
            };
            const rows = {
                'raw-consume': () => rawConsume(kafka, topic, N),
                'ceiling-immediate': () => inNodeRed(connector, flows.ceiling({ n: N, ackMode: 'immediate' }), async () => {
                    await post(connector, {});
                    return counted(connector, N);
                }),
                immediate: () => consume(connector, flows.connectorConsume, { ackMode: 'immediate' }),
                'ceiling-flow': () => inNodeRed(connector, flows.ceiling({ n: N, ackMode: 'flow' }), async () => {
                    await post(connector, {});
                    return counted(connector, N);
                }),
                'after-flow': () => consume(connector, flows.connectorConsume, { ackMode: 'flow' }),
                eos: () => consume(connector, flows.connectorConsume, { ackMode: 'eos' }),
                'batch-immediate': () => consume(connector, flows.connectorConsume, { ackMode: 'immediate', batchSize: 500 }),
                'batch-flow': () => consume(connector, flows.connectorConsume, { ackMode: 'flow', batchSize: 500 }),
                'kafkajs-consume': () => consume(kafkajsNr, flows.kafkajsConsume),
                'raw-publish': async () => rawSendBatch(kafka, await newTopic(kafka, unique('bench-real-raw'), PARTITIONS), MESSAGES, BATCH)
                    .then((r) => ({ ...r, count: MESSAGES })),
                publish: () => publish(connector, flows.connectorPublish),
                'publish-flush': () => publish(connector, flows.connectorPublish, { flush: FLUSH }),
                'publish-burst': () => publish(connector, flows.connectorPublish, { window: 0 }),
                'publish-flush-burst': () => publish(connector, flows.connectorPublish, { flush: FLUSH, window: 0 }),
                'kafkajs-publish': () => publish(kafkajsNr, flows.kafkajsPublish),
            };

            const results = {};
            for (let round = 1; round <= ROUNDS; round++) {
                for (const [key, label] of ROWS) {
                    if (!runs(key)) continue;
                    let r;
                    try {
                        r = await rows[key]();
                        if (r.errors) throw new Error(`${r.errors} error messages in the flow`);
                        r.load = os.loadavg()[0];
                        console.log(`round ${round}  ${label.padEnd(54)}${fmt(r.count / r.secs).padStart(9)} records/s (${r.secs.toFixed(2)} s${r.peakRss ? `, peak RSS ${Math.round(r.peakRss / MB)} MB` : ''}, load ${r.load.toFixed(1)})`);
                    } catch (err) {
                        failed = true;
                        r = { error: err.message };
                        console.log(`round ${round}  ${label.padEnd(54)} FAILED: ${err.message}`);
                    }
                    (results[key] = results[key] || []).push(r);
                }
            }
            const slow = {};
            for (const [key, nr, build] of [['slow', connector, flows.connectorSlow], ['slow-kafkajs', kafkajsNr, flows.kafkajsSlow]]) {
                if (!runs(key)) continue;
                try {
                    slow[key] = await slowFlow(nr, build({ n: N, broker, topic, group: unique('bench-real-slow') }));
                } catch (err) {
                    failed = true;
                    slow[key] = { error: err.message };
                    console.log(`${key} FAILED: ${err.message}`);
                }
            }
            await admin.disconnect();

            const meta = {
                title: `Node-RED ${require('node-red/package.json').version} processes (red.js) on Node.js ${process.version}, ${os.cpus().length} cores; ` +
                    `${path.basename(connector.tarball)} from ${source} installed with npm into the user dir` +
                    `${wantsKafkajs ? `; ${KAFKAJS_NAME} ${installedVersion(kafkajsNr, KAFKAJS_NAME)} (kafkajs ${installedVersion(kafkajsNr, 'kafkajs')}) from npm in its own` : ''}; ` +
                    `raw: kafkajs ${require('kafkajs/package.json').version}.\n1 KiB records; reading ${fmt(N)} records from 4 partitions, writing ${fmt(MESSAGES)} ` +
                    `(window ${WINDOW}); median of ${ROUNDS} interleaved round(s), spread min-max; one broker (${broker}).`,
            };
            const ratios = printTable(results, meta);
            if (slow.slow && !slow.slow.error) printSlow('\nslow flow, kafka-consumer after flow, maxInFlight 100, delay 100/s', slow.slow);
            if (slow['slow-kafkajs'] && !slow['slow-kafkajs'].error) printSlow('slow flow, node-red-contrib-kafkajs consumer, delay 100/s', slow['slow-kafkajs']);

            const out = path.join(ROOT, 'bench', 'results', `real-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
            fs.mkdirSync(path.dirname(out), { recursive: true });
            const summaries = Object.fromEntries(Object.entries(results).map(([k, list]) => [k, { ...summary(list), runs: list.map(({ error, secs, count, peakRss, load }) => ({ error, secs, count, peakRss, load })) }]));
            fs.writeFileSync(out, `${JSON.stringify({ meta: { ...meta, records: N, messages: MESSAGES, window: WINDOW, batch: BATCH, rounds: ROUNDS, slowSecs: SLOW_SECS }, rows: summaries, ratios, slow }, null, 2)}\n`);
            console.log(`\nresults: ${path.relative(ROOT, out)}`);
        });
    } finally {
        await connector.stop().catch(() => {});
        await kafkajsNr.stop().catch(() => {});
        const kept = await cleanup({ keep: failed });
        if (kept) console.log(`Node-RED user dirs and logs kept in ${kept}`);
    }
    return !failed;
}

main().then((ok) => process.exit(ok ? 0 : 1), (err) => {
    console.error(err);
    process.exit(1);
});
