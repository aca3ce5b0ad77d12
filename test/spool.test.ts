import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Client } from '../src/client.js'
import { resolveOptions } from '../src/options.js'
import { Spool, type SpoolOptions, type SpoolSink } from '../src/spool.js'
import { freePort, range, sequence, startServer } from './helpers.js'
import { segments, spoolDir } from './spool-helpers.js'

// Issue 20: the spool on its own (src/spool.ts), and the engine reading back
// through it, in this process: what the crash tests in spool-*.test.ts rest on.

function sink (): SpoolSink & { drops: Array<{ reason: string, count: number }>, evictedRecords: string[] } {
  const drops: Array<{ reason: string, count: number }> = []
  const evictedRecords: string[] = []
  return {
    drops,
    evictedRecords,
    drop: (reason, count) => drops.push({ reason, count }),
    evicted: (record) => evictedRecords.push(record.toString()),
    failed: () => {}
  }
}

function open (dir: string, options: Partial<SpoolOptions> = {}, events = sink()): Spool {
  return new Spool({ dir, maxBytes: 64 * 1024 * 1024, fsyncInterval: 0, format: 'json_lines', overflow: 'drop_oldest', ...options }, events)
}

/** Make a journal look like a dead process's: its owner's start time is not the live pid's. */
function bury (spool: Spool): void {
  const path = join(spool.journalDir, 'owner')
  const owner = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
  writeFileSync(path, JSON.stringify({ ...owner, start: 'gone' }))
}

/** The `seq` of every record still unread, in order. */
function readAll (spool: Spool): number[] {
  const seqs: number[] = []
  spool.read((record) => {
    seqs.push((JSON.parse(record.toString()) as { seq: number }).seq)
    return 'queued'
  })
  return seqs
}

const record = (n: number): string => JSON.stringify({ seq: n, pad: 'x'.repeat(100) }) + '\n'

/**
 * Add the records `from` to `from + count` as the engine would: each handed to
 * its queue (`handed`) or left on disk (`behind`); written together at the end.
 * Returns how many the spool took.
 */
function fill (spool: Spool, from: number, count: number, how: 'handed' | 'behind', commitEvery = count): number {
  let taken = 0
  for (let n = from; n < from + count; n++) {
    const text = record(n)
    if (spool.add(text, Buffer.byteLength(text))) {
      taken++
      if (how === 'handed') spool.handed()
      else spool.fallBehind()
    }
    if ((n - from) % commitEvery === commitEvery - 1) spool.commit()
  }
  spool.commit()
  return taken
}

describe('Spool', () => {
  test('records that fell behind are read back in order, and segments go once done', () => {
    const spool = open(spoolDir(), { maxBytes: 8 * 1024 * 1024 })
    assert.equal(fill(spool, 0, 20_000, 'behind', 100), 20_000)
    assert.equal(spool.unread, 20_000)
    const bytes = spool.bytes
    assert.ok(bytes > 2_000_000)
    assert.deepEqual(readAll(spool), range(20_000))
    assert.equal(spool.caughtUp, true)
    spool.done(0)
    assert.ok(spool.bytes < 2 * 1024 * 1024, `only the segment being written is left (${spool.bytes} bytes)`)
    spool.close()
  })

  test('after a death, only what was not confirmed is read again: the mark skips confirmed records inside a segment', () => {
    const dir = spoolDir()
    const first = open(dir)
    fill(first, 0, 1000, 'handed')
    // 600 confirmed, 400 held (in flight) when the process dies.
    first.done(400)
    bury(first)
    const next = open(dir)
    assert.equal(next.recovery.records, 400)
    assert.equal(next.recovery.journals, 1)
    assert.deepEqual(readAll(next), range(400).map((n) => 600 + n))
    next.done(0)
    next.close()
    assert.deepEqual(readdirSync(dir), [], 'a journal with nothing left goes, adopted ones with it')
  })

  test('crash after crash: adopted journals sit side by side, never nested, and are read oldest first', () => {
    const dir = spoolDir()
    const names: string[] = []
    for (let crash = 0; crash < 4; crash++) {
      const spool = open(dir)
      names.push(spool.journalDir.split('/').pop()!)
      fill(spool, 10 * crash, 10, 'behind')
      bury(spool)
    }
    const last = open(dir)
    assert.equal(last.recovery.records, 40)
    assert.deepEqual(readdirSync(last.journalDir).filter((name) => name !== 'owner').sort(), names.sort(), 'each journal one level down')
    assert.deepEqual(readAll(last), range(40))
    last.done(0)
    last.close()
  })

  test('a dead journal with nothing left is removed at adoption, and says nothing', () => {
    const dir = spoolDir()
    const first = open(dir)
    fill(first, 1, 1, 'handed')
    first.done(0)
    bury(first)
    const next = open(dir)
    assert.deepEqual(next.recovery, { records: 0, damaged: 0, journals: 0, otherFormats: new Map() })
    assert.deepEqual(readdirSync(next.journalDir), ['owner'])
    next.close()
  })

  test('a live journal, even of this process, is never adopted; one of another format is left and counted', () => {
    const dir = spoolDir()
    const live = open(dir)
    fill(live, 1, 1, 'behind')
    const other = open(dir, { format: 'msgpack' })
    const again = open(dir)
    assert.equal(again.recovery.records, 0, 'the live journal stays its owner\'s')
    bury(live)
    const third = open(dir, { format: 'msgpack' })
    assert.equal(third.recovery.records, 0)
    assert.deepEqual([...third.recovery.otherFormats], [['json_lines', 1]])
    const fourth = open(dir)
    assert.equal(fourth.recovery.records, 1)
    for (const spool of [live, other, again, third, fourth]) spool.close()
  })

  test('a journal from another host (a shared volume) is adopted once its heartbeat is 30 s old, not before', () => {
    const dir = spoolDir()
    const gone = open(dir)
    fill(gone, 1, 1, 'behind')
    const owner = join(gone.journalDir, 'owner')
    writeFileSync(owner, JSON.stringify({ ...(JSON.parse(readFileSync(owner, 'utf8')) as object), host: 'another-container' }))
    const early = open(dir)
    assert.equal(early.recovery.records, 0, 'a fresh heartbeat: alive')
    const old = new Date(Date.now() - 31_000)
    utimesSync(owner, old, old)
    const late = open(dir)
    assert.equal(late.recovery.records, 1)
    for (const spool of [gone, early, late]) spool.close()
  })

  for (const overflow of ['drop_oldest', 'drop_newest'] as const) {
    test(`${overflow}: a full spool drops by the policy, counted, and stays within its bound on disk`, () => {
      const events = sink()
      const maxBytes = 1024 * 1024
      const spool = open(spoolDir(), { maxBytes, overflow }, events)
      fill(spool, 0, 20_000, 'behind', 50)
      const dropped = events.drops.filter((drop) => drop.reason === 'overflow').reduce((sum, drop) => sum + drop.count, 0)
      assert.ok(dropped > 10_000, `dropped ${dropped}`)
      assert.equal(spool.unread + dropped, 20_000)
      const onDisk = segments(spool.journalDir).reduce((sum, file) => sum + statSync(file).size, 0)
      assert.equal(onDisk, spool.bytes)
      assert.ok(onDisk <= maxBytes, `${onDisk} bytes on disk`)
      const seqs = readAll(spool)
      if (overflow === 'drop_newest') assert.deepEqual(seqs, range(seqs.length), 'the oldest kept')
      else assert.equal(seqs[seqs.length - 1], 19_999, 'the newest kept')
      if (overflow === 'drop_oldest') assert.equal(events.evictedRecords.length, dropped, 'each evicted record offered to the fallback file')
      spool.close()
    })
  }
})

describe('the engine with a spool, in this process', () => {
  test('an outage: 60 000 records (7.5 MB, past the 4 MiB read-ahead) go in order and once when the server is up; trimmed as confirmed', async () => {
    const port = await freePort()
    const spool = spoolDir()
    const client = new Client(resolveOptions({ port, format: 'json_lines', spool, reconnectDelay: 20, maxReconnectDelay: 100, quiet: true }))
    for (const n of range(60_000)) {
      client.pushEncoded(Buffer.from(record(n)))
      if (n % 500 === 499) client.commit()
    }
    client.commit()
    const held = client.stats().pending
    assert.equal(held, 60_000)
    const onDisk = segments(spool).reduce((sum, file) => sum + statSync(file).size, 0)
    assert.ok(onDisk > 7_000_000, `${onDisk} bytes on disk`)
    const server = await startServer({ port, format: 'json_lines', jsonDateKey: false })
    try {
      await client.flush(20_000)
      const stats = client.stats()
      assert.equal(stats.delivered, 60_000)
      assert.equal(stats.pending, 0)
      const { unique, duplicates, ordered } = sequence(server.events)
      assert.equal(unique.length, 60_000)
      assert.equal(duplicates, 0)
      assert.equal(ordered, true)
      await client.close()
      assert.deepEqual(segments(spool), [], 'trimmed as confirmed')
    } finally {
      await server.close()
    }
  })

  test('options: Fluent Bit\'s storage.total_limit_size with its units, and clear errors', () => {
    const resolve = (options: Record<string, unknown>): number => resolveOptions({ url: 'ws://127.0.0.1:1', ...options }).maxSpoolBytes
    assert.equal(resolve({}), 1024 * 1024 * 1024)
    assert.equal(resolve({ 'storage.total_limit_size': '5M' }), 5_000_000)
    assert.equal(resolve({ maxSpoolBytes: '1G' }), 1_000_000_000)
    assert.equal(resolve({ maxSpoolBytes: '512MiB' }), 512 * 1024 * 1024)
    assert.equal(resolve({ maxSpoolBytes: 2_000_000 }), 2_000_000)
    assert.throws(() => resolve({ maxSpoolBytes: '10K' }), /`maxSpoolBytes`.*a size 1048576-/)
    assert.throws(() => resolve({ maxSpoolBytes: 'lots' }), /`maxSpoolBytes`/)
    assert.throws(() => resolveOptions({ url: 'ws://127.0.0.1:1', spool: '' }), /`spool`.*a directory path/)
    assert.throws(() => resolveOptions({ url: 'ws://127.0.0.1:1', spoolFsyncInterval: -1 }), /`spoolFsyncInterval`/)
  })
})
