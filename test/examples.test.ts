import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { readConfig } from '../src/cli-options.js'
import { resolveOptions } from '../src/options.js'
import { Client } from '../src/client.js'
import { freePort, range, startServer, waitFor } from './helpers.js'

/** Run an example to its end. */
async function run (command: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  const child = spawn(command, args, { env: { ...process.env, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code] = await once(child, 'exit') as [number]
  return { code, stdout, stderr }
}

describe('examples/, each run to completion against a local receiver', () => {
  test('pino.mjs: one target, msgpack', async () => {
    const server = await startServer()
    const { code, stderr } = await run(process.execPath, ['examples/pino.mjs'], { LOG_URL: server.url })
    assert.equal(code, 0, stderr)
    assert.deepEqual(server.events.map((e) => e.record.msg), ['service started', 'a warning with context', 'an error with its stack'])
    assert.match(String((server.events[2].record.err as { stack: string }).stack), /Error: boom/)
    await server.close()
  })

  test('pino-targets.mjs: pino-pretty prints, the WebSocket target gets every level', async () => {
    const server = await startServer({ format: 'json_lines' })
    const { code, stdout, stderr } = await run(process.execPath, ['examples/pino-targets.mjs'], { LOG_URL: server.url })
    assert.equal(code, 0, stderr)
    assert.match(stdout, /INFO.*order placed/)
    assert.doesNotMatch(stdout, /only on the wire/)
    assert.deepEqual(server.events.map((e) => e.record.msg), ['only on the wire: below pino-pretty\'s level', 'order placed'])
    await server.close()
  })

  test('fastify.mjs: the request\'s records arrive before app.close() resolves', async () => {
    const server = await startServer({ format: 'json_lines' })
    const { code, stdout, stderr } = await run(process.execPath, ['examples/fastify.mjs'], { LOG_URL: server.url })
    assert.equal(code, 0, stderr)
    assert.match(stdout, /200 \{"hello":"world"\}/)
    const messages = server.events.map((e) => e.record.msg)
    for (const msg of ['incoming request', 'saying hello', 'request completed']) assert.ok(messages.includes(msg), messages.join())
    await server.close()
  })

  test('express.mjs: pino-http\'s request records arrive', async () => {
    const server = await startServer({ format: 'json_lines' })
    const { code, stdout, stderr } = await run(process.execPath, ['examples/express.mjs'], { LOG_URL: server.url })
    assert.equal(code, 0, stderr)
    assert.match(stdout, /200 \{"hello":"world"\}/)
    const records = server.events.map((e) => e.record)
    assert.ok(records.some((r) => r.msg === 'saying hello'))
    assert.ok(records.some((r) => r.msg === 'request completed' && (r.res as { statusCode: number }).statusCode === 200))
    await server.close()
  })

  test('winston.mjs: the replacer redacts the wire too; --crash sends the exception record before exit', async () => {
    const server = await startServer({ format: 'json_lines' })
    const { code, stderr } = await run(process.execPath, ['examples/winston.mjs'], { LOG_URL: server.url })
    assert.equal(code, 0, stderr)
    assert.deepEqual(server.events.map((e) => e.record.message), ['user logged in', 'disk almost full'])
    assert.equal(server.events[0].record.password, '[REDACTED]')
    assert.ok(server.messages.every((m) => !m.data.includes('hunter2') && !m.data.includes(0x1b)))

    const crash = await run(process.execPath, ['examples/winston.mjs', '--crash'], { LOG_URL: server.url })
    assert.equal(crash.code, 1)
    const exception = server.events.find((e) => /uncaughtException: something broke/.test(String(e.record.message)))
    assert.ok(exception !== undefined, 'the exception record arrived')
    assert.match(String(exception.record.stack), /Error: something broke/)
    assert.equal(exception.record.date, undefined, 'its event time is the date key')
    await server.close()
  })

  test('receiver.mjs: decodes every format and writes NDJSON, a bad message closes that connection only', async () => {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'pino-ws-receiver-'))
    const out = join(dir, 'records.ndjson')
    const child = spawn(process.execPath, ['examples/receiver.mjs'], { env: { ...process.env, PORT: String(port), OUT: out } })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    await waitFor(() => stderr.includes('listening'), 'the receiver to listen')
    for (const format of ['msgpack', 'json', 'json_stream', 'json_lines', 'gelf'] as const) {
      const client = new Client(resolveOptions({ port, format }))
      for (const seq of range(3)) client.write({ time: { sec: 1700000000, nsec: 0 }, record: { format, seq, msg: 'hi' } })
      await client.close()
      assert.equal(client.stats().delivered, 3, format)
    }
    child.kill('SIGTERM')
    await once(child, 'exit')
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    assert.equal(lines.length, 15)
    assert.ok(lines.every((line) => line.time === '2023-11-14T22:13:20.000Z'))
    assert.deepEqual(lines.slice(0, 3).map((line) => line.seq), [0, 1, 2])
    assert.deepEqual(lines.slice(12).map((line) => line._seq), [0, 1, 2], 'GELF fields')
  })

  test('fluent-bit.conf and fluent-bit-options.mjs say the same thing, in Fluent Bit\'s names and in ours', async () => {
    const module = '../examples/fluent-bit-options.mjs'
    const { fluentBitNames, ourNames } = await import(module) as Record<string, Record<string, unknown>>
    const fromFile = resolveOptions(readConfig('examples/fluent-bit.conf', { LOG_TOKEN: 'tok3n' }))
    assert.deepEqual(fromFile.headers, { Authorization: 'Bearer tok3n' })
    // The module reads LOG_TOKEN from the environment, unset here: the token goes in by hand.
    const withToken = (options: Record<string, unknown>): Record<string, unknown> => JSON.parse(JSON.stringify(options).replace('Bearer ', 'Bearer tok3n')) as Record<string, unknown>
    const comparable = ({ secrets: _secrets, unknownKeys: _unknown, ...rest }: ReturnType<typeof resolveOptions>): Record<string, unknown> => rest
    assert.deepEqual(comparable(resolveOptions(withToken(fluentBitNames))), comparable(fromFile))
    assert.deepEqual(comparable(resolveOptions(withToken(ourNames))), comparable(fromFile))
  })

  test('replay.sh: a fallback file arrives whole', async () => {
    const server = await startServer({ format: 'json_lines' })
    const dir = mkdtempSync(join(tmpdir(), 'pino-ws-replay-'))
    const file = join(dir, 'lost.ndjson')
    writeFileSync(file, range(500).map((seq) => JSON.stringify({ level: 30, time: 1700000000000, seq })).join('\n') + '\n')
    const { code, stderr } = await run('sh', ['examples/replay.sh', file, server.url, 'json_lines'])
    assert.equal(code, 0, stderr)
    assert.match(stderr, /replayed 500 line\(s\)/)
    assert.deepEqual(server.events.map((e) => e.record.seq), range(500))
    await server.close()
  })

  test('typescript.ts: typed options and events, run with tsx (and type-checked by npm run typecheck)', async () => {
    const server = await startServer({ format: 'json_lines' })
    const { code, stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'examples/typescript.ts'], { LOG_URL: server.url })
    assert.equal(code, 0, stderr)
    assert.match(stdout, /winston delivered 1/)
    assert.match(stdout, /pino delivered 1/)
    const from = server.events.map((e) => e.record.from).sort()
    assert.deepEqual(from, ['typescript-pino', 'typescript-winston'])
    await server.close()
  })
})
