import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import { connect, createServer, type AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import { decodeMessage, type DecodeOptions, type LogEvent } from '../src/index.js'

/** A real ws server on 127.0.0.1 that decodes and keeps everything it receives. */
export interface TestServer {
  port: number
  url: string
  events: LogEvent[]
  messages: Array<{ data: Buffer, binary: boolean }>
  /** Upgrade requests seen: path and raw headers in order. */
  handshakes: Array<{ url: string, rawHeaders: string[], at: number }>
  sockets: Set<WebSocket>
  /** Called with each new connection, before any message (to make the server misbehave). */
  onConnection?: (socket: WebSocket) => void
  /** Stop accepting and drop every client at once (like a crash). */
  kill (): Promise<void>
  close (): Promise<void>
}

export async function startServer (options: DecodeOptions & { port?: number } = {}): Promise<TestServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: options.port ?? 0 })
  await once(wss, 'listening')
  const port = (wss.address() as AddressInfo).port
  const server: TestServer = {
    port,
    url: `ws://127.0.0.1:${port}/`,
    events: [],
    messages: [],
    handshakes: [],
    sockets: new Set(),
    async kill () {
      for (const socket of server.sockets) socket.terminate()
      await new Promise((resolve) => wss.close(resolve))
    },
    async close () {
      for (const socket of server.sockets) socket.close(1001)
      await new Promise((resolve) => wss.close(resolve))
    }
  }
  wss.on('connection', (socket, request) => {
    server.sockets.add(socket)
    server.onConnection?.(socket)
    server.handshakes.push({ url: request.url ?? '', rawHeaders: request.rawHeaders, at: Date.now() })
    socket.on('close', () => server.sockets.delete(socket))
    socket.on('message', (data: Buffer, binary) => {
      server.messages.push({ data, binary })
      server.events.push(...decodeMessage(data, options))
    })
  })
  return server
}

/** A port that was free a moment ago, for a server started later. */
export async function freePort (): Promise<number> {
  const probe = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/** Poll until `predicate` holds; throws with `what` after `timeout` ms. */
export async function waitFor (predicate: () => boolean, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** The sequence numbers (`seq`) that arrived, deduplicated, and how many were duplicates. */
export function sequence (events: LogEvent[]): { unique: number[], duplicates: number, ordered: boolean } {
  const seen = new Set<number>()
  let duplicates = 0
  let ordered = true
  let last = -1
  for (const { record } of events) {
    const seq = record.seq as number
    if (seen.has(seq)) {
      duplicates++
      continue
    }
    if (seq < last) ordered = false
    last = seq
    seen.add(seq)
  }
  return { unique: [...seen], duplicates, ordered }
}

export function range (n: number): number[] {
  return Array.from({ length: n }, (_, i) => i)
}

/** An HTTP CONNECT proxy on 127.0.0.1, as squid or tinyproxy would be; `credentials` as `user:password`. */
export async function connectProxy (credentials?: string): Promise<{ port: number, tunnels: string[], authorizations: Array<string | undefined>, refuse: number, close: () => void }> {
  const server = createHttpServer((_request, response) => response.writeHead(405).end())
  const state = { port: 0, tunnels: [] as string[], authorizations: [] as Array<string | undefined>, refuse: 0, close: () => { server.closeAllConnections(); server.close() } }
  server.on('connect', (request, client, head) => {
    client.on('error', () => {})
    const authorization = request.headers['proxy-authorization']
    state.authorizations.push(authorization)
    if (state.refuse !== 0) {
      client.end(`HTTP/1.1 ${state.refuse} Refused\r\nContent-Length: 0\r\n\r\n`)
      return
    }
    if (credentials !== undefined && authorization !== `Basic ${Buffer.from(credentials).toString('base64')}`) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="logs"\r\nContent-Length: 0\r\n\r\n')
      return
    }
    state.tunnels.push(request.url ?? '')
    const [host, port] = (request.url ?? '').split(/:(?=\d+$)/)
    const upstream = connect(Number(port), host.replace(/^\[|\]$/g, ''), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  state.port = (server.address() as AddressInfo).port
  return state
}

/** A small seeded PRNG (mulberry32), so a failure can be replayed from its seed. */
export function prng (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
