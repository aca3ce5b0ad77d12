/*
 * How large a message may be: learned from the server, never guessed from noise.
 *
 * Pure: no timers, no I/O; time comes from the clock it is given. The engine
 * asks `next` for the size of the next message, reports each confirmed message
 * and each connection's end (who ended it, how, and which messages were
 * unconfirmed), and acts on the verdict.
 *
 * - Slow start: each connection starts at a size the server has already
 *   confirmed (or FIRST_SIZE) and doubles it each time a message that used the
 *   size is confirmed, up to the ceiling.
 * - The ceiling is `maxMessageBytes` until the server shows a limit: its 1009
 *   close (a statement), or a connection lost without a close frame right after
 *   a message larger than any it has confirmed (a suspicion: a server that resets
 *   after its 1009 loses the close frame). It never goes below the largest size
 *   the server has confirmed, and is probed upward again later.
 * - Nothing else is a size signal: a connection our side ended (a pong timeout,
 *   a frame of the server's we refused, our own close) or any other close code.
 * - A record sent alone that the server refuses is given up as oversized: after
 *   one 1009, or after three losses in a row with it first in line (it can never
 *   go, and would hold up everything behind it).
 */

/** A message sent on the connection: its size, how many records, and an id (its first record's queue position). */
export interface SentMessage {
  readonly bytes: number
  readonly records: number
  readonly id: number
}

/** How a connection that had opened came to an end. */
export interface Ending {
  /** The close code; 1006 when the connection ended without a close frame. */
  readonly code: number
  /** Whether our side ended it: a pong timeout, a frame of the server's refused, our own close. */
  readonly ours: boolean
  /** Messages sent on it and not confirmed, oldest first (at most once: the last ones written). */
  readonly unconfirmed: readonly SentMessage[]
}

export interface Verdict {
  /** The new ceiling, when the end lowered it. */
  readonly lowered?: number
  /** Whether the server said so (1009) rather than suspected from a loss. */
  readonly stated: boolean
  /** The largest unconfirmed message, which the verdict is about. */
  readonly largest: number
  /** The first unconfirmed message, a lone record, is refused: give it up as oversized. */
  readonly dropFirst: boolean
  /** When larger messages will be tried again (ms from now), after a lowering. */
  readonly probeIn?: number
}

/** Close code of a message too big for the server (RFC 6455 7.4.1). */
export const MESSAGE_TOO_BIG = 1009
/** Close code of a connection that ended without a close frame. */
export const ABNORMAL = 1006
/** The size a connection starts at before the server has confirmed anything larger. */
export const FIRST_SIZE = 16 * 1024
/** The ceiling never goes below this (nor below what the server confirmed). */
export const MIN_SIZE = 512
/** Losses in a row with the same lone record first in line before it is given up. */
export const LONE_LOSSES = 3
/** After a stated limit, larger messages are tried again after this long, doubling per failed try up to the cap. */
export const STATED_PROBE = { first: 60_000, max: 600_000 }
/** After a suspected limit: sooner, since a flaky network can look like one. */
export const SUSPECTED_PROBE = { first: 10_000, max: 40_000 }

export class MessageSize {
  readonly #max: number
  readonly #now: () => number
  /** The largest message the server confirmed (0: none, or forgotten after a 1009 below it). */
  #proven = 0
  #ceiling: number
  /** The size for this connection's next message. */
  #window: number
  /** Messages of at least this size are refused (proven by a 1009 on a lone record); Infinity: none known. */
  #refused = Infinity
  #probeAt = Infinity
  #probeDelay = 0
  #stated = false
  /** The ceiling before the last probe raised it (Infinity: no probe since a lowering). */
  #probedFrom = Infinity
  /** The lone record first in line at the last losses, and how many losses in a row. */
  #lone = { id: -1, losses: 0 }

  constructor (max: number, now: () => number = Date.now) {
    this.#max = max
    this.#now = now
    this.#ceiling = max
    this.#window = Math.min(max, FIRST_SIZE)
  }

  /** The size in force: `maxMessageBytes`, or the limit the server showed. */
  get limit (): number { return this.#ceiling }
  /** The largest message the server has confirmed. */
  get proven (): number { return this.#proven }
  /** The largest message to send next. */
  get next (): number { return this.#window }
  /** Whether a message of `bytes` is known to be refused (it cannot go, even alone). */
  refuses (bytes: number): boolean { return bytes >= this.#refused }

  /** A connection opened: start at a proven size. */
  opened (): void {
    this.#probe()
    this.#window = Math.min(this.#ceiling, Math.max(FIRST_SIZE, this.#proven))
  }

  /** The server confirmed a message (a pong after it): the size grows when the message used it. */
  confirmed (bytes: number): void {
    if (bytes > this.#proven) this.#proven = bytes
    if (bytes > this.#ceiling) this.#ceiling = Math.min(this.#max, bytes)
    // A probe succeeded: the next lowering starts the probes' schedule over.
    if (this.#proven > this.#probedFrom) this.#probeDelay = 0
    this.#lone.losses = 0
    this.#probe()
    if (bytes * 2 >= this.#window && this.#window < this.#ceiling) this.#window = Math.min(this.#ceiling, this.#window * 2)
  }

  /** A connection that had opened ended: what its end says about the size. */
  ended ({ code, ours, unconfirmed }: Ending): Verdict | undefined {
    if (ours || unconfirmed.length === 0) return undefined
    if (code !== MESSAGE_TOO_BIG && code !== ABNORMAL) return undefined
    let largest = 0
    for (const message of unconfirmed) if (message.bytes > largest) largest = message.bytes
    const first = unconfirmed[0]
    // The first message above the server's limit is refused, and nothing after
    // it is read: the first unconfirmed, when it is the largest, is that one.
    const firstIsCulprit = first.records === 1 && first.bytes === largest
    if (code === MESSAGE_TOO_BIG) {
      // The server's limit went below what it once took (a new server, a new setting).
      if (largest <= this.#proven) this.#proven = 0
      if (firstIsCulprit && first.bytes < this.#refused) this.#refused = first.bytes
      const lowered = this.#lower(largest, true)
      return { lowered, stated: true, largest, dropFirst: firstIsCulprit, probeIn: lowered === undefined ? undefined : this.#probeDelay }
    }
    // A loss after messages the server already took at that size says nothing of size.
    if (largest <= this.#proven) {
      this.#lone = { id: -1, losses: 0 }
      return undefined
    }
    let dropFirst = false
    if (firstIsCulprit) {
      this.#lone = { id: first.id, losses: this.#lone.id === first.id ? this.#lone.losses + 1 : 1 }
      if (this.#lone.losses >= LONE_LOSSES) {
        dropFirst = true
        this.#lone = { id: -1, losses: 0 }
      }
    }
    const lowered = this.#lower(largest, false)
    return { lowered, stated: false, largest, dropFirst, probeIn: lowered === undefined ? undefined : this.#probeDelay }
  }

  /** Lower the ceiling below `failed` (half of it, never below what was confirmed); the new ceiling, if it changed. */
  #lower (failed: number, stated: boolean): number | undefined {
    const smaller = Math.max(MIN_SIZE, this.#proven, Math.floor(failed / 2))
    if (smaller >= this.#ceiling) return undefined
    const schedule = stated ? STATED_PROBE : SUSPECTED_PROBE
    // A lowering soon after a probe means the probe failed: wait longer next time.
    this.#probeDelay = this.#probeDelay === 0 || stated !== this.#stated ? schedule.first : Math.min(schedule.max, this.#probeDelay * 2)
    this.#stated = stated
    this.#probeAt = this.#now() + this.#probeDelay
    this.#probedFrom = Infinity
    this.#ceiling = smaller
    return smaller
  }

  /** Once the probe is due, try larger messages again, up to `maxMessageBytes`. */
  #probe (): void {
    if (this.#now() < this.#probeAt) return
    this.#probeAt = Infinity
    this.#probedFrom = this.#ceiling
    this.#ceiling = this.#max
    this.#refused = Infinity
  }
}
