// What a kafka-config node offers the nodes that use it (types only).
import type { Node } from 'node-red';
import type { KafkaClient, ClusterInfo } from './client';
import type { ProducerClient } from './lib/producer-client';
import type { KafkaSettings, Problem } from './lib/settings';
import type { ConnectionState, ShownStatus } from './lib/connection-state';
import type { AdviceText } from './lib/errors';

export interface Credentials {
    username?: string;
    password?: string;
}

export interface UserHooks {
    /** Replaces the default status fan-out for this user (e.g. to add its own figures). */
    onState?: (state: ConnectionState, detail: string) => void;
    /**
     * Called each time the connection comes back after an outage (retrying -> connected),
     * after onState: the moment to restart what gave up during the outage, at once.
     */
    onReconnected?: () => void;
    /** Awaited before the shared producer is disconnected: finish pending writes (kafka-publish). */
    drain?: () => Promise<void>;
    /** A kafka-consumer's group and subscribed topics, for the editor's Kafka sidebar. */
    consumer?: () => { group: string; topics: string[] };
}

export interface KafkaConfigNode extends Node<Credentials> {
    readonly settings: KafkaSettings;
    readonly problems: Problem[];
    /** null when the configuration is invalid */
    readonly client: KafkaClient | null;
    readonly state: ConnectionState;
    readonly clusterInfo: ClusterInfo | null;
    register(user: Node, hooks?: UserHooks): void;
    deregister(user: Node, removed: boolean): Promise<void>;
    /** Resolves once connected; rejects with the configuration problem when invalid. */
    whenConnected(): Promise<void>;
    /** The config node's one shared producer, connected on first use. */
    producer(): Promise<ProducerClient>;
    /** A translated sentence for a configuration problem. */
    describeProblem(p: Problem): string;
    /** "Invalid configuration: ..." with every problem, translated (empty when valid). */
    readonly invalidText: string;
    /** The node status for a connection state, translated, with an optional detail after it. */
    statusOf(state: ConnectionState, detail?: string): ShownStatus;
    /** Translates a key of this package's catalogs. */
    t(key: string, params?: object): string;
    /** The kafka-consumer nodes using this config node: their groups and topics. */
    consumers(): { nodeId: string; group: string; topics: string[] }[];
    /** What to check for a failure, in the user's language (for describeError / toMsgError). */
    advice: AdviceText;
}

