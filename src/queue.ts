import type { Overflow } from './options.js'

/**
 * The one bounded queue of encoded records: those waiting to be sent and those
 * sent but not yet confirmed. Records keep an absolute position, so a batch is
 * confirmed by the position just past its last record, however many records
 * were evicted from the head meanwhile. No I/O, no timers.
 *
 *   confirmed ... | head (base) ... sent ... | unsent ... | tail
 *                  <-- in flight ----------->
 */
export class RecordQueue {
  #items: Buffer[] = []
  #head = 0
  #base = 0
  #sentEnd = 0
  #bytes = 0
  readonly #maxBytes: number
  readonly #overflow: Overflow
  readonly #onEvict: (record: Buffer) => void

  /**
   * @param maxBytes bytes of records held at most
   * @param overflow which record gives way when a new one does not fit
   * @param onEvict called with each record dropped for lack of room
   */
  constructor (maxBytes: number, overflow: Overflow, onEvict: (record: Buffer) => void) {
    this.#maxBytes = maxBytes
    this.#overflow = overflow
    this.#onEvict = onEvict
  }

  /** Records held, sent or not. */
  get length (): number { return this.#items.length - this.#head }
  /** Bytes held. */
  get bytes (): number { return this.#bytes }
  /** Records not sent yet. */
  get unsent (): number { return this.#base + this.length - this.#sentEnd }
  /** Absolute position just past the last record handed out by {@link takeBatch}. */
  get sentEnd (): number { return this.#sentEnd }

  /** Add a record (not larger than `maxBytes`), evicting per the overflow policy. */
  push (record: Buffer): void {
    if (this.#bytes + record.length > this.#maxBytes) {
      if (this.#overflow === 'drop_newest') {
        this.#onEvict(record)
        return
      }
      while (this.length > 0 && this.#bytes + record.length > this.#maxBytes) {
        this.#onEvict(this.#shift())
      }
    }
    this.#items.push(record)
    this.#bytes += record.length
  }

  /**
   * Mark the next unsent records as sent and return them: as many as fit in
   * `maxBytes` when each costs its length plus `separator`, after `overhead`.
   * Returns an empty list when nothing is unsent.
   */
  takeBatch (maxBytes: number, overhead: number, separator: number): Buffer[] {
    const batch: Buffer[] = []
    let bytes = overhead
    let index = this.#head + (this.#sentEnd - this.#base)
    while (index < this.#items.length) {
      const record = this.#items[index]
      const cost = record.length + separator
      if (batch.length > 0 && bytes + cost > maxBytes) break
      batch.push(record)
      bytes += cost
      index++
    }
    this.#sentEnd += batch.length
    return batch
  }

  /** Remove every record before absolute position `end`; returns how many were removed. */
  confirm (end: number): number {
    let count = 0
    while (this.#base < end && this.length > 0) {
      this.#shift()
      count++
    }
    return count
  }

  /** Remove the first record if it is at absolute position `position`; returns it. */
  removeHead (position: number): Buffer | undefined {
    return this.length > 0 && this.#base === position ? this.#shift() : undefined
  }

  /** Make every sent, unconfirmed record unsent again (after a reconnect); returns how many. */
  rewind (): number {
    const count = this.#sentEnd - this.#base
    this.#sentEnd = this.#base
    return count
  }

  /** Remove and return every record. */
  drain (): Buffer[] {
    const records = this.#items.slice(this.#head)
    this.#base += records.length
    this.#sentEnd = this.#base
    this.#items = []
    this.#head = 0
    this.#bytes = 0
    return records
  }

  #shift (): Buffer {
    const record = this.#items[this.#head]
    this.#items[this.#head] = undefined as unknown as Buffer
    this.#head++
    this.#base++
    if (this.#sentEnd < this.#base) this.#sentEnd = this.#base
    this.#bytes -= record.length
    // Compact now and then, so the array does not grow without bound.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return record
  }
}
