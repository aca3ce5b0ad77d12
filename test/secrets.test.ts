import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { describe, test } from 'node:test'
import { WebSocketServer } from 'ws'
import { Client } from '../src/client.js'
import { redact, secretsOf } from '../src/errors.js'
import { resolveOptions } from '../src/options.js'
import { connectProxy, freePort, waitFor } from './helpers.js'

// Secrets in the options (the URL's password, query values, header values) never
// appear in anything the package emits: errors, events, warnings, debug lines.

const PASS = 'pAss%40w0rd'
const TOKEN = 't0kenValue'
const BEARER = 'b3arerValue'
const SECRETS = [PASS, decodeURIComponent(PASS), TOKEN, BEARER, Buffer.from(`user:${decodeURIComponent(PASS)}`).toString('base64')]

function assertClean (text: string, where: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} holds ${secret}: ${text}`)
}

/** A server that answers every connection by closing it with a reason that echoes every secret it was sent. */
async function echoingServer (): Promise<{ port: number, close: () => void }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(server, 'listening')
  server.on('connection', (socket, request) => {
    const url = new URL(request.url ?? '/', 'ws://x')
    const basic = (request.headers.authorization ?? '').replace(/^Basic /, '')
    socket.close(4001, `denied token=${url.searchParams.get('token')} ${request.headers['x-api-key']} ${basic}`.slice(0, 120))
  })
  return { port: (server.address() as AddressInfo).port, close: () => server.close() }
}

describe('secrets', () => {
  // Every option declared secret, given twice (canonical name and another
  // spelling): the error names both, and shows neither value.
  const SECRET = 'hunter2-secret-value'
  const PEM = `-----BEGIN PRIVATE KEY-----\n${SECRET}\n-----END PRIVATE KEY-----\n`
  for (const [first, second, value] of [
    ['passphrase', 'tls.key_passwd', SECRET],
    ['key', 'tls.key_file', PEM],
    ['headers', 'header', { Authorization: `Bearer ${SECRET}` }],
    ['uri', 'Uri', `/ingest?token=${SECRET}`],
    ['host', 'Host', `${SECRET}.example.com`]
  ] as const) {
    test(`\`${first}\` and \`${second}\` together: the error names both and shows no value`, () => {
      assert.throws(() => resolveOptions({ ...(first === 'host' ? {} : { host: 'example.com' }), [first]: value, [second]: value }), (error: Error) => {
        assert.match(error.message, new RegExp(`\`${second.replace('.', '\\.')}\` to be absent, since \`${first}\` sets the same option|\`${first}\` to be absent, since \`${second.replace('.', '\\.')}\` sets the same option`))
        assert.ok(!error.message.includes('hunter2'), error.message)
        assert.ok(!error.message.includes('BEGIN PRIVATE'), error.message)
        return true
      })
    })
  }

  test('a private key (`key`, `pfx`) given as a string that is neither PEM nor a readable path: the error does not show it', () => {
    for (const option of ['key', 'pfx']) {
      assert.throws(() => resolveOptions({ url: 'wss://example.com/', [option]: SECRET, ...(option === 'key' ? { cert: join(import.meta.dirname, 'fixtures', 'tls', 'client.pem') } : {}) }), (error: Error) => {
        assert.match(error.message, new RegExp(`\`${option}\``))
        assert.ok(!error.message.includes('hunter2'), error.message)
        return true
      })
    }
  })

  test('the secrets of the options: password plain and decoded, Basic credentials, each query value, each word of a header value; never a scheme name or a short word', () => {
    const secrets = secretsOf([new URL(`wss://user:${PASS}@logs.test/ingest?a=b&token=${TOKEN}&x=y%20z`)], [`Bearer ${BEARER}`, 'a b'], 'pp')
    for (const secret of [PASS, decodeURIComponent(PASS), TOKEN, BEARER, `Bearer ${BEARER}`, 'y%20z', 'y z', Buffer.from(`user:${decodeURIComponent(PASS)}`).toString('base64')]) {
      assert.ok(secrets.includes(secret), secret)
    }
    for (const innocent of ['user', 'Bearer', 'b', 'a', 'pp']) assert.ok(!secrets.includes(innocent), innocent)
    assert.equal(redact(`user Bearer ${BEARER}, Bearer alone, ${BEARER} alone and token=${TOKEN}`, secrets), 'user …, Bearer alone, … alone and token=…')
  })

  test('a close reason that echoes every secret: the disconnect event and the warnings hold none of them', async () => {
    const server = await echoingServer()
    const client = new Client(resolveOptions({
      url: `ws://user:${PASS}@127.0.0.1:${server.port}/ingest?a=b&token=${TOKEN}`,
      headers: { 'X-Api-Key': BEARER },
      reconnectDelay: 20,
      maxReconnectDelay: 100,
      closeTimeout: 100
    }))
    const emitted: unknown[] = []
    for (const name of ['open', 'disconnect', 'reconnecting', 'drop', 'warn'] as const) client.on(name, (payload: unknown) => emitted.push(payload))
    client.write({ time: { sec: 1, nsec: 0 }, record: { a: 1 } })
    await waitFor(() => emitted.filter((e) => (e as { code?: number }).code === 4001).length >= 2, 'two echoing closes')
    await client.close()
    const text = JSON.stringify([emitted, client.stats()])
    assert.match(text, /denied token=… … …/, 'the reason is kept, its secrets blanked')
    assertClean(text, 'events')
    server.close()
  })

  test('NODE_DEBUG lines and stderr of an app whose server echoes every secret hold none of them', async () => {
    const server = await echoingServer()
    const options = { url: `ws://user:${PASS}@127.0.0.1:${server.port}/ingest?a=b&token=${TOKEN}`, headers: [`X-Api-Key: ${BEARER}`], reconnectDelay: 20, maxReconnectDelay: 100, closeTimeout: 100 }
    for (const adapter of ['pino', 'winston']) {
      const child = spawn(process.execPath, ['test/fixtures/warn-app.mjs'], {
        env: { ...process.env, ADAPTER: adapter, OPTIONS: JSON.stringify(options), SECONDS: '1', NODE_DEBUG: 'pino-websocket' },
        stdio: ['ignore', 'pipe', 'pipe']
      })
      let output = ''
      child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
      child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
      await once(child, 'exit')
      assert.match(output, /disconnected from ws:\/\/127\.0\.0\.1:\d+\/ingest: 4001 "denied token=… … …"/, output)
      assertClean(output, `${adapter}'s output`)
    }
    // The CLI: its output, warnings and summary, with the token given as a --header flag.
    const cli = spawn(process.execPath, ['dist/cjs/cli.js', '--url', options.url, '--header', `X-Api-Key: ${BEARER}`, '--give-up-after', '1000'], { env: { ...process.env, NODE_DEBUG: 'pino-websocket' } })
    let output = ''
    cli.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    cli.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    cli.stdin.end('{"level":30,"time":1700000000000,"msg":"x"}\n')
    await once(cli, 'exit')
    assert.match(output, /4001 "denied token=… … …"/, output)
    assertClean(output, "the CLI's output")
    server.close()
  })

  test('every failure path (refused, DNS, 401, bad Accept, handshake timeout, a refusing proxy with credentials): events, warnings, stats and the fallback file hold no secret', async () => {
    const { createServer } = await import('node:net')
    const raw = async (answer: (socket: import('node:net').Socket) => void): Promise<{ port: number, close: () => void }> => {
      const sockets = new Set<import('node:net').Socket>()
      const server = createServer((socket) => {
        sockets.add(socket)
        socket.on('error', () => {})
        socket.once('data', () => answer(socket))
      })
      server.listen(0, '127.0.0.1')
      await once(server, 'listening')
      return { port: (server.address() as AddressInfo).port, close: () => { for (const socket of sockets) socket.destroy(); server.close() } }
    }
    const servers = [
      await raw((socket) => socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n')),
      await raw((socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: d3Jvbmc=\r\n\r\n')),
      await raw(() => {})
    ]
    const proxy = await connectProxy('puser:pr0xyS3cret')
    proxy.refuse = 407
    const fallbackFile = join(mkdtempSync(join(tmpdir(), 'pino-ws-secrets-')), 'fallback.ndjson')
    const endpoints: Array<Record<string, unknown>> = [
      { url: `ws://user:${PASS}@127.0.0.1:${await freePort()}/ingest?a=b&token=${TOKEN}` },
      { url: `ws://user:${PASS}@no-such-host.invalid/ingest?a=b&token=${TOKEN}` },
      ...servers.map((server) => ({ url: `ws://user:${PASS}@127.0.0.1:${server.port}/ingest?a=b&token=${TOKEN}` })),
      { url: `ws://user:${PASS}@127.0.0.1:1/ingest?a=b&token=${TOKEN}`, proxy: `http://puser:pr0xyS3cret@127.0.0.1:${proxy.port}` }
    ]
    const captured: unknown[] = []
    for (const endpoint of endpoints) {
      const client = new Client(resolveOptions({ ...endpoint, headers: { Authorization: `Bearer ${BEARER}` }, connectTimeout: 300, reconnectDelay: 20, maxReconnectDelay: 100, closeTimeout: 300, fallbackFile }))
      let failed = 0
      client.on('reconnecting', () => failed++)
      for (const name of ['open', 'disconnect', 'reconnecting', 'drop', 'warn'] as const) client.on(name, (payload: unknown) => captured.push(payload))
      client.write({ time: { sec: 1, nsec: 0 }, record: { msg: 'kept' } })
      await waitFor(() => failed > 0, 'a failed attempt', 5000)
      await client.close()
      captured.push(client.stats())
    }
    const text = JSON.stringify(captured) + readFileSync(fallbackFile, 'utf8')
    for (const expected of [/ECONNREFUSED/, /ENOTFOUND|EAI_AGAIN/, /HTTP 401/, /Sec-WebSocket-Accept/, /handshake has timed out/, /HTTP 407/]) assert.match(text, expected)
    assertClean(text, 'what was emitted')
    assert.ok(!text.includes('pr0xyS3cret') && !text.includes(Buffer.from('puser:pr0xyS3cret').toString('base64')), 'the proxy credentials')
    for (const server of servers) server.close()
    proxy.close()
  })

  test('a drop event\'s error holds no secret: a line that is the URL\'s password, met on stdin, is not echoed', async () => {
    const client = new Client(resolveOptions({ url: `ws://user:${PASS}@127.0.0.1:${await freePort()}/?token=${TOKEN}`, format: 'json_lines', quiet: true }))
    const drops: unknown[] = []
    client.on('drop', (drop) => drops.push(drop))
    const { NdjsonReader } = await import('../src/ndjson.js')
    const reader = new NdjsonReader(client)
    reader.write(`${decodeURIComponent(PASS)}\n${TOKEN}\n`)
    await waitFor(() => drops.length > 0, 'the drop event')
    const text = JSON.stringify(drops)
    assert.match(text, /unencodable/)
    assertClean(text, 'drop events')
    await client.close(0)
  })

  test('option errors hold no secret: a URL object, a curl-style header with a bad value, credentials in host', () => {
    const cases: Array<Record<string, unknown>> = [
      { url: new URL(`ftp://user:${PASS}@logs.test/?token=${TOKEN}`) },
      { url: new URL(`wss://user:${PASS}@logs.test/?token=${TOKEN}`), port: 1 },
      { port: 1, headers: [`X-Api-Key:${BEARER}\u0001`] },
      { port: 1, headers: `X-Api-Key:${BEARER}€` },
      { host: `user:${PASS}@logs.test`, port: 1 },
      { url: `wss://user:${PASS}@logs.test/?token=${TOKEN}`, headers: { Authorization: `Bearer ${BEARER}`, authorization: `Bearer ${BEARER}` } }
    ]
    for (const options of cases) {
      assert.throws(() => resolveOptions(options), (error: Error) => {
        assertClean(`${error.message}\n${error.stack ?? ''}`, 'the error')
        return true
      }, Object.keys(options).join())
    }
    // A URL object is taken as its text.
    assert.equal(resolveOptions({ url: new URL('wss://logs.test/in') }).url, 'wss://logs.test/in')
  })
})
