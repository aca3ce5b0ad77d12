import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, mkdtempSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { freePort, range, sequence, startServer, waitFor } from './helpers.js'
import { base, CLI, run, segments, spoolDir, statsOf } from './spool-helpers.js'

// Issue 20: winston, the CLI's pipe mode and `drain` keep records through a kill -9.

describe('winston, the CLI and drain pass the kill -9 case', () => {
  test('winston: 5 000 records, each log() called back, kill -9; the next start delivers them all', async () => {
    const port = await freePort()
    const spool = spoolDir()
    const options = { ...base, port, spool }
    const killed = await run({ ADAPTER: 'winston', MODE: 'flush-kill', COUNT: 5000 }, options)
    assert.equal(killed.child.signalCode, 'SIGKILL', killed.stderr())
    const server = await startServer({ port, format: 'json_lines' })
    try {
      const again = await run({ ADAPTER: 'winston', MODE: 'deliver', COUNT: 0 }, options)
      assert.equal(again.code, 0, again.stderr())
      const { unique, duplicates } = sequence(server.events)
      assert.deepEqual(unique.sort((a, b) => a - b), range(5000))
      assert.equal(duplicates, 0)
    } finally {
      await server.close()
    }
  })

  test('winston with a spool, server up: 20 000 records logged in one go, then end(): all arrive, no write after end', async () => {
    const port = await freePort()
    const spool = spoolDir()
    const server = await startServer({ port, format: 'json_lines' })
    try {
      const app = await run({ ADAPTER: 'winston', MODE: 'deliver', COUNT: 20_000 }, { ...base, port, spool })
      assert.equal(app.code, 0, app.stderr())
      assert.doesNotMatch(app.stderr(), /write after end/)
      assert.deepEqual(sequence(server.events).unique.sort((a, b) => a - b), range(20_000))
      assert.equal(statsOf(app).delivered, 20_000)
    } finally {
      await server.close()
    }
  })

  test('CLI --spool: every line read is in the spool; after kill -9, `drain` sends them all and exits 0', async (t) => {
    const port = await freePort()
    const spool = spoolDir()
    const input = join(mkdtempSync(join(tmpdir(), 'pino-websocket-spool-')), 'input.ndjson')
    writeFileSync(input, range(20_000).map((seq) => JSON.stringify({ seq, msg: 'x'.repeat(100) }) + '\n').join(''))
    const fd = openSync(input, 'r')
    const cli = spawn(process.execPath, [CLI, '--port', String(port), '--format', 'json_lines', '--spool', spool, '--reconnect-delay', '50'], { stdio: [fd, 'ignore', 'pipe'] })
    closeSync(fd)
    t.after(() => cli.kill('SIGKILL'))
    // Killed once its stdin is read to the end (the kernel's file position says so).
    await waitFor(() => {
      try {
        return readFileSync(`/proc/${cli.pid!}/fdinfo/0`, 'utf8').includes(`pos:\t${statSync(input).size}\n`)
      } catch {
        return false
      }
    }, 'the CLI to read its input', 20_000)
    await new Promise((resolve) => setTimeout(resolve, 200))
    cli.kill('SIGKILL')
    await once(cli, 'exit')

    const server = await startServer({ port, format: 'json_lines' })
    try {
      const drain = spawn(process.execPath, [CLI, 'drain', spool, '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      drain.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
      const [code] = await once(drain, 'exit') as [number]
      assert.equal(code, 0, stderr)
      const { unique } = sequence(server.events)
      assert.deepEqual(unique.sort((a, b) => a - b), range(20_000))
      assert.match(stderr, /drained .*: 20000 record\(s\) found, 20000 delivered/)
      assert.deepEqual(segments(spool), [])
    } finally {
      await server.close()
    }
  })

  test('drain sends a pino app\'s msgpack spool as msgpack (the journal says its format); exit 1 while the server stays away', async () => {
    const port = await freePort()
    const spool = spoolDir()
    const options = { ...base, format: 'msgpack', port, spool }
    await run({ MODE: 'flush-kill', COUNT: 1000 }, options)
    const away = spawn(process.execPath, [CLI, 'drain', spool, '--port', String(port), '--give-up-after', '500', '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] })
    const [awayCode] = await once(away, 'exit') as [number]
    assert.equal(awayCode, 1)
    const server = await startServer({ port, format: 'msgpack' })
    try {
      const drain = spawn(process.execPath, [CLI, 'drain', spool, '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] })
      const [code] = await once(drain, 'exit') as [number]
      assert.equal(code, 0)
      assert.ok(server.messages.every((message) => message.binary), 'msgpack goes in binary frames')
      assert.deepEqual(sequence(server.events).unique.sort((a, b) => a - b), range(1000))
    } finally {
      await server.close()
    }
  })
})

describe('spoolFsyncInterval', () => {
  test('0 (the default) never calls fdatasync; 50 calls it while records are written, about every 50 ms', async (t) => {
    try {
      execFileSync('strace', ['-V'], { stdio: 'ignore' })
    } catch {
      t.skip('strace is not installed (Debian: strace); .ci/run installs it')
      return
    }
    const port = await freePort()
    const counts: number[] = []
    for (const interval of [0, 50]) {
      const trace = join(mkdtempSync(join(tmpdir(), 'pino-websocket-strace-')), 'trace')
      const options = JSON.stringify({ ...base, port, spool: spoolDir(), spoolFsyncInterval: interval })
      const child = spawn('strace', ['-f', '-qq', '-e', 'trace=fdatasync', '-o', trace, process.execPath, 'test/fixtures/spool-app.mjs'], {
        env: { ...process.env, OPTIONS: options, MODE: 'stream', RATE: '1000', DURATION: '1500' },
        stdio: 'ignore'
      })
      await once(child, 'exit')
      counts.push(readFileSync(trace, 'utf8').split('\n').filter((line) => line.includes('fdatasync(')).length)
    }
    assert.equal(counts[0], 0, 'no fdatasync without an interval')
    assert.ok(counts[1] >= 10 && counts[1] <= 40, `${counts[1]} fdatasync calls in ~1.5 s at 50 ms`)
  })
})
