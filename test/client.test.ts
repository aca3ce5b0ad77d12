import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Client } from '../src/client.js'
import { Connection, type CloseInfo } from '../src/connection.js'
import { resolveOptions } from '../src/options.js'
import { freePort, range, sequence, startServer, waitFor } from './helpers.js'

const time = { sec: 1700000000, nsec: 0 }
const fast = { reconnectDelay: 20, maxReconnectDelay: 200 }

function assertAccounting (connection: Client): void {
  const stats = connection.stats()
  const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0)
  assert.equal(stats.accepted, stats.delivered + dropped + stats.pending, `accounting: ${JSON.stringify(stats)}`)
}

describe('Client', () => {
  test('delivers records in order as binary msgpack messages and confirms them', async () => {
    const server = await startServer()
    const connection = new Client(resolveOptions({ port: server.port }))
    for (const seq of range(500)) connection.write({ time, record: { seq } })
    await connection.flush()
    assert.deepEqual(server.events.map((e) => e.record.seq), range(500))
    assert.ok(server.messages.every((m) => m.binary))
    assert.ok(server.messages.length < 500, 'records written together are batched')
    assert.equal(connection.stats().delivered, 500)
    await connection.close()
    assertAccounting(connection)
    await server.close()
  })

  test('close() connects at once when a long backoff is pending: the server back just before shutdown gets everything, in each of 10 runs', async () => {
    for (let run = 0; run < 10; run++) {
      const port = await freePort()
      // A long outage's backoff: the next retry is seconds away, beyond closeTimeout.
      const client = new Client(resolveOptions({ port, format: 'json_lines', reconnectDelay: 60_000, maxReconnectDelay: 60_000, closeTimeout: 2000, quiet: true }))
      for (const seq of range(102)) client.write({ time, record: { seq } })
      let delay = 0
      client.on('reconnecting', (event) => { delay = event.delay })
      await waitFor(() => delay >= 3000, 'a retry at least 3 s away', 30_000)
      const server = await startServer({ format: 'json_lines', port })
      await client.close()
      assert.deepEqual(sequence(server.events).unique, range(102), `run ${run}: the retry was ${delay} ms away`)
      assert.equal(client.stats().dropped.shutdown, 0)
      await server.close()
    }
  })

  test('sends the configured headers in order and adds the missing slash to the URI', async () => {
    const server = await startServer({ format: 'json_lines' })
    const connection = new Client(resolveOptions({ port: server.port, uri: 'some/path?x=1', format: 'json_lines', headers: ['X-Key value', 'X-Api-Token abc123', 'X-Spaces a b c'] }))
    connection.write({ time, record: { seq: 0 } })
    await connection.flush()
    const [handshake] = server.handshakes
    assert.equal(handshake.url, '/some/path?x=1')
    const names = handshake.rawHeaders.filter((_, i) => i % 2 === 0)
    const custom = names.filter((name) => name.startsWith('X-'))
    assert.deepEqual(custom, ['X-Key', 'X-Api-Token', 'X-Spaces'])
    assert.equal(handshake.rawHeaders[handshake.rawHeaders.indexOf('X-Spaces') + 1], 'a b c')
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version
    assert.equal(handshake.rawHeaders[handshake.rawHeaders.indexOf('User-Agent') + 1], `pino-websocket/${version}`, 'operators see who connects')
    assert.equal(server.messages[0].binary, false, 'JSON goes in text frames')
    await connection.close()
    await server.close()
  })

  test('a User-Agent given in headers replaces ours', async () => {
    const server = await startServer()
    const connection = new Client(resolveOptions({ port: server.port, headers: { 'user-agent': 'my-app/2' } }))
    connection.write({ time, record: { seq: 0 } })
    await connection.flush()
    const agents = server.handshakes[0].rawHeaders.filter((_, i, all) => i % 2 === 1 && /^user-agent$/i.test(all[i - 1]))
    assert.deepEqual(agents, ['my-app/2'])
    await connection.close()
    await server.close()
  })

  test('a server that requires a subprotocol gets it, from `protocols` or from a Sec-WebSocket-Protocol header', async () => {
    const { WebSocketServer } = await import('ws')
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      // Refuse a client that does not offer logs.v1, as such servers do.
      verifyClient: ({ req }: { req: import('node:http').IncomingMessage }) => String(req.headers['sec-websocket-protocol'] ?? '').split(/\s*,\s*/).includes('logs.v1'),
      handleProtocols: (offered: Set<string>) => offered.has('logs.v1') ? 'logs.v1' : false
    })
    await once(server, 'listening')
    const port = (server.address() as { port: number }).port
    const chosen: string[] = []
    let records = 0
    server.on('connection', (socket) => {
      chosen.push(socket.protocol)
      socket.on('message', (data: Buffer) => { records += data.toString().trim().split('\n').length })
    })
    for (const options of [{ protocols: ['other', 'logs.v1'] }, { headers: ['Sec-WebSocket-Protocol logs.v1'] }]) {
      const client = new Client(resolveOptions({ port, format: 'json_lines', ...options, ...fast }))
      for (const seq of range(10)) client.write({ time, record: { seq } })
      await client.flush(3000)
      assert.equal(client.stats().delivered, 10, JSON.stringify(options))
      await client.close()
    }
    assert.deepEqual(chosen, ['logs.v1', 'logs.v1'])
    assert.equal(records, 20)
    server.close()
  })

  test('a synchronous throw inside a connection attempt is a failed attempt with its reason, never an uncaught exception', async () => {
    // The options checks keep such values out; the Connection holds even without them:
    // Node's http throws from inside new WebSocket() on this header value.
    const connection = new Connection({
      url: `ws://127.0.0.1:${await freePort()}/`,
      headers: { 'X-Bad': 'a\u0001b' },
      protocols: [],
      connectTimeout: 1000,
      pingInterval: 1000,
      pongTimeout: 1000,
      maxMessageBytes: 1024 * 1024,
      tls: { rejectUnauthorized: true }
    }, { requirePongs: true })
    const [info] = await once(connection, 'close') as [CloseInfo]
    assert.equal(info.opened, false)
    assert.match(info.error ?? '', /Invalid character in header content/)
  })

  test('server down at start and up 2 s later: every record arrives, in order, with no error', async () => {
    const port = await freePort()
    const connection = new Client(resolveOptions({ port, ...fast }))
    const reconnecting: unknown[] = []
    connection.on('reconnecting', (event) => reconnecting.push(event))
    for (const seq of range(100)) connection.write({ time, record: { seq } })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    for (const seq of range(100).map((i) => i + 100)) connection.write({ time, record: { seq } })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const server = await startServer({ port })
    await connection.flush(5000)
    assert.deepEqual(server.events.map((e) => e.record.seq), range(200))
    assert.ok(reconnecting.length >= 2, 'it kept retrying')
    assert.equal(server.handshakes.length, 1)
    await connection.close()
    assertAccounting(connection)
    await server.close()
  })

  test('server restarted mid-stream: delivery resumes on a fresh handshaked connection, nothing lost', async () => {
    let server = await startServer()
    const { port } = server
    const connection = new Client(resolveOptions({ port, ...fast }))
    const seen: string[] = []
    connection.on('open', () => seen.push('open'))
    connection.on('disconnect', () => seen.push('disconnect'))
    for (const seq of range(300)) connection.write({ time, record: { seq } })
    await waitFor(() => server.events.length > 0, 'first records')
    const before = server.events
    await server.kill()
    for (const seq of range(300).map((i) => i + 300)) connection.write({ time, record: { seq } })
    server = await startServer({ port })
    for (const seq of range(300).map((i) => i + 600)) connection.write({ time, record: { seq } })
    await connection.flush(5000)
    const all = sequence([...before, ...server.events])
    assert.deepEqual(all.unique.sort((a, b) => a - b), range(900))
    assert.equal(server.handshakes.length, 1, 'one new handshake on the new server')
    assert.deepEqual(seen.slice(0, 3), ['open', 'disconnect', 'open'])
    const stats = connection.stats()
    assert.equal(stats.delivered, 900)
    assert.ok(stats.reconnects >= 1)
    await connection.close()
    assertAccounting(connection)
    await server.close()
  })

  test('flush() and close() resolve by the deadline with the server down; leftovers are counted as shutdown', async () => {
    const port = await freePort()
    const connection = new Client(resolveOptions({ port, closeTimeout: 300, ...fast }))
    for (const seq of range(10)) connection.write({ time, record: { seq } })
    const started = Date.now()
    await connection.flush()
    assert.ok(Date.now() - started < 2000)
    assert.equal(connection.stats().pending, 10, 'flush keeps what it could not deliver')
    await connection.close()
    assert.ok(Date.now() - started < 4000)
    const stats = connection.stats()
    assert.equal(stats.dropped.shutdown, 10)
    assert.equal(stats.pending, 0)
    connection.write({ time, record: { seq: 10 } })
    assert.equal(connection.stats().dropped.shutdown, 11, 'a record after close is counted, not lost silently')
    assertAccounting(connection)
  })

  test('a record written after close() goes to the fallback file, with no throw (one JSON record per line, json too)', async () => {
    for (const format of ['json_lines', 'json'] as const) {
      const fallbackFile = join(mkdtempSync(join(tmpdir(), 'pino-websocket-')), 'dropped.ndjson')
      const connection = new Client(resolveOptions({ port: await freePort(), format, closeTimeout: 50, fallbackFile }))
      connection.write({ time, record: { seq: 0 } })
      await connection.close()
      connection.write({ time, record: { seq: 1 } })
      assert.equal(connection.stats().dropped.shutdown, 2)
      const seqs = readFileSync(fallbackFile, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq)
      assert.deepEqual(seqs, [0, 1], format)
    }
  })

  test('oversized and unencodable records are dropped and counted, their neighbours arrive', async () => {
    const server = await startServer({ format: 'json_lines' })
    const connection = new Client(resolveOptions({ port: server.port, format: 'json_lines', maxMessageBytes: 1024 }))
    const drops: unknown[] = []
    connection.on('drop', (event) => drops.push(event))
    const circular: Record<string, unknown> = { seq: -1 }
    circular.self = circular
    connection.write({ time, record: { seq: 0 } })
    connection.write({ time, record: { seq: -2, big: 'x'.repeat(2000) } })
    connection.write({ time, record: circular })
    connection.write({ time, record: { seq: -3, n: 1n } })
    connection.write({ time, record: { seq: 1 } })
    await connection.flush()
    assert.deepEqual(server.events.map((e) => e.record.seq), [0, 1])
    const stats = connection.stats()
    assert.equal(stats.dropped.oversized, 1)
    assert.equal(stats.dropped.unencodable, 2)
    await waitFor(() => drops.length === 2, 'drop events')
    assert.deepEqual(drops.map((d) => (d as { reason: string, count: number }).count), [1, 2])
    await connection.close()
    assertAccounting(connection)
    await server.close()
  })

  test('a full queue drops the oldest records and counts them', async () => {
    const port = await freePort()
    const connection = new Client(resolveOptions({ port, format: 'json_lines', maxMessageBytes: 1024, maxQueueBytes: 1024, closeTimeout: 100 }))
    for (const seq of range(100)) connection.write({ time, record: { seq, pad: 'x'.repeat(50) } })
    const stats = connection.stats()
    assert.ok(stats.dropped.overflow > 0)
    assert.equal(stats.pending + stats.dropped.overflow, 100)
    const server = await startServer({ port, format: 'json_lines' })
    await connection.flush(5000)
    const arrived = server.events.map((e) => e.record.seq as number)
    assert.deepEqual(arrived, range(100).slice(100 - stats.pending), 'the newest records survive')
    await connection.close()
    assertAccounting(connection)
    await server.close()
  })

  test('unknown options become a warn event, not an error', async () => {
    const connection = new Client(resolveOptions({ port: await freePort(), colour: 'blue', closeTimeout: 0 } as object))
    const [warning] = await once(connection, 'warn') as [{ code: string, message: string }]
    assert.equal(warning.code, 'PINO_WS_WARN_UNKNOWN_OPTION')
    assert.match(warning.message, /`colour`/)
    await connection.close()
  })
})
