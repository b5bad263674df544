// kafka-publish: writes each incoming message as one Kafka record and passes the
// message on with msg.attribute = {topic, partition, offset} once the broker has
// acknowledged it; on failure with msg.error = {Code, Description} and done(err).
// The write path (partitioning, batching, offsets) is shared per config node:
// see lib/publisher.ts.
import type { NodeAPI, Node, NodeDef, NodeMessage } from 'node-red';
import type { KafkaConfigNode } from './kafka-config-api';
import { readInput } from './lib/publish-input';
import type { PublishFields } from './lib/publish-input';
import { Publisher, PlacementProblem, UnknownTopicError } from './lib/publisher';
import { ParamError, toMsgError } from './lib/errors';
import type { MsgError } from './lib/errors';
import type { Problem } from './lib/settings';
import type { ConnectionState, ShownStatus } from './lib/connection-state';
import { within } from './lib/within';
import { registryStep, RegistryRuntimeError } from './lib/registry-publish';
import type { PublishRegistryRaw } from './lib/registry-fields';
import { RateMeter } from './lib/live-figures';
import { transactionFor } from './lib/transactions';

const CLOSE_BUDGET_MS = 8000;
const STATUS_EVERY_MS = 1000;

interface KafkaPublishDef extends NodeDef, PublishFields, PublishRegistryRaw {
    config: string;
}

interface Shared {
    publisher: Publisher;
    users: Set<string>;
}

type PublishMessage = NodeMessage & { attribute?: unknown; error?: MsgError };

export = function (RED: NodeAPI): void {
    // One write path per config node, shared by every kafka-publish that uses it.
    const shared = new WeakMap<KafkaConfigNode, Shared>();

    function KafkaPublish(this: Node, def: KafkaPublishDef): void {
        RED.nodes.createNode(this, def);
        // eslint-disable-next-line @typescript-eslint/no-this-alias
        const node = this;
        const t = (key: string, params?: object): string => RED._(`kafka-publish.${key}`, params as Record<string, string | number> | undefined);
        const fields: PublishFields = { topic: def.topic, partition: def.partition, key: def.key, headers: def.headers };
        const config = RED.nodes.getNode(def.config) as KafkaConfigNode | null;

        const fail = (msg: PublishMessage, send: (m: NodeMessage) => void, done: (err?: Error) => void, err: unknown): void => {
            // A missing topic has a sentence of its own; other failures are described from the error.
            msg.error = err instanceof UnknownTopicError || err instanceof RegistryRuntimeError ? { Code: 'CORE:RUNTIME', Description: err.message } : toMsgError(err, (a) => config ? config.advice(a) : a);
            send(msg);
            done(err instanceof Error ? err : new Error(msg.error.Description));
        };

        if (!config || typeof config.register !== 'function') {
            node.status({ fill: 'red', shape: 'ring', text: t('status.no-config') });
            node.on('input', (msg: PublishMessage, send, done) => fail(msg, send, done, new ParamError(t('errors.no-config'))));
            return;
        }

        let entry = shared.get(config);
        if (!entry) {
            entry = {
                users: new Set(),
                publisher: new Publisher({
                    settings: config.settings.producer,
                    producer: () => config.producer(),
                    partitionsFor: (topic) => (config.client
                        ? config.client.partitionsFor(topic, { autoCreate: true })
                        : Promise.reject(new Error(config.invalidText))),
                    unknownTopic: (topic) => t('errors.unknown-topic', { topic }),
                }),
            };
            shared.set(config, entry);
        }
        entry.users.add(node.id);
        const { publisher } = entry;

        // Status: the connection, then while connected the last error or a live figure.
        let state: ConnectionState = config.state;
        let stateDetail = '';
        let lastError: string | null = null;
        // This node's own figures: the write path is shared with the other publish nodes of the config node.
        const rateMeter = new RateMeter();
        let queued = 0;
        let shown = '';
        function render(rate = 0): void {
            let status: ShownStatus;
            if (state !== 'connected') {
                status = config!.statusOf(state, stateDetail);
            } else if (lastError) {
                status = { fill: 'red', shape: 'ring', text: t('status.error', { code: lastError }) };
            } else if (stateDetail) {
                // connected, but some brokers are down (the config node names them)
                status = config!.statusOf(state, stateDetail);
            } else if (rate > 0 || queued > 0) {
                status = { fill: 'green', shape: 'dot', text: t('status.rate', { rate, queued }) };
            } else {
                status = { fill: 'green', shape: 'dot', text: RED._('node-red:common.status.connected') };
            }
            const key = JSON.stringify(status);
            if (key !== shown) {
                shown = key;
                node.status(status);
            }
        }
        const ticker = setInterval(() => render(rateMeter.read()), STATUS_EVERY_MS);

        config.register(node, {
            onState: (s, detail) => { state = s; stateDetail = detail; render(); },
            drain: () => publisher.drain(),
        });

        const describe = (p: Problem): string => {
            const params = { ...p.params };
            if (typeof params.source === 'string') params.source = t(`source.${params.source}`);
            return t(`errors.${p.key}`, params);
        };

        // "Encode with the schema registry": the payload (and key) become wire-format bytes first.
        const registry = registryStep((id) => RED.nodes.getNode(id), def, t);
        if (registry.problem) node.error(registry.problem);

        node.on('input', (msg: PublishMessage, send, done) => {
            if (registry.encoder || registry.problem) {
                registry.run(fields, msg as unknown as Record<string, unknown>, (err, view) => {
                    if (err) fail(msg, send, done, err);
                    else write(msg, send, done, view!.fields, view!.msg);
                });
                return;
            }
            write(msg, send, done, fields, msg as unknown as Record<string, unknown>);
        });

        function write(msg: PublishMessage, send: (m: NodeMessage) => void, done: (err?: Error) => void,
            fields: PublishFields, view: Record<string, unknown>): void {
            const read = readInput(fields, view, config!.settings.producer.maxMessageBytes);
            if (read.problem) {
                fail(msg, send, done, new ParamError(describe(read.problem)));
                return;
            }
            // A record consumed in exactly-once mode: its outputs go into its transaction.
            const inTxn = transactionFor(msg as { _kafka?: unknown });
            if (inTxn === 'aborted') {
                fail(msg, send, done, new Error(t('errors.txn-aborted')));
                return;
            }
            queued++;
            const written = (err: unknown, where?: { topic: string; partition: number; offset: number }): void => {
                queued--;
                if (!err) {
                    rateMeter.add();
                    msg.attribute = where;
                    if (lastError) { lastError = null; render(); }
                    send(msg);
                    done();
                    return;
                }
                const e = err instanceof PlacementProblem ? new ParamError(describe(err.problem)) : err;
                if (!(e instanceof ParamError)) {
                    lastError = 'CORE:RUNTIME';
                    render();
                }
                fail(msg, send, done, e);
            };
            if (inTxn) publisher.publishIn(inTxn.txn, read.record, written);
            else publisher.publish(read.record, written);
        }

        node.on('close', (removed: boolean, done: () => void) => {
            clearInterval(ticker);
            within(publisher.drain(), CLOSE_BUDGET_MS - 2000).then(async () => {
                entry!.users.delete(node.id);
                if (entry!.users.size === 0 && shared.get(config) === entry) shared.delete(config);
                await within(config.deregister(node, removed), 2000);
            }).then(() => done(), () => done());
        });
    }

    RED.nodes.registerType('kafka-publish', KafkaPublish as unknown as Parameters<NodeAPI['nodes']['registerType']>[1]);
};
