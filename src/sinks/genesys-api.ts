import { BridgeError } from '../errors.js'
import type { TenantDirectory } from './cache/directory.js'
import type { GenesysCredentials } from './db/tenants.js'
import { createGenesysClient, type GenesysApiClient, type GenesysPostResult } from './genesys-client.js'

export interface GenesysEndpoints {
  /** Overrides for every region (an operator's proxy, or the fake). */
  apiUrl: string | undefined
  loginUrl: string | undefined
  connections: number
  timeoutMs: number
}

export interface GenesysApi {
  /** The client of the tenant's region (one undici pool per origin, shared by tenants of a region). */
  clientFor: (region: string) => GenesysApiClient
  /** A valid OAuth token for the tenant: process memory, then Redis, then client credentials. */
  tokenFor: (
    tenantId: string,
  ) => Promise<{ accessToken: string; client: GenesysApiClient; integrationId: string; region: string }>
  /** After a 401: the cached token is dropped so the next call fetches a new one. */
  forgetToken: (tenantId: string) => Promise<void>
  /** Posts to the tenant's integration with its token; a 401 refreshes the token and tries once more. */
  post: (tenantId: string, kind: 'message' | 'receipt' | 'event', body: unknown) => Promise<GenesysPostResult>
  close: () => Promise<void>
}

/** https://api.<domain> and https://login.<domain> per the SDK region map; region is the domain. */
export function regionUrls(region: string): { apiUrl: string; loginUrl: string } {
  return { apiUrl: `https://api.${region}`, loginUrl: `https://login.${region}` }
}

export function createGenesysApi(endpoints: GenesysEndpoints, directory: TenantDirectory): GenesysApi {
  const clients = new Map<string, GenesysApiClient>()
  const inflight = new Map<string, Promise<{ accessToken: string; expiresAt: number }>>()

  const clientFor = (region: string): GenesysApiClient => {
    const urls = regionUrls(region)
    const apiUrl = endpoints.apiUrl ?? urls.apiUrl
    const loginUrl = endpoints.loginUrl ?? urls.loginUrl
    const id = `${apiUrl} ${loginUrl}`
    let c = clients.get(id)
    if (c === undefined) {
      c = createGenesysClient({
        apiUrl,
        loginUrl,
        connections: endpoints.connections,
        headersTimeoutMs: endpoints.timeoutMs,
        bodyTimeoutMs: endpoints.timeoutMs,
      })
      clients.set(id, c)
    }
    return c
  }

  const fetchToken = async (tenantId: string, creds: GenesysCredentials, client: GenesysApiClient) => {
    const token = await client.getToken({ clientId: creds.clientId, clientSecret: creds.clientSecret })
    await directory.setGenesysToken(tenantId, token.accessToken, new Date(token.expiresAt))
    return token
  }

  const api: GenesysApi = {
    clientFor,
    async tokenFor(tenantId) {
      const creds = await directory.genesysCredentials(tenantId)
      if (creds === undefined)
        throw new BridgeError('GWB_TENANT_UNKNOWN', `tenant ${tenantId} has no Genesys credentials`)
      const tenant = await directory.byIntegrationId(creds.integrationId)
      const region = tenant?.genesysRegion ?? 'mypurecloud.com'
      const client = clientFor(region)
      const integrationId = creds.integrationId
      const cached = await directory.genesysToken(tenantId)
      if (cached !== undefined) return { accessToken: cached.accessToken, client, integrationId, region }
      // Concurrent records of one tenant share one token request instead of stampeding the login host.
      let p = inflight.get(tenantId)
      if (p === undefined) {
        p = fetchToken(tenantId, creds, client).finally(() => inflight.delete(tenantId))
        inflight.set(tenantId, p)
      }
      const token = await p
      return { accessToken: token.accessToken, client, integrationId, region }
    },
    async forgetToken(tenantId) {
      await directory.setGenesysToken(tenantId, '', new Date(0))
    },
    async post(tenantId, kind, body) {
      for (let attempt = 1; ; attempt++) {
        const { accessToken, client, integrationId } = await api.tokenFor(tenantId)
        const req = { integrationId, accessToken, body }
        const res =
          kind === 'message'
            ? await client.postInboundMessage(req)
            : kind === 'receipt'
              ? await client.postReceipt(req)
              : await client.postEvent(req)
        if (res.ok || res.status !== 401 || attempt > 1) return res
        await api.forgetToken(tenantId)
      }
    },
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close()))
    },
  }
  return api
}
