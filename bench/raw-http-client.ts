import { connect, type Socket } from 'node:net'

/**
 * BENCH ONLY. A minimal HTTP/1.1 keep-alive client on raw sockets for the open-loop load: one
 * prebuilt buffer written per request and a response parser that reads the status line and
 * Content-Length only. undici cost the load generator about twice the CPU per request (about 180
 * against 90 µs at 2,000 req/s, open loop, same server), and on the bench's two shared cores that
 * cost lands on the latency it measures. The bridge answers every request with a Content-Length;
 * a response without one is an error.
 */

export interface RawHttpClient {
  /** Resolves with the response's status; rejects on a closed connection or a timeout. */
  request: (bytes: Buffer) => Promise<number>
  close: () => void
}

interface Waiter {
  resolve: (status: number) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

interface Conn {
  socket: Socket
  buffered: Buffer
  waiter: Waiter | undefined
}

const headerEnd = Buffer.from('\r\n\r\n')

/** The status and the whole response's length once its head is in `buf`; undefined until then. */
function parseHead(buf: Buffer): { status: number; total: number } | undefined {
  const end = buf.indexOf(headerEnd)
  if (end < 0) return undefined
  const head = buf.toString('latin1', 0, end)
  const status = Number(head.slice(9, 12))
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(head)
  if (m === null || !(status >= 100)) throw new Error(`unexpected response head: ${head.slice(0, 80)}`)
  return { status, total: end + 4 + Number(m[1]) }
}

export function createRawHttpClient(o: { host: string; port: number; connections: number; timeoutMs: number }) {
  const conns = new Set<Conn>()
  const idle: Conn[] = []
  const queue: { bytes: Buffer; waiter: Waiter }[] = []
  let open = 0
  let closed = false

  const settle = (c: Conn, f: (w: Waiter) => void): void => {
    const w = c.waiter
    if (w === undefined) return
    c.waiter = undefined
    clearTimeout(w.timer)
    f(w)
  }
  const release = (c: Conn): void => {
    const next = queue.shift()
    if (next === undefined) idle.push(c)
    else send(c, next.bytes, next.waiter)
  }
  const send = (c: Conn, bytes: Buffer, w: Waiter): void => {
    c.waiter = w
    c.socket.write(bytes)
  }
  const onData = (c: Conn, chunk: Buffer): void => {
    c.buffered = c.buffered.length === 0 ? chunk : Buffer.concat([c.buffered, chunk])
    let head
    try {
      head = parseHead(c.buffered)
    } catch (err) {
      settle(c, (w) => w.reject(err as Error))
      c.socket.destroy()
      return
    }
    if (head === undefined || c.buffered.length < head.total) return
    c.buffered = c.buffered.subarray(head.total)
    settle(c, (w) => w.resolve(head.status))
    release(c)
  }
  const dial = (bytes: Buffer, w: Waiter): void => {
    open++
    const c: Conn = {
      socket: connect({ host: o.host, port: o.port, noDelay: true }),
      buffered: Buffer.alloc(0),
      waiter: w,
    }
    conns.add(c)
    c.socket.once('connect', () => c.socket.write(bytes))
    c.socket.on('data', (chunk: Buffer) => onData(c, chunk))
    c.socket.on('error', () => undefined)
    c.socket.on('close', () => {
      open--
      conns.delete(c)
      const i = idle.indexOf(c)
      if (i >= 0) idle.splice(i, 1)
      settle(c, (x) => x.reject(new Error('connection closed')))
      const next = queue.shift()
      if (next !== undefined && !closed) dial(next.bytes, next.waiter)
    })
  }

  return {
    request: (bytes: Buffer) =>
      new Promise<number>((resolve, reject) => {
        const w: Waiter = { resolve, reject, timer: setTimeout(() => onTimeout(w), o.timeoutMs) }
        const c = idle.pop()
        if (c !== undefined) send(c, bytes, w)
        else if (open < o.connections) dial(bytes, w)
        else queue.push({ bytes, waiter: w })
      }),
    close: () => {
      closed = true
      for (const c of conns) c.socket.destroy()
    },
  } satisfies RawHttpClient

  function onTimeout(w: Waiter): void {
    const q = queue.findIndex((x) => x.waiter === w)
    if (q >= 0) queue.splice(q, 1)
    // A connection whose answer is overdue cannot be reused: its late answer would be taken for the next.
    for (const c of conns) {
      if (c.waiter !== w) continue
      c.waiter = undefined
      c.socket.destroy()
    }
    w.reject(Object.assign(new Error('timeout'), { code: 'TIMEOUT' }))
  }
}
