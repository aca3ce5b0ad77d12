import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { freePort, range, sequence, startServer } from './helpers.js'

// The CLI at the edges of its life (issue 18): a server away for longer than
// closeTimeout, and a bound on how long to wait for it.

const CLI = 'dist/cjs/cli.js'

describe('pino-websocket CLI: outages', () => {
  test('the server away longer than closeTimeout (8 s and 20 s) during a replay: every record arrives, exit 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pino-ws-cli-'))
    const file = join(dir, 'lost.ndjson')
    // 20 000 records of ~150 B: twelve times the queue, so stdin waits on the server for most of the run.
    writeFileSync(file, range(20_000).map((seq) => JSON.stringify({ level: 30, time: 1700000000000, seq, pad: 'x'.repeat(100) })).join('\n') + '\n')
    const away = async (ms: number): Promise<void> => {
      const port = await freePort()
      const child = spawn('bash', ['-c', `exec "${process.execPath}" ${CLI} --port ${port} --format json_lines --max-queue-bytes 262144 --max-message-bytes 65536 --max-reconnect-delay 1000 --quiet < "${file}"`])
      const exited = once(child, 'exit') as Promise<[number]>
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
      await new Promise((resolve) => setTimeout(resolve, ms))
      assert.equal(child.exitCode, null, `still waiting for the server after ${ms} ms (closeTimeout is 5000): ${stderr}`)
      const server = await startServer({ format: 'json_lines', port })
      const [code] = await exited
      assert.equal(code, 0, stderr)
      assert.deepEqual(sequence(server.events).unique, range(20_000), `away ${ms} ms`)
      await server.close()
    }
    await Promise.all([away(8000), away(20_000)])
  })

  test('a live pipe with the server away 8 s: the CLI stays, stdin waits, every record arrives, exit 0 at the end of input', async () => {
    const port = await freePort()
    const child = spawn(process.execPath, [CLI, '--port', String(port), '--format', 'json_lines', '--max-queue-bytes', '262144', '--max-message-bytes', '65536', '--max-reconnect-delay', '1000', '--quiet'])
    const exited = once(child, 'exit') as Promise<[number]>
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    // An app writing into the pipe: 20 000 records of ~150 B over the outage, more than the queue holds.
    let epipe = false
    child.stdin.on('error', () => { epipe = true })
    for (let seq = 0; seq < 20_000; seq += 1000) {
      child.stdin.write(range(1000).map((i) => JSON.stringify({ level: 30, time: 1700000000000, seq: seq + i, pad: 'x'.repeat(100) }) + '\n').join(''))
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await new Promise((resolve) => setTimeout(resolve, 6000))
    assert.equal(child.exitCode, null, `still running with the server away 8 s: ${stderr}`)
    const server = await startServer({ format: 'json_lines', port })
    child.stdin.end()
    const [code] = await exited
    assert.equal(code, 0, stderr)
    assert.equal(epipe, false, 'the writer never met a closed pipe')
    assert.deepEqual(sequence(server.events).unique, range(20_000))
    await server.close()
  })

  test('--give-up-after: the server never up: exit 1, a summary with what was read and not read, nothing read lost unseen', async () => {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'pino-ws-cli-'))
    const file = join(dir, 'lost.ndjson')
    const fallback = join(dir, 'fallback.ndjson')
    writeFileSync(file, range(10_000).map((seq) => JSON.stringify({ level: 30, time: 1700000000000, seq, pad: 'x'.repeat(100) })).join('\n') + '\n')
    const started = Date.now()
    const child = spawn('bash', ['-c', `exec "${process.execPath}" ${CLI} --port ${port} --format json_lines --max-queue-bytes 262144 --max-message-bytes 65536 --give-up-after 1500 --fallback-file "${fallback}" < "${file}"`])
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const [code] = await once(child, 'exit') as [number]
    const ms = Date.now() - started
    assert.equal(code, 1, stderr)
    assert.ok(ms >= 1500 && ms < 1500 + 5000, `gave up after ${ms} ms`)
    const summary = /gave up after 1500 ms with nothing confirmed: read (\d+) record\(s\), delivered 0, dropped (\d+) \((\d+) shutdown\), written to (.+); (\d+) line\(s\) of the input not read/.exec(stderr)
    assert.ok(summary !== null, stderr)
    const [, read, dropped, shutdown, , unread] = summary.map(Number)
    assert.equal(summary[4], fallback)
    assert.equal(read, dropped)
    assert.equal(read, shutdown)
    const kept = readFileSync(fallback, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq)
    assert.deepEqual(kept, range(read), 'every record read is in the fallback file, in order')
    assert.equal(read + unread, 10_000, 'what was not read is counted: the two add up to the input')
  })
})
