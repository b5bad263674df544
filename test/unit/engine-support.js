'use strict';
// In-memory doubles for the consumer's delivery engine (nodes/lib/delivery-engine):
// group members whose hooks a spec calls as a Kafka client would, a host that
// records what the engine emits and reports, and transactional producers that
// record every call and fail or hold on request. No Node-RED, no broker.
const { DeliveryEngine } = require('../../nodes/lib/delivery-engine');

const TOPIC = 't';
const BACKOFF = 20;
const HEARTBEAT = 20;

const DEFAULTS = {
    policy: 'flow', consumerCount: 1, maxInFlight: 100, maxAttempts: 0, afterMaxAttempts: 'skip',
    retryBackoff: BACKOFF, ackTimeout: 0, commitInterval: 0, heartbeatInterval: HEARTBEAT,
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function until(what, cond, ms = 1000) {
    const end = Date.now() + ms;
    while (!cond()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(2);
    }
}

function deferred() {
    const d = {};
    d.promise = new Promise((resolve, reject) => { d.resolve = resolve; d.reject = reject; });
    return d;
}

function record(partition, offset, topic = TOPIC) {
    return { topic, partition, offset: String(offset), key: null, value: Buffer.from(`v${offset}`), headers: {}, timestamp: '0' };
}

/** Records of one partition, offsets from..to inclusive (or an explicit list). */
function records(partition, from, to) {
    const offsets = Array.isArray(from) ? from : Array.from({ length: to - from + 1 }, (_, i) => from + i);
    return offsets.map((o) => record(partition, o));
}

function rebalanceError() {
    const err = new Error('The group is rebalancing, so a rejoin is needed');
    err.type = 'REBALANCE_IN_PROGRESS';
    return err;
}

/** A BatchControl whose heartbeat throws `rebalance` once it is set. */
function control() {
    const c = {
        active: true, rebalance: null, beats: 0, resolved: [],
        isActive: () => c.active,
        heartbeat: async () => {
            c.beats++;
            if (c.rebalance) throw c.rebalance;
        },
        resolveOffset: (o) => c.resolved.push(o),
    };
    return c;
}

/** A batch handed to the engine, its outcome observable without awaiting it. */
function track(promise) {
    const b = { state: 'pending', error: null, settledAt: 0 };
    b.promise = promise.then(
        () => { b.state = 'resolved'; b.settledAt = Date.now(); },
        (err) => { b.state = 'rejected'; b.error = err; b.settledAt = Date.now(); },
    );
    return b;
}

class FakeMember {
    constructor(h, topics, hooks) {
        this.h = h;
        this.topics = topics;
        this.hooks = hooks;
        this.commits = [];
        this.committedAsked = [];
        this.seeks = [];
        this.controls = [];
        this.pauses = 0;
        this.resumes = 0;
        this.stopped = false;
        /** when the coordinator last answered a heartbeat (null: always just now) */
        this.heartbeatAt = null;
    }

    lastHeartbeatAt() { return this.heartbeatAt ?? Date.now(); }

    start() { return this.h.onStart ? this.h.onStart(this) : Promise.resolve(); }

    commit(offsets) {
        this.commits.push(offsets.map((o) => ({ ...o })));
        return this.h.onCommit ? this.h.onCommit(offsets) : Promise.resolve();
    }

    committed(partitions) {
        this.committedAsked.push(partitions);
        if (this.h.onCommitted) return this.h.onCommitted(partitions);
        return Promise.resolve(partitions.flatMap((p) => p.partitions.map((partition) => (
            { topic: p.topic, partition, offset: '-1', metadata: null }))));
    }

    pause() { this.pauses++; }

    resume() { this.resumes++; }

    /** As kafkajs does: the batches of that partition being handed out become stale (isActive() false). */
    seek(topic, partition, offset) {
        this.seeks.push([topic, partition, offset]);
        for (const c of this.controls) if (c.topic === topic && c.partition === partition) c.control.active = false;
    }

    stop() { this.stopped = true; return Promise.resolve(); }

    /** onAssignment with partitions of TOPIC. */
    assign(partitions) { this.hooks.onAssignment(partitions === null ? [] : [{ topic: TOPIC, partitions }]); }

    batch(recs, c = control()) {
        if (recs.length) this.controls.push({ topic: recs[0].topic, partition: recs[0].partition, control: c });
        return track(this.hooks.onBatch(recs, c));
    }
}

const engines = [];

/**
 * An engine with an in-memory host; `h.members` are every member the engine
 * created, in order. `hostExtras` adds to the host (transactionalProducer).
 */
function harness(settings = {}, hostExtras = {}) {
    const h = {
        members: [], emitted: [], events: [], deadLetters: [], out: new Map(), maxOut: 0,
        onStart: null, onCommit: null, onCommitted: null, onDeadLetter: null, onEmit: null,
    };
    const host = {
        createMember(topics, hooks) {
            const m = new FakeMember(h, topics, hooks);
            h.members.push(m);
            return m;
        },
        emit(r, seq) {
            h.emitted.push({ topic: r.topic, partition: r.partition, offset: r.offset, seq, at: Date.now() });
            h.out.set(r.partition, (h.out.get(r.partition) ?? 0) + 1);
            if (h.onEmit) h.onEmit(r, seq);
        },
        deadLetter(r, error, attempts, txn) {
            h.deadLetters.push({ offset: r.offset, partition: r.partition, error, attempts, txn, at: Date.now() });
            return h.onDeadLetter ? h.onDeadLetter(r) : Promise.resolve();
        },
        ackTimeoutText: (ms) => `not acknowledged within ${ms} ms`,
        event(e) { h.events.push({ ...e, at: Date.now() }); },
        ...hostExtras,
    };
    h.settings = { ...DEFAULTS, ...settings };
    h.engine = new DeliveryEngine(h.settings, host);
    engines.push(h.engine);
    h.ack = (partition, offset) => {
        h.out.set(partition, (h.out.get(partition) ?? 0) - 1);
        h.engine.ack({ topic: TOPIC, partition, offset: String(offset) });
    };
    h.fail = (partition, offset, err = new Error('boom')) => h.engine.fail({ topic: TOPIC, partition, offset: String(offset) }, err);
    /** Emitted offsets of a partition, as numbers, in order. */
    h.offsets = (partition) => h.emitted.filter((e) => e.partition === partition).map((e) => Number(e.offset));
    h.commits = () => h.members.flatMap((m) => m.commits).flat();
    h.lastCommit = (partition) => h.commits().filter((c) => c.partition === partition).pop();
    h.eventsOf = (type) => h.events.filter((e) => e.type === type);
    return h;
}

/** Subscribes, and gives member i the partitions in assignments[i] (null: still joining); waits for the takeover reads. */
async function startedWith(h, assignments) {
    await h.engine.setTopics([TOPIC]);
    assignments.forEach((a, i) => { if (a !== null) h.members[i].assign(a); });
    await tick();
    return h;
}

function started(settings, ...assignments) {
    return startedWith(harness(settings), assignments);
}

/** Closes every engine made since the last call (afterEach). */
function closeEngines() {
    return Promise.all(engines.splice(0).map((e) => e.close()));
}

/** Timers and immediates pending in this process. */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length;

module.exports = {
    TOPIC, BACKOFF, HEARTBEAT, DEFAULTS,
    sleep, tick, until, deferred, record, records, rebalanceError, control, track,
    FakeMember, harness, started, startedWith, closeEngines, timers,
};
