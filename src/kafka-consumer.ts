// kafka-consumer: the Node-RED glue around lib/delivery-engine. The engine runs
// the group members, the in-flight bound, acknowledgements, retries and commits;
// this file reads the node's fields, turns records into messages, feeds Complete
// (ack) and Catch (fail) messages back to the engine and shows the status.
// A runtime failure is never sent down the records' output: it goes out of the
// second output (msg.error = {Code, Description}, payload null), to Catch nodes
// and to the status, so a flow that does not look at msg.error cannot mistake it
// for a record.
import type { NodeAPI, Node, NodeDef, NodeMessage } from 'node-red';
import type { KafkaConfigNode } from './kafka-config-api';
import { DeliveryEngine } from './lib/delivery-engine';
import type { EngineEvent } from './lib/delivery-engine';
import type { ConsumerRecord } from './lib/consumer-client';
import { resolveTopics, sameTopics, hasPatterns } from './lib/topics';
import { recordToMessage, recordsToBatchMessage, acksFor } from './lib/consumer-output';
import { readConsumerFields } from './lib/consumer-fields';
import type { ConsumerFieldsRaw } from './lib/consumer-fields';
import { deadLetterHeaders } from './lib/failure-policy';
import { describeError } from './lib/errors';
import { retryDelay } from './lib/connection-state';
import type { ConnectionState, ShownStatus } from './lib/connection-state';
import { within } from './lib/within';
import { offerTransactions } from './lib/transactions';
import type { ProducerTransaction } from './lib/producer-client';
import { messageIds } from './lib/msg-ids';
import { registryClientFor, registryDecoder } from './lib/registry-consume';
import { decodedFields } from './lib/registry-decoder';
import { RateMeter, shortCount } from './lib/live-figures';
import { memberClientId } from './lib/member-id';
import { readSeek, resolveSeek } from './lib/seek';

const CLOSE_BUDGET_MS = 10000;
/** After a deploy that kept this node running, how long its records out then have to come back. */
const DEPLOY_GRACE_MS = 30000;
/** How often the status's lag and rate are refreshed. */
const FIGURES_EVERY_MS = 3000;
/**
 * Exactly-once mode: one transactional producer per input partition, its id made
 * of the group, the topic and the partition. kafkajs has no group-aware fencing
 * (KIP-447), so fencing comes from the id: the partition's next owner (another
 * member or another Node-RED instance) connects a producer with the same id,
 * which bumps the id's epoch at the coordinator and fences the previous owner.
 * A stalled instance (a long GC pause, SIGSTOP) that wakes with a transaction
 * open can then neither write nor commit it, nor commit its offsets.
 */
const TXN_ID_PREFIX = 'nr-kafka-eos';

interface ConsumerDef extends NodeDef, ConsumerFieldsRaw {
    config?: string;
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
        // "Decoded with the schema registry" (lib/registry-consume)
        const registry = fields.registry && fields.registry.config ? registryClientFor((id) => RED.nodes.getNode(id), fields.registry.config, t) : null;
        if (registry?.problem) problems.push(registry.problem);

        if (problems.length || !config) {
            node.error(t('errors.invalid', { problems: problems.join(' ') }));
            node.status({ fill: 'red', shape: 'dot', text: t('status.invalid') });
            return;
        }
        const settings = config.settings.consumer;
        const flowAck = settings.ackMode !== 'immediate';
        const eos = settings.ackMode === 'eos';
        const retryBackoff = Math.max(100, settings.retryBackoff);
        const client = config.client;

        // ---- state --------------------------------------------------------------
        let closing = false;
        let topicsNow: string[] = [];
        let cfgState: ConnectionState = config.state;
        let cfgDetail = '';
        /** A failure episode is under way: reported once, and once when it is over. */
        let episode = false;
        let topicsFailing = false;
        let topicAttempt = 0;
        let lastError = '';
        let pollTimer: ReturnType<typeof setTimeout> | null = null;
        let statusKey = '';
        const nextMsgId = messageIds();
        const failing = new Set<number>();
        let engine: DeliveryEngine | null = null;
        let registryDown = false;
        /** Ack mode immediate: fetching is paused while the registry is down (nothing else bounds what waits for it). */
        let pausedForRegistry = false;
        let pausedByUser = false;
        const rate = new RateMeter();
        /** lag and rate, refreshed every FIGURES_EVERY_MS */
        let figures = '';

        config.register(node, {
            onState: (state, detail) => {
                cfgState = state;
                cfgDetail = detail;
                updateStatus();
            },
            // The cluster answers again: failed members rejoin now, not after their backoff.
            onReconnected: () => engine?.retryNow(),
            consumer: () => ({ group, topics: topicsNow.slice() }),
        });
        if (!client) {
            updateStatus();
            node.on('close', (removed: boolean, done: () => void) => {
                within(config.deregister(node, removed), CLOSE_BUDGET_MS).then(() => done(), () => done());
            });
            return;
        }

        const delivery = new DeliveryEngine({
            policy: eos ? 'eos' : flowAck ? 'flow' : 'immediate',
            consumerCount, maxInFlight, maxAttempts, afterMaxAttempts: fields.afterMaxAttempts, retryBackoff, ackTimeout,
            ackTimeoutFromReachedFlow: fields.registry !== null,
            commitInterval: settings.commitInterval, heartbeatInterval: settings.heartbeatInterval,
            groupId: group, txnMaxRecords: settings.txnMaxRecords, txnMaxMs: settings.txnMaxMs,
            batchSize: fields.batchSize, batchWaitMs: fields.batchWait,
        }, {
            createMember: (topics, { member, ...hooks }) => client.createConsumer({
                groupId: group, settings, topics, fromBeginning: settings.initialOffset === 'oldest', ...hooks,
                clientId: memberClientId({ base: client.clientId, nodeId: node.id, index: member ?? 0, ...client.instance }),
            }),
            emit,
            emitBatch,
            deadLetter,
            transactionalProducer: (topic, partition) => client.createTransactionalProducer(`${TXN_ID_PREFIX}-${group}-${topic}-${partition}`),
            ackTimeoutText: (ms) => t('errors.ack-timeout', { ms }),
            event: onEngineEvent,
        });
        engine = delivery;
        const figuresTimer = setInterval(() => {
            // The ends as the cluster has them now (one ListOffsets per topic), only when no fetch
            // brought them since the last refresh: paused, or the flow full.
            if (cfgState === 'connected' && !delivery.endsFetched()) {
                for (const topic of topicsNow) client.listOffsets(topic, 'latest').then((ends) => delivery.noteEnds(topic, ends), () => undefined);
            }
            const lag = delivery.lag();
            figures = t('status.figures', { lag: lag === null ? '?' : shortCount(lag), rate: shortCount(rate.read()) });
            updateStatus();
        }, FIGURES_EVERY_MS);
        const withdraw = eos ? offerTransactions(node.id, delivery) : null;
        // A deploy that keeps this node running may replace nodes its records are passing
        // through, and Node-RED drops messages in transit to them: without an ack timeout,
        // the records out at the deploy get DEPLOY_GRACE_MS before they count as failed.
        const onDeploy = (): void => {
            if (!ackTimeout && !closing) delivery.afterDeploy(DEPLOY_GRACE_MS, t('errors.deploy-lost', { s: DEPLOY_GRACE_MS / 1000 }));
        };
        RED.events.on('flows:started', onDeploy);

        // ---- status -------------------------------------------------------------
        function updateStatus(): void {
            let s: ShownStatus;
            const view = engine?.view();
            if (!client || !view || cfgState === 'invalid') {
                s = config!.statusOf(cfgState);
            } else if (topicsFailing || registryDown || view.members.some((m) => m.failing)) {
                s = { fill: 'red', shape: 'ring', text: t('status.error', { error: lastError }) };
            } else if (cfgState !== 'connected' && cfgState !== 'idle') {
                s = config!.statusOf(cfgState, cfgDetail);
            } else if (topicsNow.length === 0 && hasPatterns(spec)) {
                s = { fill: 'yellow', shape: 'ring', text: t('status.no-topics') };
            } else if (view.members.some((m) => m.assignment === null)) {
                s = { fill: 'yellow', shape: 'ring', text: t('status.joining') };
            } else if (view.paused) {
                s = { fill: 'yellow', shape: 'dot', text: t('status.paused') };
            } else {
                const idle = view.members.filter((m) => m.assignment!.every((a) => a.partitions.length === 0)).length;
                s = idle > 0
                    ? { fill: 'yellow', shape: 'dot', text: t('status.idle-members', { idle, count: view.members.length }) }
                    : { fill: 'green', shape: 'dot', text: t('status.consuming') };
            }
            // consuming, paused or partly idle: the live figures go beside the state
            if (figures && s.shape === 'dot' && view?.members.every((m) => m.assignment !== null)) s = { ...s, text: `${s.text} · ${figures}` };
            const key = `${s.fill}|${s.shape}|${s.text}`;
            if (key !== statusKey) {
                statusKey = key;
                node.status(s);
            }
        }

        // ---- records out --------------------------------------------------------
        const decoder = registry?.client ? registryDecoder<ConsumerRecord & { seq: number }>(registry.client, fields.registry!.key, retryBackoff, t, {
            deliver: (record, decoded) => {
                if (flowAck) delivery.reachedFlow({ topic: record.topic, partition: record.partition, offset: record.offset, seq: record.seq });
                const { msg } = recordToMessage(record, 'buffer', node.id, nextMsgId(), flowAck ? record.seq : undefined);
                node.send([Object.assign(msg, decodedFields(decoded, msg.key)) as unknown as NodeMessage, null]);
            },
            reject: (record, description) => {
                const error = { Code: 'CORE:PARAM', Description: description };
                if (flowAck) {
                    delivery.fail({ topic: record.topic, partition: record.partition, offset: record.offset, seq: record.seq }, error);
                    return;
                }
                // Immediate mode: the record is already done; report it, and keep it in the dead-letter topic if there is one.
                const { msg } = recordToMessage(record, 'buffer', node.id, nextMsgId());
                node.error(description, Object.assign(msg, { error }) as unknown as NodeMessage);
                if (deadLetterTopic) deadLetter(record, description, 1).catch((err: unknown) => onEngineEvent({ type: 'dead-letter-failed', record, error: err }));
            },
            down: (description) => {
                registryDown = true;
                if (!flowAck && !pausedForRegistry) {
                    pausedForRegistry = true;
                    delivery.pause();
                }
                reportFailure(description);
                updateStatus();
            },
            up: () => {
                registryDown = false;
                if (pausedForRegistry) {
                    pausedForRegistry = false;
                    if (!pausedByUser) delivery.resume();
                }
                endEpisode();
                updateStatus();
            },
        }) : null;

        function emit(record: ConsumerRecord, seq: number): void {
            rate.add();
            if (decoder) {
                decoder.push({ ...record, seq });
                return;
            }
            const { msg, parseError } = recordToMessage(record, format, node.id, nextMsgId(), flowAck ? seq : undefined);
            if (parseError !== undefined) {
                node.warn(t('warn.not-json', { topic: record.topic, partition: record.partition, offset: record.offset, error: parseError }));
            }
            node.send([msg as unknown as NodeMessage, null]);
        }

        /** Batch output: records of one partition in one message (payload an array). */
        function emitBatch(items: { record: ConsumerRecord; seq: number }[]): void {
            rate.add(items.length);
            const { msg, parseError } = recordsToBatchMessage(items, format, node.id, nextMsgId(), flowAck);
            if (parseError !== undefined) {
                const { topic, partition } = items[0].record;
                node.warn(t('warn.not-json', { topic, partition, offset: items[0].record.offset, error: parseError }));
            }
            node.send([msg as unknown as NodeMessage, null]);
        }

        async function deadLetter(r: ConsumerRecord, error: string, attempts: number, txn?: ProducerTransaction): Promise<void> {
            const partitions = await client!.partitionsFor(deadLetterTopic);
            if (!partitions || !partitions.length) throw new Error(t('errors.dlq-missing', { dlq: deadLetterTopic }));
            const headers = deadLetterHeaders(r.headers, r, error, attempts);
            const batch = [{
                topic: deadLetterTopic,
                records: [{ partition: partitions[r.partition % partitions.length], key: r.key, value: r.value, headers }],
            }];
            const options = { acks: -1, timeout: config!.settings.producer.requestTimeout, compression: 'none' as const };
            // Exactly once: inside the record's transaction, so it is written once or not at all.
            if (txn) await txn.send(batch, options);
            else await (await config!.producer()).send(batch, options);
        }

        function onEngineEvent(e: EngineEvent): void {
            const at = (r: ConsumerRecord) => ({ topic: r.topic, partition: r.partition, offset: r.offset });
            switch (e.type) {
                case 'retry':
                    node.debug(t('debug.retry', { ...at(e.record), attempts: e.attempts, error: e.error }));
                    break;
                case 'skipped':
                    node.warn(t('warn.skipped', { ...at(e.record), attempts: e.attempts, error: e.error }));
                    break;
                case 'dead-lettered':
                    node.warn(t('warn.dead-lettered', { ...at(e.record), dlq: deadLetterTopic, attempts: e.attempts }));
                    break;
                case 'dead-letter-failed':
                    node.error(t('errors.dlq-failed', { dlq: deadLetterTopic, error: describeError(e.error, config!.advice) }));
                    break;
                case 'commit-failed':
                    node.debug(t('debug.commit-failed', { error: describeError(e.error, config!.advice) }));
                    break;
                case 'transaction-aborted':
                    node.debug(t('debug.aborted', { topic: e.topic, partition: e.partition, offset: e.first, error: describeError(e.error, config!.advice) }));
                    break;
                case 'stop-failed':
                    node.debug(describeError(e.error, config!.advice));
                    break;
                case 'member-failed':
                    failing.add(e.member);
                    reportFailure(e.error);
                    break;
                case 'member-recovered':
                    failing.delete(e.member);
                    endEpisode();
                    break;
                default:
                    break;
            }
            updateStatus();
        }

        // ---- failures: one report per episode, one line when it is over ----------
        function reportFailure(err: unknown): void {
            const description = typeof err === 'string' ? err : describeError(err, config!.advice);
            lastError = description;
            if (episode) return;
            episode = true;
            const error = { Code: 'CORE:RUNTIME', Description: description };
            const msg = { payload: null, error } as unknown as NodeMessage;
            node.error(t('errors.runtime', { error: description }), msg);
            node.send([null, RED.util.cloneMessage(msg)]);
        }

        function endEpisode(): void {
            if (!episode || topicsFailing || registryDown || failing.size) return;
            episode = false;
            node.log(t('log.recovered'));
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
                    topicsNow = next;
                    await delivery.setTopics(next);
                }
                if (topicsFailing) {
                    topicsFailing = false;
                    topicAttempt = 0;
                    endEpisode();
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
            if (msg.action === 'seek') {
                seek(msg as unknown as Record<string, unknown>).then(() => done(), (err: Error) => done(err));
                return;
            }
            if (msg.action === 'pause' || msg.action === 'resume') {
                pausedByUser = msg.action === 'pause';
                if (msg.action === 'pause') delivery.pause();
                else delivery.resume();
                done();
                return;
            }
            // One record, or every record of a batch message: a failed batch fails each of its records.
            const refs = flowAck ? acksFor(msg as { _kafka?: unknown; attribute?: unknown }, node.id) : null;
            if (refs) {
                for (const c of refs) {
                    if (msg.error) delivery.fail(c, msg.error);
                    else delivery.ack(c);
                }
            }
            done();
        });

        /** Replay: moves the position of the partitions named (or of every partition of the topic) and commits it. */
        async function seek(msg: Record<string, unknown>): Promise<void> {
            const read = readSeek(msg, topicsNow);
            if ('problem' in read) throw new Error(t(`errors.${read.problem.key}`, { topics: topicsNow.join(', ') }));
            if (eos) throw new Error(t('errors.seek-eos'));
            const targets = await resolveSeek(read.requests, (topic, at) => client!.listOffsets(topic, at));
            const moved = delivery.seek(targets);
            node.log(t('log.seek', {
                moved: moved.map((m) => `${m.topic}/${m.partition}@${m.offset}`).join(', ') || '-',
                others: targets.length - moved.length,
            }));
        }

        node.on('close', (removed: boolean, done: () => void) => {
            clearInterval(figuresTimer);
            closing = true;
            decoder?.close();
            if (pollTimer) clearTimeout(pollTimer);
            if (withdraw) withdraw();
            RED.events.removeListener('flows:started', onDeploy);
            const shutdown = delivery.close().then(() => config.deregister(node, removed));
            within(shutdown, CLOSE_BUDGET_MS).then(() => done(), () => done());
        });

        // ---- start ----------------------------------------------------------------
        updateStatus();
        void refreshTopics();
    }

    RED.nodes.registerType('kafka-consumer', KafkaConsumer as unknown as Parameters<NodeAPI['nodes']['registerType']>[1]);
};
