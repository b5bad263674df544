// The admin HTTP endpoint behind the editor's Kafka sidebar (nodes/kafka-sidebar.html):
// GET <httpAdminRoot>/kafka-connector/sidebar[?id=<config node id>] describes each
// running kafka-config node's cluster, topics and consumer groups. Guarded by
// Node-RED's permissions (kafka-config.read): with adminAuth set, an anonymous
// request is refused. Nothing of a node's settings goes out but its name and
// broker addresses: never a credential or a secret.
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import type { KafkaConfigNode } from './kafka-config-api';
import { sidebarConfig } from './lib/cluster-overview';
import type { SidebarConfig } from './lib/cluster-overview';
import { describeError } from './lib/errors';

/** A cluster that does not answer within this long is shown with the error. */
const DESCRIBE_BUDGET_MS = 8000;

async function describe(node: KafkaConfigNode): Promise<SidebarConfig> {
    const consumers = node.consumers();
    const base = { id: node.id, name: node.name || '', brokers: node.settings.connection.brokers.join(', '), state: node.state };
    // Only a connected node is asked: the sidebar never opens connections of its own.
    if (!node.client || node.state !== 'connected') return sidebarConfig(base, null, consumers, null);
    try {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${DESCRIBE_BUDGET_MS} ms`)), DESCRIBE_BUDGET_MS);
        });
        const ov = await Promise.race([node.client.overview([...new Set(consumers.map((c) => c.group))]), late]).finally(() => clearTimeout(timer));
        return sidebarConfig(base, ov, consumers, null);
    } catch (err) {
        return sidebarConfig(base, null, consumers, describeError(err, node.advice));
    }
}

export function registerAdmin(RED: NodeAPI, running: Map<string, KafkaConfigNode>): void {
    RED.httpAdmin.get('/kafka-connector/sidebar', RED.auth.needsPermission('kafka-config.read'), (req: Request, res: Response) => {
        const id = typeof req.query.id === 'string' ? req.query.id : null;
        const nodes = [...running.values()].filter((n) => id === null || n.id === id);
        Promise.all(nodes.map(describe)).then((configs) => {
            res.json({ configs });
        }, (err: unknown) => {
            res.status(500).json({ error: String((err as Error)?.message ?? err) });
        });
    });
}
