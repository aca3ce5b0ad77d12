/**
 * The whole reconnect policy, pure: a capped exponential backoff with full
 * jitter, and the wait after an answer to the upgrade. No timers, no I/O; the
 * random source is injectable for tests.
 */

/** Longest Retry-After honoured, in ms. */
const MAX_RETRY_AFTER = 3_600_000

/**
 * Capped exponential backoff with full jitter: the n-th delay is uniform in
 * [0, min(max, base * 2^n)). Full jitter spreads many clients reconnecting to one
 * restarted server.
 */
export class Backoff {
  #attempt = 0
  readonly #base: number
  readonly #max: number
  readonly #random: () => number

  constructor (base: number, max: number, random: () => number = Math.random) {
    this.#base = base
    this.#max = max
    this.#random = random
  }

  /** Failures since the last reset. */
  get attempt (): number { return this.#attempt }

  /** The delay before the next attempt, in milliseconds; counts one more failure. */
  next (): number {
    const ceiling = Math.min(this.#max, this.#base * 2 ** Math.min(this.#attempt, 30))
    this.#attempt++
    return Math.floor(this.#random() * ceiling)
  }

  /** Start again from the first delay, once a connection has proved healthy. */
  reset (): void {
    this.#attempt = 0
  }
}

/** The server's HTTP answer to a WebSocket upgrade it did not accept. */
export interface Rejection {
  status: number
  /** The Retry-After header in ms, when there was a valid one. */
  retryAfter: number | undefined
}

/**
 * The wait before the next attempt. `backoff` is the plain jittered delay; a
 * server's Retry-After is honoured; what retrying cannot fix soon waits about the
 * longest delay, `max`, and is `refused` (worth a warning): an HTTP answer of 401,
 * 403, 404, a redirect or a plain 200, a certificate refused (`'tls'`: it is
 * still retried, since a certificate can be renewed), or a proxy refusing the
 * tunnel (`'proxy'`: 403, 407). 408, 429 and 5xx are the
 * server's own trouble: plain backoff.
 */
export function retryDelay (backoff: number, rejection: Rejection | 'tls' | 'proxy' | undefined, max: number, random: () => number = Math.random): { delay: number, refused: boolean } {
  if (rejection === undefined) return { delay: backoff, refused: false }
  if (rejection === 'tls' || rejection === 'proxy') return { delay: Math.floor(max * (0.5 + random() / 2)), refused: true }
  if (rejection.retryAfter !== undefined) return { delay: Math.max(backoff, rejection.retryAfter), refused: false }
  const { status } = rejection
  if (status === 408 || status === 429 || status >= 500) return { delay: backoff, refused: false }
  return { delay: Math.floor(max * (0.5 + random() / 2)), refused: true }
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date (RFC 9110 10.2.3). */
export function parseRetryAfter (value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined
  const ms = /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now
  if (Number.isNaN(ms)) return undefined
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER)
}
