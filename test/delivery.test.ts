import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, test } from 'node:test'
import { once } from 'node:events'
import type { AddressInfo, Socket } from 'node:net'
import { Client } from '../src/client.js'
import { resolveOptions } from '../src/options.js'
import { ChaosProxy } from './chaos-proxy.js'
import { range, sequence, startServer, waitFor, type TestServer } from './helpers.js'

// The confirmation protocol: `delivered` counts only what a pong confirmed, so it
// can never run ahead of what the server received, whatever the server does.

const time = { sec: 1700000000, nsec: 0 }
const FAST = { reconnectDelay: 20, maxReconnectDelay: 200 }
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Log `perTick` records every `every` ms until `stop()`; checks the promise at every tick. */
function steadyWriter (client: Client, server: TestServer, perTick: number, every: number): { stop: () => number, violations: string[] } {
  let seq = 0
  const violations: string[] = []
  const timer = setInterval(() => {
    const received = sequence(server.events).unique.length
    const { delivered } = client.stats()
    if (delivered > received) violations.push(`delivered ${delivered} > received ${received}`)
    for (let i = 0; i < perTick; i++) client.write({ time, record: { seq: seq++ } })
  }, every)
  return { stop: () => { clearInterval(timer); return seq }, violations }
}

/** The raw TCP socket under a ws server's connection. */
function rawSocket (socket: unknown): Socket {
  return (socket as { _socket: Socket })._socket
}

describe('confirmed delivery', () => {
  test('a server whose reads stall longer than pongTimeout on its first two connections, then a black hole: delivered never exceeds what arrived, nothing is lost', async () => {
    const server = await startServer()
    const proxy = await new ChaosProxy(server.port).start()
    let connections = 0
    server.onConnection = (socket) => {
      // The first two connections: a busy server start, reading nothing for 800 ms.
      if (++connections > 2) return
      const raw = rawSocket(socket)
      raw.pause()
      setTimeout(() => raw.resume(), 800).unref()
    }
    const client = new Client(resolveOptions({ port: proxy.port, pongTimeout: 300, pingInterval: 200, ...FAST }))
    const writer = steadyWriter(client, server, 20, 20)
    await waitFor(() => connections >= 3 && client.stats().delivered > 0, 'a third, healthy connection', 10_000)
    proxy.blackholeAll()
    await sleep(1500)
    const written = writer.stop()
    await client.flush(10_000)
    assert.deepEqual(writer.violations, [])
    assert.deepEqual(sequence(server.events).unique.sort((a, b) => a - b), range(written))
    const stats = client.stats()
    assert.equal(stats.delivered, written)
    assert.equal(stats.delivery, 'at-least-once')
    await client.close()
    await proxy.close()
    await server.close()
  })

  test('a slow-loris server (reading 2 KB/s): delivered never exceeds what arrived; all arrives once it reads normally', async () => {
    const server = await startServer()
    const proxy = await new ChaosProxy(server.port).start()
    // Slow from the start: no pong is ever seen before the first pong timeouts.
    proxy.throttle = 2000
    const client = new Client(resolveOptions({ port: proxy.port, pongTimeout: 300, pingInterval: 200, ...FAST }))
    const writer = steadyWriter(client, server, 20, 20)
    await sleep(3000)
    proxy.throttle = 0
    const written = writer.stop()
    await client.flush(15_000)
    assert.deepEqual(writer.violations, [])
    assert.deepEqual(sequence(server.events).unique.sort((a, b) => a - b), range(written))
    assert.equal(client.stats().delivered, written)
    await client.close()
    await proxy.close()
    await server.close()
  })

  for (const reset of [false, true]) {
    test(`a server that takes messages of 32 KiB at most${reset ? ', and resets the connection after its 1009 close' : ''}: every record arrives, but one over the limit alone, dropped as oversized`, async () => {
      const { WebSocketServer } = await import('ws')
      const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 32 * 1024 })
      await once(server, 'listening')
      const seen: number[] = []
      let connections = 0
      server.on('connection', (socket) => {
        connections++
        socket.on('error', () => {})
        // As nhooyr/websocket does in effect: the reset reaches us before its 1009 close frame is read.
        if (reset) socket.close = () => { rawSocket(socket).resetAndDestroy() }
        socket.on('message', (data: Buffer) => {
          for (const line of data.toString().trim().split('\n')) seen.push((JSON.parse(line) as { seq: number }).seq)
        })
      })
      const client = new Client(resolveOptions({ port: (server.address() as AddressInfo).port, format: 'json_lines', ...FAST }))
      const warnings: string[] = []
      client.on('warn', ({ code }) => warnings.push(code))
      const pad = 'r'.repeat(200)
      for (const seq of range(2000)) client.write({ time, record: { seq, pad } })
      client.write({ time, record: { seq: 2000, big: 'b'.repeat(40 * 1024) } })
      for (const seq of range(500).map((i) => i + 2001)) client.write({ time, record: { seq, pad } })
      await client.flush(20_000)
      assert.deepEqual([...new Set(seen)].sort((a, b) => a - b), range(2501).filter((seq) => seq !== 2000))
      const stats = client.stats()
      assert.equal(stats.dropped.oversized, 1)
      assert.equal(stats.delivered, 2500)
      assert.ok(stats.maxMessageBytes <= 32 * 1024, `messages shrank to ${stats.maxMessageBytes} bytes`)
      assert.ok(warnings.includes('PINO_WS_WARN_MESSAGE_TOO_BIG'))
      assert.ok(connections < 20, `${connections} connections`)
      await client.close()
      server.close()
    })
  }

  for (const { name, rate, maxMessageBytes } of [
    { name: '200 records/s', rate: 200, maxMessageBytes: undefined },
    { name: '5 000 records/s in 512-byte messages', rate: 5000, maxMessageBytes: 512 }
  ]) {
    test(`a default ws server whose event loop stalls 500 ms a second, ${name}: its pong guard never ends our connection`, async () => {
      const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'stalling-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] })
      const lines = createInterface({ input: child.stdout })
      const events: Array<{ port?: number, connection?: true, close?: number, records?: number }> = []
      lines.on('line', (line) => events.push(JSON.parse(line) as typeof events[number]))
      await waitFor(() => events.length > 0, 'the server to listen')
      const port = events[0].port!
      const client = new Client(resolveOptions({ port, format: 'json_lines', maxMessageBytes, ...FAST }))
      let seq = 0
      // Every 5 ms, as records come from a busy app: a message (and before, a ping) each time.
      const perTick = rate / 200
      const timer = setInterval(() => { for (let i = 0; i < perTick; i++) client.write({ time, record: { seq: seq++ } }) }, 5)
      await sleep(6000)
      clearInterval(timer)
      await client.flush(10_000)
      const received = (): number => Math.max(0, ...events.map((e) => e.records ?? 0))
      await waitFor(() => received() >= seq, `the server's count to reach ${seq}`, 5000).catch(() => {})
      child.kill()
      const closes = events.filter((e) => e.close !== undefined).map((e) => e.close)
      assert.deepEqual(closes, [], 'no connection ended')
      assert.equal(events.filter((e) => e.connection === true).length, 1, 'one connection throughout')
      assert.equal(received(), seq)
      assert.equal(client.stats().delivered, seq)
      await client.close()
    })
  }
})
