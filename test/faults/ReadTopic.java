import java.io.FileWriter;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * The fault suite's reference reader (test/faults/checker.js, readOutputJava): reads a topic from
 * the beginning up to its end offsets (the last stable offsets when read committed) with Kafka's
 * own Java client, and writes "partition TAB offset TAB value" a record.
 *
 *   java -cp '<kafka jars>/*' ReadTopic.java <bootstrap> <topic> <read_committed|read_uncommitted> <out file> <timeout ms>
 */
public class ReadTopic {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("isolation.level", args[2]);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("enable.auto.commit", "false");
        long deadline = System.currentTimeMillis() + Long.parseLong(args[4]);
        long n = 0;
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p); PrintWriter out = new PrintWriter(new FileWriter(args[3]))) {
            List<TopicPartition> tps = new ArrayList<>();
            c.partitionsFor(args[1]).forEach(i -> tps.add(new TopicPartition(args[1], i.partition())));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            for (;;) {
                boolean done = true;
                for (TopicPartition tp : tps) if (c.position(tp) < end.get(tp)) done = false;
                if (done) break;
                if (System.currentTimeMillis() > deadline) {
                    System.err.println("not at the end offsets " + end + " in time");
                    System.exit(2);
                }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    out.println(r.partition() + "\t" + r.offset() + "\t" + r.value());
                    n++;
                }
            }
        }
        System.out.println(n + " records");
    }
}
