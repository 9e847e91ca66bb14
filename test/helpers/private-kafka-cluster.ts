/**
 * A private three-node KRaft cluster (each node broker and controller, small heaps) for the fault
 * tests of a replicated deployment: topics at replication factor 3 with min.insync.replicas=2.
 * Brokers notice a dead peer after 3 s (broker.session.timeout.ms), not the default 9 s, so a
 * killed leader's partitions move within a produce deadline.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import {
  formatKafkaStorage,
  freePort,
  kafkaCommonProps,
  kafkaNode,
  newClusterId,
  privateDir,
  type PrivateServer,
} from './private-servers.js'

export interface KafkaClusterNode extends PrivateServer {
  readonly nodeId: number
}

export interface PrivateKafkaCluster {
  readonly nodes: readonly KafkaClusterNode[]
  /** Every broker, for KAFKA_BROKERS. */
  readonly endpoint: string
  /** Partition → leader node id of a topic, as the cluster's metadata says now. */
  leaders: (topic: string) => Promise<Map<number, number>>
  start: () => Promise<void>
  close: () => Promise<void>
}

export async function privateKafkaCluster(size = 3, heapMb = 256): Promise<PrivateKafkaCluster> {
  const used = new Set<number>()
  const port = async (): Promise<number> => {
    let p = await freePort()
    while (used.has(p)) p = await freePort()
    used.add(p)
    return p
  }
  const specs = []
  for (let id = 1; id <= size; id++) specs.push({ id, port: await port(), controller: await port() })
  const voters = specs.map((s) => `${s.id}@127.0.0.1:${s.controller}`).join(',')
  const clusterId = newClusterId()
  const nodes: KafkaClusterNode[] = []
  for (const s of specs) {
    const dir = privateDir(`kafka-node${s.id}`)
    const listeners = `PLAINTEXT://127.0.0.1:${s.port},CONTROLLER://127.0.0.1:${s.controller}`
    const propsFile = join(dir, 'server.properties')
    writeFileSync(
      propsFile,
      [
        'process.roles=broker,controller',
        `node.id=${s.id}`,
        `controller.quorum.voters=${voters}`,
        'controller.listener.names=CONTROLLER',
        `listeners=${listeners}`,
        `advertised.listeners=${listeners}`,
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        'broker.session.timeout.ms=3000',
        'broker.heartbeat.interval.ms=500',
        'replica.lag.time.max.ms=5000',
        ...kafkaCommonProps(join(dir, 'data'), size),
        '',
      ].join('\n'),
    )
    // Static voters: formatted without --standalone, every node with the same cluster id.
    await formatKafkaStorage(dir, propsFile, clusterId, [])
    const node = kafkaNode({ name: `private Kafka node ${s.id}`, dir, port: s.port, propsFile, heapMb })
    nodes.push(Object.assign(node, { nodeId: s.id }))
  }
  const endpoint = nodes.map((n) => n.endpoint).join(',')
  return {
    nodes,
    endpoint,
    async leaders(topic) {
      const admin = new Kafka({
        brokers: endpoint.split(','),
        logLevel: logLevel.NOTHING,
        retry: { retries: 2 },
      }).admin()
      try {
        await admin.connect()
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
        return new Map((topics[0]?.partitions ?? []).map((p) => [p.partitionId, p.leader]))
      } finally {
        await admin.disconnect().catch(() => undefined)
      }
    },
    // The nodes wait for each other's quorum: started together, each is ready once a broker answers.
    start: async () => {
      await Promise.all(nodes.map((n) => n.start()))
    },
    close: async () => {
      await Promise.all(nodes.map((n) => n.close()))
    },
  }
}
