import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Client } from '../src/client.js'
import { FallbackFile } from '../src/fallback.js'
import { resolveOptions } from '../src/options.js'
import { freePort } from './helpers.js'

// The fallback file is a journal to replay: opened at construction, written
// synchronously, bounded in memory, never a torn line, every failure counted.

function dir (): string {
  return mkdtempSync(join(tmpdir(), 'pino-websocket-fallback-'))
}

/** A tmpfs of `size` bytes, or undefined where this machine cannot mount one (not root, a container). */
function smallDisk (size: number): { path: string, unmount: () => void } | undefined {
  const path = dir()
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path], { stdio: 'ignore' })
  } catch {
    return undefined
  }
  return { path, unmount: () => { execFileSync('umount', [path]); rmSync(path, { recursive: true }) } }
}

describe('FallbackFile', () => {
  test('a path that cannot be appended to is an error at construction naming the option and why', () => {
    const base = dir()
    const cases: Array<[string, RegExp]> = [
      [join(base, 'missing', 'lost.ndjson'), /its directory does not exist/],
      [base, /it is a directory/]
    ]
    const fifo = join(base, 'fifo')
    execFileSync('mkfifo', [fifo])
    cases.push([fifo, /it is a FIFO with no reader/])
    for (const [path, why] of cases) {
      assert.throws(() => new Client(resolveOptions({ port: 9, fallbackFile: path })), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'PINO_WS_ERR_INVALID_OPTION')
        assert.match(error.message, /expected `fallbackFile` to be a file that can be appended to/)
        assert.match(error.message, why)
        return true
      }, path)
    }
  })

  test('lines are on disk once flushSync returns, right after construction', () => {
    const path = join(dir(), 'lost.ndjson')
    const file = new FallbackFile(path, 'fallbackFile', () => {})
    file.append('{"seq":0}')
    file.append('{"seq":1}')
    file.flushSync()
    assert.equal(readFileSync(path, 'utf8'), '{"seq":0}\n{"seq":1}\n')
    assert.equal(file.written, 2)
    file.close()
  })

  test('a FIFO whose reader never reads: memory bounded, the rest counted lost, nothing blocks', () => {
    const fifo = join(dir(), 'fifo')
    execFileSync('mkfifo', [fifo])
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
    const errors: string[] = []
    const file = new FallbackFile(fifo, 'fallbackFile', (error) => errors.push(error.code ?? ''))
    const line = JSON.stringify({ pad: 'x'.repeat(1000) })
    const started = Date.now()
    for (let i = 0; i < 10_000; i++) file.append(line)
    file.close()
    assert.ok(Date.now() - started < 5000, 'no write blocked')
    assert.equal(file.written + file.lost, 10_000)
    // At most the pipe's buffer and 4 MiB were ever taken in (~4 300 lines of 1 001 bytes): the rest was lost at once.
    assert.ok(file.lost >= 10_000 - 4400, `written ${file.written}, lost ${file.lost}`)
    assert.deepEqual(errors, ['EAGAIN'])
    closeSync(reader)
  })

  test('the engine with a FIFO whose reader never reads: the warning says lines wait (up to 4 MiB), and the drop line counts what could not be written', async () => {
    const fifo = join(dir(), 'fifo')
    execFileSync('mkfifo', [fifo])
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
    const client = new Client(resolveOptions({ port: await freePort(), format: 'json_lines', fallbackFile: fifo, maxQueueBytes: 64 * 1024, maxMessageBytes: 16 * 1024, reconnectDelay: 5000 }))
    const warnings: Array<{ code: string, message: string }> = []
    client.on('warn', (warning) => warnings.push(warning))
    for (let i = 0; i < 20_000; i++) client.write({ time: { sec: 1700000000, nsec: 0 }, record: { seq: i, pad: 'x'.repeat(300) } })
    await client.close(0)
    const fallback = warnings.find((w) => w.code === 'PINO_WS_WARN_FALLBACK_FILE')
    assert.match(fallback?.message ?? '', /takes no more for now \(EAGAIN: a pipe whose reader is slow\); up to 4 MiB of lines wait for it, and lines past that are only counted/)
    const end = warnings.find((w) => w.code === 'PINO_WS_WARN_DROPPED' && /could not be/.test(w.message))
    assert.match(end?.message ?? '', /\d+ written to .*fifo, \d+ could not be \(EAGAIN/)
    closeSync(reader)
  })

  test('a full disk: every line left whole, the rest counted with the error, said in the drop warning', async (t) => {
    const disk = smallDisk(64 * 1024)
    if (disk === undefined) {
      t.skip('cannot mount a small tmpfs here (needs root outside a restricted container)')
      return
    }
    try {
      const path = join(disk.path, 'lost.ndjson')
      const client = new Client(resolveOptions({ port: await freePort(), format: 'json_lines', maxQueueBytes: 16 * 1024, maxMessageBytes: 16 * 1024, fallbackFile: path, reconnectDelay: 5000 }))
      const warnings: string[] = []
      client.on('warn', ({ message }) => warnings.push(message))
      // ~300 KB of overflow into a 64 KiB disk.
      for (let seq = 0; seq < 2000; seq++) client.write({ time: { sec: 1700000000, nsec: 0 }, record: { seq, pad: 'x'.repeat(130) } })
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setImmediate(resolve))
      const text = readFileSync(path, 'utf8')
      assert.ok(text.endsWith('\n'), 'no torn last line')
      const kept = text.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq)
      assert.ok(kept.length > 0 && kept.length < 2000)
      const warning = warnings.find((message) => message.includes('dropped'))
      assert.ok(warning !== undefined, warnings.join('\n'))
      assert.match(warning, new RegExp(`(\\d+) written to ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, (\\d+) could not be \\(ENOSPC`))
      const [, written] = /(\d+) written to/.exec(warning) ?? []
      assert.equal(Number(written), kept.length, 'the warning counts what is in the file')
      assert.ok(warnings.some((message) => message.includes('cannot be written (ENOSPC)')), warnings.join('\n'))
      await client.close(0)
    } finally {
      disk.unmount()
    }
  })
})
