import { copyRange } from './encoders/words.js'
import type { Overflow } from './options.js'

/**
 * The most bytes the ring can span: offsets are kept in an Int32Array. The queue
 * holds `maxBytes` plus one record, so `maxQueueBytes + maxMessageBytes` must fit.
 */
export const MAX_RING_BYTES = 2 ** 31 - 1

/** What an encoder hands the queue: text (written as UTF-8) or bytes (copied). */
export type Chunk = string | Uint8Array

/** First size of the byte ring; it doubles, by copies, up to SMALL_RING. */
const INITIAL_CAPACITY = 64 * 1024
/**
 * Past this size the ring is made at its bound at once, and the stretch records
 * wrap at (its limit) doubles as they need room: a page of the ring costs memory
 * only once written, so the pages past the limit cost nothing, and growing makes
 * no ring to copy from and leave to the garbage collector. Below it, rings are
 * their size: most backlogs (a connection being opened) never reach it.
 */
const SMALL_RING = 1024 * 1024
/**
 * A ring whose limit passed this size (grown through an outage) is given back
 * when the queue empties, once no stretch between emptyings has held more than
 * LIGHT_PEAK for KEEP_RING_DELAY: a steady load whose backlog comes and goes
 * (large records, many in flight, a slow moment of the server) would otherwise
 * have its ring given back and grown again many times a second, each write into
 * a fresh ring's pages a page fault.
 */
const RELEASE_CAPACITY = 4 * 1024 * 1024
const LIGHT_PEAK = 1024 * 1024
const KEEP_RING_DELAY = 1000
/** First number of records the index holds (a power of two); it doubles as needed. */
const INITIAL_RECORDS = 1024
/** An index larger than this is given back when the queue empties. */
const RELEASE_RECORDS = 64 * 1024

/**
 * The one bounded queue of encoded records: those waiting to be sent and those
 * sent but not yet confirmed. Records are copied into one byte ring, so holding
 * them costs their bytes and no JavaScript object each (which would outlive the
 * young generation and grow the heap); batches are views of the ring.
 *
 * Records keep an absolute position, so a batch is confirmed by the position
 * just past its last record, however many records were evicted meanwhile.
 *
 *   confirmed ... | head (base) ... sent ... | unsent ... | tail
 *                  <-- in flight ----------->
 *
 * The ring may wrap once: the records from the head to the end of its
 * stretch, then from 0. Records wrap once past the ring's limit (the first
 * reaching it may end past it); at its bound, the limit is `maxBytes` and the
 * ring has one record's worth of room more, so a record that fits the byte
 * bound always finds a contiguous place. No I/O, no timers.
 */
export class RecordQueue {
  #ring: Buffer = Buffer.alloc(0)
  /** Where records wrap: the ring's bytes from 0 to here (and a record past it) are in use, the rest never written. */
  #limit = 0
  /**
   * Start offset and byte length of each record held, oldest first from slot
   * #first, wrapping: typed arrays, so records passing through cost no garbage
   * (under an outage, JavaScript arrays shifted and compacted made enough of it
   * to grow the young generation of pino's worker by megabytes).
   */
  #starts = new Int32Array(INITIAL_RECORDS)
  #lengths = new Int32Array(INITIAL_RECORDS)
  #first = 0
  #count = 0
  /** Absolute position of the oldest record, and just past the last one sent. */
  #base = 0
  #sentEnd = 0
  #bytes = 0
  /** The most bytes held since the queue was last empty, and when (Date.now()) it last emptied after holding more than LIGHT_PEAK. */
  #peak = 0
  // Never, to start with; and a double from the start: a field that starts as a small integer
  // changes the queue's hidden class when it first holds Date.now(), deoptimizing its methods.
  #heavyAt = -Infinity
  /** Where the next record goes, and whether the records continue from offset 0. */
  #write = 0
  #wrapped = false
  readonly #maxBytes: number
  readonly #maxCapacity: number
  readonly #overflow: Overflow
  readonly #onEvict: (record: Buffer) => void

  /**
   * @param maxBytes bytes of records held at most
   * @param maxRecordBytes bytes of the largest record ever pushed
   * @param overflow which record gives way when a new one does not fit
   * @param onEvict called with each record dropped for lack of room (a view, valid during the call)
   */
  constructor (maxBytes: number, maxRecordBytes: number, overflow: Overflow, onEvict: (record: Buffer) => void) {
    this.#maxBytes = maxBytes
    this.#maxCapacity = maxBytes + maxRecordBytes
    this.#overflow = overflow
    this.#onEvict = onEvict
  }

  /** Records held, sent or not. */
  get length (): number { return this.#count }
  /** Bytes of the records held. */
  get bytes (): number { return this.#bytes }
  /** Bytes of the ring in use: where records wrap (it grows on demand, and goes back once an outage is over). */
  get capacity (): number { return this.#limit }
  /** Records not sent yet. */
  get unsent (): number { return this.#base + this.length - this.#sentEnd }
  /** Absolute position just past the last record handed out by {@link takeBatch}. */
  get sentEnd (): number { return this.#sentEnd }

  /** Byte length of the next record to send (0: none). */
  get nextLength (): number {
    return this.unsent === 0 ? 0 : this.#lengths[this.#slot(this.#sentEnd - this.#base)]
  }

  /** Byte length a chunk takes in the queue. */
  static byteLength (chunk: Chunk): number {
    return typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length
  }

  /**
   * Add a record of `length` bytes (its {@link byteLength}, at most
   * `maxRecordBytes`), evicting per the overflow policy.
   */
  push (chunk: Chunk, length = RecordQueue.byteLength(chunk)): void {
    if (!this.accepts(length)) {
      this.#onEvict(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length))
      return
    }
    const offset = this.#reserve(length)
    if (typeof chunk === 'string') this.#ring.write(chunk, offset, length, 'utf8')
    else this.#ring.set(chunk, offset)
  }

  /**
   * Add a record made of `head` and then `source[start, end)`, and `terminator`
   * when given, copied straight into the ring: the one copy of a spliced line's
   * bytes. `length` is their total; only for a record the queue {@link accepts}.
   */
  pushSpliced (head: Uint8Array, source: Buffer, start: number, end: number, terminator: number | undefined, length: number): void {
    const offset = this.#reserve(length)
    const ring = this.#ring
    // A whole array is set with no view made for it (Buffer#copy of a range makes one).
    ring.set(head, offset)
    copyRange(source, start, end, ring, offset + head.length)
    if (terminator !== undefined) ring[offset + length - 1] = terminator
  }

  /**
   * Add `count` records that follow one another in `source` from `from`, of
   * `lengths[0, count)` bytes and `total` in all, with one copy: true. Only when
   * they fit the byte bound with nothing evicted and in one place of the ring
   * within its limit; otherwise false, nothing changed, and the caller pushes
   * them one by one (which evicts, grows and wraps as each needs).
   */
  pushRun (source: Uint8Array, from: number, lengths: Int32Array, count: number, total: number): boolean {
    if (this.#bytes + total > this.#maxBytes) return false
    // #place marks the ring wrapped only for a place within the limit (an empty queue's reset changes nothing).
    const offset = this.#place(total)
    if (offset === -1 || offset + total > this.#limit) return false
    // The index grows first: a failure to grow it leaves nothing half done.
    while (this.#count + count > this.#starts.length) this.#growIndex()
    copyRange(source, from, from + total, this.#ring, offset)
    for (let i = 0, at = offset; i < count; at += lengths[i++]) this.#hold(at, lengths[i])
    return true
  }

  /** Whether a record of `length` bytes is taken: always, unless `drop_newest` finds the queue full. */
  accepts (length: number): boolean {
    return this.#overflow !== 'drop_newest' || this.#bytes + length <= this.#maxBytes
  }

  /** Room for a record of `length` bytes, at the offset returned; evicts older records as needed. */
  #reserve (length: number): number {
    while (this.length > 0 && this.#bytes + length > this.#maxBytes) this.#evictOldest()
    let offset = this.#place(length)
    while (offset === -1) {
      if (this.#limit < this.#maxBytes) {
        this.#grow(length)
      } else if (this.#sentEnd > this.#base && this.unsent > 0) {
        // The head is in flight: room comes from records still waiting, made
        // contiguous in one pass; an eighth of the bound at once, so the pass is rare.
        const target = Math.max(0, this.#maxBytes - length - (this.#maxBytes >>> 3))
        while (this.unsent > 0 && this.#bytes > target) this.#evictOldest()
        this.#compact()
      } else {
        this.#evictOldest()
      }
      offset = this.#place(length)
    }
    if (this.#count === this.#starts.length) this.#growIndex()
    this.#hold(offset, length)
    return offset
  }

  /** Index a record of `length` bytes written at `offset`, the next after the last (the index has room for it). */
  #hold (offset: number, length: number): void {
    const slot = this.#slot(this.#count++)
    this.#starts[slot] = offset
    this.#lengths[slot] = length
    this.#write = offset + length
    this.#bytes += length
    if (this.#bytes > this.#peak) this.#peak = this.#bytes
  }

  /**
   * Mark the next unsent records as sent and return them as views of the ring:
   * as many as fit in `maxBytes` after `overhead`, neighbouring records in one
   * view, and at most `maxRecords` records. The views are valid until the next push.
   */
  takeBatch (maxBytes: number, overhead: number, maxRecords = Infinity): Buffer[] {
    const parts: Buffer[] = []
    let bytes = overhead
    let count = 0
    let runStart = -1
    let runEnd = -1
    // One place makes a view, for a stretch the next record does not continue and
    // for the last: reached by every batch (see #place for why that matters).
    for (let index = this.#sentEnd - this.#base; ; index++) {
      let start = -1
      let length = 0
      if (index < this.#count) {
        const slot = this.#slot(index)
        length = this.#lengths[slot]
        if (count === 0 || (bytes + length <= maxBytes && count !== maxRecords)) start = this.#starts[slot]
      }
      if (start === -1 || start !== runEnd) {
        if (runStart !== -1) parts.push(this.#ring.subarray(runStart, runEnd))
        if (start === -1) break
        runStart = runEnd = start
      }
      runEnd += length
      bytes += length
      count++
    }
    this.#sentEnd += count
    return parts
  }

  /** Remove every record before absolute position `end`; returns how many were removed. */
  confirm (end: number): number {
    const count = Math.min(end - this.#base, this.#count)
    if (count <= 0) return 0
    this.#removeFirst(count)
    return count
  }

  /**
   * Remove every record longer than `maxLength` bytes, handing each to `each` (a
   * view, valid during the call); returns how many. Positions after a removed
   * record move down, so only while nothing is in flight (after {@link rewind}).
   */
  removeLarger (maxLength: number, each: (record: Buffer) => void): number {
    if (this.#sentEnd !== this.#base) throw new Error('removeLarger() with records in flight')
    let kept = 0
    for (let index = 0; index < this.#count; index++) {
      const slot = this.#slot(index)
      const length = this.#lengths[slot]
      if (length > maxLength) {
        each(this.#view(slot))
        this.#bytes -= length
      } else {
        // Kept records move down the index, never past one still to be read.
        const to = this.#slot(kept++)
        this.#starts[to] = this.#starts[slot]
        this.#lengths[to] = length
      }
    }
    const removed = this.#count - kept
    if (removed === 0) return 0
    // The holes left in the ring are taken back as the head passes them.
    this.#count = kept
    if (kept === 0) {
      this.#reset()
    } else {
      const first = this.#starts[this.#first]
      const last = this.#slot(kept - 1)
      this.#wrapped = this.#starts[last] < first
      this.#write = this.#starts[last] + this.#lengths[last]
    }
    return removed
  }

  /** Remove the oldest record, handing it to `each` (a view, valid during the call); only while nothing is in flight. */
  dropFirst (each: (record: Buffer) => void): void {
    if (this.#sentEnd !== this.#base) throw new Error('dropFirst() with records in flight')
    if (this.length === 0) return
    each(this.#view(this.#first))
    this.#removeFirst(1)
  }

  /** Make every sent, unconfirmed record unsent again (after a reconnect); returns how many. */
  rewind (): number {
    const count = this.#sentEnd - this.#base
    this.#sentEnd = this.#base
    return count
  }

  /** Remove every record, handing each to `each` (a view, valid during the call); returns how many. */
  drain (each: (record: Buffer) => void): number {
    const count = this.length
    for (let index = 0; index < count; index++) each(this.#view(this.#slot(index)))
    this.#base += count
    this.#sentEnd = this.#base
    this.#reset()
    return count
  }

  #view (slot: number): Buffer {
    const start = this.#starts[slot]
    return this.#ring.subarray(start, start + this.#lengths[slot])
  }

  /** The index slot of the record `index` places after the oldest. */
  #slot (index: number): number {
    return (this.#first + index) & (this.#starts.length - 1)
  }

  /** Twice the room in the index, the records from slot 0 on: the slots from #first to the end, then those from 0. */
  #growIndex (): void {
    const size = this.#starts.length
    const first = this.#first
    const tail = Math.min(this.#count, size - first)
    const rest = this.#count - tail
    const starts = new Int32Array(size * 2)
    const lengths = new Int32Array(size * 2)
    starts.set(this.#starts.subarray(first, first + tail))
    starts.set(this.#starts.subarray(0, rest), tail)
    lengths.set(this.#lengths.subarray(first, first + tail))
    lengths.set(this.#lengths.subarray(0, rest), tail)
    this.#starts = starts
    this.#lengths = lengths
    this.#first = 0
  }

  /** A contiguous offset for `length` bytes, or -1 when the ring has no such room. */
  #place (length: number): number {
    if (this.length === 0) {
      this.#write = 0
      this.#wrapped = false
      return length <= this.#ring.length ? 0 : -1
    }
    const headStart = this.#starts[this.#first]
    const write = this.#write
    // Every comparison made, and below the one store of the wrap reached, on every
    // call: code V8 compiled before the ring first wrapped would otherwise meet
    // them untried, throw itself away and be compiled again (measured: up to three
    // times a run).
    const end = write + length
    const fitsBeforeHead = end <= headStart
    const wraps = length <= headStart
    const fitsAtEnd = end <= this.#ring.length
    const pastLimit = write >= this.#limit
    const atBound = this.#limit === this.#maxBytes
    if (this.#wrapped) return fitsBeforeHead ? write : -1
    let at = -1
    let wrap = false
    if (pastLimit) {
      // Past the limit, records wrap as soon as the head leaves room. Below the
      // bound, a head too near the start means the limit must grow; at it, the
      // room past the limit (one record's worth) is written only when it must be,
      // so an outage's full queue holds `maxBytes` of memory. Wrapping no earlier
      // keeps what that room is for: from here until the head passes the end, the
      // stretch before the head has room for all that `maxBytes` allows.
      if (wraps) wrap = true
      else if (fitsAtEnd && atBound) at = write
    } else if (fitsAtEnd) {
      at = write
    } else if (wraps) {
      wrap = true
    }
    this.#wrapped = wrap
    return wrap ? 0 : at
  }

  /**
   * A larger limit (doubled, or more if the record needs it). When the ring
   * already has the room, records that do not wrap stay where they are (the
   * next go after them, up to the new limit), and wrapped ones are made
   * contiguous in place; else they are copied to a new ring from offset 0 (the
   * limit's size up to SMALL_RING, else the bound).
   */
  #grow (length: number): void {
    let limit = Math.max(INITIAL_CAPACITY, this.#limit * 2)
    while (limit < this.#bytes + length) limit *= 2
    let size = limit <= SMALL_RING ? limit : this.#maxCapacity
    if (limit >= this.#maxBytes) {
      limit = this.#maxBytes
      size = this.#maxCapacity
    }
    if (size <= this.#ring.length) {
      this.#limit = limit
      if (this.#wrapped) this.#compact()
      return
    }
    let ring: Buffer
    try {
      ring = Buffer.allocUnsafeSlow(size)
    } catch (error) {
      // A ring at its bound is only address space until written; where even that
      // is refused (a cap on the process's address space, strict overcommit), the
      // ring is made at its limit, and grows by copies. A ring of its limit's size
      // (up to SMALL_RING) has nothing smaller to fall back to, nor has one at the
      // bound: the caller drops the record, and says why.
      if (size === limit || limit === this.#maxBytes) throw error
      ring = Buffer.allocUnsafeSlow(limit)
    }
    // Records that neighbour each other in the old ring (all of them, but for a
    // wrap or a hole an eviction left) are copied as one stretch.
    let offset = 0
    let from = 0
    let to = -1
    let at = 0
    for (let index = 0; index < this.#count; index++) {
      const slot = this.#slot(index)
      const start = this.#starts[slot]
      if (start !== to) {
        if (to > from) copyRange(this.#ring, from, to, ring, at)
        from = to = start
        at = offset
      }
      const bytes = this.#lengths[slot]
      to += bytes
      this.#starts[slot] = offset
      offset += bytes
    }
    if (to > from) copyRange(this.#ring, from, to, ring, at)
    this.#ring = ring
    this.#limit = limit
    this.#write = offset
    this.#wrapped = false
  }

  /**
   * Evict the oldest record that is waiting to be sent: drop_oldest gives up
   * what the server has not seen before what it may already hold (a record in
   * flight, evicted, might arrive and be counted dropped, and a replay of the
   * fallback file would send it twice). Only when every record is in flight does
   * the oldest of them go. Waiting records have no mark yet, so those after the
   * evicted one simply move down a position; its bytes are a hole in the ring
   * until {@link #compact} or the head passes it.
   */
  #evictOldest (): void {
    const inFlight = this.#sentEnd - this.#base
    if (inFlight === 0 || inFlight === this.#count) {
      this.#onEvict(this.#view(this.#first))
      this.#removeFirst(1)
      return
    }
    const victim = this.#slot(inFlight)
    this.#onEvict(this.#view(victim))
    this.#bytes -= this.#lengths[victim]
    // The records in flight move one slot up the index, over the evicted one.
    for (let index = inFlight; index > 0; index--) {
      const to = this.#slot(index)
      const from = this.#slot(index - 1)
      this.#starts[to] = this.#starts[from]
      this.#lengths[to] = this.#lengths[from]
    }
    this.#first = this.#slot(1)
    this.#count--
  }

  /**
   * Close the holes evicted records left: the ring's bytes up to the end of the
   * records furthest on are rotated so the head starts at offset 0 (three
   * reversals, in place), then each record moves down to follow the one before it.
   */
  #compact (): void {
    if (this.#count === 0) return
    const ring = this.#ring
    const head = this.#starts[this.#first]
    let span = 0
    for (let index = 0; index < this.#count; index++) {
      const slot = this.#slot(index)
      span = Math.max(span, this.#starts[slot] + this.#lengths[slot])
    }
    if (head > 0) {
      ring.subarray(0, head).reverse()
      ring.subarray(head, span).reverse()
      ring.subarray(0, span).reverse()
    }
    let cursor = 0
    for (let index = 0; index < this.#count; index++) {
      const slot = this.#slot(index)
      const at = this.#starts[slot]
      const start = at >= head ? at - head : at + span - head
      const length = this.#lengths[slot]
      if (start !== cursor) ring.copyWithin(cursor, start, start + length)
      this.#starts[slot] = cursor
      cursor += length
    }
    this.#write = cursor
    this.#wrapped = false
  }

  /** Remove the `count` oldest records (1 to all of them). */
  #removeFirst (count: number): void {
    const start = this.#starts[this.#first]
    let bytes = 0
    for (let index = 0; index < count; index++) bytes += this.#lengths[this.#slot(index)]
    this.#bytes -= bytes
    this.#first = this.#slot(count)
    this.#count -= count
    this.#base += count
    if (this.#sentEnd < this.#base) this.#sentEnd = this.#base
    if (this.#count === 0) {
      this.#reset()
      return
    }
    // The head past the end of the ring's first stretch: the records now start
    // from offset 0. (Read and stored on every call: see #place.)
    const passed = this.#starts[this.#first] < start
    this.#wrapped = this.#wrapped && !passed
  }

  /** Empty: forget the index, and give back a ring grown for an outage. */
  #reset (): void {
    this.#first = 0
    this.#count = 0
    if (this.#starts.length > RELEASE_RECORDS) {
      this.#starts = new Int32Array(INITIAL_RECORDS)
      this.#lengths = new Int32Array(INITIAL_RECORDS)
    }
    this.#write = 0
    this.#wrapped = false
    this.#bytes = 0
    if (this.#limit > RELEASE_CAPACITY) {
      const now = Date.now()
      if (this.#peak > LIGHT_PEAK) {
        this.#heavyAt = now
      } else if (now - this.#heavyAt >= KEEP_RING_DELAY) {
        this.#ring = Buffer.alloc(0)
        this.#limit = 0
      }
    }
    this.#peak = 0
  }
}
