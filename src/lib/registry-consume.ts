// kafka-consumer's "decoded with the schema registry" as the node uses it: finds
// the registry connection, runs the ordered decoder (lib/registry-decoder) between
// the delivery engine and the flow, and says what to do with a record that cannot
// be decoded. No Node-RED here.
//
// Failure path, by ack mode:
// - after flow: an undecodable record is failed through the engine (DeliveryEngine.fail),
//   exactly as if the flow had failed it: retried after the retry backoff, then, with
//   max attempts, skipped or sent to the dead-letter topic with the cause in its headers.
// - immediately: the engine counts a record as done when it is handed out, so there is
//   nothing to retry; the record is reported (node.error, so Catch nodes fire, with the
//   raw bytes as payload) and, when a dead-letter topic is set, written there.
// A registry that does not answer, or refuses the node's credentials, is neither: the
// partition waits and retries, the node reports one CORE:RUNTIME failure and recovers by
// itself (in immediate mode the node also pauses fetching meanwhile: there, nothing else
// bounds what waits for the registry).
import type { RecordIn } from './consumer-output';
import { OrderedDecoder, decodeRecord } from './registry-decoder';
import type { DecodedRecord } from './registry-decoder';
import type { RegistryClient, RegistryError } from './registry-client';

export interface ConsumeRegistryHost<R extends RecordIn> {
    deliver(record: R, decoded: DecodedRecord): void;
    reject(record: R, description: string): void;
    /** the registry does not answer (a translated sentence) */
    down(description: string): void;
    up(): void;
}

type Translate = (key: string, params?: Record<string, string | number>) => string;

/** Finds the registry node; a translated problem when it is missing or unusable. */
export function registryClientFor(getNode: (id: string) => unknown, id: string, t: Translate): { client: RegistryClient | null; problem: string } {
    const node = getNode(id) as { client?: RegistryClient | null; problem?: string } | null;
    if (!node) return { client: null, problem: t('errors.registry-missing') };
    if (!node.client) return { client: null, problem: t('errors.registry-invalid', { problem: node.problem ?? '' }) };
    return { client: node.client, problem: '' };
}

/** The failure sentence of a record that cannot be decoded: where it is and why. */
export function undecodableText(r: RecordIn, e: RegistryError, t: Translate): string {
    return t('errors.undecodable', { topic: r.topic, partition: r.partition, offset: r.offset, error: `${e.problem}: ${e.message}` });
}

export function registryDecoder<R extends RecordIn>(
    client: RegistryClient, withKey: boolean, retryBackoff: number, t: Translate, host: ConsumeRegistryHost<R>,
): OrderedDecoder<R> {
    return new OrderedDecoder<R>({
        decode: (r) => decodeRecord(client, r, withKey),
        deliver: (r, d) => host.deliver(r, d),
        reject: (r, e) => host.reject(r, undecodableText(r, e, t)),
        trouble: (e) => host.down(t(e.problem === 'denied' ? 'errors.registry-denied' : 'errors.registry-down', { url: client.url, error: e.message })),
        recovered: () => host.up(),
    }, retryBackoff);
}
