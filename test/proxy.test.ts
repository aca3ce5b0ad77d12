import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { WebSocketServer } from 'ws'
import { Client } from '../src/client.js'
import { resolveOptions } from '../src/options.js'
import { proxyFor } from '../src/proxy.js'
import { connectProxy, range, startServer, waitFor } from './helpers.js'

const time = { sec: 1700000000, nsec: 0 }
const FAST = { reconnectDelay: 20, maxReconnectDelay: 400, closeTimeout: 2000 }

describe('proxies', () => {
  test('through an HTTP CONNECT proxy every record arrives', async () => {
    const server = await startServer({ format: 'json_lines' })
    const proxy = await connectProxy()
    const client = new Client(resolveOptions({ port: server.port, format: 'json_lines', proxy: `http://127.0.0.1:${proxy.port}`, ...FAST }))
    for (const seq of range(100)) client.write({ time, record: { seq } })
    await client.flush()
    assert.deepEqual(server.events.map((e) => e.record.seq), range(100))
    assert.deepEqual(proxy.tunnels, [`127.0.0.1:${server.port}`])
    await client.close()
    proxy.close()
    await server.close()
  })

  test('a proxy whose answer comes with more bytes in the same write: they go to the WebSocket, never back into our reader (no crash)', async () => {
    const { createServer } = await import('node:net')
    // The proxy's 200 and a 101 in one write: the 101 is not the server's (its accept cannot match), so the
    // handshake fails; what matters is that the bytes after the answer reach ws once, as a failed attempt.
    const proxy = createServer((socket) => {
      socket.on('error', () => {})
      socket.once('data', () => socket.write('HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bogus=\r\n\r\n'))
    })
    proxy.listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    const client = new Client(resolveOptions({ port: 9, format: 'json_lines', proxy: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, ...FAST, quiet: true }))
    const errors: string[] = []
    client.on('reconnecting', ({ error }) => errors.push(error ?? ''))
    const rss = process.memoryUsage().rss
    client.write({ time, record: { seq: 0 } })
    await waitFor(() => errors.length >= 2, 'two failed attempts')
    assert.match(errors[0], /Sec-WebSocket-Accept/i)
    assert.ok(process.memoryUsage().rss - rss < 64 * 1024 * 1024, 'no runaway buffer')
    await client.close(0)
    proxy.close()
  })

  test('a proxy that wants credentials: refused (407) with a warning and slow retries, then records arrive once they are given; never shown', async () => {
    const server = await startServer({ format: 'json_lines' })
    const proxy = await connectProxy('puser:pr0xyPass')
    const without = new Client(resolveOptions({ port: server.port, format: 'json_lines', proxy: `http://127.0.0.1:${proxy.port}`, ...FAST }))
    const warnings: Array<{ code: string, message: string }> = []
    const delays: number[] = []
    without.on('warn', (warning) => warnings.push(warning))
    without.on('reconnecting', ({ delay }) => delays.push(delay))
    without.write({ time, record: { seq: 0 } })
    await waitFor(() => delays.length >= 1, 'a refused attempt')
    assert.equal(warnings[0]?.code, 'PINO_WS_WARN_PROXY_REFUSED')
    assert.match(warnings[0].message, /answered CONNECT with HTTP 407/)
    assert.ok(delays[0] >= 200, `a refusal waits about maxReconnectDelay: ${delays[0]} ms`)
    await without.close()

    const withCredentials = new Client(resolveOptions({ port: server.port, format: 'json_lines', proxy: `http://puser:pr0xyPass@127.0.0.1:${proxy.port}`, ...FAST }))
    const emitted: unknown[] = []
    for (const name of ['warn', 'reconnecting', 'disconnect'] as const) withCredentials.on(name, (payload: unknown) => emitted.push(payload))
    for (const seq of range(10)) withCredentials.write({ time, record: { seq } })
    await withCredentials.flush()
    assert.deepEqual(server.events.map((e) => e.record.seq), range(10))
    assert.ok(!JSON.stringify([emitted, withCredentials.stats()]).includes('pr0xyPass'))
    assert.ok(resolveOptions({ port: 1, proxy: `http://puser:pr0xyPass@127.0.0.1:${proxy.port}` }).secrets.includes(Buffer.from('puser:pr0xyPass').toString('base64')))
    await withCredentials.close()
    proxy.close()
    await server.close()
  })

  test('wss:// through the proxy: TLS to the server inside the tunnel, the certificate verified', async () => {
    const dir = join(import.meta.dirname, 'fixtures', 'tls')
    const https = createHttpsServer({ key: readFileSync(join(dir, 'self-signed.key')), cert: readFileSync(join(dir, 'self-signed.pem')) })
    const wss = new WebSocketServer({ server: https })
    let records = 0
    wss.on('connection', (socket) => socket.on('message', (data: Buffer) => { records += data.toString().trim().split('\n').length }))
    https.listen(0, '127.0.0.1')
    await once(https, 'listening')
    const proxy = await connectProxy()
    const client = new Client(resolveOptions({ url: `wss://127.0.0.1:${(https.address() as AddressInfo).port}/`, ca: join(dir, 'self-signed.pem'), format: 'json_lines', proxy: `http://127.0.0.1:${proxy.port}`, ...FAST }))
    for (const seq of range(20)) client.write({ time, record: { seq } })
    await client.flush()
    assert.equal(client.stats().delivered, 20)
    assert.equal(records, 20)
    assert.equal(proxy.tunnels.length, 1)
    await client.close()
    proxy.close()
    wss.close()
    https.close()
  })

  test('a proxy refusing (403), then letting through: records arrive once it does', async () => {
    const server = await startServer({ format: 'json_lines' })
    const proxy = await connectProxy()
    proxy.refuse = 403
    const client = new Client(resolveOptions({ port: server.port, format: 'json_lines', proxy: `http://127.0.0.1:${proxy.port}`, ...FAST }))
    for (const seq of range(5)) client.write({ time, record: { seq } })
    await waitFor(() => proxy.authorizations.length >= 1, 'a refused CONNECT')
    proxy.refuse = 0
    await client.flush(5000)
    assert.deepEqual(server.events.map((e) => e.record.seq), range(5))
    await client.close()
    proxy.close()
    await server.close()
  })

  test("proxy: 'env' takes HTTPS_PROXY or HTTP_PROXY by scheme and honours NO_PROXY; the environment is read only when asked", () => {
    const env = { HTTP_PROXY: 'http://plain:3128', HTTPS_PROXY: 'secure.proxy:8443', NO_PROXY: 'localhost, .internal,exact.test:8080' }
    assert.equal(proxyFor('env', new URL('ws://logs.example/'), env)?.href, 'http://plain:3128/')
    assert.equal(proxyFor('env', new URL('wss://logs.example/'), env)?.href, 'http://secure.proxy:8443/')
    assert.equal(proxyFor('env', new URL('ws://localhost:8080/'), env), undefined)
    assert.equal(proxyFor('env', new URL('ws://a.b.internal/'), env), undefined)
    assert.equal(proxyFor('env', new URL('ws://exact.test:8080/'), env), undefined)
    assert.equal(proxyFor('env', new URL('ws://exact.test:9090/'), env)?.href, 'http://plain:3128/')
    assert.equal(proxyFor('env', new URL('ws://anything/'), { ...env, NO_PROXY: '*' }), undefined)
    assert.equal(proxyFor(undefined, new URL('ws://logs.example/'), env), undefined)
    assert.equal(resolveOptions({ port: 1 }).proxy, undefined, 'no proxy unless asked, whatever the environment')
    assert.throws(() => resolveOptions({ port: 1, proxy: 'socks5://user:secret@proxy:1080' }), (error: Error) => /`proxy` to be an http:\/\/ or https:\/\/ proxy URL/.test(error.message) && !error.message.includes('secret'))
  })
})
