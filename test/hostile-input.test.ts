import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import pino from 'pino'
import { WebSocketServer } from 'ws'
import type { AddressInfo } from 'node:net'
import { Client } from '../src/client.js'
import { resolveOptions } from '../src/options.js'
import { range, startServer, waitFor, type TestServer } from './helpers.js'

// Records no format can carry as they are, bytes that are not text, a server that
// refuses one record's data: none crashes the worker or the CLI, none poisons
// the records around it.

const CLI = 'dist/cjs/cli.js'

async function runCli (args: string[], input: string | Buffer): Promise<{ code: number, stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args])
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  child.stdin.end(input)
  const [code] = await once(child, 'exit') as [number]
  return { code, stderr }
}

/**
 * Log one record per time through pino's worker (record `seq` i with pino's
 * `time` times[i]), wait until `arrive` of them are at the server, and end.
 */
async function throughWorker (options: { format: 'json_lines' | 'msgpack', jsonDateFormat?: 'iso8601' }, times: number[], arrive: number): Promise<{ server: TestServer, drops: Array<{ reason: string, count: number, error?: string }>, errors: unknown[] }> {
  const server = await startServer(options)
  const transport = pino.transport({ target: 'pino-websocket', options: { port: server.port, ...options } })
  const drops: Array<{ reason: string, count: number, error?: string }> = []
  transport.on('drop', (drop: { reason: string, count: number, error?: string }) => drops.push(drop))
  const errors: unknown[] = []
  transport.on('error', (error: unknown) => errors.push(error))
  let time = 0
  const logger = pino({ timestamp: () => `,"time":${time}` }, transport)
  for (const [seq, at] of times.entries()) {
    time = at
    logger.info({ seq })
  }
  await waitFor(() => server.events.length >= arrive, `${arrive} records`)
  const closed = once(transport, 'close')
  transport.end()
  await closed
  return { server, drops, errors }
}

describe('hostile input', () => {
  for (const format of ['iso8601', 'java_sql_timestamp'] as const) {
    test(`CLI, ${format}: a time beyond what a calendar date holds drops that record (unencodable), the records around it arrive`, async () => {
      const server = await startServer({ format: 'json_lines', jsonDateFormat: format })
      const input = '{"time":1700000000000,"seq":0}\n{"time":9000000000000000,"seq":1}\n{"time":1700000000001,"seq":2}\n'
      const { code, stderr } = await runCli(['--url', server.url, '--format', 'json_lines', '--date-format', format], input)
      assert.deepEqual(server.events.map((e) => e.record.seq), [0, 2])
      // A line that cannot be encoded is skipped and said, as any other (exit 0: nothing was lost to the network).
      assert.equal(code, 0, stderr)
      assert.match(stderr, new RegExp(`skipped 1 line\\(s\\) that could not be encoded \\(the first: its time \\(9000000000000 s from the epoch\\) is outside what ${format} can write`))
      await server.close()
    })
  }

  test('pino\'s worker, iso8601: a time beyond a calendar date is dropped and counted, and every later record still arrives', async () => {
    const times = [1700000000000, 9_000_000_000_000_000, ...range(100).map(() => 1700000000002)]
    const { server, drops, errors } = await throughWorker({ format: 'json_lines', jsonDateFormat: 'iso8601' }, times, 101)
    assert.deepEqual(server.events.map((e) => e.record.seq), [0, ...range(100).map((s) => s + 2)])
    assert.deepEqual(drops.map(({ reason, count }) => ({ reason, count })), [{ reason: 'unencodable', count: 1 }])
    assert.match(drops[0].error ?? '', /outside what iso8601/)
    assert.deepEqual(errors, [])
    await server.close()
  })

  test('msgpack: a time outside EventTime (before 1970, after 2106) is dropped and counted, never wrapped', async () => {
    const server = await startServer({ format: 'msgpack' })
    const client = new Client(resolveOptions({ port: server.port, format: 'msgpack' }))
    client.write({ time: { sec: 1700000000, nsec: 0 }, record: { seq: 0 } })
    client.write({ time: { sec: -1, nsec: 0 }, record: { seq: 1 } })
    client.write({ time: { sec: 5e9, nsec: 0 }, record: { seq: 2 } })
    client.write({ time: { sec: 1700000001, nsec: 0 }, record: { seq: 3 } })
    await client.flush()
    assert.deepEqual(server.events.map((e) => [e.record.seq, e.time.sec]), [[0, 1700000000], [3, 1700000001]])
    assert.equal(client.stats().dropped.unencodable, 2)
    await client.close()
    await server.close()
    // The same through the CLI's transcoding of lines.
    const again = await startServer({ format: 'msgpack' })
    const input = '{"time":1700000000000,"seq":0}\n{"time":-1000,"seq":1}\n{"time":5000000000000,"seq":2}\n{"time":"2200-01-01","seq":3}\n{"time":1700000000001,"seq":4}\n'
    const { code, stderr } = await runCli(['--url', again.url, '--format', 'msgpack'], input)
    assert.deepEqual(again.events.map((e) => e.record.seq), [0, 4])
    assert.ok(again.events.every((e) => e.time.sec === 1700000000))
    assert.equal(code, 0, stderr)
    assert.match(stderr, /delivered 2, skipped 3 line\(s\) that could not be encoded \(the first: its time \(-1000 s from the epoch\) is outside what msgpack's EventTime holds/)
    await again.close()
  })

  test('pino\'s worker, msgpack: times before 1970 and after 2106 are dropped and counted, never wrapped; the rest arrive with their own time', async () => {
    const times = [1700000000000, -1000, 5_000_000_000_000, ...range(10).map(() => 1700000000003)]
    const { server, drops } = await throughWorker({ format: 'msgpack' }, times, 11)
    assert.deepEqual(server.events.map((e) => e.record.seq), [0, ...range(10).map((s) => s + 3)])
    assert.ok(server.events.every((e) => e.time.sec === 1700000000), 'no time wrapped')
    assert.equal(drops.reduce((sum, d) => sum + (d.reason === 'unencodable' ? d.count : 0), 0), 2)
    await server.close()
  })

  for (const format of ['json_lines', 'gelf', 'msgpack'] as const) {
    test(`CLI, ${format}: a byte that is not UTF-8 (line 500 of 1 000) is replaced by U+FFFD; all 1 000 arrive`, async () => {
      const server = await startServer({ format })
      const lines = range(1000).map((seq) => Buffer.from(`{"time":1700000000000,"seq":${seq},"msg":"cafe"}\n`))
      // Line 500 holds a lone 0xE9 (Latin-1 é), which is no UTF-8.
      lines[499] = Buffer.concat([Buffer.from('{"time":1700000000000,"seq":499,"msg":"caf'), Buffer.of(0xe9), Buffer.from('"}\n')])
      const { code, stderr } = await runCli(['--url', server.url, '--format', format], Buffer.concat(lines))
      assert.equal(code, 0, stderr)
      assert.deepEqual(server.events.map((e) => e.record.seq ?? e.record._seq), range(1000))
      const message = (record: Record<string, unknown>): unknown => record.msg ?? record._msg ?? record.short_message
      assert.equal(message(server.events[499].record), 'caf\ufffd')
      assert.equal(message(server.events[498].record), 'cafe')
      await server.close()
    })
  }

  test('a server that closes with 1007 on one record\'s data: that record alone is dropped as refused, the 999 others arrive', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await once(wss, 'listening')
    const seqs: number[] = []
    let connections = 0
    wss.on('connection', (socket) => {
      connections++
      socket.on('message', (data: Buffer) => {
        const text = data.toString()
        if (text.includes('"poison"')) {
          socket.close(1007, 'invalid data')
          return
        }
        for (const line of text.trim().split('\n')) seqs.push((JSON.parse(line) as { seq: number }).seq)
      })
    })
    const client = new Client(resolveOptions({ port: (wss.address() as AddressInfo).port, format: 'json_lines', reconnectDelay: 20, maxReconnectDelay: 100 }))
    const drops: string[] = []
    client.on('drop', ({ reason }) => drops.push(reason))
    for (const seq of range(1000)) client.write({ time: { sec: 1700000000, nsec: 0 }, record: seq === 500 ? { seq, poison: 'poison' } : { seq } })
    await client.flush(15_000)
    const stats = client.stats()
    assert.equal(stats.dropped.refused, 1)
    assert.equal(stats.delivered, 999)
    assert.deepEqual([...new Set(seqs)].sort((a, b) => a - b), range(1000).filter((s) => s !== 500))
    assert.deepEqual(drops, ['refused'])
    assert.ok(connections < 20, `${connections} connections`)
    await client.close()
    for (const socket of wss.clients) socket.terminate()
    await new Promise((resolve) => wss.close(resolve))
  })
})

describe('a line longer than any message', () => {
  test('CLI: a 256 MiB line is thrown away as it comes (RSS stays far below it), counted oversized; the lines after it arrive', async () => {
    const server = await startServer({ format: 'json_lines' })
    const child = spawn(process.execPath, [CLI, '--url', server.url, '--format', 'json_lines'])
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    // The highest RSS the kernel saw of the child (VmHWM), read while it lives.
    let peak = 0
    const sampler = setInterval(() => {
      try {
        const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (match !== null) peak = Math.max(peak, Number(match[1]) * 1024)
      } catch {
        // Gone already: the last sample stands.
      }
    }, 20)
    child.stdin.write('{"time":1700000000000,"seq":0}\n{"time":1700000000000,"seq":1,"big":"')
    const chunk = Buffer.alloc(1024 * 1024, 'x')
    for (let i = 0; i < 256; i++) {
      if (!child.stdin.write(chunk)) await once(child.stdin, 'drain')
    }
    child.stdin.end('"}\n{"time":1700000000000,"seq":2}\n')
    const [code] = await once(child, 'exit') as [number]
    clearInterval(sampler)
    assert.ok(peak > 0 && peak < 160 * 1024 * 1024, `peak RSS ${Math.round(peak / 1048576)} MiB`)
    assert.equal(code, 1, stderr)
    assert.deepEqual(server.events.map((e) => e.record.seq), [0, 2])
    assert.match(stderr, /1 oversized/)
    assert.match(stderr, /whose bytes were not kept/)
    await server.close()
  })
})
