import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { AddressInfo, Socket } from 'node:net'
import { describe, test } from 'node:test'
import { WebSocketServer, type WebSocket } from 'ws'
import { Client } from '../src/client.js'
import { resolveOptions } from '../src/options.js'
import { ChaosProxy } from './chaos-proxy.js'
import { range, waitFor } from './helpers.js'

// What must never be read as "the server refuses large messages": our own side
// ending a connection (a frame we refuse, a message too big for us), a server
// that talks back, a network that resets. Real ws servers on 127.0.0.1.

const time = { sec: 1700000000, nsec: 0 }
const FAST = { reconnectDelay: 20, maxReconnectDelay: 200 }
const MiB = 1024 * 1024

interface Server { port: number, seqs: number[], connections: number, wss: WebSocketServer, close: () => Promise<void> }

/** A ws server that records the `seq` of every json_lines record; `onConnection` may misbehave. */
async function server (onConnection: (socket: WebSocket, number: number) => void = () => {}): Promise<Server> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * MiB })
  await once(wss, 'listening')
  const result: Server = {
    port: (wss.address() as AddressInfo).port,
    seqs: [],
    connections: 0,
    wss,
    async close () {
      for (const client of wss.clients) client.terminate()
      await new Promise((resolve) => wss.close(resolve))
    }
  }
  wss.on('connection', (socket) => {
    result.connections++
    socket.on('error', () => {})
    socket.on('message', (data: Buffer, binary) => {
      if (binary) return
      for (const line of data.toString().trim().split('\n')) result.seqs.push((JSON.parse(line) as { seq: number }).seq)
    })
    onConnection(socket, result.connections)
  })
  return result
}

function rawSocket (socket: WebSocket): Socket {
  return (socket as unknown as { _socket: Socket })._socket
}

const unique = (seqs: number[]): number[] => [...new Set(seqs)].sort((a, b) => a - b)

function watch (client: Client): { warnings: string[], disconnects: number[] } {
  const seen = { warnings: [] as string[], disconnects: [] as number[] }
  client.on('warn', ({ code }) => seen.warnings.push(code))
  client.on('disconnect', ({ code }) => seen.disconnects.push(code))
  return seen
}

describe('what is not a size signal', () => {
  test('two connections ended by a frame our client refuses (RSV1), then a healthy server: 100 records of 6 KB all confirmed, none oversized', async () => {
    const srv = await server((socket, number) => {
      // A text frame with RSV1 set and no extension agreed: ws refuses it and closes with 1002.
      if (number <= 2) socket.once('message', () => rawSocket(socket).write(Buffer.from([0xc1, 0x00])))
    })
    const client = new Client(resolveOptions({ port: srv.port, format: 'json_lines', ...FAST }))
    const seen = watch(client)
    const pad = 'x'.repeat(6000)
    for (const seq of range(100)) client.write({ time, record: { seq, pad } })
    await client.flush(15_000)
    const stats = client.stats()
    assert.equal(stats.delivered, 100)
    assert.deepEqual(unique(srv.seqs), range(100))
    assert.equal(stats.dropped.oversized, 0)
    assert.equal(stats.maxMessageBytes, MiB)
    assert.ok(srv.connections >= 3)
    assert.ok(seen.warnings.includes('PINO_WS_WARN_PROTOCOL_ERROR'), seen.warnings.join())
    assert.ok(!seen.warnings.includes('PINO_WS_WARN_MESSAGE_TOO_BIG'), seen.warnings.join())
    await client.close()
    await srv.close()
  })

  test('a chatty server (a 70 KB message on every connection): 12 000 records all confirmed on one connection, sizes untouched', async () => {
    const srv = await server((socket) => socket.send('c'.repeat(70_000)))
    const client = new Client(resolveOptions({ port: srv.port, format: 'json_lines', ...FAST }))
    const seen = watch(client)
    for (const seq of range(12_000)) client.write({ time, record: { seq, pad: 'p'.repeat(100) } })
    await client.flush(15_000)
    const stats = client.stats()
    assert.equal(stats.delivered, 12_000)
    assert.deepEqual(unique(srv.seqs), range(12_000))
    assert.equal(srv.connections, 1)
    assert.deepEqual(seen.disconnects, [])
    assert.equal(stats.maxMessageBytes, MiB)
    assert.deepEqual(seen.warnings, [])
    await client.close()
    await srv.close()
  })

  test('an echo server at 20 000 records/s for 2 s: every message comes back, and no connection is ended by us', async () => {
    const srv = await server((socket) => socket.on('message', (data: Buffer, binary) => socket.send(data, { binary })))
    const client = new Client(resolveOptions({ port: srv.port, format: 'json_lines', ...FAST }))
    const seen = watch(client)
    let seq = 0
    // 400 records of ~300 B every 20 ms: messages of ~120 KB, echoed back whole.
    const writer = setInterval(() => { for (let i = 0; i < 400; i++) client.write({ time, record: { seq: seq++, pad: 'e'.repeat(250) } }) }, 20)
    await new Promise((resolve) => setTimeout(resolve, 2000))
    clearInterval(writer)
    await client.flush(15_000)
    assert.equal(client.stats().delivered, seq)
    assert.deepEqual(unique(srv.seqs), range(seq))
    assert.equal(srv.connections, 1)
    assert.deepEqual(seen.disconnects, [])
    assert.deepEqual(seen.warnings, [])
    await client.close()
    await srv.close()
  })

  test('a proxy that resets every connection every 15-30 ms: no record within maxMessageBytes is dropped as oversized, and the size is back at maxMessageBytes within a minute after the resets stop', async (t) => {
    const srv = await server()
    const proxy = await new ChaosProxy(srv.port).start()
    const client = new Client(resolveOptions({ port: proxy.port, format: 'json_lines', ...FAST }))
    const seen = watch(client)
    let resetting = true
    const reset = (): void => {
      if (!resetting) return
      proxy.resetAll()
      setTimeout(reset, 15 + Math.random() * 15)
    }
    reset()
    let seq = 0
    let lowest = MiB
    let oversized = 0
    const writer = setInterval(() => {
      // Small records, and now and then a 12 KB one, which must never be taken for too big.
      for (let i = 0; i < 50; i++) client.write({ time, record: { seq: seq++, pad: (i === 0 ? 'B' : 'p').repeat(i === 0 ? 12_000 : 200) } })
      lowest = Math.min(lowest, client.stats().maxMessageBytes)
      oversized = Math.max(oversized, client.stats().dropped.oversized)
    }, 10)
    await new Promise((resolve) => setTimeout(resolve, 4000))
    resetting = false
    const stoppedAt = Date.now()
    await waitFor(() => client.stats().maxMessageBytes === MiB, 'the size back at maxMessageBytes', 60_000)
    const back = Date.now() - stoppedAt
    clearInterval(writer)
    await client.flush(15_000)
    const stats = client.stats()
    assert.equal(oversized, 0)
    assert.equal(stats.dropped.oversized, 0)
    assert.equal(stats.delivered, seq)
    assert.deepEqual(unique(srv.seqs), range(seq))
    t.diagnostic(`resets: lowest size ${lowest}, back at ${MiB} ${back} ms after the resets stopped; ${seen.disconnects.length} disconnects`)
    await client.close()
    await proxy.close()
    await srv.close()
  })
})
