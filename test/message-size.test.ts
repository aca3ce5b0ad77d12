import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { FIRST_SIZE, LONE_LOSSES, MessageSize, MIN_SIZE, STATED_PROBE, SUSPECTED_PROBE, type SentMessage } from '../src/message-size.js'

// The message-size policy alone: fed closes and confirmations, with a clock of our own.

const MiB = 1024 * 1024
const batch = (bytes: number, id = 0): SentMessage => ({ bytes, records: 10, id })
const lone = (bytes: number, id = 0): SentMessage => ({ bytes, records: 1, id })

function clock (): { now: () => number, advance: (ms: number) => void } {
  let at = 1_000_000
  return { now: () => at, advance: (ms) => { at += ms } }
}

/** Open a connection and confirm full messages until the size stops growing; the sizes used. */
function grow (size: MessageSize): number[] {
  size.opened()
  const used: number[] = []
  for (let i = 0; i < 30; i++) {
    used.push(size.next)
    size.confirmed(size.next)
  }
  return used
}

describe('message size', () => {
  test('slow start: a connection starts small and doubles as full messages are confirmed, up to maxMessageBytes', () => {
    const size = new MessageSize(MiB)
    const used = grow(size)
    assert.equal(used[0], FIRST_SIZE)
    assert.deepEqual(used.slice(0, 7), [16, 32, 64, 128, 256, 512, 1024].map((k) => k * 1024))
    assert.equal(size.next, MiB)
    assert.equal(size.limit, MiB)
    // Small messages do not grow it: nothing was learned about larger ones.
    const quiet = new MessageSize(MiB)
    quiet.opened()
    for (let i = 0; i < 100; i++) quiet.confirmed(200)
    assert.equal(quiet.next, FIRST_SIZE)
    // The next connection starts at what was proven.
    size.opened()
    assert.equal(size.next, MiB)
  })

  test('a maxMessageBytes below the first size is the size from the start', () => {
    const size = new MessageSize(4096)
    size.opened()
    assert.equal(size.next, 4096)
  })

  test('a 1009 lowers the ceiling to half the largest unconfirmed message, never below what was confirmed', () => {
    const size = new MessageSize(MiB)
    grow(size)
    const verdict = size.ended({ code: 1009, ours: false, unconfirmed: [batch(MiB)] })
    assert.equal(verdict?.stated, true)
    assert.equal(verdict?.lowered, MiB / 2, 'the server once took 1 MiB and now refuses it: it is believed')
    assert.equal(size.proven, 0)
    const again = new MessageSize(MiB)
    again.opened()
    for (const bytes of [16, 32, 64].map((k) => k * 1024)) again.confirmed(bytes)
    const lowered = again.ended({ code: 1009, ours: false, unconfirmed: [batch(100 * 1024), batch(128 * 1024)] })
    assert.equal(lowered?.lowered, 64 * 1024)
    assert.equal(again.limit, 64 * 1024)
    again.opened()
    assert.equal(again.next, 64 * 1024, 'the next connection starts at the proven size')
    again.confirmed(64 * 1024)
    assert.equal(again.next, 64 * 1024, 'and grows no further than the ceiling')
  })

  test('a 1009 of a lone record first in line, and the largest: it is refused, and so is anything as large', () => {
    const size = new MessageSize(MiB)
    size.opened()
    size.confirmed(8192)
    const verdict = size.ended({ code: 1009, ours: false, unconfirmed: [lone(40_000, 7), batch(9000)] })
    assert.equal(verdict?.dropFirst, true)
    assert.ok(size.refuses(40_000))
    assert.ok(!size.refuses(39_999))
    // Not first, or not the largest: not proven to be the one.
    const other = new MessageSize(MiB)
    assert.equal(other.ended({ code: 1009, ours: false, unconfirmed: [batch(9000), lone(40_000)] })?.dropFirst, false)
    assert.equal(other.ended({ code: 1009, ours: false, unconfirmed: [lone(9000), batch(40_000)] })?.dropFirst, false)
  })

  test('a loss without a close frame after a message larger than any confirmed lowers the ceiling; one after proven sizes says nothing', () => {
    const size = new MessageSize(MiB)
    size.opened()
    size.confirmed(32 * 1024)
    assert.equal(size.ended({ code: 1006, ours: false, unconfirmed: [batch(32 * 1024), batch(20 * 1024)] }), undefined)
    assert.equal(size.limit, MiB)
    const verdict = size.ended({ code: 1006, ours: false, unconfirmed: [batch(32 * 1024), batch(64 * 1024)] })
    assert.equal(verdict?.stated, false)
    assert.equal(verdict?.lowered, 32 * 1024)
    assert.equal(verdict?.dropFirst, false)
    assert.equal(verdict?.probeIn, SUSPECTED_PROBE.first)
  })

  test('what our side ended, and other close codes, are no size signal', () => {
    const size = new MessageSize(MiB)
    for (const ending of [
      { code: 1009, ours: true, unconfirmed: [batch(MiB)] },
      { code: 1006, ours: true, unconfirmed: [batch(MiB)] },
      { code: 1000, ours: false, unconfirmed: [batch(MiB)] },
      { code: 1001, ours: false, unconfirmed: [batch(MiB)] },
      { code: 1011, ours: false, unconfirmed: [lone(MiB)] },
      { code: 1006, ours: false, unconfirmed: [] }
    ]) assert.equal(size.ended(ending), undefined, JSON.stringify(ending))
    assert.equal(size.limit, MiB)
  })

  test(`a lone record is given up only after ${LONE_LOSSES} losses in a row with it first in line`, () => {
    const size = new MessageSize(MiB)
    size.opened()
    size.confirmed(4096)
    for (let i = 1; i < LONE_LOSSES; i++) assert.equal(size.ended({ code: 1006, ours: false, unconfirmed: [lone(200_000, 5)] })?.dropFirst, false)
    assert.equal(size.ended({ code: 1006, ours: false, unconfirmed: [lone(200_000, 5)] })?.dropFirst, true)
    // A confirmation between losses starts the count over.
    size.ended({ code: 1006, ours: false, unconfirmed: [lone(200_000, 9)] })
    size.ended({ code: 1006, ours: false, unconfirmed: [lone(200_000, 9)] })
    size.confirmed(100)
    assert.equal(size.ended({ code: 1006, ours: false, unconfirmed: [lone(200_000, 9)] })?.dropFirst, false)
    // A suspicion never marks sizes refused: only a 1009 does.
    assert.ok(!size.refuses(200_000))
  })

  test('the ceiling is probed upward again: a suspected limit soon, a stated one later, each failed probe waiting twice as long', () => {
    const { now, advance } = clock()
    const size = new MessageSize(MiB, now)
    size.opened()
    size.confirmed(16 * 1024)
    assert.equal(size.ended({ code: 1006, ours: false, unconfirmed: [batch(64 * 1024)] })?.lowered, 32 * 1024)
    advance(SUSPECTED_PROBE.first - 1)
    size.opened()
    assert.equal(size.limit, 32 * 1024)
    advance(1)
    size.opened()
    assert.equal(size.limit, MiB, 'probed')
    // The probe fails: the next waits twice as long.
    assert.equal(size.ended({ code: 1006, ours: false, unconfirmed: [batch(64 * 1024)] })?.probeIn, SUSPECTED_PROBE.first * 2)
    for (let i = 0; i < 10; i++) {
      advance(SUSPECTED_PROBE.max)
      size.opened()
      size.ended({ code: 1006, ours: false, unconfirmed: [batch(64 * 1024)] })
    }
    advance(SUSPECTED_PROBE.max)
    size.opened()
    assert.equal(size.limit, MiB, 'never longer than the cap')
    // A probe that works: the schedule starts over.
    size.confirmed(128 * 1024)
    assert.equal(size.ended({ code: 1006, ours: false, unconfirmed: [batch(512 * 1024)] })?.probeIn, SUSPECTED_PROBE.first)
    // A stated limit: a later first probe, and the refused size is forgotten with it.
    const stated = new MessageSize(MiB, now)
    stated.opened()
    stated.confirmed(8192)
    assert.equal(stated.ended({ code: 1009, ours: false, unconfirmed: [lone(100_000)] })?.probeIn, STATED_PROBE.first)
    assert.ok(stated.refuses(100_000))
    advance(STATED_PROBE.first)
    stated.opened()
    assert.equal(stated.limit, MiB)
    assert.ok(!stated.refuses(100_000))
  })

  test('the ceiling never drops below MIN_SIZE', () => {
    const size = new MessageSize(MiB)
    assert.equal(size.ended({ code: 1009, ours: false, unconfirmed: [batch(600)] })?.lowered, MIN_SIZE)
    assert.equal(size.ended({ code: 1009, ours: false, unconfirmed: [batch(600)] })?.lowered, undefined)
  })
})
