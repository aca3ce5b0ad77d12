import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { freePort, range, startServer } from './helpers.js'

// The edges of a process's life (issue 18): what an app that ends while records
// are held sees on stderr, and where those records go. Each app runs in a child
// process with the built package, as a user's would.

interface Run { code: number | null, stderr: string, afterEnd: number }

async function runApp (env: Record<string, string>, options: Record<string, unknown>): Promise<Run> {
  const child = spawn(process.execPath, ['test/fixtures/edge-app.mjs'], {
    env: { ...process.env, OPTIONS: JSON.stringify(options), ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  const ended = (JSON.parse(stdout.trim().split('\n')[0] ?? '{}') as { ended?: number }).ended ?? Date.now()
  return { code, stderr, afterEnd: Date.now() - ended }
}

/** The lines of stderr that account for records given up at exit. */
function exitLines (stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.includes('[PINO_WS_WARN_DROPPED]') && line.includes('not delivered at exit'))
}

function fallbackPath (): string {
  return join(mkdtempSync(join(tmpdir(), 'pino-websocket-edge-')), 'fallback.ndjson')
}

describe('an app that ends with records held says so, once', () => {
  /** Accepts TCP connections and never answers the upgrade. */
  const blackHole = createServer((socket: Socket) => { socket.on('error', () => {}) })
  const sockets = new Set<Socket>()
  blackHole.on('connection', (socket) => sockets.add(socket))
  before(async () => {
    blackHole.listen(0, '127.0.0.1')
    await once(blackHole, 'listening')
  })
  after(() => {
    for (const socket of sockets) socket.destroy()
    blackHole.close()
  })

  const closeTimeout = 1000
  for (const adapter of ['pino', 'winston'] as const) {
    for (const endpoint of ['closed port', 'black hole'] as const) {
      for (const alive of [0, 2000]) {
        test(`${adapter}, ${endpoint}, app alive ${alive} ms: one line naming the endpoint, the failure, the count and where they went; exit within closeTimeout + 1 s`, async () => {
          const port = endpoint === 'closed port' ? await freePort() : (blackHole.address() as AddressInfo).port
          const options = { port, format: 'json_lines', closeTimeout, reconnectDelay: 50, maxReconnectDelay: 500 }
          const run = await runApp({ ADAPTER: adapter, COUNT: '3', ALIVE_MS: String(alive) }, options)
          assert.equal(run.code, 0, run.stderr)
          const lines = exitLines(run.stderr)
          assert.equal(lines.length, 1, run.stderr)
          const [line] = lines
          assert.match(line, new RegExp(`3 record\\(s\\) not delivered at exit: ws://127\\.0\\.0\\.1:${port}/ `))
          assert.match(line, endpoint === 'closed port' ? /could not be reached: connect ECONNREFUSED/ : /gave no answer within \d+ ms/)
          assert.match(line, /set `fallbackFile` to keep them/)
          assert.ok(run.afterEnd < closeTimeout + 1000, `exited ${run.afterEnd} ms after the app ended`)
        })
      }
    }
  }

  test('Fastify, black hole, app alive 0 ms: the same one line', async () => {
    const port = (blackHole.address() as AddressInfo).port
    const run = await runApp({ ADAPTER: 'fastify', COUNT: '3' }, { port, format: 'json_lines', closeTimeout })
    assert.equal(run.code, 0, run.stderr)
    const lines = exitLines(run.stderr)
    assert.equal(lines.length, 1, run.stderr)
    assert.match(lines[0], new RegExp(`3 record\\(s\\) not delivered at exit: ws://127\\.0\\.0\\.1:${port}/ gave no answer within \\d+ ms`))
    assert.ok(run.afterEnd < closeTimeout + 1000, `exited ${run.afterEnd} ms after the app ended`)
  })

  for (const adapter of ['pino', 'winston'] as const) {
    test(`${adapter}: quiet: no line; with fallbackFile: the line names the file, which holds the records`, async () => {
      const port = await freePort()
      const quiet = await runApp({ ADAPTER: adapter, COUNT: '3' }, { port, format: 'json_lines', closeTimeout, quiet: true })
      assert.equal(quiet.code, 0, quiet.stderr)
      assert.deepEqual(exitLines(quiet.stderr), [])
      assert.doesNotMatch(quiet.stderr, /pino-websocket/)

      const fallback = fallbackPath()
      const kept = await runApp({ ADAPTER: adapter, COUNT: '3' }, { port, format: 'json_lines', closeTimeout, fallbackFile: fallback })
      const lines = exitLines(kept.stderr)
      assert.equal(lines.length, 1, kept.stderr)
      assert.ok(lines[0].endsWith(`written to ${fallback}`), lines[0])
      assert.deepEqual(readFileSync(fallback, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq), range(3))
    })
  }
})

describe('process.exit() right after logging', () => {
  test('winston (its engine in a worker): the app waits for the worker, as pino\'s does: server up, the records arrive; server down, the fallback file has them within closeTimeout, counted, with the line', async () => {
    const server = await startServer({ format: 'json_lines' })
    const up = await runApp({ ADAPTER: 'winston', COUNT: '3', END: 'exit' }, { port: server.port, format: 'json_lines', fallbackFile: fallbackPath() })
    assert.equal(up.code, 0, up.stderr)
    assert.deepEqual(exitLines(up.stderr), [])
    assert.deepEqual(server.events.map((e) => e.record.seq), range(3))
    await server.close()

    const fallback = fallbackPath()
    const closeTimeout = 1000
    const down = await runApp({ ADAPTER: 'winston', COUNT: '3', END: 'exit' }, { port: await freePort(), format: 'json_lines', fallbackFile: fallback, closeTimeout })
    assert.equal(down.code, 0, down.stderr)
    assert.deepEqual(readFileSync(fallback, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq), range(3))
    const lines = exitLines(down.stderr)
    assert.equal(lines.length, 1, down.stderr)
    assert.match(lines[0], /3 record\(s\) not delivered at exit: .* could not be reached: connect ECONNREFUSED.*; written to /)
    assert.ok(down.afterEnd < closeTimeout + 1000, `exited ${down.afterEnd} ms after the app ended`)
  })

  test('winston on the app\'s thread (`worker: false`), server up and server down: what is held goes to the fallback file at once, counted, with the line', async () => {
    const server = await startServer({ format: 'json_lines' })
    for (const port of [server.port, await freePort()]) {
      const fallback = fallbackPath()
      const run = await runApp({ ADAPTER: 'winston', COUNT: '3', END: 'exit' }, { port, format: 'json_lines', fallbackFile: fallback, worker: false })
      assert.equal(run.code, 0, run.stderr)
      assert.ok(existsSync(fallback), `the fallback file exists (${run.stderr})`)
      assert.deepEqual(readFileSync(fallback, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq), range(3))
      const lines = exitLines(run.stderr)
      assert.equal(lines.length, 1, run.stderr)
      assert.match(lines[0], /3 record\(s\) not delivered at exit: the process exited before they could be sent .*; written to /)
    }
    assert.equal(server.events.length, 0)
    await server.close()
  })
})
