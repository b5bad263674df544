// The one place the nodes obtain a Kafka client: swap the implementation here.
import { KafkajsClient } from './kafkajs';
import type { ClientInit, KafkaClient } from './types';

export function createClient(init: ClientInit): KafkaClient {
    return new KafkajsClient(init);
}

export type * from './types';
