import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { LogEvent } from '../src/index.js'
import { Client } from '../src/client.js'
import { NdjsonReader } from '../src/ndjson.js'
import { resolveOptions } from '../src/options.js'
import { freePort, startServer } from './helpers.js'

// A fallback file replayed through the CLI in the same format puts on the wire
// what a live run would have (issue 18, item 6): the same records, the same
// event times, decoded by a server that knows nothing of us.

async function run (command: string[], env: Record<string, string>, input?: string): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, command, { env: { ...process.env, ...env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  if (input !== undefined) child.stdin?.end(input)
  const [code] = await once(child, 'exit') as [number | null]
  return { code, stderr }
}

/** Events as a server sees them, the host name aside (GELF's `host` is the machine's). */
function comparable (events: LogEvent[]): LogEvent[] {
  return events.map(({ time, record }) => ({ time, record }))
}

describe('a fallback file replayed puts on the wire what a live run would have', () => {
  for (const adapter of ['pino', 'winston'] as const) {
    for (const format of ['json', 'json_stream', 'json_lines', 'msgpack', 'gelf'] as const) {
      test(`${adapter}, ${format}: the same records and event times`, async () => {
        const live = await startServer({ format })
        const liveRun = await run(['test/fixtures/replay-app.mjs'], { ADAPTER: adapter, PORT: String(live.port), FORMAT: format })
        assert.equal(liveRun.code, 0, liveRun.stderr)
        assert.equal(live.events.length, 5, liveRun.stderr)
        await live.close()

        const fallback = join(mkdtempSync(join(tmpdir(), 'pino-websocket-replay-')), 'lost.ndjson')
        const lost = await run(['test/fixtures/replay-app.mjs'], { ADAPTER: adapter, PORT: String(await freePort()), FORMAT: format, FALLBACK: fallback })
        assert.equal(lost.code, 0, lost.stderr)
        const file = readFileSync(fallback, 'utf8')
        assert.equal(file.trim().split('\n').length, 5, file)

        const replay = await startServer({ format })
        const replayRun = await run(['dist/cjs/cli.js', '--port', String(replay.port), '--format', format], {}, file)
        assert.equal(replayRun.code, 0, replayRun.stderr)
        assert.deepEqual(comparable(replay.events), comparable(live.events), file)
        await replay.close()
      })
    }
  }
})

describe('the fallback line\'s event time', () => {
  test('a leading ISO date with nine fraction digits is the event time and leaves the record; any other date stays a field', async () => {
    const server = await startServer()
    const client = new Client(resolveOptions({ port: server.port }))
    const reader = new NdjsonReader(client)
    reader.write([
      '{"date":"2023-11-14T22:13:20.123456789Z","seq":0}',
      // The record's own date follows ours: it stays.
      '{"date":"2023-11-14T22:13:20.000000001Z","date":"mine","seq":1}',
      '{"date":"2023-11-14T22:13:20.5Z","seq":2,"time":1700000000000}',
      '{"date":1700000000.5,"seq":3,"time":1700000000000}',
      '{"date":"2023-11-14T22:13:20.123456789Z"}'
    ].join('\n') + '\n')
    await client.flush()
    assert.deepEqual(server.events.map(({ time, record }) => ({ time, record })), [
      { time: { sec: 1700000000, nsec: 123456789 }, record: { seq: 0 } },
      { time: { sec: 1700000000, nsec: 1 }, record: { date: 'mine', seq: 1 } },
      { time: { sec: 1700000000, nsec: 0 }, record: { date: '2023-11-14T22:13:20.5Z', seq: 2, time: 1700000000000 } },
      { time: { sec: 1700000000, nsec: 0 }, record: { date: 1700000000.5, seq: 3, time: 1700000000000 } },
      { time: { sec: 1700000000, nsec: 123456789 }, record: {} }
    ])
    await client.close()
    await server.close()
  })

  test('gelf: a GELF message goes on as it is; a record with a key GELF would rename is encoded', async () => {
    const server = await startServer({ format: 'gelf' })
    const client = new Client(resolveOptions({ port: server.port, format: 'gelf' }))
    const gelf = '{"version":"1.1","host":"h","short_message":"m","timestamp":1700000000.5,"level":6,"_seq":1}'
    const notGelf = '{"version":"1.1","host":"h","short_message":"m","seq":2}'
    const reader = new NdjsonReader(client)
    reader.write(gelf + '\n' + notGelf + '\n')
    await client.flush()
    const lines = Buffer.concat(server.messages.map((m) => m.data)).toString().trim().split('\n')
    assert.equal(lines[0], gelf)
    assert.equal((JSON.parse(lines[1]) as { _seq?: number })._seq, 2)
    await client.close()
    await server.close()
  })
})
