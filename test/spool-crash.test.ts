import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { freePort, prng, range, sequence, startServer, type TestServer } from './helpers.js'
import { base, run, segments, spoolDir, startApp, statsOf } from './spool-helpers.js'

// Issue 20: a pino app's records survive its death (kill -9, an uncaught exception).

describe('a pino app killed with SIGKILL after logger.flush(): the next start delivers every record', () => {
  for (const format of ['json_lines', 'msgpack'] as const) {
    test(`${format}: 20 000 records, server down, kill -9; restarted with the server up: all 20 000, none twice`, async () => {
      const port = await freePort()
      const spool = spoolDir()
      const options = { ...base, format, port, spool }
      const killed = await run({ MODE: 'flush-kill', COUNT: 20_000 }, options)
      assert.equal(killed.child.signalCode, 'SIGKILL', killed.stderr())
      assert.deepEqual(killed.lines, [{ flushed: 20_000 }])
      assert.ok(segments(spool).length > 0, 'the spool holds segments')

      const server = await startServer({ port, format })
      try {
        const again = await run({ MODE: 'deliver', COUNT: 0 }, options)
        assert.equal(again.code, 0, again.stderr())
        const { unique, duplicates } = sequence(server.events)
        assert.deepEqual(unique.sort((a, b) => a - b), range(20_000))
        assert.equal(duplicates, 0, 'nothing was in flight at the kill')
        const stats = statsOf(again)
        assert.equal(stats.recovered, 20_000)
        assert.equal(stats.delivered, 20_000)
        assert.equal(stats.pending, 0)
        // Said once on stderr, with the count.
        const said = again.stderr().split('\n').filter((line) => line.includes('PINO_WS_WARN_SPOOL_RECOVERED'))
        assert.equal(said.length, 1, again.stderr())
        assert.match(said[0], /20000 record\(s\) left unconfirmed by 1 earlier process/)
        // Trimmed as confirmed: nothing is left on disk.
        assert.deepEqual(segments(spool), [])
      } finally {
        await server.close()
      }
    })
  }

  test('the app ends with the server down: the records stay in the spool, said in one line that the next start makes true', async () => {
    const port = await freePort()
    const spool = spoolDir()
    const options = { ...base, port, spool }
    const ended = await run({ MODE: 'deliver', COUNT: 300 }, options)
    assert.equal(ended.code, 0, ended.stderr())
    const stats = statsOf(ended)
    assert.equal(stats.pending, 300)
    assert.equal(stats.dropped.shutdown, 0, 'nothing is dropped: the spool keeps it')
    const kept = ended.stderr().split('\n').filter((line) => line.includes('PINO_WS_WARN_SPOOL_KEPT'))
    assert.equal(kept.length, 1, ended.stderr())
    assert.match(kept[0], new RegExp(`300 record\\(s\\) not yet delivered stay in the spool ${spool}`))
    assert.doesNotMatch(ended.stderr(), /PINO_WS_WARN_DROPPED/)

    const server = await startServer({ port, format: 'json_lines' })
    try {
      const again = await run({ MODE: 'deliver', COUNT: 0 }, options)
      assert.equal(again.code, 0, again.stderr())
      assert.deepEqual(sequence(server.events).unique.sort((a, b) => a - b), range(300))
    } finally {
      await server.close()
    }
  })
})

test('logger.fatal() then an uncaught exception, server down: the next start delivers the fatal record', async () => {
  const port = await freePort()
  const spool = spoolDir()
  const options = { ...base, port, spool }
  const crashed = await run({ MODE: 'fatal', START: 7 }, options)
  assert.notEqual(crashed.code, 0)
  assert.match(crashed.stderr(), /the crash/)
  const server = await startServer({ port, format: 'json_lines' })
  try {
    const again = await run({ MODE: 'deliver', COUNT: 0 }, options)
    assert.equal(again.code, 0, again.stderr())
    assert.equal(server.events.length, 1)
    assert.equal(server.events[0].record.seq, 7)
    assert.equal(server.events[0].record.msg, 'about to crash')
    assert.equal(server.events[0].record.level, 60)
  } finally {
    await server.close()
  }
})

test('ten SIGKILLs at random moments while logging 1 000 records/s to a flapping server: every record flushed before a kill arrives', async () => {
  const random = prng(20)
  const port = await freePort()
  const spool = spoolDir()
  const options = { ...base, port, spool }
  let server: TestServer | undefined = await startServer({ port, format: 'json_lines' })
  const events: TestServer['events'] = []
  let flapping = true
  const flap = (async () => {
    while (flapping) {
      await new Promise((resolve) => setTimeout(resolve, 200 + random() * 600))
      if (server !== undefined) {
        events.push(...server.events)
        await server.kill()
        server = undefined
      } else {
        server = await startServer({ port, format: 'json_lines' })
      }
    }
  })()
  const promised: number[] = []
  let start = 0
  try {
    for (let kill = 0; kill < 10; kill++) {
      const app = startApp({ MODE: 'stream', START: start, RATE: 1000, FLUSH_MS: 50, TAG: `run${kill}` }, options)
      await new Promise((resolve) => setTimeout(resolve, 500 + random() * 1000))
      app.child.kill('SIGKILL')
      await app.exit
      // Every record below the highest flushed mark was in the spool when the kill came.
      const flushed = Math.max(start, ...app.lines.map((line) => line.flushed as number))
      promised.push(...range(flushed - start).map((n) => start + n))
      start += 100_000
    }
  } finally {
    flapping = false
    await flap
  }
  server ??= await startServer({ port, format: 'json_lines' })
  try {
    const last = await run({ MODE: 'deliver', COUNT: 0 }, options)
    assert.equal(last.code, 0, last.stderr())
    const arrived = new Set(sequence([...events, ...server.events]).unique)
    const missing = promised.filter((seq) => !arrived.has(seq))
    assert.ok(promised.length > 1000, `records were promised (${promised.length})`)
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${promised.length} flushed records never arrived`)
  } finally {
    await server.close()
  }
})

