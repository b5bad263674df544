// kafka-config: holds one Kafka client per config node, shared by every node that
// uses it. The first registered user connects it; the last user that is removed
// disconnects it; its status is fanned out to every user.
import type { NodeAPI, Node, NodeDef } from 'node-red';
import type { ConnectionOptions } from 'tls';
import { createClient } from './client';
import type { KafkaClient, ClusterInfo, ConnectionEvent } from './client';
import type { ProducerClient } from './lib/producer-client';
import { readSettings, compareVersions, offsetRetentionHonoured } from './lib/settings';
import type { KafkaSettings, Problem } from './lib/settings';
import { statusView, retryDelay, Reachability, RETRY_CAP_MS } from './lib/connection-state';
import type { ConnectionState } from './lib/connection-state';
import { checkTls } from './lib/tls-check';
import { describeError, refineAdvice } from './lib/errors';
import { within } from './lib/within';
import type { KafkaConfigNode, UserHooks } from './kafka-config-api';
import { registerAdmin } from './kafka-config-admin';

const CLOSE_BUDGET_MS = 5000;

interface KafkaConfigDef extends NodeDef {
    [field: string]: unknown;
    tls?: string;
}


export = function (RED: NodeAPI): void {
    /** Every kafka-config node running now, for the admin endpoints of the editor's Kafka sidebar. */
    const running = new Map<string, KafkaConfigNode>();
    registerAdmin(RED, running);

    function KafkaConfig(this: KafkaConfigNode, def: KafkaConfigDef): void {
        RED.nodes.createNode(this, def);
        // eslint-disable-next-line @typescript-eslint/no-this-alias
        const node = this;
        const mutable = node as unknown as {
            settings: KafkaSettings; problems: Problem[]; client: KafkaClient | null;
            state: ConnectionState; clusterInfo: ClusterInfo | null; invalidText: string;
        };
        const users = new Map<string, { user: Node; hooks: UserHooks }>();
        const t = (key: string, params?: object): string => RED._(`kafka-config.${key}`, params as Record<string, string | number> | undefined);
        node.t = t;
        node.describeProblem = (p: Problem) => t(`errors.${p.key}`, p.params);
        // What this node's own connections found: a connection failure while other
        // brokers answer is "partly reachable", for every user that asks for advice.
        const reach = new Reachability();
        const downList = (): string => reach.down().join(', ');
        node.advice = (a, params) => {
            const advice = refineAdvice(a, { up: reach.up(), down: reach.down() });
            return t(`runtime.${advice}`, advice === 'partial' ? { down: downList(), ...params } : params);
        };
        node.statusOf = (state, detail = '') => {
            const v = statusView(state);
            const text = v.key.startsWith('node-red:') ? RED._(v.key) : t(v.key);
            // Connected with a detail: some brokers are down (see partialDetail).
            const fill = state === 'connected' && detail ? 'yellow' : v.fill;
            return { fill, shape: v.shape, text: detail ? `${text}: ${detail}` : text };
        };

        const { settings, problems } = readSettings(def, node.credentials ?? {});
        mutable.settings = settings;
        mutable.problems = problems;
        mutable.clusterInfo = null;
        mutable.state = 'idle';

        let tlsOptions: ConnectionOptions | null = null;
        if (settings.connection.useTls && def.tls) {
            const tlsNode = RED.nodes.getNode(def.tls) as (Node & { valid?: boolean; addTLSOptions?: (o: object) => ConnectionOptions }) | null;
            if (!tlsNode || typeof tlsNode.addTLSOptions !== 'function') {
                problems.push({ key: 'tls-missing' });
            } else if (tlsNode.valid === false) {
                problems.push({ key: 'tls-unusable', params: { reason: t('errors.tls-files') } });
            } else {
                tlsOptions = tlsNode.addTLSOptions({});
                const p = checkTls(tlsOptions);
                if (p) problems.push(p);
            }
        }

        let detail = '';
        let attempt = 0;
        let retryTimer: ReturnType<typeof setTimeout> | null = null;
        let connecting: Promise<void> | null = null;
        let probing: Promise<void> | null = null;
        let probeTimer: ReturnType<typeof setTimeout> | null = null;
        let lastProbe = 0;
        /** When the current failure episode began (null: none), for one log line at each end of it. */
        let outageSince: number | null = null;
        let producerPromise: Promise<ProducerClient> | null = null;
        let closed = false;
        const waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

        mutable.client = problems.length ? null : createClient({
            settings,
            tls: tlsOptions,
            log: (level, message) => {
                if (level === 'warn') node.warn(message);
                else if (level === 'debug') node.debug(message);
                else node.trace(message);
            },
        });

        function setState(state: ConnectionState, text = ''): void {
            const previous = node.state;
            mutable.state = state;
            detail = text;
            const back = state === 'connected' && previous === 'retrying';
            for (const { user, hooks } of users.values()) {
                showState(user, hooks);
                if (back && hooks.onReconnected) {
                    try {
                        hooks.onReconnected();
                    } catch (err) {
                        node.debug(String(err));
                    }
                }
            }
            if (state === 'connected') waiters.splice(0).forEach((w) => w.resolve());
        }

        /** The status detail while connected: which brokers refuse, when some do and others answer. */
        function partialDetail(): string {
            return reach.partial ? t('status.partial', { down: downList() }) : '';
        }

        // The connections of the admin, the producer and every consumer of this node are
        // watched: a lost or refused connection while connected has the cluster checked
        // at once (not at the next failing request), so users hear of an outage, and of
        // its end, within seconds.
        const unwatch = mutable.client?.onConnectionEvent((e: ConnectionEvent) => {
            if (closed) return;
            const changed = e.kind === 'lost' ? false : reach.record(e.address, e.kind === 'connected', e.cause);
            if (node.state !== 'connected') return;
            if (e.kind !== 'connected') scheduleProbe();
            if (changed && partialDetail() !== detail) setState('connected', partialDetail());
        });

        /** Checks the cluster soon, at most once per RETRY_CAP_MS (a broker that stays down is not hammered). */
        function scheduleProbe(): void {
            if (probeTimer || probing || connecting || closed) return;
            const wait = Math.max(100, lastProbe + RETRY_CAP_MS - Date.now());
            probeTimer = setTimeout(() => { probeTimer = null; probe(); }, wait);
        }

        function probe(): void {
            const client = node.client;
            if (!client || closed || probing || connecting || node.state !== 'connected') return;
            lastProbe = Date.now();
            probing = client.connect().then((info) => {
                probing = null;
                if (closed) return;
                mutable.clusterInfo = info;
                if (node.state === 'connected' && partialDetail() !== detail) setState('connected', partialDetail());
            }, (err: unknown) => {
                probing = null;
                if (!closed && node.state === 'connected') failed(err);
            });
        }

        /** A failed connect or check: one error per episode (with its cause), then retries at the capped backoff. */
        function failed(err: unknown): void {
            const message = describeError(err, node.advice);
            const delay = retryDelay(attempt++, settings.consumer.retryBackoff);
            const seconds = Math.max(1, Math.round(delay / 1000));
            if (outageSince === null) {
                outageSince = Date.now();
                node.error(t('errors.connect-failed', { message, seconds }));
            } else {
                node.debug(t('log.still-failing', { message, seconds }));
            }
            setState('retrying', message);
            if (retryTimer) clearTimeout(retryTimer);
            retryTimer = setTimeout(() => { retryTimer = null; void connect(); }, delay);
        }

        function showState(user: Node, hooks: UserHooks): void {
            if (hooks.onState) {
                hooks.onState(node.state, detail);
                return;
            }
            user.status(node.statusOf(node.state, detail));
        }

        mutable.invalidText = problems.length ? t('errors.invalid', { problems: problems.map(node.describeProblem).join(' ') }) : '';
        if (problems.length) {
            node.error(node.invalidText);
            mutable.state = 'invalid';
            detail = node.describeProblem(problems[0]);
        } else if (settings.consumer.offsetRetention > 0 && !offsetRetentionHonoured(settings.connection.kafkaVersion)) {
            node.warn(t('warn.retention-ignored', { version: settings.connection.kafkaVersion }));
        }

        function connect(): Promise<void> {
            if (connecting) return connecting;
            const client = node.client;
            if (!client || closed) return Promise.resolve();
            // While retrying, the status keeps saying why (no flicker to "connecting" every few seconds).
            if (node.state !== 'retrying') setState('connecting');
            connecting = client.connect().then((info) => {
                connecting = null;
                if (closed) return;
                attempt = 0;
                if (outageSince !== null) {
                    node.log(t('log.recovered', { seconds: Math.round((Date.now() - outageSince) / 1000) }));
                    outageSince = null;
                }
                mutable.clusterInfo = info;
                const configured = settings.connection.kafkaVersion;
                if (info.version && compareVersions(configured, info.version) > 0) {
                    node.warn(t('warn.version-newer', { configured, reported: info.version }));
                }
                setState('connected', partialDetail());
            }, (err: unknown) => {
                connecting = null;
                if (closed) return;
                failed(err);
            });
            return connecting;
        }

        node.register = (user: Node, hooks: UserHooks = {}) => {
            users.set(user.id, { user, hooks });
            showState(user, hooks);
            if (node.state === 'idle' || node.state === 'closed') {
                void connect();
            }
        };

        node.deregister = async (user: Node, removed: boolean) => {
            users.delete(user.id);
            if (users.size === 0 && removed) {
                await within(disconnect('idle'), CLOSE_BUDGET_MS);
            }
        };

        node.consumers = () => [...users.values()].flatMap(({ user, hooks }) => {
            const c = hooks.consumer?.();
            return c ? [{ nodeId: user.id, group: c.group, topics: c.topics }] : [];
        });
        running.set(node.id, node);

        node.whenConnected = () => {
            if (node.state === 'invalid') {
                return Promise.reject(new Error(node.invalidText));
            }
            if (node.state === 'connected') return Promise.resolve();
            if (node.state === 'idle') void connect();
            return new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
        };

        node.producer = () => {
            const client = node.client;
            if (!client) return Promise.reject(new Error(node.invalidText));
            if (!producerPromise) {
                const p = client.createProducer();
                producerPromise = p.connect().then(() => p);
                // A failed connect is retried by the next caller.
                producerPromise.catch(() => { producerPromise = null; });
            }
            return producerPromise;
        };

        async function disconnect(next: ConnectionState): Promise<void> {
            if (retryTimer) clearTimeout(retryTimer);
            retryTimer = null;
            if (probeTimer) clearTimeout(probeTimer);
            probeTimer = null;
            outageSince = null;
            attempt = 0;
            reach.clear();
            // Users with writes still queued finish them on the producer before it goes.
            const drains = [...users.values()].map(({ hooks }) => hooks.drain?.().catch(() => undefined));
            if (drains.some(Boolean)) await within(Promise.all(drains), CLOSE_BUDGET_MS - 1000).catch(() => undefined);
            const producer = producerPromise;
            producerPromise = null;
            const client = node.client;
            if (node.state !== 'invalid') setState(next);
            await Promise.all([
                producer ? producer.then((p) => p.disconnect()).catch(() => undefined) : undefined,
                client ? client.disconnect().catch(() => undefined) : undefined,
            ]);
        }

        node.on('close', (_removed: boolean, done: () => void) => {
            closed = true;
            if (running.get(node.id) === node) running.delete(node.id);
            unwatch?.();
            waiters.splice(0).forEach((w) => w.reject(new Error(t('status.closed'))));
            within(disconnect('closed'), CLOSE_BUDGET_MS).then(() => done(), () => done());
        });
    }

    RED.nodes.registerType('kafka-config', KafkaConfig as unknown as Parameters<NodeAPI['nodes']['registerType']>[1], {
        credentials: {
            username: { type: 'text' },
            password: { type: 'password' },
        },
    });
};
