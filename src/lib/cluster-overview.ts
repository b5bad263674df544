// What the editor's Kafka sidebar shows for one kafka-config node, computed
// from the cluster's own answers (client seam ClusterOverview): per consumer
// group and partition the committed offset, the end offset, the lag and the
// member that owns it, as `kafka-consumer-groups --describe` reports them.
// Only plain figures and names: no setting, credential or secret of the node.
import { parseMemberClientId } from './member-id';

/** What the cluster says about itself, its topics and some consumer groups (the editor's Kafka sidebar). */
export interface ClusterOverview {
    clusterId: string;
    controller: number | null;
    brokers: { nodeId: number; host: string; port: number; version: string | null }[];
    topics: {
        name: string;
        partitions: { partition: number; leader: number; replicas: number[]; isr: number[]; low: string; high: string }[];
    }[];
    /** topics left out (only so many are described) */
    moreTopics: number;
    groups: {
        groupId: string;
        state: string;
        members: { memberId: string; clientId: string; clientHost: string; assignment: { topic: string; partitions: number[] }[] }[];
        /** committed offsets ('-1': none) */
        offsets: { topic: string; partition: number; offset: string }[];
    }[];
}

export interface GroupPartitionRow {
    topic: string;
    partition: number;
    /** null: nothing committed (kafka-consumer-groups shows "-") */
    committed: number | null;
    end: number;
    /** end - committed; null when nothing is committed */
    lag: number | null;
    owner: {
        clientId: string;
        clientHost: string;
        /** the kafka-consumer node and Node-RED instance named by the client id, when it is one of this package's */
        node: { id: string; index: number; host: string; pid: number } | null;
    } | null;
}

export interface SidebarGroup {
    groupId: string;
    state: string;
    /** kafka-consumer nodes of this config node using the group */
    nodes: string[];
    lag: number | null;
    partitions: GroupPartitionRow[];
}

export interface SidebarConfig {
    id: string;
    name: string;
    brokers: string;
    state: string;
    clusterId: string | null;
    controller: number | null;
    brokerList: { nodeId: number; host: string; port: number; version: string | null }[];
    topics: ClusterOverview['topics'];
    moreTopics: number;
    groups: SidebarGroup[];
    /** why the cluster could not be described, when it could not */
    error: string | null;
}

const asNumber = (s: string): number => Number(s);

/** Group rows from the overview: every partition of the group's topics that is committed or owned. */
export function groupRows(ov: ClusterOverview, groupId: string, consumers: { nodeId: string; group: string; topics: string[] }[]): SidebarGroup {
    const g = ov.groups.find((x) => x.groupId === groupId);
    const owners = new Map<string, GroupPartitionRow['owner']>();
    const wanted = new Set<string>();
    for (const m of g?.members ?? []) {
        for (const a of m.assignment) {
            for (const p of a.partitions) {
                const parsed = parseMemberClientId(m.clientId);
                owners.set(`${p}:${a.topic}`, {
                    clientId: m.clientId, clientHost: m.clientHost,
                    node: parsed ? { id: parsed.nodeId, index: parsed.index, host: parsed.host, pid: parsed.pid } : null,
                });
                wanted.add(`${p}:${a.topic}`);
            }
        }
    }
    const committed = new Map<string, string>();
    for (const o of g?.offsets ?? []) {
        committed.set(`${o.partition}:${o.topic}`, o.offset);
        if (o.offset !== '-1') wanted.add(`${o.partition}:${o.topic}`);
    }
    const mine = consumers.filter((c) => c.group === groupId);
    // The topics a node of this config subscribes: all their partitions, even before anything is committed.
    for (const c of mine) {
        for (const t of c.topics) {
            for (const p of ov.topics.find((x) => x.name === t)?.partitions ?? []) wanted.add(`${p.partition}:${t}`);
        }
    }
    const rows: GroupPartitionRow[] = [];
    for (const t of ov.topics) {
        for (const p of t.partitions) {
            const key = `${p.partition}:${t.name}`;
            if (!wanted.has(key)) continue;
            const c = committed.get(key);
            const at = c === undefined || c === '-1' ? null : asNumber(c);
            const end = asNumber(p.high);
            rows.push({ topic: t.name, partition: p.partition, committed: at, end, lag: at === null ? null : Math.max(0, end - at), owner: owners.get(key) ?? null });
        }
    }
    rows.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
    const known = rows.filter((r) => r.lag !== null);
    return {
        groupId,
        state: g?.state ?? 'Unknown',
        nodes: mine.map((c) => c.nodeId),
        lag: known.length ? known.reduce((n, r) => n + (r.lag ?? 0), 0) : null,
        partitions: rows,
    };
}

/** The sidebar's view of one config node. */
export function sidebarConfig(
    node: { id: string; name: string; brokers: string; state: string },
    ov: ClusterOverview | null,
    consumers: { nodeId: string; group: string; topics: string[] }[],
    error: string | null,
): SidebarConfig {
    const groupIds = [...new Set(consumers.map((c) => c.group))].sort();
    return {
        id: node.id,
        name: node.name,
        brokers: node.brokers,
        state: node.state,
        clusterId: ov ? ov.clusterId : null,
        controller: ov ? ov.controller : null,
        brokerList: ov ? ov.brokers : [],
        topics: ov ? ov.topics : [],
        moreTopics: ov ? ov.moreTopics : 0,
        groups: ov ? groupIds.map((g) => groupRows(ov, g, consumers)) : [],
        error,
    };
}
