'use strict';
/*
 * The independent side of a fault scenario: a kafkajs client in the test process that creates
 * the topics, writes the input, reads every output record back and does the counting.
 *
 *   const c = new Checker({ kafka, input, output, group, partitions: 6, replication: 3 });
 *   await c.createTopics();
 *   await c.startReading();                   // OUT from the beginning, for the whole scenario
 *   await c.produceBacklog(n)  or  c.produceAtRate(n, perSecond)   // unique keys key-000000...
 *   await c.caughtUp(ms);                      // every acked key seen on OUT and the group's lag 0
 *   c.figures()                                // produced, consumed, distinct, lost, duplicated
 *   c.recoveryAfter(tFault, tReady)            // s until the output of every input partition resumed
 *   await c.readOutput({ readUncommitted })    // all of OUT now, read committed or not (exactly-once scenarios)
 *
 * Input record i is key-<i> written to partition i % partitions; an output value names the input
 * partition and offset it came from ({k, p, o, i}, see flow.js), so a duplicate is a second
 * output record of the same input (partition, offset): a record processed twice. A key the
 * test producer never got acknowledged does not count as lost, nor does one it was told was
 * written but that IN does not hold when re-read at the end (kafkajs 2.2.4's producer has
 * resolved such sends around a leader kill): those are reported apart as ackedNotInInput.
 */

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFile } = require('child_process');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const keyOf = (i) => `key-${String(i).padStart(7, '0')}`;

class Checker {
    constructor({ kafka, input, output, group, partitions = 6, replication = 3, log = () => {} }) {
        this.kafka = kafka;
        this.input = input;
        this.output = output;
        this.group = group;
        this.partitions = partitions;
        this.replication = replication;
        this.log = log;
        this.acked = new Map(); // key the producer got acknowledged -> {p: partition, at: ms}
        this.sent = 0;
        this.produceErrors = 0;
        this.out = []; // {k, p, o, i, ts, at}
        this.copies = new Map(); // `${p}:${o}` -> count
        // OUT records read, by their own partition and offset: the reader is a kafkajs group
        // consumer, and when its own group coordinator dies it rejoins and reads again from its
        // last commit. A record read twice is one record: only distinct OUT records count.
        this.readOut = new Set();
        this.reread = 0;
        this.keys = new Set();
        this.reader = null;
        this.admin = null;
        this.producing = null;
        this.stopProducing = false;
    }

    async withAdmin(fn) {
        if (!this.admin) {
            this.admin = this.kafka.admin();
            await this.admin.connect();
        }
        return fn(this.admin);
    }

    /**
     * Creates IN and OUT, then polls until every partition has a leader: kafkajs's own
     * waitForLeaders gives up with UNKNOWN_TOPIC_OR_PARTITION when it asks a broker of a
     * cluster that has not heard of the topic yet.
     */
    async createTopics(ms = 60000) {
        const topics = [this.input, this.output];
        await this.withAdmin((admin) => admin.createTopics({
            waitForLeaders: false,
            topics: topics.map((topic) => ({ topic, numPartitions: this.partitions, replicationFactor: this.replication })),
        }));
        const deadline = Date.now() + ms;
        for (;;) {
            try {
                const meta = await this.withAdmin((admin) => admin.fetchTopicMetadata({ topics }));
                if (meta.topics.every((t) => t.partitions.length === this.partitions && t.partitions.every((p) => p.leader >= 0))) return;
            } catch (err) {
                if (Date.now() > deadline) throw err;
            }
            if (Date.now() > deadline) throw new Error(`${topics.join(', ')}: no leader for every partition after ${ms / 1000} s`);
            await sleep(250);
        }
    }

    async startReading() {
        this.reader = this.kafka.consumer({
            groupId: `${this.group}-checker`, readUncommitted: false, maxWaitTimeInMs: 200,
            sessionTimeout: 30000, heartbeatInterval: 3000, retry: { retries: 1000, maxRetryTime: 2000 },
        });
        await this.reader.connect();
        await this.reader.subscribe({ topic: this.output, fromBeginning: true });
        await this.reader.run({
            eachBatch: async ({ batch }) => {
                const at = Date.now();
                for (const m of batch.messages) {
                    const where = `${batch.partition}:${m.offset}`;
                    if (this.readOut.has(where)) {
                        this.reread++;
                        continue;
                    }
                    this.readOut.add(where);
                    let v;
                    try {
                        v = JSON.parse(m.value.toString('utf8'));
                    } catch {
                        continue;
                    }
                    const rec = { k: v.k, p: v.p, o: v.o, i: v.i, ts: Number(m.timestamp), at };
                    this.out.push(rec);
                    this.keys.add(v.k);
                    const id = `${v.p}:${v.o}`;
                    this.copies.set(id, (this.copies.get(id) || 0) + 1);
                }
            },
        });
    }

    async _send(producer, from, to) {
        const messages = [];
        for (let i = from; i < to; i++) {
            messages.push({ key: keyOf(i), value: `value of record ${i}`, partition: i % this.partitions });
        }
        for (;;) {
            try {
                await producer.send({ topic: this.input, acks: -1, messages });
                const at = Date.now();
                for (const m of messages) this.acked.set(m.key, { p: m.partition, at });
                return;
            } catch (err) {
                this.produceErrors++;
                if (this.stopProducing) return;
                this.log(`input producer: ${err.message}; sending again`);
                await sleep(500);
            }
        }
    }

    async _producer() {
        const producer = this.kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 5 } });
        await producer.connect();
        return producer;
    }

    /** All n records at once (as a backlog), in batches of 1,000. */
    async produceBacklog(n) {
        const producer = await this._producer();
        try {
            for (let i = 0; i < n; i += 1000) await this._send(producer, i, Math.min(n, i + 1000));
            this.sent = n;
        } finally {
            await producer.disconnect();
        }
    }

    /** Starts writing n records at `perSecond` (in tenths of a second); returns at once. `done()` waits. */
    produceAtRate(n, perSecond) {
        const step = Math.max(1, Math.round(perSecond / 10));
        this.producing = (async () => {
            const producer = await this._producer();
            const t0 = Date.now();
            try {
                for (let i = 0; i < n && !this.stopProducing; i += step) {
                    await this._send(producer, i, Math.min(n, i + step));
                    this.sent = Math.min(n, i + step);
                    const due = t0 + (this.sent / perSecond) * 1000;
                    if (due > Date.now()) await sleep(due - Date.now());
                }
            } finally {
                await producer.disconnect();
            }
        })();
        return this.producing;
    }

    async producerDone() {
        if (this.producing) await this.producing;
    }

    async lag() {
        return this.withAdmin(async (admin) => {
            const [committed] = await admin.fetchOffsets({ groupId: this.group, topics: [this.input] });
            const ends = await admin.fetchTopicOffsets(this.input);
            let lag = 0;
            for (const e of ends) {
                const c = committed.partitions.find((p) => p.partition === e.partition);
                const at = c && Number(c.offset) >= 0 ? Number(c.offset) : Number(e.low);
                lag += Number(e.high) - at;
            }
            return lag;
        });
    }

    /** Waits (at most `ms`) until every acked key is on OUT and the group has committed up to the end. */
    async caughtUp(ms) {
        const deadline = Date.now() + ms;
        let lag = null;
        for (;;) {
            const missing = [...this.acked.keys()].filter((k) => !this.keys.has(k) && (!this._inputKeys || this._inputKeys.has(k))).length;
            if (missing === 0) {
                try {
                    lag = await this.lag();
                } catch (err) {
                    this.log(`lag: ${err.message}`);
                }
                if (lag === 0) return { caughtUp: true, lag, missing };
            }
            if (Date.now() > deadline) {
                try {
                    lag = await this.lag();
                } catch {
                    // reported as null
                }
                return { caughtUp: false, lag, missing };
            }
            await sleep(500);
        }
    }

    /**
     * Every record of `topic` now, read by a fresh group from the beginning up to the end offsets
     * taken at the start: key -> copies. Used to check the input really holds what the producer
     * was told was written.
     */
    async readKeys(topic, ms = 120000) {
        const ends = await this.withAdmin((admin) => admin.fetchTopicOffsets(topic));
        const want = new Map(ends.map((e) => [e.partition, Number(e.high)]));
        const done = new Set(ends.filter((e) => Number(e.high) <= Number(e.low)).map((e) => e.partition));
        const keys = new Map();
        const consumer = this.kafka.consumer({ groupId: `${this.group}-reread-${Date.now().toString(36)}`, maxWaitTimeInMs: 200 });
        await consumer.connect();
        try {
            await consumer.subscribe({ topic, fromBeginning: true });
            let finish;
            const finished = new Promise((resolve) => { finish = resolve; });
            if (done.size === want.size) finish();
            await consumer.run({
                eachBatch: async ({ batch }) => {
                    for (const m of batch.messages) {
                        const k = m.key ? m.key.toString('utf8') : null;
                        keys.set(k, (keys.get(k) || 0) + 1);
                        if (Number(m.offset) + 1 >= want.get(batch.partition)) done.add(batch.partition);
                    }
                    if (done.size === want.size) finish();
                },
            });
            const timer = new Promise((resolve) => setTimeout(resolve, ms));
            await Promise.race([finished, timer]);
            if (done.size !== want.size) throw new Error(`re-reading ${topic}: not at the end after ${ms / 1000} s`);
        } finally {
            await consumer.disconnect().catch(() => {});
        }
        return keys;
    }

    /**
     * Every record of OUT now, read by a fresh group from the beginning with the given isolation,
     * up to the end offsets taken at the start: [{k, p, o, i, t, value}] (value: the raw JSON,
     * one per write). A read-committed reader stops at the last stable offset, so it reaches the
     * end only once no transaction is open on OUT; transaction markers count as read (kafkajs
     * reports a batch's last offset, markers included, in END_BATCH_PROCESS).
     */
    async readOutput({ readUncommitted, ms = 120000 }) {
        const ends = await this.withAdmin((admin) => admin.fetchTopicOffsets(this.output));
        const want = new Map(ends.map((e) => [e.partition, Number(e.high)]));
        const done = new Set(ends.filter((e) => Number(e.high) <= Number(e.low)).map((e) => e.partition));
        const records = [];
        const view = readUncommitted ? 'uncommitted' : 'committed';
        const consumer = this.kafka.consumer({ groupId: `${this.group}-${view}-${Date.now().toString(36)}`, readUncommitted, maxWaitTimeInMs: 200 });
        let finish;
        const finished = new Promise((resolve) => { finish = resolve; });
        if (done.size === want.size) finish();
        consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
            if (Number(payload.lastOffset) + 1 >= want.get(payload.partition)) done.add(payload.partition);
            if (done.size === want.size) finish();
        });
        await consumer.connect();
        let timer = null;
        try {
            await consumer.subscribe({ topic: this.output, fromBeginning: true });
            await consumer.run({
                eachBatch: async ({ batch }) => {
                    for (const m of batch.messages) {
                        const value = m.value.toString('utf8');
                        try {
                            const v = JSON.parse(value);
                            records.push({ k: v.k, p: v.p, o: v.o, i: v.i, t: v.t, value });
                        } catch {
                            // not ours
                        }
                    }
                },
            });
            const timeout = new Promise((resolve) => { timer = setTimeout(resolve, ms); });
            await Promise.race([finished, timeout]);
            if (done.size !== want.size) {
                throw new Error(`reading ${this.output} (read ${view}): partitions ${[...want.keys()].filter((p) => !done.has(p)).join(',')} not at the end after ${ms / 1000} s`);
            }
        } finally {
            clearTimeout(timer);
            await consumer.disconnect().catch(() => {});
        }
        return records;
    }

    /**
     * As readOutput, with Kafka's own Java client (test/faults/ReadTopic.java, run by the JDK's
     * source launcher on the broker's jars in `jarsDir`): the reference for read committed, since
     * the kafkajs 2.2.4 consumer has been seen to hand out records of aborted transactions.
     */
    async readOutputJava({ readUncommitted, jarsDir, bootstrap, ms = 120000 }) {
        const file = path.join(os.tmpdir(), `faults-${this.output}-${readUncommitted ? 'u' : 'c'}-${Date.now().toString(36)}.tsv`);
        const args = ['-Xmx256m', '-cp', `${jarsDir}${path.sep}*`, path.join(__dirname, 'ReadTopic.java'), bootstrap, this.output,
            readUncommitted ? 'read_uncommitted' : 'read_committed', file, String(ms)];
        await new Promise((resolve, reject) => {
            execFile('java', args, { timeout: ms + 30000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
                if (err) reject(new Error(`ReadTopic.java: ${err.message} ${String(stderr).split('\n').filter((l) => !/INFO|log4j/.test(l)).slice(-5).join(' ')}`));
                else resolve();
            });
        });
        const records = [];
        try {
            for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
                if (!line) continue;
                const [, , value] = line.split('\t');
                try {
                    const v = JSON.parse(value);
                    records.push({ k: v.k, p: v.p, o: v.o, i: v.i, t: v.t, value });
                } catch {
                    // not ours
                }
            }
        } finally {
            fs.rmSync(file, { force: true });
        }
        return records;
    }

    /** Acked keys that are not in IN (written by neither the producer's retries nor anyone): set by finish. */
    set inputKeys(keys) {
        this._inputKeys = keys;
    }

    figures() {
        const inInput = (k) => !this._inputKeys || this._inputKeys.has(k);
        const notInInput = [...this.acked.keys()].filter((k) => !inInput(k));
        const lost = [...this.acked.keys()].filter((k) => inInput(k) && !this.keys.has(k));
        let duplicated = 0;
        for (const n of this.copies.values()) duplicated += n - 1;
        return {
            produced: this.acked.size - notInInput.length,
            ackedNotInInput: notInInput.length,
            ackedNotInInputSample: notInInput.slice(0, 5),
            consumed: this.out.length,
            distinct: this.keys.size,
            lost: lost.length,
            lostSample: lost.slice(0, 5),
            duplicated,
            rereadByChecker: this.reread,
        };
    }

    /**
     * How long the output of each input partition stalled after a fault at `tFault`, counted
     * from `tReady` (the fault's end when the scenario waits for one, e.g. the cluster being back;
     * else tFault) or from when the partition next had input, whichever is later: per partition,
     * (its first output record written at or after tFault) - max(tReady, the earliest ack time
     * of its input records not output before tFault). Seconds, by partition; partitions with no
     * input left after tFault are left out. `partitions` narrows the set.
     */
    stallsAfter(tFault, tReady = tFault, partitions = null) {
        const before = new Set();
        const first = new Map();
        for (const r of this.out) {
            if (r.ts < tFault) before.add(r.k);
            else if (!first.has(r.p) || r.ts < first.get(r.p)) first.set(r.p, r.ts);
        }
        const pending = new Map();
        for (const [k, a] of this.acked) {
            if (before.has(k)) continue;
            if (!pending.has(a.p) || a.at < pending.get(a.p)) pending.set(a.p, a.at);
        }
        const stalls = {};
        for (const [p, since] of pending) {
            if (partitions && !partitions.includes(p)) continue;
            const from = Math.max(tReady, since);
            stalls[p] = first.has(p) ? Math.max(0, first.get(p) - from) / 1000 : null; // null: never resumed
        }
        return stalls;
    }

    /** The longest of stallsAfter(...): the slowest partition (Infinity when one never resumed; 0 when none had work). */
    recoveryAfter(tFault, tReady = tFault, partitions = null) {
        const v = Object.values(this.stallsAfter(tFault, tReady, partitions));
        if (v.some((s) => s === null)) return Infinity;
        return v.length ? Math.max(...v) : 0;
    }

    /**
     * Seconds from `tFault` until the output as a whole progressed again: the first of
     * stallsAfter(...) (Infinity when none resumed; 0 when no partition had work).
     */
    resumedAfter(tFault, tReady = tFault) {
        const v = Object.values(this.stallsAfter(tFault, tReady));
        if (v.length === 0) return 0;
        const resumed = v.filter((s) => s !== null);
        return resumed.length ? Math.min(...resumed) : Infinity;
    }

    /**
     * Seconds from `t` until the test's own producer had a write acknowledged on every input
     * partition again: when the cluster serves writes (leaders elected), a yardstick for the
     * connector's own recovery. null when some partition had none.
     */
    writesResumedAfter(t) {
        const first = new Map();
        for (const { p, at } of this.acked.values()) {
            if (at >= t && (!first.has(p) || at < first.get(p))) first.set(p, at);
        }
        if (first.size < this.partitions) return null;
        return (Math.max(...first.values()) - t) / 1000;
    }

    /** Per input partition, seconds from `t` to its first output record written at or after `t`. */
    firstOutputAfter(t) {
        const first = {};
        for (const r of this.out) {
            if (r.ts < t) continue;
            const s = (r.ts - t) / 1000;
            if (first[r.p] === undefined || s < first[r.p]) first[r.p] = s;
        }
        return first;
    }

    /** Output records written in [from, to) (CreateTime), by input partition. */
    outputsBetween(from, to) {
        const n = new Map();
        for (const r of this.out) if (r.ts >= from && r.ts < to) n.set(r.p, (n.get(r.p) || 0) + 1);
        return n;
    }

    /** Input partitions whose latest output (before `t`) came from instance `name`. */
    partitionsOf(name, t = Infinity) {
        const last = new Map();
        for (const r of this.out) {
            if (r.ts >= t) continue;
            const prev = last.get(r.p);
            if (!prev || r.ts >= prev.ts) last.set(r.p, r);
        }
        return [...last.values()].filter((r) => r.i === name).map((r) => r.p).sort((a, b) => a - b);
    }

    async describeGroup() {
        return this.withAdmin(async (admin) => {
            const { groups } = await admin.describeGroups([this.group]);
            const g = groups[0];
            return { state: g.state, members: g.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId })) };
        });
    }

    async close() {
        this.stopProducing = true;
        try {
            await this.producerDone();
        } catch {
            // reported by the scenario
        }
        if (this.reader) await this.reader.disconnect().catch(() => {});
        if (this.admin) await this.admin.disconnect().catch(() => {});
        this.reader = null;
        this.admin = null;
    }
}

module.exports = { Checker, keyOf, sleep };
