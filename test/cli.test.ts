import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { WebSocketServer } from 'ws'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { Client } from '../src/client.js'
import { resolveOptions } from '../src/options.js'
import { connectProxy, freePort, range, startServer, waitFor } from './helpers.js'

const CLI = 'dist/cjs/cli.js'

describe('pino-websocket CLI', () => {
  test('pipe mode sends every JSON line on stdin, skips the rest, and exits 0 at end of input', async () => {
    const server = await startServer({ format: 'json_lines', jsonDateFormat: 'epoch_ms' })
    const child = spawn(process.execPath, [CLI, '--url', server.url, '--format', 'json_lines', '--date-format', 'epoch_ms'])
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    for (const seq of range(100)) child.stdin.write(JSON.stringify({ level: 30, time: 1700000000000 + seq, seq }) + '\n')
    // pino with isoTime writes the time as a date string.
    child.stdin.write(JSON.stringify({ level: 30, time: '2023-11-14T22:13:20.500Z', seq: 100 }) + '\n')
    child.stdin.end('not json\n')
    const [code] = await once(child, 'exit') as [number]
    assert.equal(code, 0, stderr)
    assert.deepEqual(server.events.map((e) => e.record.seq), range(101))
    assert.equal(server.events[5].time.sec * 1000 + server.events[5].time.nsec / 1e6, 1700000000005, 'time comes from pino\'s time')
    assert.equal(server.events[100].time.sec * 1000 + server.events[100].time.nsec / 1e6, 1700000000500, 'an ISO time is read too')
    assert.match(stderr, /skipped 1 non-JSON line/)
    await server.close()
  })

  test('receive mode prints each record it decodes as a JSON line', async () => {
    const port = await freePort()
    const child = spawn(process.execPath, [CLI, 'receive', '--port', String(port)])
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    await once(child.stderr, 'data')
    const connection = new Client(resolveOptions({ port }))
    for (const seq of range(3)) connection.write({ time: { sec: 1700000000, nsec: seq }, record: { seq } })
    await connection.close()
    await waitFor(() => stdout.split('\n').length > 3, 'three lines')
    child.kill('SIGTERM')
    const [code] = await once(child, 'exit') as [number]
    assert.equal(code, 0)
    assert.deepEqual(stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown), range(3).map((seq) => ({ time: { sec: 1700000000, nsec: seq }, record: { seq } })))
  })

  test('TLS and proxy flags: --ca, --proxy with credentials, --quiet: records reach a wss:// server through the tunnel', async () => {
    const dir = join(import.meta.dirname, 'fixtures', 'tls')
    const https = createHttpsServer({ key: readFileSync(join(dir, 'self-signed.key')), cert: readFileSync(join(dir, 'self-signed.pem')) })
    const wss = new WebSocketServer({ server: https })
    const seqs: number[] = []
    wss.on('connection', (socket) => socket.on('message', (data: Buffer) => {
      for (const line of data.toString().trim().split('\n')) seqs.push((JSON.parse(line) as { seq: number }).seq)
    }))
    https.listen(0, '127.0.0.1')
    await once(https, 'listening')
    const proxy = await connectProxy('cli:pr0xyPw')
    const url = `wss://127.0.0.1:${(https.address() as AddressInfo).port}/`
    const child = spawn(process.execPath, [CLI, '--url', url, '--format', 'json_lines', '--ca', join(dir, 'self-signed.pem'), '--proxy', `http://cli:pr0xyPw@127.0.0.1:${proxy.port}`, '--quiet'],
      { env: { ...process.env, NODE_DEBUG: 'pino-websocket' } })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    for (const seq of range(20)) child.stdin.write(JSON.stringify({ level: 30, time: 1700000000000, seq }) + '\n')
    child.stdin.end()
    const [code] = await once(child, 'exit') as [number]
    assert.equal(code, 0, output)
    assert.deepEqual(seqs, range(20))
    assert.equal(proxy.tunnels.length, 1)
    assert.match(output, /through the proxy http:\/\/127\.0\.0\.1:\d+\//)
    assert.ok(!output.includes('pr0xyPw') && !output.includes(Buffer.from('cli:pr0xyPw').toString('base64')), output)
    proxy.close()
    wss.close()
    https.close()
  })

  test('a bad option is reported on stderr with exit code 2', async () => {
    const child = spawn(process.execPath, [CLI, '--port', '80a'])
    child.stdin.end()
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const [code] = await once(child, 'exit') as [number]
    assert.equal(code, 2)
    assert.match(stderr, /expected `port` to be an integer 1-65535, got `"80a"` \(string\)/)
  })
})
