// The cluster overview (client seam, ./types ClusterOverview) read through a
// kafkajs admin: brokers and their versions, topics with leaders and offsets,
// consumer groups with their members' assignments and committed offsets.
import { AssignerProtocol } from 'kafkajs';
import type { Admin } from 'kafkajs';
import type { ClusterOverview } from './types';

/** At most this many topics are described besides the groups' own (one offsets request each). */
const MAX_TOPICS = 50;

export async function readOverview(
    admin: Admin,
    groupIds: string[],
    versionOf: (admin: Admin, nodeId: number) => Promise<string | null>,
): Promise<ClusterOverview> {
    const cluster = await admin.describeCluster();
    const brokers = await Promise.all(cluster.brokers.map(async (b) => ({
        nodeId: b.nodeId, host: b.host, port: b.port, version: await versionOf(admin, b.nodeId),
    })));
    const described = groupIds.length ? (await admin.describeGroups(groupIds)).groups : [];
    const groups: ClusterOverview['groups'] = [];
    const groupTopics = new Set<string>();
    for (const g of described) {
        const members = g.members.map((m) => {
            const decoded = m.memberAssignment && m.memberAssignment.length ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
            const a = (decoded?.assignment ?? {}) as Record<string, number[]>;
            const assignment = Object.keys(a).map((topic) => ({ topic, partitions: a[topic].slice().sort((x, y) => x - y) }));
            assignment.forEach((x) => groupTopics.add(x.topic));
            return { memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost, assignment };
        });
        const committed = await admin.fetchOffsets({ groupId: g.groupId });
        const offsets = committed.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset })));
        offsets.forEach((o) => groupTopics.add(o.topic));
        groups.push({ groupId: g.groupId, state: g.state, members, offsets });
    }
    const all = (await admin.listTopics()).filter((t) => !t.startsWith('__')).sort();
    const others = all.filter((t) => !groupTopics.has(t));
    const names = [...[...groupTopics].filter((t) => all.includes(t)).sort(), ...others.slice(0, MAX_TOPICS)];
    const topics: ClusterOverview['topics'] = [];
    if (names.length) {
        const md = await admin.fetchTopicMetadata({ topics: names });
        for (const t of md.topics) {
            const offsets = await admin.fetchTopicOffsets(t.name);
            topics.push({
                name: t.name,
                partitions: t.partitions.map((p) => {
                    const o = offsets.find((x) => x.partition === p.partitionId);
                    return { partition: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr, low: o?.low ?? '0', high: o?.high ?? '0' };
                }).sort((x, y) => x.partition - y.partition),
            });
        }
        topics.sort((x, y) => names.indexOf(x.name) - names.indexOf(y.name));
    }
    return {
        clusterId: cluster.clusterId, controller: cluster.controller, brokers, topics,
        moreTopics: Math.max(0, others.length - MAX_TOPICS), groups,
    };
}
