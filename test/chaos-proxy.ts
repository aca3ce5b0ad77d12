import { once } from 'node:events'
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 that misbehaves on request, between our client and a
 * real ws server: pass-through, refuse (accept then reset), reset or FIN every
 * connection, black-hole (keep the connection, forward nothing), delay every
 * chunk, or close a connection that stayed idle.
 */
export type ProxyMode = 'pass' | 'refuse' | 'blackhole'

interface Pipe { client: Socket, upstream: Socket, blackholed: boolean, idleTimer?: NodeJS.Timeout, backlog: Buffer[] }

export class ChaosProxy {
  port = 0
  /** What new connections get. */
  mode: ProxyMode = 'pass'
  /** Milliseconds each chunk is held before it is forwarded. */
  delay = 0
  /** Close (FIN) a connection after this many ms without data either way; 0 for never. */
  closeAfterIdle = 0
  /** Bytes per second forwarded from client to server (a server that reads slowly); 0 for no limit. */
  throttle = 0
  /** Connections accepted so far. */
  accepted = 0
  readonly #pipes = new Set<Pipe>()
  readonly #server: Server
  readonly #target: number

  readonly #drip: NodeJS.Timeout

  constructor (targetPort: number) {
    this.#target = targetPort
    this.#server = createServer((client) => this.#accept(client))
    // Every 50 ms, a twentieth of `throttle` bytes of each connection's backlog go on.
    this.#drip = setInterval(() => {
      for (const pipe of this.#pipes) {
        let budget = this.throttle === 0 ? Infinity : Math.max(1, Math.floor(this.throttle / 20))
        while (pipe.backlog.length > 0 && budget > 0) {
          const chunk = pipe.backlog[0]
          const part = chunk.subarray(0, budget)
          if (part.length === chunk.length) pipe.backlog.shift()
          else pipe.backlog[0] = chunk.subarray(part.length)
          budget -= part.length
          if (!pipe.upstream.destroyed) pipe.upstream.write(part)
        }
      }
    }, 50).unref()
  }

  async start (): Promise<this> {
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server, 'listening')
    this.port = (this.#server.address() as AddressInfo).port
    return this
  }

  /** Connections open now. */
  get open (): number { return this.#pipes.size }

  /** Reset (RST) every open connection. */
  resetAll (): void {
    for (const pipe of this.#pipes) {
      pipe.client.resetAndDestroy()
      pipe.upstream.destroy()
    }
  }

  /** Close every open connection with a FIN, as a proxy that goes away cleanly does. */
  finAll (): void {
    for (const pipe of this.#pipes) {
      pipe.client.end()
      pipe.upstream.end()
    }
  }

  /** Stop forwarding on every open connection, keeping them open (a half-open connection). */
  blackholeAll (): void {
    for (const pipe of this.#pipes) pipe.blackholed = true
  }

  async close (): Promise<void> {
    clearInterval(this.#drip)
    this.resetAll()
    await new Promise((resolve) => this.#server.close(resolve))
  }

  #accept (client: Socket): void {
    this.accepted++
    client.on('error', () => {})
    if (this.mode === 'refuse') {
      client.resetAndDestroy()
      return
    }
    const upstream = createConnection({ host: '127.0.0.1', port: this.#target })
    upstream.on('error', () => client.destroy())
    const pipe: Pipe = { client, upstream, blackholed: this.mode === 'blackhole', backlog: [] }
    this.#pipes.add(pipe)
    const forget = (): void => {
      clearTimeout(pipe.idleTimer)
      this.#pipes.delete(pipe)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', forget)
    upstream.on('close', forget)
    const touch = (): void => {
      if (this.closeAfterIdle === 0) return
      clearTimeout(pipe.idleTimer)
      pipe.idleTimer = setTimeout(() => { client.end(); upstream.end() }, this.closeAfterIdle)
    }
    touch()
    const forward = (to: Socket) => (chunk: Buffer): void => {
      if (pipe.blackholed) return
      touch()
      if (this.delay === 0) to.write(chunk)
      else setTimeout(() => { if (!to.destroyed) to.write(chunk) }, this.delay)
    }
    client.on('data', (chunk: Buffer) => {
      if (this.throttle === 0 && pipe.backlog.length === 0) forward(upstream)(chunk)
      else if (!pipe.blackholed) pipe.backlog.push(chunk)
    })
    upstream.on('data', forward(client))
  }
}
