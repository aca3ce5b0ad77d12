import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, test } from 'node:test'
import pino from 'pino'
import { Client } from '../../src/client.js'
import { resolveOptions } from '../../src/options.js'
import { freePort, missing, startProxy, startReceiver, stopAll, type Receiver, type ReceiverKind } from './receivers.js'

// pino-websocket against servers and proxies nobody here wrote: Python's
// websockets and aiohttp, Go's gorilla/websocket, nginx and HAProxy. Records
// carry sequence numbers, so loss, duplication and order are audited. A case
// whose server is not installed is skipped with the reason; .ci/run installs them.

const time = { sec: 1700000000, nsec: 0 }
const FAST = { reconnectDelay: 20, maxReconnectDelay: 300 }
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i)
const unique = (seqs: number[]): number[] => [...new Set(seqs)].sort((a, b) => a - b)

async function waitFor (predicate: () => boolean, what: string, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

const RECEIVERS: ReceiverKind[] = ['websockets', 'aiohttp', 'gorilla']

/**
 * The records a receiver has printed, once they are all there: a pong can reach
 * us before the receiver's own report of the messages before it (Python's
 * websockets even answers before its application has the message).
 */
async function arrived (seqs: () => number[], expected: number[]): Promise<number[]> {
  await waitFor(() => unique(seqs()).length >= expected.length, `${expected.length} records at the receiver`, 10_000).catch(() => {})
  return unique(seqs())
}

describe('interoperability', () => {
  afterEach(stopAll)

  for (const kind of RECEIVERS) {
    test(`${kind}: 5 000 records through a real pino worker arrive once and in order, and the close is a clean 1000`, { skip: missing(kind) }, async () => {
      const receiver = await startReceiver(kind)
      const transport = pino.transport({ target: 'pino-websocket', options: { port: receiver.port, format: 'json_lines' } })
      const logger = pino(transport)
      for (const seq of range(5000)) logger.info({ seq }, 'interop')
      await waitFor(() => receiver.seqs.length >= 5000, '5 000 records')
      transport.end()
      await waitFor(() => receiver.closes.length >= 1, 'the close')
      assert.deepEqual(receiver.seqs, range(5000), 'every record once, in order')
      assert.deepEqual(receiver.closes, [1000])
      await receiver.kill()
    })
  }

  // aiohttp answers a ping only as its application reads on, so a pong means the
  // receiver has handled (here: printed) every message before it. Python's
  // websockets answers on reading the frame: killed then, it loses what it had
  // read and not handled, though confirmed (see the README's delivery guarantee).
  test('aiohttp: 10 kill -9 restarts at ~2 000 records/s: nothing lost', { skip: missing('aiohttp') }, async (t) => {
    const port = await freePort()
    const received: number[] = []
    let receiver: Receiver = await startReceiver('aiohttp', { port })
    const client = new Client(resolveOptions({ port, format: 'json_lines', ...FAST }))
    let seq = 0
    const writer = setInterval(() => { for (let i = 0; i < 20; i++) client.write({ time, record: { seq: seq++ } }) }, 10)
    for (let restart = 0; restart < 10; restart++) {
      await sleep(400)
      await receiver.kill('SIGKILL')
      received.push(...receiver.seqs)
      await sleep(100)
      receiver = await startReceiver('aiohttp', { port })
    }
    await sleep(300)
    clearInterval(writer)
    await client.flush(15_000)
    const last = receiver
    assert.deepEqual(await arrived(() => [...received, ...last.seqs], range(seq)), range(seq))
    t.diagnostic(`aiohttp kill -9: ${seq} records, ${received.length + last.seqs.length - seq} duplicates, ${client.stats().resent} resent`)
    assert.equal(client.stats().delivered, seq)
    await client.close()
    await receiver.kill()
  })

  for (const kind of RECEIVERS) {
    test(`${kind} with a 32 KiB message limit: every record arrives, but one over the limit alone, dropped as oversized`, { skip: missing(kind) }, async (t) => {
      const receiver = await startReceiver(kind, { maxSize: 32 * 1024 })
      const client = new Client(resolveOptions({ port: receiver.port, format: 'json_lines', ...FAST }))
      const pad = 'p'.repeat(200)
      for (const seq of range(3000)) client.write({ time, record: { seq, pad } })
      client.write({ time, record: { seq: 3000, big: 'b'.repeat(40 * 1024) } })
      for (const seq of range(1000, 3001)) client.write({ time, record: { seq, pad } })
      await client.flush(30_000)
      const expected = range(4001).filter((s) => s !== 3000)
      assert.deepEqual(await arrived(() => receiver.seqs, expected), expected)
      const stats = client.stats()
      assert.equal(stats.dropped.oversized, 1)
      assert.ok(stats.maxMessageBytes <= 32 * 1024, `messages now at most ${stats.maxMessageBytes} bytes`)
      t.diagnostic(`${kind}: messages shrank to ${stats.maxMessageBytes} bytes over ${receiver.connections} connections; ${receiver.seqs.length - expected.length} duplicates`)
      await client.close()
      await receiver.kill()
    })
  }

  // nhooyr.io/websocket with its defaults reads at most 32 KiB per message, and
  // drops the connection right after its 1009, so the close frame is lost to a
  // reset: the client sees 1006 after a message larger than any confirmed.
  test('nhooyr with its defaults: a pino app logs 20 000 records in one burst and ends; all arrive within closeTimeout', { skip: missing('nhooyr') }, async (t) => {
    const receiver = await startReceiver('nhooyr')
    // An app of its own (a test's main thread that waits on pino's end would stop
    // reading the receiver's output, and so stop the receiver); default delays.
    const started = Date.now()
    const app = spawn(process.execPath, ['test/fixtures/pino-app.mjs'], { env: { ...process.env, PORT: String(receiver.port), COUNT: '20000', MODE: 'natural', DEFAULT_DELAYS: '1' }, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    app.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const [code] = await once(app, 'exit') as [number]
    const took = Date.now() - started
    assert.equal(code, 0, stderr)
    assert.deepEqual(await arrived(() => receiver.seqs, range(20_000)), range(20_000))
    assert.equal(stderr, '', 'no warning')
    assert.ok(took < 5000 + 2000, `the app took ${took} ms to end`)
    // Sizes grow from a small first one as the server confirms them: no connection is spent finding its limit.
    assert.ok(receiver.connections <= 2, `${receiver.connections} connections`)
    t.diagnostic(`nhooyr burst: 20 000 records, the app ended after ${took} ms, ${receiver.connections} connection(s), ${receiver.seqs.length - 20_000} duplicate(s)`)
    await receiver.kill()
  })

  test('nhooyr with its defaults, down 3 s under 1 000 records/s: the backlog leaves in messages it takes, 0 lost', { skip: missing('nhooyr') }, async (t) => {
    const port = await freePort()
    const received: number[] = []
    let receiver = await startReceiver('nhooyr', { port })
    const transport = pino.transport({ target: 'pino-websocket', options: { port, format: 'json_lines', reconnectDelay: 200, maxReconnectDelay: 1000 } })
    const logger = pino(transport)
    let seq = 0
    const writer = setInterval(() => { for (let i = 0; i < 10 && seq < 10_000; i++) logger.info({ seq: seq++, pad: 'p'.repeat(150) }, 'interop') }, 10)
    await sleep(2000)
    await receiver.kill('SIGKILL')
    received.push(...receiver.seqs)
    await sleep(3000)
    receiver = await startReceiver('nhooyr', { port })
    await waitFor(() => seq >= 10_000, 'the app to log 10 000 records', 20_000)
    clearInterval(writer)
    const last = receiver
    // The app ends as it stops logging: the backlog has closeTimeout to go.
    transport.end()
    await once(transport, 'close')
    assert.deepEqual(await arrived(() => [...received, ...last.seqs], range(10_000)), range(10_000))
    assert.ok(last.connections <= 2, `${last.connections} connections after the restart`)
    t.diagnostic(`nhooyr outage: ${receiver.connections} connection(s) after the restart, ${received.length + last.seqs.length - 10_000} duplicate(s)`)
    await receiver.kill()
  })

  for (const kind of ['websockets', 'gorilla'] as const) {
    for (const delivery of ['at-least-once', 'at-most-once'] as const) {
      test(`${kind} with an 8 KiB message limit, ${delivery}: ${delivery === 'at-least-once' ? 'all 2 000 records arrive' : 'what a 1009 shows unread is counted dropped, and the next burst arrives whole'}, messages shrink, a warning says so`, { skip: missing(kind) }, async (t) => {
        const receiver = await startReceiver(kind, { maxSize: 8 * 1024 })
        const client = new Client(resolveOptions({ port: receiver.port, format: 'json_lines', delivery, ...FAST }))
        const warnings: string[] = []
        client.on('warn', ({ code }) => warnings.push(code))
        // Two bursts: at most once, what the first loses to the 1009 is lost; the second goes in messages the server takes.
        for (const seq of range(1000)) client.write({ time, record: { seq, pad: 'p'.repeat(100) } })
        await client.flush(20_000)
        await sleep(500)
        for (const seq of range(1000, 1000)) client.write({ time, record: { seq, pad: 'p'.repeat(100) } })
        await client.flush(20_000)
        // At most once, nothing waits for the server: let the receiver print what it read.
        await sleep(500)
        const stats = client.stats()
        const got = unique(receiver.seqs)
        assert.ok(stats.maxMessageBytes <= 8 * 1024, `messages at most ${stats.maxMessageBytes} bytes`)
        assert.ok(warnings.includes('PINO_WS_WARN_MESSAGE_TOO_BIG'), warnings.join())
        assert.equal(stats.accepted, stats.delivered + stats.pending + Object.values(stats.dropped).reduce((a, b) => a + b, 0))
        if (delivery === 'at-least-once') {
          assert.deepEqual(got, range(2000))
          assert.equal(stats.delivered, 2000)
        } else {
          // The server's 1009 shows at least the message it refused was never read: counted
          // dropped, not delivered. gorilla's 1009 is lost to its reset, and at most once a
          // lost connection shows nothing (the size shrinks all the same).
          if (kind === 'websockets') {
            assert.ok(stats.dropped.oversized > 0, JSON.stringify(stats.dropped))
            assert.ok(stats.delivered < 2000, `delivered ${stats.delivered} of 2 000, arrived ${got.length}`)
          }
          assert.deepEqual(got.filter((seq) => seq >= 1000), range(1000, 1000), 'the second burst arrives whole')
        }
        t.diagnostic(`${kind} ${delivery}: arrived ${got.length}, delivered ${stats.delivered}, dropped ${JSON.stringify(stats.dropped)}, ${receiver.connections} connection(s)`)
        await client.close()
        await receiver.kill()
      })
    }
  }

  test('aiohttp stalling its reads on its first two connections (pings unanswered meanwhile): delivered never exceeds what arrived, nothing lost', { skip: missing('aiohttp') }, async () => {
    const receiver = await startReceiver('aiohttp', { stallFirst: 2, stallMs: 1500 })
    const client = new Client(resolveOptions({ port: receiver.port, format: 'json_lines', pongTimeout: 500, pingInterval: 300, ...FAST }))
    let seq = 0
    const violations: string[] = []
    const writer = setInterval(() => {
      const { delivered } = client.stats()
      const arrived = unique(receiver.seqs).length
      if (delivered > arrived) violations.push(`delivered ${delivered} > arrived ${arrived}`)
      for (let i = 0; i < 10; i++) client.write({ time, record: { seq: seq++ } })
    }, 20)
    await waitFor(() => receiver.connections >= 3 && client.stats().delivered > 0, 'a third connection that reads')
    await sleep(1000)
    clearInterval(writer)
    await client.flush(15_000)
    assert.deepEqual(violations, [])
    assert.deepEqual(await arrived(() => receiver.seqs, range(seq)), range(seq))
    assert.equal(client.stats().delivered, seq)
    await client.close()
    await receiver.kill()
  })

  test('behind nginx with proxy_read_timeout 1s and a 30 s gap: no reconnect loop, the first record after the gap arrives within 1 s', { skip: missing('nginx') ?? missing('websockets') }, async (t) => {
    const receiver = await startReceiver('websockets')
    const port = await freePort()
    const nginx = await startProxy('nginx', (dir) => `
      worker_processes 1;
      pid ${dir}/nginx.pid;
      events { worker_connections 64; }
      http {
        access_log off;
        client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
        fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
        server {
          listen 127.0.0.1:${port};
          location / {
            proxy_pass http://127.0.0.1:${receiver.port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1s;
          }
        }
      }`, port)
    // Default delays and heartbeat: nothing keeps the connection busy through the gap.
    const client = new Client(resolveOptions({ port, format: 'json_lines' }))
    const reconnecting: unknown[] = []
    client.on('reconnecting', (event) => reconnecting.push(event))
    for (const seq of range(1000)) client.write({ time, record: { seq } })
    await client.flush()
    const connectionsBefore = receiver.connections
    await sleep(30_000)
    assert.ok(receiver.connections - connectionsBefore <= 0, `${receiver.connections - connectionsBefore} connections opened while idle`)
    const sentAt = Date.now()
    client.write({ time, record: { seq: 1000 } })
    await waitFor(() => receiver.seqs.includes(1000), 'the first record after the gap', 5000)
    const took = Date.now() - sentAt
    assert.ok(took < 1000, `the first record after the gap took ${took} ms`)
    t.diagnostic(`nginx: the first record after a 30 s gap arrived in ${took} ms`)
    for (const seq of range(999, 1001)) client.write({ time, record: { seq } })
    await client.close()
    const stats = client.stats()
    assert.deepEqual(await arrived(() => receiver.seqs, range(2000)), range(2000))
    assert.equal(stats.dropped.shutdown, 0)
    assert.deepEqual(reconnecting, [])
    await nginx.stop()
    await receiver.kill()
  })

  test('HAProxy losing the backend that carries the stream (kill -9): the stream moves to the other, nothing lost', { skip: missing('haproxy') ?? missing('websockets') }, async (t) => {
    const backends = [await startReceiver('websockets'), await startReceiver('websockets')]
    const port = await freePort()
    const haproxy = await startProxy('haproxy', () => `
      global
        maxconn 256
      defaults
        mode http
        timeout connect 1s
        timeout client 30s
        timeout server 30s
        timeout tunnel 1h
      frontend logs
        bind 127.0.0.1:${port}
        default_backend receivers
      backend receivers
        balance roundrobin
        option redispatch
        retries 3
        server a 127.0.0.1:${backends[0].port} check inter 200 fall 1 rise 1
        server b 127.0.0.1:${backends[1].port} check inter 200 fall 1 rise 1
      `, port)
    const client = new Client(resolveOptions({ port, format: 'json_lines', ...FAST }))
    let seq = 0
    const writer = setInterval(() => { for (let i = 0; i < 20; i++) client.write({ time, record: { seq: seq++ } }) }, 10)
    await waitFor(() => backends.some((b) => b.seqs.length > 500), 'records on a backend')
    const active = backends.find((b) => b.seqs.length > 0)!
    const other = backends.find((b) => b !== active)!
    const before = active.seqs.slice()
    await active.kill('SIGKILL')
    const killedAt = Date.now()
    await waitFor(() => other.seqs.length > 0, 'records on the other backend')
    const movedIn = Date.now() - killedAt
    await sleep(500)
    clearInterval(writer)
    await client.flush(15_000)
    assert.deepEqual(await arrived(() => [...before, ...active.seqs, ...other.seqs], range(seq)), range(seq))
    assert.equal(client.stats().delivered, seq)
    assert.ok(movedIn < 10_000, `moved in ${movedIn} ms`)
    t.diagnostic(`HAProxy: the stream moved to the other backend in ${movedIn} ms`)
    await client.close()
    await haproxy.stop()
    await other.kill()
  })

  for (const kind of ['haproxy', 'nginx'] as const) {
    test(`examples/scaling: three examples/receiver.mjs behind ${kind}, the one carrying the stream killed -9: nothing lost`, { skip: missing(kind) }, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), `pino-ws-scaling-${kind}-`))
      const ports = [await freePort(), await freePort(), await freePort()]
      const receivers: ChildProcess[] = []
      for (const [i, port] of ports.entries()) {
        const child = spawn(process.execPath, ['examples/receiver.mjs'], { env: { ...process.env, PORT: String(port), OUT: join(dir, `r${i}.ndjson`) }, stdio: ['ignore', 'ignore', 'pipe'] })
        await once(child.stderr!, 'data')
        receivers.push(child)
      }
      const front = await freePort()
      // The example's file as it is, with this run's ports.
      const example = readFileSync(`examples/scaling/${kind === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf'}`, 'utf8')
      const proxy = await startProxy(kind, () => example.replace('127.0.0.1:8080', `127.0.0.1:${front}`)
        .replace(/127\.0\.0\.1:900([123])/g, (_, n: string) => `127.0.0.1:${ports[Number(n) - 1]}`)
        .replace(/^error_log stderr;$/m, '').replace(/^pid .*$/m, `pid ${join(dir, 'nginx.pid')};`), front)
      const seqsOf = (i: number): number[] => {
        try {
          return readFileSync(join(dir, `r${i}.ndjson`), 'utf8').trim().split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { seq: number }).seq)
        } catch {
          return []
        }
      }
      const client = new Client(resolveOptions({ port: front, format: 'json_lines', ...FAST }))
      let seq = 0
      const writer = setInterval(() => { for (let i = 0; i < 20; i++) client.write({ time, record: { seq: seq++ } }) }, 10)
      await waitFor(() => ports.some((_, i) => seqsOf(i).length > 500), 'records on a receiver')
      const active = ports.findIndex((_, i) => seqsOf(i).length > 0)
      receivers[active].kill('SIGKILL')
      const killedAt = Date.now()
      await waitFor(() => ports.some((_, i) => i !== active && seqsOf(i).length > 0), 'records on another receiver')
      const movedIn = Date.now() - killedAt
      await sleep(500)
      clearInterval(writer)
      await client.flush(15_000)
      const all = () => [0, 1, 2].flatMap(seqsOf)
      assert.deepEqual(await arrived(all, range(seq)), range(seq))
      assert.equal(client.stats().delivered, seq)
      t.diagnostic(`${kind}: the stream moved to another receiver in ${movedIn} ms; ${all().length - seq} duplicate(s) of ${seq}`)
      await client.close()
      await proxy.stop()
      for (const child of receivers) child.kill('SIGKILL')
    })
  }
})
