import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { RecordQueue } from '../src/queue.js'
import { prng } from './helpers.js'

const text = (parts: Buffer[]): string => Buffer.concat(parts).toString()

describe('RecordQueue', () => {
  test('batches hand out records in order, neighbours as one view, and confirm by position', () => {
    const queue = new RecordQueue(1024, 64, 'drop_oldest', () => assert.fail('nothing evicted'))
    for (const word of ['a\n', 'bb\n', 'ccc\n']) queue.push(word)
    queue.push(new Uint8Array([0x64, 0x0a]))
    assert.equal(queue.bytes, 2 + 3 + 4 + 2)
    const parts = queue.takeBatch(1024, 0)
    assert.equal(parts.length, 1, 'contiguous records form one view')
    assert.equal(text(parts), 'a\nbb\nccc\nd\n')
    assert.equal(queue.unsent, 0)
    assert.equal(queue.confirm(2), 2)
    assert.equal(queue.length, 2)
    assert.equal(queue.rewind(), 2, 'two sent and unconfirmed')
    assert.equal(text(queue.takeBatch(1024, 0)), 'ccc\nd\n')
  })

  test('a batch stops before maxBytes, counting the overhead, and comes as one view', () => {
    const queue = new RecordQueue(1024, 64, 'drop_oldest', () => {})
    for (let i = 0; i < 10; i++) queue.push(`{"i":${i}},`) // 8 bytes each, json's comma included
    const parts = queue.takeBatch(1 + 8 * 3, 1)
    assert.deepEqual(parts.map(String), ['{"i":0},{"i":1},{"i":2},'], 'neighbouring records in one view')
    assert.equal(queue.sentEnd, 3)
    assert.equal(queue.takeBatch(5, 1).length, 1, 'a batch always takes at least one record')
  })

  test('drop_oldest evicts what is waiting before what is in flight (the oldest in flight only when nothing waits); drop_newest refuses the new one', () => {
    const evicted: string[] = []
    const waiting = new RecordQueue(10, 10, 'drop_oldest', (record) => evicted.push(record.toString()))
    for (const word of ['aaa', 'bbb']) waiting.push(word)
    assert.equal(text(waiting.takeBatch(3, 0)), 'aaa')
    waiting.push('ccc')
    waiting.push('dddd')
    assert.deepEqual(evicted, ['bbb'], 'the waiting record goes, not the one the server may hold')
    assert.equal(waiting.confirm(1), 1)
    assert.equal(text(waiting.takeBatch(100, 0)), 'cccdddd')
    evicted.length = 0

    const oldest = new RecordQueue(10, 10, 'drop_oldest', (record) => evicted.push(record.toString()))
    for (const word of ['aaa', 'bbb', 'ccc']) oldest.push(word)
    oldest.takeBatch(100, 0)
    oldest.push('dddd')
    assert.deepEqual(evicted, ['aaa'])
    assert.equal(oldest.bytes, 10)
    assert.equal(oldest.confirm(3), 2, 'confirming up to the old end removes only what is left of it')
    assert.equal(text(oldest.takeBatch(100, 0)), 'dddd')

    const newest = new RecordQueue(10, 10, 'drop_newest', (record) => evicted.push(record.toString()))
    for (const word of ['aaa', 'bbb', 'ccc', 'dddd']) newest.push(word)
    assert.deepEqual(evicted, ['aaa', 'dddd'])
    assert.equal(text(newest.takeBatch(100, 0)), 'aaabbbccc')
  })

  /**
   * 20 000 records of random sizes through a 4 KiB queue that evicts the oldest,
   * `step` acting on it after each push; `kept` is what the queue must hold, in
   * order, and is checked against a drain at the end. `scale` multiplies the
   * sizes: at 64, the ring passes its first size and grows by copies to its
   * bound (growth in place, past 1 MiB, has tests of its own above).
   */
  function randomRun (seed: number, step: (queue: RecordQueue, kept: string[], random: () => number) => void, scale = 1, runs = false): RecordQueue {
    const random = prng(seed)
    const kept: string[] = []
    const queue = new RecordQueue(4096 * scale, 300 * scale, 'drop_oldest', (record) => {
      assert.equal(record.toString(), kept.shift(), 'evicted in order')
    })
    let inRuns = 0
    for (let i = 0; i < 20_000;) {
      // With `runs`, most records come as runs of 2 to 6 (pushRun, or one by one where it declines: a full queue).
      const count = runs && random() < 0.7 ? 2 + Math.floor(random() * 5) : 1
      const records = Array.from({ length: count }, (_, k) => `${i + k}:${'x'.repeat(Math.floor(random() * 290 * scale))}`)
      i += count
      const bytes = Buffer.from(records.join(''))
      const lengths = Int32Array.from(records, (record) => record.length)
      const before = queue.length
      if (count > 1 && queue.pushRun(bytes, 0, lengths, count, bytes.length)) {
        inRuns += count
        assert.equal(queue.length, before + count)
      } else {
        assert.equal(queue.length, before, 'a run declined changes nothing')
        for (const record of records) queue.push(record)
      }
      kept.push(...records)
      step(queue, kept, random)
    }
    if (runs) assert.ok(inRuns > 2000, `${inRuns} records pushed in runs`)
    const rest: string[] = []
    assert.equal(queue.drain((record) => rest.push(record.toString())), kept.length)
    assert.deepEqual(rest, kept)
    assert.equal(queue.bytes, 0)
    return queue
  }

  test('records go past the byte bound only as far as one record, and every record the bound allows finds room', () => {
    // The ring has a record's worth of room past `maxBytes` (4 KiB here); an outage's
    // full queue of small records should write no more of it than a small record.
    for (const overflow of ['drop_newest', 'drop_oldest'] as const) {
      const random = prng(overflow === 'drop_newest' ? 11 : 12)
      let refused = 0
      let expectRefusal = false
      const queue = new RecordQueue(65_536, 4096, overflow, () => {
        if (overflow === 'drop_newest') assert.ok(expectRefusal, 'refused only when over the byte bound')
        refused++
      })
      let furthest = 0
      for (let i = 0; i < 50_000; i++) {
        // Now and then, under drop_newest, a record as large as allowed.
        const size = 1 + Math.floor(random() * (overflow === 'drop_newest' && random() < 0.01 ? 4096 : 300))
        expectRefusal = queue.bytes + size > 65_536
        queue.push(Buffer.alloc(size, 0x61))
        if (random() < 0.02) {
          // Take what waits (ends of records as views of the ring), confirm some of it, put the rest back.
          for (const view of queue.takeBatch(Infinity, 0)) furthest = Math.max(furthest, view.byteOffset + view.length)
          queue.confirm(queue.sentEnd - queue.length + Math.floor(random() * queue.length / 4))
          queue.rewind()
        }
      }
      assert.ok(refused > 1000, `${refused} records refused or evicted`)
      assert.ok(furthest > 65_536 - 300, `records reached ${furthest}`)
      const most = overflow === 'drop_newest' ? 4096 : 300
      assert.ok(furthest <= 65_536 + most, `records reached ${furthest}: no further than one record (at most ${most} bytes) past the bound`)
    }
  })

  test('a backlog that comes and goes keeps records within the stretch it needs, not the whole ring', () => {
    // 1.5 MiB held at a time (past 1 MiB: the ring is made at its bound) in a 32 MiB queue, 100 MiB through it:
    // the records should wrap within about 2 MiB, the ring's pages past that never written.
    const queue = new RecordQueue(32 * 1024 * 1024, 1024 * 1024, 'drop_oldest', () => assert.fail('nothing evicted'))
    const record = Buffer.alloc(1000, 0x62)
    let furthest = 0
    for (let round = 0; round < 1000; round++) {
      for (let i = 0; i < 100; i++) queue.push(record)
      for (const view of queue.takeBatch(Infinity, 0)) furthest = Math.max(furthest, view.byteOffset + view.length)
      queue.confirm(queue.sentEnd - 1500)
    }
    assert.equal(queue.bytes, 1_500_000)
    assert.ok(queue.capacity <= 2 * 1024 * 1024, `capacity ${queue.capacity}`)
    assert.ok(furthest <= queue.capacity + 1000, `records reached ${furthest}`)
  })

  test('where the address space for a ring at its bound is refused, the ring grows by copies as it did, and the records stay', () => {
    // A cap on the process's address space (2 GB; node itself takes about 0.7) refuses a
    // 1.5 GiB ring, made at once when the backlog passes 1 MiB. What it holds then is small.
    // The build's queue (npm test builds first): tsx's loader thread needs more address space than the cap leaves.
    const script = `
      import { RecordQueue } from './dist/esm/queue.js'
      const queue = new RecordQueue(1536 * 1024 * 1024, 1024 * 1024, 'drop_oldest', () => { throw new Error('evicted') })
      let refused = false
      try { Buffer.allocUnsafeSlow(1537 * 1024 * 1024) } catch { refused = true }
      for (let i = 0; i < 3000; i++) queue.push(String(i).padStart(1000, '.'))
      const held = []
      queue.drain((view) => held.push(Number(view.toString().replace(/^\\.+/, ''))))
      console.log(JSON.stringify({ refused, held: held.length, inOrder: held.every((n, i) => n === i) }))`
    const child = spawnSync('sh', ['-c', 'ulimit -v 2000000 && exec "$0" --input-type=module -e "$1"', process.execPath, script], { encoding: 'utf8' })
    assert.equal(child.status, 0, child.stderr)
    assert.deepEqual(JSON.parse(child.stdout), { refused: true, held: 3000, inOrder: true })
  })

  test('a backlog that grows while the records wrap: the limit doubles with it, nothing is evicted, every record stays intact and in order', () => {
    const random = prng(31)
    const queue = new RecordQueue(32 * 1024 * 1024, 1024 * 1024, 'drop_oldest', () => assert.fail('nothing evicted'))
    let pushed = 0
    let most = 0
    for (let round = 0; round < 3000; round++) {
      for (let i = 0; i < 50; i++) queue.push(`<${pushed++}:${'z'.repeat(100 + Math.floor(random() * 1900))}>`)
      queue.takeBatch(Infinity, 0)
      // The backlog creeps up to 6 MiB (past 1 MiB, the limit grows in place), with the head carried round the ring meanwhile.
      const target = 6 * 1024 * 1024 * round / 3000 * (0.8 + 0.2 * random())
      while (queue.bytes > target) queue.confirm(queue.sentEnd - queue.length + 1)
      most = Math.max(most, queue.bytes)
    }
    const limit = 2 ** Math.ceil(Math.log2(most + 2100))
    assert.ok(queue.capacity <= limit, `capacity ${queue.capacity}, most held ${most}`)
    const held: string[] = []
    queue.drain((view) => held.push(view.toString()))
    const first = pushed - held.length
    held.forEach((record, i) => assert.match(record, new RegExp(`^<${first + i}:z+>$`)))
  })

  for (const scale of [1, 64]) {
    for (const runs of [false, true]) {
      // With runs, most records come as runs of a few (pushRun, or one by one where it declines).
      test(`the ring wraps, grows and stays exact over many records of random sizes${runs ? ', most of them in runs' : ''} (sizes x ${scale})`, () => {
        randomRun(runs ? 9 : 7, (queue, kept, random) => {
          assert.ok(queue.bytes <= 4096 * scale)
          assert.ok(queue.capacity <= 4096 * scale, `capacity ${queue.capacity}`)
          if (random() < 0.3) {
            const batch = queue.takeBatch(1000 * scale, 0)
            // A record, or a run as one, goes no further than one record past where the ring wraps.
            for (const view of batch) assert.ok(view.byteOffset + view.length <= queue.capacity + 300 * scale, `a record ends at ${view.byteOffset + view.length}`)
            if (random() < 0.8) {
              const sent = text(batch)
              const count = queue.confirm(queue.sentEnd)
              assert.equal(sent, kept.splice(0, count).join(''), 'confirmed in order')
            } else {
              queue.rewind()
            }
          }
        }, scale, runs)
      })
    }

    test(`a queue that stays under half its bound never evicts, however its records wrap round the ring (sizes x ${scale})`, () => {
      // Confirmations of several records at once carry the head across the ring's end;
      // the queue must then see the room past its last record again, not evict to make it.
      const random = prng(11)
      const queue = new RecordQueue(4096 * scale, 300 * scale, 'drop_oldest', () => assert.fail('evicted while the queue held under half its bound'))
      const marks: number[] = []
      for (let i = 0; i < 20_000; i++) {
        queue.push(`${i}:${'x'.repeat(Math.floor(random() * 290 * scale))}`)
        if (random() < 0.5) {
          queue.takeBatch(1 + Math.floor(random() * 900 * scale), 0)
          marks.push(queue.sentEnd)
        }
        while (queue.bytes > (2048 - 300) * scale) {
          if (marks.length === 0) {
            queue.takeBatch(4096 * scale, 0)
            marks.push(queue.sentEnd)
          }
          // Most often the oldest mark; now and then a later one, several batches at once.
          const at = random() < 0.7 ? 0 : Math.floor(random() * marks.length)
          queue.confirm(marks.splice(0, at + 1)[at])
        }
      }
    })
  }

  // At 16 x the sizes, the ring passes its first size and grows by copies to its bound, where records in flight meet evictions.
  for (const scale of [1, 16]) {
    test(`drop_oldest with records in flight across pushes: none in flight is evicted while one waits, the holes are closed, every record is confirmed, evicted or held, intact and in order (sizes x ${scale})`, () => {
      const random = prng(23)
      const inFlight = new Set<string>()
      let waitingEvicted = 0
      const queue = new RecordQueue(8192 * scale, 400 * scale, 'drop_oldest', (view) => {
        const record = view.toString()
        if (inFlight.has(record)) {
          assert.equal(queue.unsent, 0, 'a record in flight evicted while others waited')
          inFlight.delete(record)
        } else {
          waitingEvicted++
        }
        gone.add(record)
      })
      const gone = new Set<string>()
      const confirmed: string[] = []
      const pushed: string[] = []
      let marks: number[] = []
      for (let i = 0; i < 30_000; i++) {
        const record = `<${i}:${'y'.repeat(Math.floor(random() * 380 * scale))}>`
        queue.push(record)
        pushed.push(record)
        const roll = random()
        if (roll < 0.2) {
          for (const part of queue.takeBatch(1 + Math.floor(random() * 3000 * scale), 0)) {
            for (const one of part.toString().match(/<[^>]*>/g) ?? []) inFlight.add(one)
          }
          marks.push(queue.sentEnd)
        } else if (roll < 0.3 && marks.length > 0) {
          const mark = marks.shift()!
          const before = queue.length
          queue.confirm(mark)
          assert.ok(queue.length <= before)
        } else if (roll < 0.32) {
          queue.rewind()
          inFlight.clear()
          marks = []
        }
        assert.ok(queue.bytes <= 8192 * scale)
        assert.ok(queue.capacity <= 8192 * scale)
      }
      const held: string[] = []
      queue.drain((view) => held.push(view.toString()))
      // Whatever was neither evicted nor held was confirmed: together, each record once.
      for (const record of pushed) if (!gone.has(record) && !held.includes(record)) confirmed.push(record)
      assert.equal(confirmed.length + gone.size + held.length, pushed.length)
      const order = (records: string[]): number[] => records.map((r) => Number(r.slice(1, r.indexOf(':'))))
      const heldOrder = order(held)
      assert.deepEqual(heldOrder, [...heldOrder].sort((a, b) => a - b), 'held in order')
      for (const record of held) assert.match(record, /^<\d+:y*>$/, 'intact')
      assert.ok(waitingEvicted > 1000, `${waitingEvicted} waiting records evicted`)
    })
  }

  test('a run goes no further past where the ring wraps than a record may, while a ring made at its bound grows its limit', () => {
    // 1 KiB records in runs of 64 KiB, through a 16 MiB queue whose ring passes 1 MiB (made at its bound)
    // and doubles its limit as the backlog grows: no run may write past the limit more than one record does.
    const queue = new RecordQueue(16 * 1024 * 1024, 1024, 'drop_oldest', () => assert.fail('nothing evicted'))
    const lengths = new Int32Array(64).fill(1024)
    const run = Buffer.alloc(64 * 1024, 0x72)
    let inRuns = 0
    for (let i = 0; i < 200; i++) {
      if (queue.pushRun(run, 0, lengths, 64, run.length)) inRuns++
      else for (let k = 0; k < 64; k++) queue.push(run.subarray(0, 1024))
      for (const view of queue.takeBatch(Infinity, 0)) {
        assert.ok(view.byteOffset + view.length <= queue.capacity + 1024, `records reach ${view.byteOffset + view.length}, past ${queue.capacity} + 1 KiB`)
      }
      // Confirm half of what came: the backlog grows.
      queue.confirm(queue.sentEnd - queue.length + 32)
      queue.rewind()
    }
    assert.ok(inRuns > 100, `${inRuns} runs taken as runs`)
    assert.ok(queue.capacity > 1024 * 1024, `the limit grew to ${queue.capacity}`)
  })

  test('removeLarger takes out the records over a size, wherever they are, and the ring stays exact after', () => {
    const queue = randomRun(11, (queue, kept, random) => {
      if (random() >= 0.3) return
      const sent = text(queue.takeBatch(1000, 0))
      if (random() < 0.5) {
        assert.equal(sent, kept.splice(0, queue.confirm(queue.sentEnd)).join(''), 'confirmed in order')
        return
      }
      queue.rewind()
      const max = 50 + Math.floor(random() * 250)
      const removed: string[] = []
      assert.equal(queue.removeLarger(max, (view) => removed.push(view.toString())), removed.length)
      assert.deepEqual(removed, kept.filter((r) => r.length > max))
      kept.splice(0, kept.length, ...kept.filter((r) => r.length <= max))
      assert.equal(queue.length, kept.length)
      assert.equal(queue.bytes, kept.join('').length)
    })
    assert.throws(() => { queue.push('a'); queue.takeBatch(10, 0); queue.removeLarger(0, () => {}) }, /in flight/)
  })

  test('thousands of small records: the index wraps and grows, with evictions, batches and removals', () => {
    const random = prng(5)
    const evicted: string[] = []
    const LIMIT = 16 * 1024
    const queue = new RecordQueue(LIMIT, 64, 'drop_oldest', (view) => evicted.push(view.toString()))
    const kept: string[] = []
    let keptBytes = 0
    let sent = 0
    let most = 0
    for (let i = 0; i < 60_000; i++) {
      const record = `${i % 10}${'z'.repeat(Math.floor(random() * 4))}`
      queue.push(record)
      kept.push(record)
      keptBytes += record.length
      // The oldest records give way, in order: for the byte bound, or for a contiguous place in the ring;
      // the oldest waiting one first, one in flight only when none waits (the new record is not in yet).
      while (evicted.length > 0) {
        const at = sent > 0 && kept.length - 1 > sent ? sent : 0
        keptBytes -= kept[at].length
        assert.equal(evicted.shift(), kept[at])
        kept.splice(at, 1)
        if (at === 0) sent = Math.max(0, sent - 1)
      }
      assert.ok(keptBytes <= LIMIT)
      if (random() < 0.002) {
        // Send some, confirm part of what is in flight.
        const batch = Buffer.concat(queue.takeBatch(200, 0)).toString()
        const inFlight = queue.length - queue.unsent
        assert.equal(batch, kept.slice(sent, inFlight).join(''), 'a batch continues where the last one ended')
        sent = inFlight
        const confirmed = Math.floor(sent / 2)
        queue.confirm(queue.sentEnd - (sent - confirmed))
        for (const record of kept.splice(0, confirmed)) keptBytes -= record.length
        sent -= confirmed
      }
      if (random() < 0.0005) {
        queue.rewind()
        sent = 0
        queue.removeLarger(3, () => {})
        for (const record of kept.filter((r) => r.length > 3)) keptBytes -= record.length
        kept.splice(0, kept.length, ...kept.filter((r) => r.length <= 3))
      }
      assert.equal(queue.length, kept.length)
      assert.equal(queue.bytes, keptBytes)
      most = Math.max(most, queue.length)
    }
    assert.ok(most > 2048, `more records than the index starts with (${most})`)
    queue.rewind()
    assert.equal(Buffer.concat(queue.takeBatch(Infinity, 0)).toString(), kept.join(''))
  })

  test('a ring grown for an outage is kept while the load fills it now and then, and given back once the queue empties after a light second', (t) => {
    const queue = new RecordQueue(16 * 1024 * 1024, 1024, 'drop_oldest', () => {})
    const cycle = (records: number): void => {
      for (let i = 0; i < records; i++) queue.push('y'.repeat(1000))
      queue.takeBatch(Infinity, 0)
      queue.confirm(queue.sentEnd)
    }
    // Whether the ring is still the one grown for the outage, at each step (read
    // under a mocked clock, asserted after it: a failing assertion under it hangs the runner).
    const kept: Record<string, boolean> = {}
    const look = (step: string): void => { kept[step] = queue.capacity >= 10_000_000 }
    t.mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_000 })
    try {
      // The outage's backlog, then load that holds more than 1 MiB at a time.
      cycle(10_000)
      look('after the outage')
      cycle(2_000)
      look('after a heavy emptying')
      // Light spells shorter than a second between heavy ones.
      for (let i = 0; i < 5; i++) {
        t.mock.timers.tick(600)
        for (let j = 0; j < 50; j++) cycle(100)
        look(`light spell ${i}`)
        cycle(2_000)
      }
      // Then a light second.
      t.mock.timers.tick(999)
      cycle(100)
      look('light for 999 ms')
      t.mock.timers.tick(1)
      cycle(100)
      look('light for a second')
    } finally {
      t.mock.timers.reset()
    }
    assert.deepEqual(kept, {
      'after the outage': true,
      'after a heavy emptying': true,
      'light spell 0': true,
      'light spell 1': true,
      'light spell 2': true,
      'light spell 3': true,
      'light spell 4': true,
      'light for 999 ms': true,
      'light for a second': false
    })
  })
})
