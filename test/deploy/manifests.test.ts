import t from 'tap'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { loadConfig } from '../../src/config/config.js'
import { projectRoot } from '../../src/paths.js'

/**
 * deploy/: both overlays render with `kubectl kustomize`, every object validates against the
 * Kubernetes JSON schemas (kubernetes-models; KEDA and the Prometheus operator from their
 * @kubernetes-models packages), and what a platform team checks holds: probes on the admin port,
 * no secret inline, non-root read-only pods with requests, a ScaledObject per consumer role whose
 * ceiling is the partition count, the setup Job, and running pods without start-time setup.
 */
type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown }
type Container = {
  name: string
  ports?: { name?: string; containerPort: number }[]
  env?: { name: string; value?: string; valueFrom?: unknown }[]
  livenessProbe?: { httpGet?: { port: string | number } }
  readinessProbe?: { httpGet?: { port: string | number } }
  resources?: { requests?: { cpu?: string; memory?: string } }
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean }
}
type PodSpec = { containers: Container[]; securityContext?: { runAsNonRoot?: boolean } }

const ADMIN_PORT = 9464
const consumerRoles = ['outbound', 'inbound', 'status', 'archive']

function render(overlay: string): Obj[] {
  const text = execFileSync('kubectl', ['kustomize', join(projectRoot, 'deploy/overlays', overlay)], {
    encoding: 'utf8',
  })
  return parseAllDocuments(text).map((d) => d.toJS() as Obj)
}

/** The model class of an object: core and built-in groups from kubernetes-models, CRDs from theirs. */
async function modelOf(o: Obj): Promise<new (data: unknown) => { validate(): void }> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion]
  const pkg =
    group === 'keda.sh'
      ? '@kubernetes-models/keda'
      : group === 'monitoring.coreos.com'
        ? '@kubernetes-models/prometheus-operator'
        : 'kubernetes-models'
  const mod = (await import(`${pkg}/${group === '' ? '' : `${group}/`}${version}/${o.kind}`)) as Record<string, unknown>
  const model = mod[o.kind]
  if (typeof model !== 'function') throw new Error(`no schema for ${o.apiVersion} ${o.kind}`)
  return model as new (data: unknown) => { validate(): void }
}

const podSpec = (o: Obj): PodSpec | undefined =>
  (o as { spec?: { template?: { spec?: PodSpec } } }).spec?.template?.spec

const secretLike = /KEY|SECRET|TOKEN|PASSWORD|DATABASE_URL|REDIS_URL/

for (const overlay of ['production', 'sandbox']) {
  t.test(`the ${overlay} overlay renders, validates and keeps the rules`, async (t) => {
    const objects = render(overlay)
    t.ok(objects.length > 10, 'it renders')
    for (const o of objects) {
      const Model = await modelOf(o)
      t.doesNotThrow(() => new Model(o).validate(), `${o.kind}/${o.metadata.name} matches its schema`)
    }
    const of = (kind: string): Obj[] => objects.filter((o) => o.kind === kind)

    t.same(of('Secret'), [], 'no Secret is rendered: secrets are referenced, never embedded')
    const config = of('ConfigMap').find((c) => c.metadata.name === 'gwb-config') as Obj & {
      data: Record<string, string>
    }
    for (const key of Object.keys(config.data)) t.notMatch(key, secretLike, `gwb-config holds no secret (${key})`)
    const partitions = Number(config.data['TOPIC_PARTITIONS'])
    t.ok(partitions >= 1, 'TOPIC_PARTITIONS is set')
    t.equal(config.data['ADMIN_PORT'], String(ADMIN_PORT))
    if (overlay === 'production') t.equal(config.data['START_SETUP'], 'none', 'running pods set up nothing')

    const workloads = [...of('Deployment'), ...of('Job')]
    for (const w of workloads) {
      const spec = podSpec(w)
      t.equal(spec?.securityContext?.runAsNonRoot, true, `${w.metadata.name} runs as non-root`)
      for (const c of spec?.containers ?? []) {
        const name = `${w.metadata.name}/${c.name}`
        t.equal(c.securityContext?.readOnlyRootFilesystem, true, `${name} has a read-only root filesystem`)
        t.equal(c.securityContext?.allowPrivilegeEscalation, false, `${name} cannot escalate`)
        t.ok(c.resources?.requests?.cpu && c.resources.requests.memory, `${name} requests CPU and memory`)
        for (const e of c.env ?? []) {
          if (secretLike.test(e.name)) t.equal(e.value, undefined, `${name} ${e.name} comes from a Secret`)
        }
      }
    }

    const bridges = of('Deployment').filter((d) => d.metadata.name !== 'gwb-fakes')
    t.same(bridges.map((d) => d.metadata.name).sort(), ['ingest', ...consumerRoles].map((r) => `gwb-${r}`).sort())
    for (const d of bridges) {
      const c = podSpec(d)?.containers[0] as Container
      const admin = c.ports?.find((p) => p.containerPort === ADMIN_PORT)
      t.ok(admin?.name, `${d.metadata.name} declares the admin port`)
      for (const probe of [c.livenessProbe, c.readinessProbe]) {
        const port = probe?.httpGet?.port
        t.ok(port === ADMIN_PORT || port === admin?.name, `${d.metadata.name} probes the admin port (${String(port)})`)
      }
    }
    t.ok(of('PodDisruptionBudget').length >= bridges.length, 'a PodDisruptionBudget per role')
    t.ok(
      of('Service').some((s) => s.metadata.name === 'gwb-ingest'),
      'the ingest Service',
    )
    t.equal(of('ServiceMonitor').length, 1, 'a ServiceMonitor')
    const job = of('Job').find((j) => j.metadata.name === 'gwb-setup')
    t.match(
      JSON.stringify(podSpec(job as Obj)?.containers[0]),
      /"setup"|main\.js setup/,
      'the setup Job runs gwb setup',
    )

    // The ConfigMap is a configuration the bridge accepts (secrets stand in), and KEDA watches the
    // groups and topics that configuration makes the roles use.
    const bridgeConfig = loadConfig({
      ...config.data,
      S3_ACCESS_KEY: 'x',
      S3_SECRET_KEY: 'x',
      CREDENTIALS_KEY: Buffer.alloc(32).toString('base64'),
    })
    const { groupPrefix, topics } = bridgeConfig.kafka
    const watched: Record<string, [string, string][]> = {
      outbound: [[`${groupPrefix}outbound`, topics.genesysOutbound]],
      inbound: [[`${groupPrefix}inbound`, topics.whatsappInbound]],
      status: [[`${groupPrefix}status`, topics.whatsappStatus]],
      archive: [
        [`${groupPrefix}archive-outbound`, topics.genesysOutbound],
        [`${groupPrefix}archive-inbound`, topics.whatsappRaw],
      ],
    }
    const scaled = of('ScaledObject') as (Obj & {
      spec: {
        scaleTargetRef: { name: string }
        maxReplicaCount: number
        triggers: { type: string; metadata: { consumerGroup?: string; topic?: string } }[]
      }
    })[]
    for (const role of consumerRoles) {
      const so = scaled.find((s) => s.spec.scaleTargetRef.name === `gwb-${role}`)
      t.ok(so, `a ScaledObject for ${role}`)
      t.ok(
        so !== undefined && so.spec.maxReplicaCount <= partitions,
        `${role}: max replicas ≤ ${partitions} partitions`,
      )
      t.ok(
        so?.spec.triggers.every((tr) => tr.type === 'kafka'),
        `${role} scales on consumer-group lag`,
      )
      t.same(
        so?.spec.triggers.map((tr) => [tr.metadata.consumerGroup, tr.metadata.topic]),
        watched[role],
        `${role}: the group and topic the role consumes`,
      )
    }
  })
}
