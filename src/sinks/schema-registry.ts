import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry'
import avro from 'avsc'
import { request } from 'undici'
import type { RegistryAuth } from '../config/service-auth.js'
import { BridgeError, errorMessage } from '../errors.js'
import type { AvroType } from '../schemas/generate-types.js'
import type { RecordName, RecordTypes, TopicSpec } from '../schemas/catalog.js'

/**
 * Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary.
 * Schemas are registered once at start; encoding is then synchronous and allocation-light,
 * decoding resolves older writer schemas (fetched by id, cached) to the current reader schema.
 */
export interface TopicCodec {
  encode<N extends RecordName>(topic: string, value: RecordTypes[N]): Buffer
  decode<N extends RecordName>(topic: string, buf: Buffer): Promise<RecordTypes[N]>
  schemaId(topic: string): number
}

interface Registered {
  id: number
  type: avro.Type
}

const MAGIC = 0

/**
 * `register: false` is for processes without registry write rights: each schema must already be
 * registered under its subject (by `gwb setup`), and only its id is looked up.
 */
export async function registerSchemas(
  registryUrl: string,
  specs: readonly TopicSpec[],
  schemas: ReadonlyMap<RecordName, AvroType>,
  opts: { register?: boolean; auth?: RegistryAuth | undefined } = {},
): Promise<TopicCodec> {
  const auth = opts.auth
  const authorization = registryAuthorization(auth)
  const registry = new SchemaRegistry({
    host: registryUrl,
    ...(auth?.kind === 'basic' ? { auth: { username: auth.username, password: auth.password } } : {}),
    // The client has no bearer option: a middleware adds the header to each of its requests.
    ...(auth?.kind === 'bearer'
      ? {
          middlewares: [bearer(authorization ?? '')],
        }
      : {}),
  })
  const byTopic = new Map<string, Registered>()
  const writers = new Map<number, avro.Type>()
  for (const spec of specs) {
    const schema = schemas.get(spec.record)
    if (schema === undefined) throw new Error(`no schema file for record ${spec.record}`)
    const subject = `${spec.topic}-value`
    let id: number
    if (opts.register ?? true) {
      await setCompatibility(registryUrl, subject, authorization)
      id = await register(registry, subject, schema)
    } else {
      id = await lookUp(registry, subject, schema)
    }
    const type = avro.Type.forSchema(schema as avro.Schema)
    byTopic.set(spec.topic, { id, type })
    writers.set(id, type)
  }

  const reader = (topic: string): Registered => {
    const r = byTopic.get(topic)
    if (r === undefined) throw new Error(`topic ${topic} has no registered schema`)
    return r
  }
  type Resolver = ReturnType<avro.Type['createResolver']>
  const resolvers = new Map<string, Resolver>()

  async function writerType(id: number): Promise<avro.Type> {
    let t = writers.get(id)
    if (t === undefined) {
      const fetched = await registry.getSchema(id).catch((err: unknown) => {
        // Only the registry saying "no such id" makes the record unreadable; an unreachable
        // registry is an outage to wait out, not a reason to dead-letter valid records.
        // The client turns the registry's 404 (no such subject, or this schema not under it) into an
        // error of exactly this class and drops the status; any other answer keeps its status.
        const notRegistered =
          (err as { status?: number }).status === 404 || (err as Error).name === 'ConfluentSchemaRegistryError'
        if (notRegistered) {
          throw new BridgeError('GWB_DECODE', `schema id ${id} is unknown to the registry: ${errorMessage(err)}`)
        }
        throw new BridgeError('GWB_STORE_UNAVAILABLE', `schema registry unavailable: ${errorMessage(err)}`, {
          canRetry: true,
          cause: err,
        })
      })
      t = avro.Type.forSchema((fetched as unknown as { toJSON(): avro.Schema }).toJSON())
      writers.set(id, t)
    }
    return t
  }

  return {
    schemaId: (topic) => reader(topic).id,
    encode(topic, value) {
      const { id, type } = reader(topic)
      const body = type.toBuffer(value)
      const out = Buffer.allocUnsafe(5 + body.length)
      out.writeUInt8(MAGIC, 0)
      out.writeUInt32BE(id, 1)
      body.copy(out, 5)
      return out
    },
    async decode(topic, buf) {
      if (buf.length < 5 || buf.readUInt8(0) !== MAGIC) {
        throw new BridgeError('GWB_DECODE', `record on ${topic} is not in the Confluent wire format`)
      }
      const id = buf.readUInt32BE(1)
      const target = reader(topic)
      try {
        if (id === target.id) return target.type.fromBuffer(buf.subarray(5)) as never
        const key = `${topic}:${id}`
        let resolver = resolvers.get(key)
        if (resolver === undefined) {
          resolver = target.type.createResolver(await writerType(id))
          resolvers.set(key, resolver)
        }
        return target.type.fromBuffer(buf.subarray(5), resolver) as never
      } catch (err) {
        if (err instanceof BridgeError) throw err
        throw new BridgeError('GWB_DECODE', `record on ${topic} (schema ${id}) does not decode: ${errorMessage(err)}`)
      }
    },
  }
}

/** The client's own middleware type (mappersmith's, as the client sees it). */
type Middleware = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']>[number]

function bearer(authorization: string): Middleware {
  return () => ({ prepareRequest: async (next) => (await next()).enhance({ headers: { authorization } }) })
}

/** The Authorization header of the project's own registry calls: the same credentials as the client's. */
export function registryAuthorization(auth: RegistryAuth | undefined): string | undefined {
  if (auth === undefined) return undefined
  if (auth.kind === 'bearer') return `Bearer ${auth.token}`
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
}

async function setCompatibility(
  registryUrl: string,
  subject: string,
  authorization: string | undefined,
): Promise<void> {
  // Processes starting together race to create the subject's rule: Apicurio answers the loser
  // 409 (the rule exists now), and the same PUT then updates it.
  for (let attempt = 1; ; attempt++) {
    const res = await request(`${registryUrl}/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/vnd.schemaregistry.v1+json',
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: JSON.stringify({ compatibility: COMPATIBILITY.BACKWARD }),
    }).catch((err: unknown) => {
      throw new BridgeError(
        'GWB_SCHEMA_INCOMPATIBLE',
        `schema registry at ${registryUrl} unreachable: ${errorMessage(err)}`,
        { canRetry: true, cause: err },
      )
    })
    const text = await res.body.text()
    if (res.statusCode < 300) return
    if (res.statusCode === 409 && attempt < 3) continue
    throw new BridgeError(
      'GWB_SCHEMA_INCOMPATIBLE',
      `cannot set BACKWARD compatibility on ${subject}: ${res.statusCode} ${text}`,
    )
  }
}

async function register(registry: SchemaRegistry, subject: string, schema: AvroType): Promise<number> {
  try {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    )
    return id
  } catch (err) {
    const status = (err as { status?: number }).status
    const why =
      status === 409
        ? 'is not BACKWARD compatible with the version registered before; a reader of the new schema must be able to read old records (add fields with defaults, never remove or retype one)'
        : `could not be registered: ${errorMessage(err)}`
    throw new BridgeError('GWB_SCHEMA_INCOMPATIBLE', `schema for subject ${subject} ${why}`, { cause: err })
  }
}

async function lookUp(registry: SchemaRegistry, subject: string, schema: AvroType): Promise<number> {
  try {
    return await registry.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: JSON.stringify(schema) })
  } catch (err) {
    // The client turns the registry's 404 (no such subject, or this schema not under it) into an
    // error of exactly this class and drops the status; any other answer keeps its status.
    const notRegistered =
      (err as { status?: number }).status === 404 || (err as Error).name === 'ConfluentSchemaRegistryError'
    if (notRegistered) {
      throw new BridgeError(
        'GWB_SETUP_REQUIRED',
        `the schema of this build is not registered under subject ${subject}: run \`gwb setup\` first (or allow schema registration at start with START_SETUP)`,
        { cause: err },
      )
    }
    throw new BridgeError('GWB_STORE_UNAVAILABLE', `schema registry unavailable: ${errorMessage(err)}`, {
      canRetry: true,
      cause: err,
    })
  }
}
