// kafka-schema-registry: one schema registry connection (URL, basic auth, TLS
// through the core tls-config node), a config node of its own so that several
// Kafka configurations, consumers and publishers share one client and its schema
// cache. The editor lists the registry's subjects through an admin endpoint.
import type { NodeAPI, Node, NodeDef } from 'node-red';
import type { ConnectionOptions } from 'tls';
import { RegistryClient } from './lib/registry-client';
import { registryUrlProblem } from './lib/registry-fields';
import type { KafkaRegistryNode } from './kafka-schema-registry-api';

interface RegistryDef extends NodeDef {
    url?: string;
    tls?: string;
}

interface RegistryCredentials {
    username?: string;
    password?: string;
}

export = function (RED: NodeAPI): void {
    function KafkaSchemaRegistry(this: KafkaRegistryNode & Node<RegistryCredentials>, def: RegistryDef): void {
        RED.nodes.createNode(this, def);
        // eslint-disable-next-line @typescript-eslint/no-this-alias
        const node = this;
        const t = (key: string, params?: Record<string, string | number>): string => RED._(`kafka-schema-registry.${key}`, params);
        const mutable = node as unknown as { client: RegistryClient | null; problem: string };
        mutable.client = null;
        mutable.problem = '';
        node.t = t;

        const url = String(def.url ?? '').trim();
        const urlProblem = registryUrlProblem(url);
        let tls: ConnectionOptions | null = null;
        if (def.tls) {
            const tlsNode = RED.nodes.getNode(def.tls) as (Node & { valid?: boolean; addTLSOptions?: (o: object) => ConnectionOptions }) | null;
            if (tlsNode && typeof tlsNode.addTLSOptions === 'function' && tlsNode.valid !== false) tls = tlsNode.addTLSOptions({});
            else mutable.problem = t('errors.tls-unusable');
        }
        if (urlProblem) mutable.problem = t(`errors.${urlProblem}`, { url });
        if (mutable.problem) {
            node.error(t('errors.invalid', { problem: mutable.problem }));
        } else {
            const creds = node.credentials ?? {};
            mutable.client = new RegistryClient({ url, username: creds.username || undefined, password: creds.password, tls });
        }

        node.on('close', (done: () => void) => {
            mutable.client?.close();
            mutable.client = null;
            done();
        });
    }

    RED.nodes.registerType('kafka-schema-registry', KafkaSchemaRegistry as unknown as Parameters<NodeAPI['nodes']['registerType']>[1], {
        credentials: {
            username: { type: 'text' },
            password: { type: 'password' },
        },
    });

    // The subjects of a deployed registry node (with its credentials and TLS), or of
    // a URL typed into a registry node not deployed yet (without credentials).
    RED.httpAdmin.get('/kafka-schema-registry/subjects', RED.auth.needsPermission('kafka-schema-registry.read'), (req, res) => {
        const id = typeof req.query.id === 'string' ? req.query.id : '';
        const deployed = id ? RED.nodes.getNode(id) as KafkaRegistryNode | null : null;
        let client = deployed?.client ?? null;
        let temporary: RegistryClient | null = null;
        if (!client) {
            const url = typeof req.query.url === 'string' ? req.query.url.trim() : '';
            if (registryUrlProblem(url)) {
                res.status(400).json({ error: RED._('kafka-schema-registry.errors.url-invalid', { url }) });
                return;
            }
            client = temporary = new RegistryClient({ url, timeout: 5000 });
        }
        client.subjects().then((subjects) => {
            res.json({ subjects });
        }, (err: unknown) => {
            res.status(502).json({ error: String((err as Error).message ?? err) });
        }).finally(() => temporary?.close());
    });
};
