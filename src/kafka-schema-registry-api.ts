// What a kafka-schema-registry config node offers the nodes that use it (types only).
import type { Node } from 'node-red';
import type { RegistryClient } from './lib/registry-client';

export interface KafkaRegistryNode extends Node {
    /** null when the configuration is invalid (see problem) */
    readonly client: RegistryClient | null;
    /** translated sentence; empty when valid */
    readonly problem: string;
    t(key: string, params?: Record<string, string | number>): string;
}
