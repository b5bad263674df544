// kafka-consumer: one or more consumer-group members that turn records into
// messages. In "after flow" ack mode a record counts as processed only when a
// message carrying its coordinates comes back on the input (a Complete node
// wired back); a message that comes back with msg.error (a Catch node) is a
// failure and is retried. Offsets are committed from lib/offset-tracker, which
// never lets the committed offset pass an unacknowledged record.
import type { NodeAPI, Node, NodeDef, NodeMessage } from 'node-red';
import type { ConsumerClient, ConsumerRecord, BatchControl, PartitionAssignment } from './client';
import type { KafkaConfigNode } from './kafka-config-api';
import { OffsetTracker } from './lib/offset-tracker';
import { resolveTopics, sameTopics, hasPatterns } from './lib/topics';
import { recordToMessage, ackFor } from './lib/consumer-output';
import { readConsumerFields } from './lib/consumer-fields';
import type { ConsumerFieldsRaw } from './lib/consumer-fields';
import { afterFailure, deadLetterHeaders, failureText } from './lib/failure-policy';
import { describeError } from './lib/errors';
import { retryDelay } from './lib/connection-state';
import type { ConnectionState, ShownStatus } from './lib/connection-state';
import { within } from './lib/within';
import { messageIds } from './lib/msg-ids';

const CLOSE_BUDGET_MS = 10000;
/** While waiting for capacity, heartbeats are sent at least this often. */
const WAIT_SLICE_MS = 1000;

interface ConsumerDef extends NodeDef, ConsumerFieldsRaw {
    config?: string;
}

interface Delivery {
    record: ConsumerRecord;
    attempts: number;
    timer: ReturnType<typeof setTimeout> | null;
}

interface Member {
    index: number;
    client: ConsumerClient | null;
    tracker: OffsetTracker<Delivery>;
    assignment: PartitionAssignment[] | null;
    restartTimer: ReturnType<typeof setTimeout> | null;
    attempt: number;
    failing: boolean;
    committing: Promise<void>;
}

export = function (RED: NodeAPI): void {
    function KafkaConsumer(this: Node, def: ConsumerDef): void {
        RED.nodes.createNode(this, def);
        // eslint-disable-next-line @typescript-eslint/no-this-alias
        const node = this;
        const t = (key: string, params?: Record<string, string | number>): string => RED._(`kafka-consumer.${key}`, params);
        const config = (def.config ? RED.nodes.getNode(def.config) : null) as KafkaConfigNode | null;

        // ---- fields -------------------------------------------------------------
        const { fields, problems: fieldProblems } = readConsumerFields(def);
        const problems = fieldProblems.map((p) => (p.key === 'bad-number'
            ? t('errors.bad-number', { field: t(`label.${p.params.field}`), min: p.params.min })
            : t(`errors.${p.key}`, p.params)));
        const { group, consumerCount, format, maxInFlight, maxAttempts, ackTimeout, deadLetterTopic, topicRefresh } = fields;
        const spec = fields.topics;
        if (!config) problems.push(t('errors.no-config'));

        if (problems.length || !config) {
            node.error(t('errors.invalid', { problems: problems.join(' ') }));
            node.status({ fill: 'red', shape: 'dot', text: t('status.invalid') });
            return;
        }
        const settings = config.settings.consumer;
        const flowAck = settings.ackMode === 'flow';
        const retryBackoff = Math.max(100, settings.retryBackoff);
        const client = config.client;

        // ---- state --------------------------------------------------------------
        let closing = false;
        let paused = false;
        let topicsNow: string[] = [];
        let cfgState: ConnectionState = config.state;
        let cfgDetail = '';
        let episode = false;
        let topicsFailing = false;
        let topicAttempt = 0;
        let lastError = '';
        let pollTimer: ReturnType<typeof setTimeout> | null = null;
        let commitTimer: ReturnType<typeof setInterval> | null = null;
        let commitSoon: ReturnType<typeof setImmediate> | null = null;
        const waiters: (() => void)[] = [];
        const nextMsgId = messageIds();
        let statusKey = '';
        const members: Member[] = [];
        for (let i = 0; i < consumerCount; i++) {
            members.push({
                index: i, client: null, tracker: new OffsetTracker<Delivery>(), assignment: null,
                restartTimer: null, attempt: 0, failing: false, committing: Promise.resolve(),
            });
        }

        const inFlight = () => members.reduce((n, m) => n + m.tracker.inFlight, 0);
        const wake = () => waiters.splice(0).forEach((w) => w());

        // ---- status -------------------------------------------------------------
        function updateStatus(): void {
            let s: ShownStatus;
            if (!client || cfgState === 'invalid') {
                s = config!.statusOf(cfgState);
            } else if (topicsFailing || members.some((m) => m.failing)) {
                s = { fill: 'red', shape: 'ring', text: t('status.error', { error: lastError }) };
            } else if (cfgState !== 'connected' && cfgState !== 'idle') {
                s = config!.statusOf(cfgState, cfgDetail);
            } else if (topicsNow.length === 0 && hasPatterns(spec)) {
                s = { fill: 'yellow', shape: 'ring', text: t('status.no-topics') };
            } else if (members.some((m) => m.assignment === null)) {
                s = { fill: 'yellow', shape: 'ring', text: t('status.joining') };
            } else if (paused) {
                s = { fill: 'yellow', shape: 'dot', text: t('status.paused') };
            } else {
                const idle = members.filter((m) => m.assignment!.every((a) => a.partitions.length === 0)).length;
                s = idle > 0
                    ? { fill: 'yellow', shape: 'dot', text: t('status.idle-members', { idle, count: members.length }) }
                    : { fill: 'green', shape: 'dot', text: t('status.consuming') };
            }
            const key = `${s.fill}|${s.shape}|${s.text}`;
            if (key !== statusKey) {
                statusKey = key;
                node.status(s);
            }
        }

        config.register(node, {
            onState: (state, detail) => {
                cfgState = state;
                cfgDetail = detail;
                updateStatus();
            },
        });
        if (!client) {
            updateStatus();
            node.on('close', (removed: boolean, done: () => void) => {
                within(config.deregister(node, removed), CLOSE_BUDGET_MS).then(() => done(), () => done());
            });
            return;
        }

        // ---- deliveries ---------------------------------------------------------
        function emit(d: Delivery): void {
            const { msg, parseError } = recordToMessage(d.record, format, node.id, nextMsgId());
            if (parseError !== undefined) {
                node.warn(t('warn.not-json', { topic: d.record.topic, partition: d.record.partition, offset: d.record.offset, error: parseError }));
            }
            if (flowAck && ackTimeout) {
                d.timer = setTimeout(() => {
                    d.timer = null;
                    const [m, held] = holderOf(d.record);
                    if (m && held === d) fail(m, d, t('errors.ack-timeout', { ms: ackTimeout }));
                }, ackTimeout);
            }
            node.send(msg as unknown as NodeMessage);
        }

        /** The member holding this in-flight record, and its delivery; [null, null] when none does. */
        function holderOf(r: { topic: string; partition: number; offset: string }): [Member, Delivery] | [null, null] {
            for (const m of members) {
                const d = m.tracker.get(r.topic, r.partition, r.offset);
                if (d !== undefined) return [m, d];
            }
            return [null, null];
        }

        function clearTimer(d: Delivery): void {
            if (d.timer) clearTimeout(d.timer);
            d.timer = null;
        }

        function acknowledge(m: Member, d: Delivery): void {
            clearTimer(d);
            if (m.tracker.ack(d.record.topic, d.record.partition, d.record.offset) === undefined) return;
            // The batch loop refills the flow from the low-water mark on (see waitForCapacity).
            if (inFlight() <= lowWater) wake();
            commitIfNoInterval();
        }

        /** With commit interval 0, commits as soon as the current burst of acks is over. */
        function commitIfNoInterval(): void {
            if (settings.commitInterval === 0 && !commitSoon) {
                commitSoon = setImmediate(() => { commitSoon = null; void commitAll(); });
            }
        }

        function fail(m: Member, d: Delivery, error: unknown): void {
            clearTimer(d);
            d.attempts++;
            const r = d.record;
            const text = failureText(error);
            const action = afterFailure(d.attempts, maxAttempts, fields.afterMaxAttempts);
            if (action === 'skip') {
                node.warn(t('warn.skipped', { topic: r.topic, partition: r.partition, offset: r.offset, attempts: d.attempts, error: text }));
                acknowledge(m, d);
                return;
            }
            if (action === 'dead-letter') {
                deadLetter(d, text).then(() => {
                    node.warn(t('warn.dead-lettered', { topic: r.topic, partition: r.partition, offset: r.offset, dlq: deadLetterTopic, attempts: d.attempts }));
                    acknowledge(m, d);
                }, (err: unknown) => {
                    node.error(t('errors.dlq-failed', { dlq: deadLetterTopic, error: describeError(err, config!.advice) }));
                    d.attempts--; // try the dead-letter topic again after the backoff
                    d.timer = setTimeout(() => {
                        d.timer = null;
                        if (!closing && m.tracker.get(r.topic, r.partition, r.offset) === d) fail(m, d, error);
                    }, retryBackoff);
                });
                return;
            }
            node.debug(t('debug.retry', { topic: r.topic, partition: r.partition, offset: r.offset, attempts: d.attempts, error: text }));
            d.timer = setTimeout(() => {
                d.timer = null;
                // Re-emit only while this member still owns the record.
                if (!closing && m.tracker.get(r.topic, r.partition, r.offset) === d) emit(d);
            }, retryBackoff);
        }

        async function deadLetter(d: Delivery, error: string): Promise<void> {
            const r = d.record;
            const producer = await config!.producer();
            const partitions = await client!.partitionsFor(deadLetterTopic);
            if (!partitions || !partitions.length) throw new Error(t('errors.dlq-missing', { dlq: deadLetterTopic }));
            const headers = deadLetterHeaders(r.headers, r, error, d.attempts);
            await producer.send([{
                topic: deadLetterTopic,
                records: [{ partition: partitions[r.partition % partitions.length], key: r.key, value: r.value, headers }],
            }], { acks: -1, timeout: config!.settings.producer.requestTimeout, compression: 'none' });
        }

        // ---- commits ------------------------------------------------------------
        function commitMember(m: Member): Promise<void> {
            m.committing = m.committing.then(async () => {
                const c = m.client;
                const offsets = m.tracker.pendingCommits();
                if (!c || !offsets.length) return;
                try {
                    await c.commit(offsets);
                    m.tracker.markCommitted(offsets);
                } catch (err) {
                    // A rebalance in progress: the next tick (or the new owner) commits.
                    node.debug(t('debug.commit-failed', { error: describeError(err, config!.advice) }));
                }
            });
            return m.committing;
        }

        function commitAll(): Promise<void> {
            return Promise.all(members.map(commitMember)).then(() => undefined);
        }

        // ---- the batch loop -----------------------------------------------------
        const full = () => (flowAck && inFlight() >= maxInFlight) || paused;
        /** Once full, the flow is refilled when this few records are in flight: in runs, not one record per ack. */
        const lowWater = maxInFlight - Math.max(1, Math.floor(maxInFlight / 4));

        /** Resolves on the next ack/pause/resume (wake), or after `ms`; one timer, cleared. */
        function nextWake(ms: number): Promise<void> {
            return new Promise<void>((resolve) => {
                const waiter = () => { clearTimeout(timer); resolve(); };
                const timer = setTimeout(() => {
                    const i = waiters.indexOf(waiter);
                    if (i >= 0) waiters.splice(i, 1);
                    resolve();
                }, ms);
                waiters.push(waiter);
            });
        }

        /**
         * Waits while the flow is full or the node is paused; false when the batch must end.
         * Once full, it waits until a quarter of maxInFlight is free, so the flow is refilled
         * in runs rather than one record per acknowledgement. Heartbeats go on meanwhile.
         */
        async function waitForCapacity(control: BatchControl): Promise<boolean> {
            const beatEvery = Math.min(WAIT_SLICE_MS, settings.heartbeatInterval);
            let beat = Date.now();
            while ((flowAck && inFlight() > lowWater) || paused) {
                if (closing || !control.isActive()) return false;
                await nextWake(beatEvery);
                if (closing || !control.isActive()) return false;
                if (Date.now() - beat >= beatEvery) {
                    await control.heartbeat();
                    beat = Date.now();
                }
            }
            return !closing && control.isActive();
        }

        async function onBatch(m: Member, c: ConsumerClient, records: ConsumerRecord[], control: BatchControl): Promise<void> {
            if (m.client !== c || closing || !control.isActive()) return;
            // The client's position moves once per run of emitted records, not per record.
            let unresolved: string | null = null;
            for (const record of records) {
                // Nothing here awaits unless the flow is full: the batch state cannot change in between.
                if (full()) {
                    if (unresolved !== null) control.resolveOffset(unresolved);
                    unresolved = null;
                    if (!(await waitForCapacity(control)) || m.client !== c) return;
                }
                if (!flowAck) {
                    // Consumed as soon as it is emitted; committed by the timer.
                    if (m.tracker.pass(record.topic, record.partition, record.offset)) emit({ record, attempts: 0, timer: null });
                } else {
                    const d: Delivery = { record, attempts: 0, timer: null };
                    if (m.tracker.deliver(record.topic, record.partition, record.offset, d) === 'new') emit(d);
                }
                unresolved = record.offset;
            }
            if (unresolved !== null) control.resolveOffset(unresolved);
            if (!flowAck) commitIfNoInterval();
        }

        function onAssignment(m: Member, c: ConsumerClient, assignment: PartitionAssignment[]): void {
            if (m.client !== c) return;
            m.assignment = assignment;
            const owned = assignment.flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition })));
            m.tracker.retainOnly(owned).forEach(clearTimer);
            if (m.failing) node.log(t('log.recovered'));
            m.failing = false;
            m.attempt = 0;
            if (!members.some((x) => x.failing)) episode = false;
            wake();
            updateStatus();
        }

        // ---- member lifecycle ---------------------------------------------------
        function reportFailure(err: unknown): void {
            const description = describeError(err, config!.advice);
            lastError = description;
            if (episode) return;
            episode = true;
            const error = { Code: 'CORE:RUNTIME', Description: description };
            node.error(t('errors.runtime', { error: description }), { payload: null, error } as unknown as NodeMessage);
            node.send({ payload: null, error } as unknown as NodeMessage);
        }

        function dropDeliveries(m: Member): void {
            m.tracker.retainOnly([]).forEach(clearTimer);
            m.assignment = null;
            wake();
        }

        function memberFailed(m: Member, c: ConsumerClient, err: unknown): void {
            if (m.client !== c || closing) return;
            m.client = null;
            c.stop().catch(() => undefined);
            dropDeliveries(m);
            m.failing = true;
            reportFailure(err);
            updateStatus();
            scheduleStart(m, retryDelay(m.attempt++, retryBackoff));
        }

        function scheduleStart(m: Member, delay: number): void {
            if (m.restartTimer) clearTimeout(m.restartTimer);
            m.restartTimer = setTimeout(() => { m.restartTimer = null; void startMember(m); }, delay);
        }

        async function startMember(m: Member): Promise<void> {
            if (closing || m.client) return;
            if (topicsNow.length === 0) return;
            const c: ConsumerClient = client!.createConsumer({
                groupId: group,
                settings,
                topics: topicsNow,
                fromBeginning: settings.initialOffset === 'oldest',
                onBatch: (records, control) => onBatch(m, c, records, control),
                onAssignment: (a) => onAssignment(m, c, a),
                onCrash: (err) => memberFailed(m, c, err),
                // What was acknowledged since the last commit is committed before the
                // partitions may move, so their new owner does not get it again.
                onRebalancing: () => { if (m.client === c) void commitMember(m); },
            });
            m.client = c;
            m.assignment = null;
            updateStatus();
            try {
                await c.start();
                if (paused && m.client === c) c.pause();
            } catch (err) {
                memberFailed(m, c, err);
            }
        }

        async function stopMember(m: Member): Promise<void> {
            if (m.restartTimer) clearTimeout(m.restartTimer);
            m.restartTimer = null;
            const c = m.client;
            if (!c) {
                dropDeliveries(m);
                return;
            }
            await commitMember(m);
            m.client = null;
            dropDeliveries(m);
            await c.stop().catch((err: unknown) => node.debug(describeError(err, config!.advice)));
        }

        // ---- topics -------------------------------------------------------------
        async function currentTopics(): Promise<string[]> {
            if (!hasPatterns(spec)) return spec.names.slice().sort();
            return resolveTopics(spec, await client!.listTopics());
        }

        async function refreshTopics(): Promise<void> {
            pollTimer = null;
            if (closing) return;
            try {
                const next = await currentTopics();
                if (closing) return;
                if (!sameTopics(next, topicsNow)) {
                    if (topicsNow.length) node.log(t('log.topics-changed', { topics: next.join(', ') }));
                    await Promise.all(members.map(stopMember));
                    topicsNow = next;
                    if (!closing) members.forEach((m) => void startMember(m));
                }
                if (topicsFailing) {
                    topicsFailing = false;
                    topicAttempt = 0;
                    if (!members.some((x) => x.failing)) episode = false;
                }
                updateStatus();
            } catch (err) {
                topicsFailing = true;
                reportFailure(err);
                updateStatus();
            }
            if (closing) return;
            if (topicsFailing) pollTimer = setTimeout(() => void refreshTopics(), retryDelay(topicAttempt++, retryBackoff));
            else if (hasPatterns(spec)) pollTimer = setTimeout(() => void refreshTopics(), topicRefresh);
        }

        // ---- input: acknowledgements, failures, pause/resume ----------------------
        node.on('input', (msg: NodeMessage & { action?: unknown; attribute?: unknown; error?: unknown }, _send: unknown, done: (err?: Error) => void) => {
            if (msg.action === 'pause' || msg.action === 'resume') {
                paused = msg.action === 'pause';
                for (const m of members) {
                    try {
                        if (m.client) { if (paused) m.client.pause(); else m.client.resume(); }
                    } catch (err) {
                        node.debug(describeError(err, config!.advice));
                    }
                }
                wake();
                updateStatus();
                done();
                return;
            }
            const c = flowAck ? ackFor(msg as { _kafka?: unknown; attribute?: unknown }, node.id) : null;
            if (c) {
                const [m, d] = holderOf(c);
                if (m && d) {
                    if (msg.error) fail(m, d, msg.error);
                    else acknowledge(m, d);
                }
                // Otherwise: a partition this node no longer owns, or an old ack; ignored.
            }
            done();
        });

        node.on('close', (removed: boolean, done: () => void) => {
            closing = true;
            if (pollTimer) clearTimeout(pollTimer);
            if (commitTimer) clearInterval(commitTimer);
            if (commitSoon) clearImmediate(commitSoon);
            wake();
            const shutdown = Promise.all(members.map(stopMember))
                .then(() => config.deregister(node, removed));
            within(shutdown, CLOSE_BUDGET_MS).then(() => done(), () => done());
        });

        // ---- start ----------------------------------------------------------------
        if (settings.commitInterval > 0) {
            commitTimer = setInterval(() => void commitAll(), settings.commitInterval);
        }
        updateStatus();
        void refreshTopics();
    }

    RED.nodes.registerType('kafka-consumer', KafkaConsumer as unknown as Parameters<NodeAPI['nodes']['registerType']>[1]);
};
