// kafka-publish's "encode with the schema registry" step (SPEC decision 19): the
// message's payload (and, when asked, its key) is encoded in the Confluent wire
// format with the schema its subject names, before the record is read and queued
// as usual (lib/publish-input, lib/publisher). Encoding may wait for the registry;
// messages are encoded one after the other so that they are queued in the order
// they arrived. No Node-RED here.
import type { PublishFields } from './publish-input';
import { readTopic } from './publish-input';
import type { PublishRegistry } from './registry-fields';
import { choiceFor } from './registry-fields';
import type { RegistryClient, SchemaChoice } from './registry-client';
import { RegistryError, classify } from './registry-client';

/** The message as kafka-publish's readInput should see it: payload and key are wire-format bytes. */
export interface Encoded {
    msg: Record<string, unknown>;
    fields: PublishFields;
    /** schema ids used */
    schema: { value?: number; key?: number };
}

/** A failure of the encode step, with what the node needs to describe it. */
export class EncodeFailure extends Error {
    constructor(readonly error: RegistryError, readonly subject: string, readonly part: 'value' | 'key') {
        super(error.message);
        this.name = 'EncodeFailure';
    }

    /** The node's input was wrong (CORE:PARAM) rather than the registry (CORE:RUNTIME). */
    get param(): boolean {
        return !this.error.transient;
    }
}

export class RegistryEncoder {
    private tail: Promise<void> = Promise.resolve();

    constructor(private readonly client: Pick<RegistryClient, 'encode'>, private readonly f: PublishRegistry) {}

    /**
     * Encodes the message and calls `then` with the result or the failure, in the
     * order run() was called.
     */
    run(fields: PublishFields, msg: Record<string, unknown>, then: (err: EncodeFailure | null, out?: Encoded) => void): void {
        const work = this.encode(fields, msg);
        this.tail = this.tail.then(() => work.then((out) => then(null, out), (err: unknown) => then(toFailure(err))));
    }

    /** Waits for every message handed to run() so far. */
    idle(): Promise<void> {
        return this.tail;
    }

    private async encode(fields: PublishFields, msg: Record<string, unknown>): Promise<Encoded> {
        const topic = readTopic(fields, msg);
        // No topic: nothing to encode against; readInput reports the problem.
        if (typeof topic !== 'string') return { msg, fields, schema: {} };
        const out: Record<string, unknown> = { ...msg };
        const schema: Encoded['schema'] = {};
        if (msg.payload !== null && msg.payload !== undefined) {
            const done = await this.one(msg.payload, choiceFor(this.f, topic, 'value'), 'value');
            out.payload = done.bytes;
            schema.value = done.id;
        }
        let outFields = fields;
        if (this.f.encodeKey) {
            const key = typeof fields.key === 'string' && fields.key !== '' ? fields.key : msg.key;
            outFields = { ...fields, key: '' };
            if (key !== undefined && key !== null && key !== '') {
                const done = await this.one(key, choiceFor(this.f, topic, 'key'), 'key');
                out.key = done.bytes;
                schema.key = done.id;
            } else {
                out.key = null;
            }
        }
        return { msg: out, fields: outFields, schema };
    }

    private async one(value: unknown, choice: SchemaChoice, part: 'value' | 'key'): Promise<{ bytes: Buffer; id: number }> {
        try {
            return await this.client.encode(value, choice);
        } catch (err) {
            throw new EncodeFailure(classify(err, `subject ${choice.subject}`), choice.subject, part);
        }
    }
}

function toFailure(err: unknown): EncodeFailure {
    return err instanceof EncodeFailure ? err : new EncodeFailure(classify(err, ''), '', 'value');
}
