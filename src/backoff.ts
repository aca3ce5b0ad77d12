/**
 * Capped exponential backoff with full jitter: the n-th delay is uniform in
 * [0, min(max, base * 2^n)). Full jitter spreads many clients reconnecting to one
 * restarted server. Pure: the random source is injectable for tests.
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
