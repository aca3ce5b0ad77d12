import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { WebSocketServer } from 'ws'
import { Client } from '../src/client.js'
import { resolveOptions } from '../src/options.js'
import { freePort, waitFor } from './helpers.js'

// What a user must not miss reaches stderr as a Node warning, from pino's worker
// too, once and then rarely; `quiet` keeps it off. Each app runs in a child
// process with the built package, as a user's app would.

async function runApp (adapter: 'pino' | 'winston', options: Record<string, unknown>, seconds: number, env: Record<string, string> = {}): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, ['test/fixtures/warn-app.mjs'], {
    env: { ...process.env, ADAPTER: adapter, OPTIONS: JSON.stringify(options), SECONDS: String(seconds), ...env },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  return { code, stderr }
}

/** The warning lines of stderr, without Node's one-off `--trace-warnings` hint. */
function warnings (stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '' && !line.startsWith('(Use `node --trace-warnings'))
}

/** A self-signed certificate for 127.0.0.1 (a fixture of scripts/make-test-certificates.sh). */
function selfSigned (): { key: string, cert: string } {
  const dir = join(import.meta.dirname, 'fixtures', 'tls')
  return { key: readFileSync(join(dir, 'self-signed.key'), 'utf8'), cert: readFileSync(join(dir, 'self-signed.pem'), 'utf8') }
}

describe('warnings', () => {
  for (const adapter of ['pino', 'winston'] as const) {
    test(`${adapter}: an unknown option and an unreachable endpoint print one warning each over 4 s of outage, none with quiet`, async () => {
      const port = await freePort()
      const options = { port, colour: 'blue', reconnectDelay: 20, maxReconnectDelay: 100, closeTimeout: 200 }
      const { code, stderr } = await runApp(adapter, options, 4)
      assert.equal(code, 0, stderr)
      const lines = warnings(stderr)
      assert.equal(lines.filter((line) => line.includes('[PINO_WS_WARN_UNKNOWN_OPTION]') && line.includes('`colour`')).length, 1, stderr)
      const unreachable = lines.filter((line) => line.includes('[PINO_WS_WARN_UNREACHABLE]'))
      assert.equal(unreachable.length, 1, stderr)
      assert.match(unreachable[0], new RegExp(`cannot reach ws://127\\.0\\.0\\.1:${port}/: connect ECONNREFUSED`))
      assert.ok(lines.length < 20, `${lines.length} lines:\n${stderr}`)

      const quiet = await runApp(adapter, { ...options, quiet: true }, 1)
      assert.equal(quiet.code, 0, quiet.stderr)
      assert.deepEqual(warnings(quiet.stderr), [])
    })

    test(`${adapter}: no endpoint (a misspelt url) is an error at start naming the option and the likely typo`, async () => {
      const { code, stderr } = await runApp(adapter, { urll: 'ws://127.0.0.1:9/' }, 1)
      assert.notEqual(code, 0)
      assert.match(stderr, /expected `url` to be given \(or `host` and `port`\).*unknown option\(s\) `urll` \(did you mean `url`\?\)/)
    })
  }

  /** A wss:// server with a self-signed certificate. */
  async function selfSignedServer (): Promise<{ url: string, close: () => void }> {
    const { key, cert } = selfSigned()
    const https = createHttpsServer({ key, cert })
    const wss = new WebSocketServer({ server: https })
    https.listen(0, '127.0.0.1')
    await once(https, 'listening')
    return { url: `wss://127.0.0.1:${(https.address() as AddressInfo).port}/`, close: () => { wss.close(); https.close() } }
  }

  for (const adapter of ['pino', 'winston'] as const) {
    test(`${adapter}: a refused certificate prints one PINO_WS_WARN_TLS_REFUSED warning naming the reason`, async () => {
      const server = await selfSignedServer()
      const { code, stderr } = await runApp(adapter, { url: server.url, reconnectDelay: 20, maxReconnectDelay: 200, closeTimeout: 100 }, 2)
      server.close()
      assert.equal(code, 0, stderr)
      const lines = warnings(stderr).filter((line) => line.includes('[PINO_WS_WARN_TLS_REFUSED]'))
      assert.equal(lines.length, 1, stderr)
      assert.match(lines[0], /self-signed certificate/)
    })
  }

  test('a refused certificate: one warn event naming the reason, and slow retries', async () => {
    const server = await selfSignedServer()
    const client = new Client(resolveOptions({ url: server.url, reconnectDelay: 10, maxReconnectDelay: 2000, closeTimeout: 100 }))
    const warned: Array<{ code: string, message: string }> = []
    const delays: number[] = []
    client.on('warn', (warning) => warned.push(warning))
    client.on('reconnecting', ({ delay }) => delays.push(delay))
    client.write({ time: { sec: 1, nsec: 0 }, record: { a: 1 } })
    await waitFor(() => delays.length >= 1, 'a failed attempt')
    assert.deepEqual(warned.map((w) => w.code), ['PINO_WS_WARN_TLS_REFUSED'])
    assert.match(warned[0].message, /self-signed certificate/)
    assert.ok(delays[0] >= 1000, `the retry waits about maxReconnectDelay: ${delays[0]} ms`)
    await client.close()
    server.close()
  })

  for (const [code, hint] of [[1003, /`format`/], [1008, /credentials or policy/], [4000, /credentials or policy/], [4001, /credentials or policy/], [1000, /server's logs say why/]] as const) {
    test(`a server that accepts the upgrade and closes with ${code} before confirming anything: one warning naming the code, the reason redacted, a hint; backoff grows`, async () => {
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
      await once(wss, 'listening')
      let connections = 0
      wss.on('connection', (socket) => {
        connections++
        const refuse = (): void => socket.close(code, 'bad token s3cr3t-token-42')
        // 1003 is what a server says to a binary frame it does not take (our default msgpack).
        if (code === 1003) socket.on('message', (_data, binary) => { if (binary) refuse() })
        else refuse()
      })
      const port = (wss.address() as AddressInfo).port
      const client = new Client(resolveOptions({ port, headers: { Authorization: 'Bearer s3cr3t-token-42' }, reconnectDelay: 50, maxReconnectDelay: 2000 }))
      const warned: Array<{ code: string, message: string }> = []
      client.on('warn', (warning) => warned.push(warning))
      for (let seq = 0; seq < 10; seq++) client.write({ time: { sec: 1700000000, nsec: 0 }, record: { seq } })
      await new Promise((resolve) => setTimeout(resolve, 3000))
      const closed = warned.filter((warning) => warning.code === 'PINO_WS_WARN_SERVER_CLOSED')
      assert.equal(closed.length, 1, JSON.stringify(warned))
      assert.match(closed[0].message, new RegExp(`closed \\d+ connections in a row with ${code}`))
      assert.match(closed[0].message, hint)
      assert.doesNotMatch(JSON.stringify(warned), /s3cr3t-token-42/)
      assert.match(closed[0].message, /bad token/)
      assert.ok(connections >= 3 && connections < 20, `${connections} connections in 3 s: the backoff grows`)
      await client.close(0)
      wss.close()
    })
  }

  test('NODE_DEBUG=pino-websocket: a line for every attempt, its failure with the reason, and every retry with its delay', async () => {
    const port = await freePort()
    const { stderr } = await runApp('winston', { port, reconnectDelay: 50, maxReconnectDelay: 100, closeTimeout: 100, quiet: true }, 1, { NODE_DEBUG: 'pino-websocket' })
    assert.match(stderr, new RegExp(`PINO-WEBSOCKET \\d+: connecting to ws://127\\.0\\.0\\.1:${port}/ \\(attempt 1\\)`))
    assert.match(stderr, /PINO-WEBSOCKET \d+: attempt failed: connect ECONNREFUSED/)
    assert.match(stderr, /PINO-WEBSOCKET \d+: retrying in \d+ ms/)
    assert.match(stderr, /PINO-WEBSOCKET \d+: connecting to .* \(attempt [2-9]\)/)
  })
})
