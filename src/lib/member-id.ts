// The client id each group member of a kafka-consumer node joins with: it names
// the node and the Node-RED instance, so a group description (the editor's Kafka
// sidebar, kafka-consumer-groups --describe) tells which node owns a partition.

export interface MemberIdentity {
    /** the kafka-config node's client id */
    base: string;
    nodeId: string;
    /** the member's place among the node's consumers */
    index: number;
    host: string;
    pid: number;
}

/** `<base>|<node id>#<index>|<host>:<pid>`; characters Kafka's quota names dislike are left out. */
export function memberClientId(m: MemberIdentity): string {
    const clean = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
    return `${clean(m.base)}|${clean(m.nodeId)}#${m.index}|${clean(m.host)}:${m.pid}`;
}

/** The node and instance a member's client id names, or null for a client that is not one of these nodes. */
export function parseMemberClientId(clientId: string): Omit<MemberIdentity, 'base'> & { base: string } | null {
    const m = /^(.*)\|([^|#]+)#(\d+)\|([^|:]+):(\d+)$/.exec(clientId);
    if (!m) return null;
    return { base: m[1], nodeId: m[2], index: Number(m[3]), host: m[4], pid: Number(m[5]) };
}
