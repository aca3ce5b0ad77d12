import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Client } from '../src/client.js'
import { resolveOptions } from '../src/options.js'
import { freePort, range, sequence, startServer, waitFor } from './helpers.js'
import { base, run, segments, spoolDir, startApp, statsOf } from './spool-helpers.js'

// Issue 20: a spool's faults (torn and damaged records, a full disk, an unusable
// directory) and several processes on one directory.

describe('faults', () => {
  test('a torn last record from a killed writer is skipped and counted, never sent half', async () => {
    const port = await freePort()
    const spool = spoolDir()
    const options = { ...base, port, spool }
    await run({ MODE: 'flush-kill', COUNT: 1000 }, options)
    // The kill came in the middle of the last write: its end is missing.
    const [last] = segments(spool).sort().slice(-1)
    truncateSync(last, statSync(last).size - 10)
    const server = await startServer({ port, format: 'json_lines' })
    try {
      const again = await run({ MODE: 'deliver', COUNT: 0 }, options)
      const stats = statsOf(again)
      assert.ok(stats.dropped.damaged > 0, 'the torn frame is counted')
      assert.equal(stats.delivered + stats.dropped.damaged, 1000)
      const { unique, duplicates } = sequence(server.events)
      assert.equal(unique.length, stats.delivered)
      assert.equal(duplicates, 0)
      // What arrived is a prefix: the torn frame was the last.
      assert.deepEqual(unique.sort((a, b) => a - b), range(stats.delivered))
      assert.match(again.stderr(), /damaged/)
    } finally {
      await server.close()
    }
  })

  test('a damaged segment does not stop the rest: a frame failing its check is counted whole; one whose header is gone, at least once', async () => {
    const port = await freePort()
    const spool = spoolDir()
    // Segments of 1 MiB (a quarter of the bound), frames of 256 KiB at most.
    const options = { ...base, port, spool, maxSpoolBytes: 4 * 1024 * 1024 }
    await run({ MODE: 'flush-kill', COUNT: 6000, PAD: 400 }, options)
    const files = segments(spool).sort()
    assert.ok(files.length >= 3, `several segments (${files.length})`)
    /** Offset and record count of a segment's first frame. */
    const firstFrame = (file: string): { at: number, count: number } => ({ at: 0, count: readFileSync(file).readUInt32LE(8) })
    const smash = (file: string, at: number): void => {
      const fd = openSync(file, 'r+')
      writeSync(fd, Buffer.alloc(8, 0x5a), 0, 8, at)
      closeSync(fd)
    }
    // A record's bytes in the first segment, and a frame's header in the second.
    const body = firstFrame(files[0])
    smash(files[0], body.at + 16 + 5)
    const header = firstFrame(files[1])
    smash(files[1], header.at)
    const server = await startServer({ port, format: 'json_lines' })
    try {
      const again = await run({ MODE: 'deliver', COUNT: 0 }, options)
      assert.equal(again.code, 0, again.stderr())
      const stats = statsOf(again)
      assert.ok(stats.dropped.damaged >= body.count + 1, `${stats.dropped.damaged} counted damaged`)
      assert.equal(stats.delivered + stats.dropped.damaged + header.count - 1, 6000, 'all but the frame without a header are accounted for exactly')
      const { unique, duplicates } = sequence(server.events)
      assert.equal(duplicates, 0)
      assert.equal(unique.length, stats.delivered)
      assert.deepEqual(range(1000).map((n) => 5000 + n).filter((seq) => !unique.includes(seq)), [], 'the last segment arrived whole')
    } finally {
      await server.close()
    }
  })

  test('disk full (a 1 MiB tmpfs): drops counted and warned, the app keeps logging and ends; nothing torn is sent', async (t) => {
    const mount = mkdtempSync(join(tmpdir(), 'pino-websocket-full-'))
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount], { stdio: 'ignore' })
    } catch {
      t.skip('mounting a tmpfs needs root (CAP_SYS_ADMIN)')
      return
    }
    try {
      const port = await freePort()
      const spool = join(mount, 'spool')
      const options = { ...base, port, spool }
      const full = await run({ MODE: 'deliver', COUNT: 20_000 }, options)
      assert.equal(full.code, 0, full.stderr())
      const stats = statsOf(full)
      assert.ok(stats.dropped.unwritable > 0, `records dropped as unwritable (${JSON.stringify(stats.dropped)})`)
      assert.equal(stats.accepted, 20_000)
      assert.equal(stats.pending + stats.dropped.unwritable, 20_000)
      assert.match(full.stderr(), /PINO_WS_WARN_SPOOL_FAILED.*ENOSPC/)
      const server = await startServer({ port, format: 'json_lines' })
      try {
        const again = await run({ MODE: 'deliver', COUNT: 0 }, options)
        assert.equal(again.code, 0, again.stderr())
        const after = statsOf(again)
        assert.equal(after.dropped.damaged, 0, 'no torn frame was left behind')
        // Every event decoded (a torn record would fail to parse), each one logged.
        const { unique, duplicates } = sequence(server.events)
        assert.equal(unique.length, stats.pending)
        assert.equal(duplicates, 0)
        assert.ok(unique.every((seq) => seq >= 0 && seq < 20_000))
      } finally {
        await server.close()
      }
    } finally {
      execFileSync('umount', [mount])
    }
  })

  test('an unusable directory is an error at construction naming `spool`: no parent, a file, read-only', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'pino-websocket-spool-'))
    const file = join(root, 'a-file')
    writeFileSync(file, '')
    for (const [dir, hint] of [[join(root, 'missing', 'spool'), /parent directory does not exist/], [file, /not a directory/]] as const) {
      assert.throws(() => new Client(resolveOptions({ url: 'ws://127.0.0.1:1', spool: dir })), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'PINO_WS_ERR_INVALID_OPTION')
        assert.match(error.message, /`spool`/)
        assert.match(error.message, hint)
        return true
      })
    }
    // Read-only: root writes past file modes, so a read-only mount stands in.
    const mount = mkdtempSync(join(tmpdir(), 'pino-websocket-ro-'))
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mount], { stdio: 'ignore' })
    } catch {
      t.diagnostic('read-only case skipped: mounting a tmpfs needs root (CAP_SYS_ADMIN)')
      return
    }
    try {
      assert.throws(() => new Client(resolveOptions({ url: 'ws://127.0.0.1:1', spool: join(mount, 'spool') })), /`spool`.*it cannot be written \(EROFS\)/)
    } finally {
      execFileSync('umount', [mount])
    }
  })
})

describe('several processes on one directory', () => {
  test('two live apps: each sends its own records, none twice, none lost; a dead one\'s journal is adopted by the next start', async (t) => {
    const port = await freePort()
    const spool = spoolDir()
    mkdirSync(spool)
    const options = { ...base, port, spool }
    // Both live at once with the server away: each keeps its own journal.
    const first = startApp({ MODE: 'stream', START: 0, RATE: 500, TAG: 'first' }, options)
    const second = startApp({ MODE: 'stream', START: 1_000_000, RATE: 500, TAG: 'second' }, options)
    // A failed assertion must not leave them running (the file would wait on them).
    t.after(() => {
      first.child.kill('SIGKILL')
      second.child.kill('SIGKILL')
    })
    await waitFor(() => first.lines.length > 5 && second.lines.length > 5, 'both apps to flush', 10_000)
    assert.equal(readdirSync(spool).filter((name) => !name.startsWith('.')).length, 2, 'one journal each')
    // The first dies holding all it logged; with the server up, a third start adopts
    // its journal while the second lives on and sends its own.
    first.child.kill('SIGKILL')
    await first.exit
    const server = await startServer({ port, format: 'json_lines' })
    try {
      const third = await run({ MODE: 'deliver', COUNT: 0, TAG: 'third' }, options)
      assert.equal(third.code, 0, third.stderr())
      assert.match(third.stderr(), /left unconfirmed by 1 earlier process/, 'the dead journal was adopted, the live one left')
      await waitFor(() => server.events.some(({ record }) => record.tag === 'second' && (record.seq as number) > 1_000_000 + 1000), 'the second to send on', 10_000)
      second.child.kill('SIGKILL')
      await second.exit
      const last = await run({ MODE: 'deliver', COUNT: 0, TAG: 'last' }, options)
      assert.equal(last.code, 0, last.stderr())
      const firstFlushed = Math.max(...first.lines.map((line) => line.flushed as number))
      const secondFlushed = Math.max(...second.lines.map((line) => line.flushed as number))
      const counts = new Map<number, number>()
      for (const { record } of server.events) counts.set(record.seq as number, (counts.get(record.seq as number) ?? 0) + 1)
      assert.deepEqual(range(firstFlushed).filter((seq) => !counts.has(seq)), [], 'none of the first\'s lost')
      assert.deepEqual(range(secondFlushed - 1_000_000).map((n) => 1_000_000 + n).filter((seq) => !counts.has(seq)), [], 'none of the second\'s lost')
      // A record may come twice only if it was in flight at its writer's kill: among the last ones it logged.
      const twice = [...counts].filter(([, count]) => count > 1).map(([seq]) => seq)
      const lastLogged = (seq: number): boolean => seq < 1_000_000 ? seq >= firstFlushed - 500 : seq >= secondFlushed - 500
      assert.deepEqual(twice.filter((seq) => !lastLogged(seq)), [], 'no record sent by both live processes')
    } finally {
      await server.close()
    }
  })
})
