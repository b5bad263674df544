// The editor's Kafka sidebar (nodes/kafka-sidebar.html) is a Node-RED plugin of
// this package. Its data come from kafka-config's admin endpoint
// (./kafka-config-admin.ts); the runtime side only declares the plugin.
import type { NodeAPI } from 'node-red';

export = function (RED: NodeAPI): void {
    (RED as unknown as { plugins: { registerPlugin(id: string, def: object): void } }).plugins.registerPlugin('kafka-sidebar', {
        type: 'kafka-connector-sidebar',
    });
};
