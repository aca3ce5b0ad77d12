import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Backoff, parseRetryAfter, retryDelay } from '../src/backoff.js'

describe('Backoff', () => {
  test('full jitter under a ceiling that doubles up to the cap, and resets', () => {
    const backoff = new Backoff(100, 1000, () => 0.999)
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => backoff.next()), [99, 199, 399, 799, 999, 999])
    assert.equal(backoff.attempt, 6)
    backoff.reset()
    assert.equal(backoff.next(), 99)
    assert.equal(new Backoff(100, 1000, () => 0).next(), 0)
  })
})

describe('retryDelay', () => {
  test('no HTTP answer, or 408/429/5xx without Retry-After: the plain backoff delay', () => {
    assert.deepEqual(retryDelay(123, undefined, 30_000), { delay: 123, refused: false })
    for (const status of [408, 429, 500, 502, 503]) {
      assert.deepEqual(retryDelay(123, { status, retryAfter: undefined }, 30_000), { delay: 123, refused: false }, String(status))
    }
  })

  test('Retry-After is honoured, never shortening the backoff delay', () => {
    assert.deepEqual(retryDelay(100, { status: 503, retryAfter: 5000 }, 30_000), { delay: 5000, refused: false })
    assert.deepEqual(retryDelay(9000, { status: 429, retryAfter: 5000 }, 30_000), { delay: 9000, refused: false })
  })

  test('401, 403, 404, a redirect or a plain 200 are refusals: about the longest delay', () => {
    for (const status of [200, 301, 401, 403, 404]) {
      assert.deepEqual(retryDelay(10, { status, retryAfter: undefined }, 30_000, () => 0), { delay: 15_000, refused: true }, String(status))
      assert.deepEqual(retryDelay(10, { status, retryAfter: undefined }, 30_000, () => 0.999999), { delay: 29_999, refused: true }, String(status))
    }
  })
})

describe('parseRetryAfter', () => {
  test('delay-seconds and HTTP dates, bounded to an hour; anything else is ignored', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    assert.equal(parseRetryAfter(undefined), undefined)
    assert.equal(parseRetryAfter('2'), 2000)
    assert.equal(parseRetryAfter(' 7 '), 7000)
    assert.equal(parseRetryAfter('999999'), 3_600_000)
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000)
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0)
    assert.equal(parseRetryAfter('soon'), undefined)
  })
})
