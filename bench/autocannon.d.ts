/** The part of autocannon@8's API the bench uses (the package ships no types). */
declare module 'autocannon' {
  export interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    p50: number
    p90: number
    p97_5: number
    p99: number
    p99_9?: number
    [k: string]: number | undefined
  }
  export interface AutocannonRequest {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string | Buffer
    setupRequest?: (req: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest | undefined
    onResponse?: (
      status: number,
      body: string,
      context: Record<string, unknown>,
      headers: Record<string, string>,
    ) => void
  }
  export interface Client {
    setRequests(requests: AutocannonRequest[]): void
  }
  export interface Options {
    url: string
    connections?: number
    duration?: number
    overallRate?: number
    pipelining?: number
    timeout?: number
    method?: string
    headers?: Record<string, string>
    ignoreCoordinatedOmission?: boolean
    requests?: AutocannonRequest[]
    setupClient?: (client: Client) => void
  }
  export interface Result {
    latency: Histogram
    requests: Histogram
    throughput: Histogram
    errors: number
    timeouts: number
    non2xx: number
    mismatches: number
    '2xx': number
    duration: number
    start: Date
    finish: Date
  }
  function autocannon(opts: Options): Promise<Result> & { stop?: () => void }
  export default autocannon
}
