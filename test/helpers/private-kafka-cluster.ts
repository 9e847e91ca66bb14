/**
 * A private three-node KRaft cluster (each node broker and controller, small heaps) for the fault
 * tests of a replicated deployment: topics at replication factor 3 with min.insync.replicas=2.
 * Each node's settings come from scripts/services/kafka/cluster-node.properties.template, the file
 * the three-broker profile of scripts/services.sh fills too (a dead peer is noticed after 3 s, so a
 * killed leader's partitions move within a produce deadline).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { projectRoot } from '../../src/paths.js'
import {
  formatKafkaStorage,
  freePort,
  kafkaNode,
  newClusterId,
  privateDir,
  type PrivateServer,
} from './private-servers.js'

const template = join(projectRoot, 'scripts/services/kafka/cluster-node.properties.template')

/** One node's server.properties: the shared template with this node's values. */
export function clusterNodeProps(v: {
  nodeId: number
  port: number
  controllerPort: number
  voters: string
  dataDir: string
  replicas: number
}): string {
  const values: Record<string, string> = {
    NODE_ID: String(v.nodeId),
    PORT: String(v.port),
    CONTROLLER_PORT: String(v.controllerPort),
    VOTERS: v.voters,
    DATA_DIR: v.dataDir,
    REPLICAS: String(v.replicas),
    MIN_ISR: String(Math.min(2, v.replicas)),
  }
  return readFileSync(template, 'utf8').replace(/@([A-Z_]+)@/g, (m, k: string) => values[k] ?? m)
}

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
    const propsFile = join(dir, 'server.properties')
    const props = { nodeId: s.id, port: s.port, controllerPort: s.controller, voters, replicas: size }
    writeFileSync(propsFile, clusterNodeProps({ ...props, dataDir: join(dir, 'data') }))
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
