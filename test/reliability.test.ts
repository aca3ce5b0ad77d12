import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { describe, test } from 'node:test'
import { Client, type ClientEvents, type Stats } from '../src/client.js'
import { type Options } from '../src/index.js'
import { resolveOptions } from '../src/options.js'
import { ChaosProxy } from './chaos-proxy.js'
import { freePort, range, sequence, startServer, waitFor, type TestServer } from './helpers.js'

// The scenarios of ../shared/spec/reliability.md, numbered as there, against real
// ws servers (through the chaos proxy where the network misbehaves). Records carry
// sequence numbers; each test asserts on what the server received and on the
// accounting identity. No test adds an 'error' listener: an 'error' would fail it.

const time = { sec: 1700000000, nsec: 0 }
const FAST = { reconnectDelay: 20, maxReconnectDelay: 200 }
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function connect (options: Options | Record<string, unknown>): Client {
  return new Client(resolveOptions({ ...FAST, ...options }))
}

function assertAccounting (stats: Stats): void {
  const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0)
  assert.equal(stats.accepted, stats.delivered + dropped + stats.pending, `accounting: ${JSON.stringify(stats)}`)
}

function collect<K extends keyof ClientEvents> (connection: Client, name: K): Array<ClientEvents[K][0]> {
  const events: Array<ClientEvents[K][0]> = []
  connection.on(name, ((payload: ClientEvents[K][0]) => events.push(payload)) as never)
  return events
}

/** A raw TCP server answering each connection with `respond` (for broken handshakes). */
async function rawServer (respond: (socket: Socket, request: string) => void): Promise<{ port: number, server: Server, received: Buffer[], connections: number[] }> {
  const received: Buffer[] = []
  const connections: number[] = []
  const server = createServer((socket) => {
    connections.push(Date.now())
    socket.on('error', () => {})
    let request = ''
    let answered = false
    socket.on('data', (chunk) => {
      if (answered) {
        received.push(chunk)
        return
      }
      request += chunk.toString('latin1')
      if (request.includes('\r\n\r\n')) {
        answered = true
        respond(socket, request)
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { port: (server.address() as AddressInfo).port, server, received, connections }
}

describe('reliability scenarios', () => {
  test('(1) server down at start, up 5 s later: all queued records arrive in order, none dropped', async () => {
    const port = await freePort()
    const connection = connect({ port, maxReconnectDelay: 1000 })
    for (const seq of range(500)) connection.write({ time, record: { seq } })
    await sleep(5000)
    const server = await startServer({ port })
    await connection.flush(5000)
    assert.deepEqual(server.events.map((e) => e.record.seq), range(500))
    const stats = connection.stats()
    assert.equal(stats.delivered, 500)
    assert.deepEqual(stats.dropped, { overflow: 0, oversized: 0, unencodable: 0, refused: 0, shutdown: 0, unwritable: 0, damaged: 0 })
    await connection.close()
    assertAccounting(connection.stats())
    await server.close()
  })

  test('(2) server killed and restarted within 1 s, 20 times while logging: one live connection at most, nothing lost', async () => {
    let server = await startServer()
    const { port } = server
    const servers: TestServer[] = [server]
    const connection = connect({ port })
    let seq = 0
    const writer = setInterval(() => { for (let i = 0; i < 20; i++) connection.write({ time, record: { seq: seq++ } }) }, 5)
    let maxLive = 0
    const watch = setInterval(() => { maxLive = Math.max(maxLive, servers.reduce((n, s) => n + s.sockets.size, 0)) }, 1)
    for (let i = 0; i < 20; i++) {
      await waitFor(() => server.sockets.size > 0, 'a connection')
      await sleep(50)
      await server.kill()
      await sleep(50 + Math.random() * 200)
      server = await startServer({ port })
      servers.push(server)
    }
    clearInterval(writer)
    await connection.flush(10_000)
    clearInterval(watch)
    const all = sequence(servers.flatMap((s) => s.events))
    assert.deepEqual(all.unique.sort((a, b) => a - b), range(seq))
    assert.ok(maxLive <= 1, `at most one live connection, saw ${maxLive}`)
    assert.ok(all.duplicates <= connection.stats().resent, 'every duplicate is a counted re-send')
    await connection.close()
    assertAccounting(connection.stats())
    await server.close()
  })

  test('(3) server closes with 1001 and 1012: a prompt, jittered reconnect', async () => {
    const server = await startServer()
    const connection = connect({ port: server.port, reconnectDelay: 100, maxReconnectDelay: 5000 })
    const reconnecting = collect(connection, 'reconnecting')
    const disconnects = collect(connection, 'disconnect')
    connection.write({ time, record: { seq: 0 } })
    await connection.flush()
    for (const [i, code] of [1001, 1012].entries()) {
      for (const socket of server.sockets) socket.close(code)
      // A record is waiting when the close comes, as in a busy app.
      connection.write({ time, record: { seq: i + 1 } })
      await waitFor(() => server.handshakes.length === i + 2, 'the reconnect')
      await connection.flush()
    }
    assert.deepEqual(disconnects.map((d) => d.code), [1001, 1012])
    assert.equal(reconnecting.length, 2)
    // Full jitter within the first ceiling: never more than reconnectDelay after a healthy connection.
    for (const { delay } of reconnecting) assert.ok(delay >= 0 && delay < 100, `delay ${delay}`)
    // A record sent just before the close may also have been read: at least once, in order.
    assert.deepEqual(sequence(server.events).unique, [0, 1, 2])
    await connection.close()
    await server.close()
  })

  test('(4) a proxy closing idle connections: heartbeats keep it open; if it closes anyway the next record is not lost', async () => {
    const server = await startServer()
    const proxy = await new ChaosProxy(server.port).start()
    proxy.closeAfterIdle = 400
    const kept = connect({ port: proxy.port, pingInterval: 100 })
    kept.write({ time, record: { seq: 0 } })
    await sleep(1500)
    kept.write({ time, record: { seq: 1 } })
    await kept.flush()
    assert.equal(proxy.accepted, 1, 'the heartbeat kept the one connection alive')
    await kept.close()

    const dropped = connect({ port: proxy.port, pingInterval: 60_000 })
    const disconnects = collect(dropped, 'disconnect')
    dropped.write({ time, record: { seq: 2 } })
    await dropped.flush()
    await waitFor(() => disconnects.length === 1, 'the idle close')
    dropped.write({ time, record: { seq: 3 } })
    await dropped.flush()
    assert.deepEqual(server.events.map((e) => e.record.seq), [0, 1, 2, 3])
    await dropped.close()
    assertAccounting(dropped.stats())
    await proxy.close()
    await server.close()
  })

  test('(4c) a proxy closing idle connections, with long gaps: no reconnect loop while idle, the first record after a gap arrives at once', async () => {
    const server = await startServer()
    const proxy = await new ChaosProxy(server.port).start()
    proxy.closeAfterIdle = 300
    // Default delays and heartbeat: nothing here keeps the connection busy.
    const connection = new Client(resolveOptions({ port: proxy.port }))
    const reconnecting = collect(connection, 'reconnecting')
    for (const seq of range(100)) connection.write({ time, record: { seq } })
    await connection.flush()
    let seq = 100
    for (let gap = 0; gap < 3; gap++) {
      const before = proxy.accepted
      await sleep(2000)
      assert.ok(proxy.accepted - before <= 0, `gap ${gap}: ${proxy.accepted - before} connections opened while idle`)
      const sentAt = Date.now()
      connection.write({ time, record: { seq: seq++ } })
      await waitFor(() => server.events.length === seq, 'the first record after the gap', 5000)
      const took = Date.now() - sentAt
      assert.ok(took < 1000, `gap ${gap}: the first record took ${took} ms`)
    }
    assert.deepEqual(reconnecting, [], 'no reconnect scheduled, no backoff')
    assert.deepEqual(sequence(server.events).unique, range(seq))
    await connection.close()
    assertAccounting(connection.stats())
    await proxy.close()
    await server.close()
  })

  test('(4b) keepaliveIdleTimeout closes an idle connection cleanly and the next record opens a new one', async () => {
    const server = await startServer()
    const connection = connect({ port: server.port, 'net.keepalive_idle_timeout': '0.2' } as Options)
    const disconnects = collect(connection, 'disconnect')
    connection.write({ time, record: { seq: 0 } })
    await connection.flush()
    await waitFor(() => disconnects.length === 1, 'the idle close')
    assert.equal(disconnects[0].code, 1000)
    connection.write({ time, record: { seq: 1 } })
    await connection.flush()
    assert.deepEqual(server.events.map((e) => e.record.seq), [0, 1])
    assert.equal(server.handshakes.length, 2)
    await connection.close()
    await server.close()
  })

  test('(5) half-open connection: detected within pingInterval + pongTimeout, then reconnect and re-send', async () => {
    const server = await startServer()
    const proxy = await new ChaosProxy(server.port).start()
    const connection = connect({ port: proxy.port, pingInterval: 200, pongTimeout: 300 })
    const reconnecting = collect(connection, 'reconnecting')
    connection.write({ time, record: { seq: 0 } })
    await connection.flush()
    proxy.blackholeAll()
    const lostAt = Date.now()
    for (const seq of range(10).map((i) => i + 1)) connection.write({ time, record: { seq } })
    await waitFor(() => reconnecting.length > 0, 'the dead peer to be found', 5000)
    const detectedIn = Date.now() - lostAt
    assert.match(reconnecting[0].error ?? '', /no pong within 300 ms/)
    await connection.flush(5000)
    assert.deepEqual(sequence(server.events).unique, range(11))
    assert.ok(connection.stats().resent >= 10)
    // Bounded by the options, not by the machine: the pong timer starts with the first ping after the loss.
    assert.ok(detectedIn < 200 + 300 + 1000, `detected in ${detectedIn} ms`)
    await connection.close()
    assertAccounting(connection.stats())
    await proxy.close()
    await server.close()
  })

  test('(6) handshake never answered: handshake timeout, then backoff', async () => {
    const silent = await rawServer(() => {})
    const connection = connect({ port: silent.port, connectTimeout: 200, reconnectDelay: 50, closeTimeout: 200 })
    const reconnecting = collect(connection, 'reconnecting')
    connection.write({ time, record: { seq: 0 } })
    await waitFor(() => reconnecting.length >= 3, 'three failed attempts', 5000)
    assert.match(reconnecting[0].error ?? '', /timed out/i)
    assert.deepEqual(reconnecting.map((r) => r.attempt), [1, 2, 3].concat(reconnecting.slice(3).map((_, i) => i + 4)))
    assert.equal(connection.stats().pending, 1)
    silent.server.close()
    await connection.close()
    assert.equal(connection.stats().dropped.shutdown, 1)
  })

  test('(7) HTTP 401/403/404/429/503 on upgrade: classified, Retry-After honoured, no tight loop', async () => {
    for (const [status, retryAfter] of [[401], [403], [404], [429, '1'], [503, '1'], [503]] as Array<[number, string?]>) {
      const server = await rawServer((socket) => {
        socket.end(`HTTP/1.1 ${status} Nope\r\nConnection: close\r\nContent-Length: 0\r\n${retryAfter !== undefined ? `Retry-After: ${retryAfter}\r\n` : ''}\r\n`)
      })
      const connection = connect({ port: server.port, reconnectDelay: 50, maxReconnectDelay: 2000, closeTimeout: 200 })
      const reconnecting = collect(connection, 'reconnecting')
      const warnings = collect(connection, 'warn')
      connection.write({ time, record: { seq: 0 } })
      await waitFor(() => reconnecting.length >= 1, `the ${status} answer`)
      await sleep(300)
      const [first] = reconnecting
      assert.equal(first.status, status)
      assert.match(first.error ?? '', new RegExp(`HTTP ${status}`))
      if (retryAfter !== undefined) {
        assert.ok(first.delay >= 1000, `${status}: Retry-After honoured, delay ${first.delay}`)
      } else if (status < 500) {
        assert.ok(first.delay >= 1000, `${status}: a refusal waits long, delay ${first.delay}`)
        assert.equal(warnings[0]?.code, 'PINO_WS_WARN_UPGRADE_REFUSED')
      } else {
        assert.ok(first.delay < 50, `${status}: plain backoff, delay ${first.delay}`)
      }
      if (status !== 503 || retryAfter !== undefined) assert.equal(server.connections.length, 1, `${status}: no tight loop`)
      await connection.close()
      server.server.close()
    }
  })

  test('(8) a bad Sec-WebSocket-Accept or a 200 OK: connection refused, nothing sent', async () => {
    for (const answer of [
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: d3Jvbmc=\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
    ]) {
      const server = await rawServer((socket) => socket.write(answer))
      const connection = connect({ port: server.port, reconnectDelay: 1000, maxReconnectDelay: 1000, closeTimeout: 200 })
      const reconnecting = collect(connection, 'reconnecting')
      for (const seq of range(5)) connection.write({ time, record: { seq } })
      await waitFor(() => reconnecting.length >= 1, 'the refusal')
      await sleep(100)
      assert.equal(Buffer.concat(server.received).length, 0, 'no frame was written')
      assert.equal(connection.stats().delivered, 0)
      await connection.close()
      server.server.close()
    }
  })

  test('(9) a server that accepts then drops: the backoff keeps growing', async () => {
    const server = await rawServer(() => {})
    server.server.removeAllListeners('connection')
    server.server.on('connection', (socket: Socket) => { server.connections.push(Date.now()); socket.destroy() })
    const connection = connect({ port: server.port, reconnectDelay: 10, maxReconnectDelay: 320, closeTimeout: 200 })
    const reconnecting = collect(connection, 'reconnecting')
    connection.write({ time, record: { seq: 0 } })
    await waitFor(() => reconnecting.length >= 8, 'eight attempts', 10_000)
    assert.deepEqual(reconnecting.slice(0, 8).map((r) => r.attempt), [1, 2, 3, 4, 5, 6, 7, 8], 'never reset without a healthy connection')
    for (const [i, { delay }] of reconnecting.slice(0, 8).entries()) assert.ok(delay < Math.min(320, 10 * 2 ** i), `attempt ${i + 1}: ${delay}`)
    await connection.close()
    server.server.close()
  })

  test('(10) 100 clients and one server restart: reconnects spread by jitter', async () => {
    let server = await startServer()
    const { port } = server
    const clients = range(100).map(() => connect({ port, reconnectDelay: 500, maxReconnectDelay: 2000 }))
    for (const [seq, client] of clients.entries()) client.write({ time, record: { seq } })
    await Promise.all(clients.map((client) => client.flush()))
    await server.kill()
    // Each app logs on through the restart, so each has a record to deliver (an idle one would wait for its next).
    for (const [seq, client] of clients.entries()) client.write({ time, record: { seq: seq + 100 } })
    server = await startServer({ port })
    const restarted = server
    await waitFor(() => restarted.handshakes.length === 100, '100 reconnects', 10_000)
    await Promise.all(clients.map((client) => client.flush()))
    // Full jitter over [0, 500) ms: reconnects spread out instead of arriving as one herd.
    const arrivals = server.handshakes.map((h) => h.at)
    const span = Math.max(...arrivals) - Math.min(...arrivals)
    const buckets = new Set(arrivals.map((at) => Math.floor(at / 25))).size
    assert.ok(span >= 200, `reconnects spread over ${span} ms`)
    assert.ok(buckets >= 8, `reconnects fell in ${buckets} distinct 25 ms slots`)
    assert.deepEqual(server.events.map((e) => e.record.seq as number).sort((a, b) => a - b), range(100).map((i) => i + 100))
    await Promise.all(clients.map((client) => client.close()))
    await server.close()
  })

  test('(11) connection reset at random moments, 100 times: zero loss, duplicates counted', async () => {
    const server = await startServer()
    const proxy = await new ChaosProxy(server.port).start()
    const connection = connect({ port: proxy.port })
    let seq = 0
    const writer = setInterval(() => { for (let i = 0; i < 10; i++) connection.write({ time, record: { seq: seq++ } }) }, 2)
    for (let i = 0; i < 100; i++) {
      await sleep(10 + Math.random() * 30)
      proxy.resetAll()
    }
    clearInterval(writer)
    await connection.flush(10_000)
    const { unique, duplicates, ordered } = sequence(server.events)
    assert.equal(unique.length, seq, 'zero loss')
    assert.ok(ordered, 'first arrivals in order')
    const stats = connection.stats()
    assert.ok(duplicates <= stats.resent, `duplicates ${duplicates} <= resent ${stats.resent}`)
    assert.ok(stats.reconnects >= 50, `reconnected ${stats.reconnects} times`)
    assert.equal(stats.delivered, seq)
    await connection.close()
    assertAccounting(connection.stats())
    await proxy.close()
    await server.close()
  })

  test('(12) records bigger than maxMessageBytes or than the server\'s maxPayload are dropped and counted; the rest flow', async () => {
    const server = await startServer({ format: 'json_lines' })
    const connection = connect({ port: server.port, format: 'json_lines', maxMessageBytes: 4096 })
    connection.write({ time, record: { seq: 0 } })
    connection.write({ time, record: { seq: 1, big: 'x'.repeat(5000) } })
    connection.write({ time, record: { seq: 2 } })
    await connection.flush()
    assert.deepEqual(server.events.map((e) => e.record.seq), [0, 2])
    assert.equal(connection.stats().dropped.oversized, 1)
    await connection.close()
    await server.close()

    // The server takes at most 1 KiB per message (ws closes with 1009 past it).
    const { WebSocketServer } = await import('ws')
    const small = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1024 })
    await once(small, 'listening')
    const seen: number[] = []
    small.on('connection', (socket) => socket.on('error', () => {}).on('message', (data: Buffer) => {
      for (const line of data.toString().trim().split('\n')) seen.push((JSON.parse(line) as { seq: number }).seq)
    }))
    const limited = connect({ port: (small.address() as AddressInfo).port, format: 'json_lines' })
    const warnings = collect(limited, 'warn')
    for (const seq of range(40)) limited.write({ time, record: { seq, pad: 'y'.repeat(100) } })
    limited.write({ time, record: { seq: 40, big: 'z'.repeat(2000) } })
    for (const seq of range(10).map((i) => i + 41)) limited.write({ time, record: { seq } })
    await limited.flush(10_000)
    assert.deepEqual([...new Set(seen)].sort((a, b) => a - b), range(51).filter((seq) => seq !== 40))
    const stats = limited.stats()
    assert.equal(stats.dropped.oversized, 1)
    assert.ok(warnings.some((w) => w.code === 'PINO_WS_WARN_MESSAGE_TOO_BIG'))
    assertAccounting(stats)
    await limited.close()
    small.close()
  })

  test('(13) a circular object and a BigInt in JSON: that record dropped and counted, the pipeline goes on; a lone surrogate is replaced', async () => {
    for (const format of ['json_lines', 'msgpack', 'gelf'] as const) {
      const server = await startServer({ format })
      const connection = connect({ port: server.port, format })
      const drops = collect(connection, 'drop')
      const circular: Record<string, unknown> = { seq: -1 }
      circular.self = circular
      connection.write({ time, record: { seq: 0 } })
      connection.write({ time, record: circular })
      // A BigInt is an int64 in msgpack and a string in GELF: only JSON cannot carry it.
      if (format === 'json_lines') connection.write({ time, record: { seq: -2, n: 2n } })
      connection.write({ time, record: { seq: 1, text: 'half \udc00 a pair' } })
      connection.write({ time, record: { seq: 2 } })
      await connection.flush()
      const records = server.events.map((e) => e.record)
      assert.deepEqual(records.map((r) => r.seq ?? r._seq), [0, 1, 2], format)
      assert.equal(records[1].text ?? records[1]._text, 'half \ufffd a pair', format)
      const expected = format === 'json_lines' ? 2 : 1
      assert.equal(connection.stats().dropped.unencodable, expected, format)
      await waitFor(() => drops.length > 0, 'the drop event')
      assert.equal(drops[0].reason, 'unencodable')
      assert.equal(drops[0].count, expected)
      await connection.close()
      assertAccounting(connection.stats())
      await server.close()
    }
  })

  test('(14) order is kept across reconnects', async () => {
    let server = await startServer()
    const { port } = server
    const first = server
    const connection = connect({ port })
    for (const seq of range(200)) connection.write({ time, record: { seq } })
    await connection.flush()
    await server.kill()
    for (const seq of range(200).map((i) => i + 200)) connection.write({ time, record: { seq } })
    await sleep(100)
    server = await startServer({ port })
    for (const seq of range(200).map((i) => i + 400)) connection.write({ time, record: { seq } })
    await connection.flush(5000)
    assert.deepEqual([...first.events, ...server.events].map((e) => e.record.seq), range(600))
    await connection.close()
    await server.close()
  })

  test('(16) a slow server: writes wait for the socket to drain, overflow goes to our bounded queue and is counted', async () => {
    const server = await startServer({ format: 'json_lines' })
    const fallbackFile = join(mkdtempSync(join(tmpdir(), 'pino-websocket-')), 'dropped.ndjson')
    const connection = connect({ port: server.port, format: 'json_lines', maxQueueBytes: 256 * 1024, maxMessageBytes: 16 * 1024, pongTimeout: 60_000, fallbackFile })
    connection.write({ time, record: { seq: 0 } })
    await connection.flush()
    // The server stops reading: the kernel's buffers fill, then ws's up to its watermark, then our queue.
    const raw = [...server.sockets].map((socket) => (socket as unknown as { _socket: Socket })._socket)
    for (const socket of raw) socket.pause()
    const pad = 'p'.repeat(200)
    let seq = 1
    let maxPending = 0
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 1000; i++) connection.write({ time, record: { seq: seq++, pad } })
      maxPending = Math.max(maxPending, connection.stats().pending)
      await sleep(1)
    }
    const during = connection.stats()
    assert.ok(during.dropped.overflow > 0, 'overflow counted')
    assert.ok(maxPending * 230 <= 256 * 1024, `queue stayed bounded: ${maxPending} records at most`)
    for (const socket of raw) socket.resume()
    await connection.flush(20_000)
    await connection.close()
    const stats = connection.stats()
    assertAccounting(stats)
    // No silent loss: every record reached the server or the fallback file, and never both:
    // drop_oldest evicts records still waiting before records the server may already hold.
    const fallen = readFileSync(fallbackFile, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq)
    assert.equal(fallen.length, stats.dropped.overflow)
    const arrived = new Set(server.events.map((e) => e.record.seq as number))
    const both = fallen.filter((s) => arrived.has(s))
    assert.deepEqual(both.slice(0, 5), [], `${both.length} record(s) both at the server and in the fallback file`)
    assert.equal(new Set([...arrived, ...fallen]).size, seq)
    assert.equal(sequence(server.events).unique.length, stats.delivered)
    await server.close()
  })

  test('(17) 100 000 records in one tick: none lost, and the event loop keeps turning while they go out', async () => {
    const server = await startServer({ format: 'json_lines' })
    const connection = connect({ port: server.port, format: 'json_lines', maxQueueBytes: 64 * 1024 * 1024 })
    await once(connection, 'open')
    for (const seq of range(100_000)) connection.write({ time, record: { seq, msg: 'one tick' } })
    // From here on the records go out: the loop must keep turning meanwhile, not
    // stall for the whole backlog (a synchronous send of it all turns it once).
    let turns = 0
    const ticker = setInterval(() => turns++, 1)
    await connection.flush(30_000)
    clearInterval(ticker)
    assert.equal(server.events.length, 100_000)
    assert.deepEqual(server.events.map((e) => e.record.seq), range(100_000))
    assert.ok(turns >= 3, `${turns} turns for ${server.messages.length} messages`)
    await connection.close()
    await server.close()
  })
})
