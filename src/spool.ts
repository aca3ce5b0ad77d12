import { closeSync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import * as zlib from 'node:zlib'
import { copyRange } from './encoders/words.js'
import type { Chunk } from './queue.js'

/*
 * The durable spool: every record the engine accepts is appended to a journal
 * on disk before it can be lost, and read back from there as the server takes
 * records; only what is in flight and a bounded read-ahead stay in memory.
 *
 *   DIR/
 *     <journal id>/           one per live transport (a process may hold several)
 *       owner                 JSON: pid, host, start time, format; its mtime is a heartbeat
 *       mark                  where the first record not yet confirmed is (segment, offset, records to skip)
 *       0000000001.seg ...    segments: frames appended, one per batch written
 *       <adopted journal id>/ a dead owner's journal, renamed in whole (atomic: one adopter wins)
 *
 * A frame: magic, body length, record count, CRC-32 of the body (16 bytes, little
 * endian), then the records, each a 32-bit length and its bytes. A frame cut
 * short by a crash, or damaged, fails its length or its CRC and is skipped and
 * counted; reading resumes at the next magic.
 *
 * Positions: the engine's queue takes records in the spool's order; each one
 * handed to it is counted (#handed), and the engine says how many of those are
 * done (confirmed or given up): the frames they came from are then trimmed, the
 * mark moves, and a segment whose every record is done is deleted.
 */

const MAGIC = 0x314a5750 // "PWJ1"
const FRAME_HEADER = 16
const RECORD_HEADER = 4
/** A frame being gathered is written once it holds this much, whatever the chunk. */
const FRAME_BYTES = 256 * 1024
/** Largest segment; a frame larger than this has a segment of its own. */
const SEGMENT_BYTES = 2 * 1024 * 1024
/** Bytes read from disk at once when reading back. */
const READ_BLOCK = 512 * 1024
/** How often a live owner touches its owner file, and how old one from another host must be to be taken for dead. */
const HEARTBEAT = 10_000
const STALE = 3 * HEARTBEAT
const MARK_BYTES = 16

/** What a spool gives up, and why: the engine counts it and tells the user. */
export interface SpoolSink {
  /** Records dropped by the spool: `overflow` (full), `unwritable` (disk full, I/O error), `damaged` (torn or corrupt, found reading). */
  drop: (reason: 'overflow' | 'unwritable' | 'damaged', count: number, error?: string) => void
  /** A record given up for lack of room, for the fallback file (a view, valid during the call); undefined: none is kept. */
  evicted: ((record: Buffer) => void) | undefined
  /** The spool cannot write: said to the user (rate-limited by the engine). */
  failed: (error: NodeJS.ErrnoException) => void
}

export interface SpoolOptions {
  readonly dir: string
  readonly maxBytes: number
  /** Milliseconds between fdatasync calls on the segment being written; 0: never (the kernel's page cache survives a crash of the process). */
  readonly fsyncInterval: number
  readonly format: string
  readonly overflow: 'drop_oldest' | 'drop_newest'
}

interface Journal {
  readonly dir: string
  /** The mark file's descriptor, opened when first written. */
  markFd: number | undefined
}

interface Segment {
  readonly journal: Journal
  readonly seq: number
  readonly path: string
  /** Bytes of whole frames in it (for the segment being written: where the next frame goes). */
  bytes: number
  /** Records in it not yet read back. */
  unread: number
  /** Found at start, its records counted then: damage met reading it again is not counted twice. */
  readonly recovered: boolean
  fd: number | undefined
}

/** Records in the engine's queue that came from one frame: what the mark and trimming need. */
interface Entry {
  readonly segment: Segment | undefined
  readonly offset: number
  /** Records of the frame before the first one here (done, or read earlier). */
  readonly skip: number
  /** The #handed count of its first record, and how many it has. */
  readonly start: number
  count: number
}

/** What the engine did with a record read back: queued it, gave it up, or had no room (it stays unread). */
type Take = (record: Buffer) => 'queued' | 'dropped' | false

interface Cursor {
  segment: Segment | undefined
  offset: number
  skip: number
}

/** Why a spool directory cannot be used (for the option's error). */
export class SpoolUnusableError extends Error {
  readonly reason: NodeJS.ErrnoException

  constructor (reason: NodeJS.ErrnoException) {
    super(reason.code ?? reason.message)
    this.reason = reason
  }
}

/** What opening a spool found that an earlier process left. */
export interface Recovery {
  /** Records to be sent first. */
  readonly records: number
  /** Records found torn or damaged, skipped. */
  readonly damaged: number
  /** Journals adopted from dead owners. */
  readonly journals: number
  /** Dead owners' journals left alone because they were written in another format, by format. */
  readonly otherFormats: ReadonlyMap<string, number>
}

export class Spool {
  readonly #options: SpoolOptions
  readonly #sink: SpoolSink
  readonly #journal: Journal
  readonly #ownerPath: string
  /** Live segments, oldest first: adopted ones, then ours. */
  #segments: Segment[] = []
  #writing: Segment | undefined
  #nextSeq = 1
  /** Bytes of the live segments on disk. */
  #bytes = 0
  /** Records on disk (or gathered) not yet handed to the engine. */
  #unread = 0
  #handed = 0
  /** Records handed over and then removed out of order: the count of those done lags by this much until nothing is held. */
  #forgotten = 0
  readonly #segmentBytes: number
  #entries: Entry[] = []
  #cursor: Cursor = { segment: undefined, offset: 0, skip: 0 }
  #caughtUp = true
  /** The frame being gathered: header room, then records. */
  #frame = Buffer.allocUnsafe(64 * 1024)
  #frameUsed = FRAME_HEADER
  #frameCount = 0
  /** Records of the frame being gathered that were handed to the engine as they came (a prefix). */
  #frameHanded = 0
  /** Whether the cursor stood at the end of what was written when this frame began. */
  #frameFromEnd = true
  #dirty = false
  /** Where blocks are read back into: records are copied out of it (into the engine's queue) before the next read. */
  #block = Buffer.allocUnsafe(0)
  readonly #timers: NodeJS.Timeout[] = []
  #closed = false
  readonly recovery: Recovery

  /** @throws {SpoolUnusableError} when the directory cannot be made or written */
  constructor (options: SpoolOptions, sink: SpoolSink) {
    this.#options = options
    this.#sink = sink
    this.#segmentBytes = Math.max(64 * 1024, Math.min(SEGMENT_BYTES, Math.floor(options.maxBytes / 4)))
    const id = `${journalStamp()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
    const dir = join(options.dir, id)
    try {
      try {
        mkdirSync(options.dir, { mode: 0o700 })
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        if (!statSync(options.dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
      }
      // Built under a hidden name, then renamed: no other process sees a journal without its owner.
      const building = join(options.dir, `.${id}`)
      mkdirSync(building)
      writeFileSync(join(building, 'owner'), JSON.stringify({ pid: process.pid, host: hostname(), start: startTime(process.pid), format: options.format }))
      renameSync(building, dir)
    } catch (error) {
      throw new SpoolUnusableError(error as NodeJS.ErrnoException)
    }
    this.#journal = { dir, markFd: undefined }
    this.#ownerPath = join(dir, 'owner')
    this.recovery = this.#adopt(id)
    const heartbeat = setInterval(() => quietly(() => {
      const now = new Date()
      utimesSync(this.#ownerPath, now, now)
    }), HEARTBEAT)
    heartbeat.unref()
    this.#timers.push(heartbeat)
    if (options.fsyncInterval > 0) {
      const sync = setInterval(() => this.#sync(), options.fsyncInterval)
      sync.unref()
      this.#timers.push(sync)
    }
  }

  /** Records held on disk (or gathered) and not yet handed to the engine. */
  get unread (): number { return this.#unread }
  /** Bytes of the spool on disk. */
  get bytes (): number { return this.#bytes }
  /** Bytes of records gathered and not yet written. */
  get gathered (): number { return this.#frameUsed - FRAME_HEADER }
  /** Whether every record is in the engine's hands: a new one may go to its queue at once. */
  get caughtUp (): boolean { return this.#caughtUp }
  /** The directory of this transport's journal. */
  get journalDir (): string { return this.#journal.dir }

  /**
   * Add a record to the frame being gathered; false when the spool has no room
   * for it (dropped as `overflow`, already counted). The record is then either
   * {@link handed} to the engine or left to be read back ({@link fallBehind}).
   */
  add (record: Chunk, length: number): boolean {
    if (!this.#room(length)) return false
    const at = this.#reserve(length)
    if (typeof record === 'string') this.#frame.write(record, at, length, 'utf8')
    else this.#frame.set(record, at)
    return true
  }

  /** {@link add} for a record made of `head`, `source[start, end)` and `terminator`. */
  addSpliced (head: Uint8Array, source: Buffer, start: number, end: number, terminator: number | undefined, length: number): boolean {
    if (!this.#room(length)) return false
    const at = this.#reserve(length)
    this.#frame.set(head, at)
    copyRange(source, start, end, this.#frame, at + head.length)
    if (terminator !== undefined) this.#frame[at + length - 1] = terminator
    return true
  }

  /** The record just added went to the engine's queue. */
  handed (): void {
    this.#handed++
    this.#frameHanded++
  }

  /** The record just added stays on disk until read back. */
  fallBehind (): void {
    this.#caughtUp = false
    this.#unread++
  }

  /** Write the frame gathered: one write per chunk the adapter read. Never throws. */
  commit (): void {
    const count = this.#frameCount
    if (count === 0 || this.#closed) return
    const frame = this.#frame
    const used = this.#frameUsed
    const handed = this.#frameHanded
    const fromEnd = this.#frameFromEnd
    this.#frameUsed = FRAME_HEADER
    this.#frameCount = 0
    this.#frameHanded = 0
    frame.writeUInt32LE(MAGIC, 0)
    frame.writeUInt32LE(used - FRAME_HEADER, 4)
    frame.writeUInt32LE(count, 8)
    frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER, used)), 12)
    let segment: Segment | undefined
    let offset = 0
    try {
      segment = this.#segmentFor(used)
      offset = segment.bytes
      writeAll(segment.fd!, frame, used, offset)
    } catch (error) {
      this.#writeFailed(segment, offset, frame, count, handed, error as NodeJS.ErrnoException)
      this.#frameFromEnd = this.#caughtUp
      return
    }
    segment.bytes += used
    this.#bytes += used
    segment.unread += count - handed
    this.#dirty = true
    if (handed > 0) this.#entries.push({ segment, offset, skip: 0, start: this.#handed - handed, count: handed })
    if (fromEnd) {
      this.#cursor = handed === count ? { segment, offset: offset + used, skip: 0 } : { segment, offset, skip: handed }
    }
    this.#frameFromEnd = this.#caughtUp
  }

  /**
   * Hand unread records to `take`, oldest first, until it returns false (no
   * room: that record stays unread) or none are left. `take` says whether it
   * queued the record (handed over) or gave it up (done at once).
   */
  read (take: Take): void {
    this.commit()
    while (this.#unread > 0) {
      const cursor = this.#cursor
      const segment = cursor.segment ?? this.#segments[0]
      if (segment === undefined) break
      if (cursor.segment === undefined) this.#cursor = { segment, offset: 0, skip: 0 }
      if (this.#cursor.offset >= segment.bytes) {
        if (!this.#nextSegment(segment)) break
        continue
      }
      if (!this.#readBlock(segment, take)) return
    }
    if (this.#unread === 0) this.#catchUp()
  }

  /**
   * The engine's queue holds `held` of the records handed to it; the others are
   * done (confirmed, or given up): their frames leave, the mark moves, segments
   * whose every record is done are deleted.
   */
  done (held: number): void {
    if (held === 0) this.#forgotten = 0
    const done = this.#handed - held - this.#forgotten
    const entries = this.#entries
    let removed = 0
    while (removed < entries.length && entries[removed].start + entries[removed].count <= done) removed++
    if (removed > 0) entries.splice(0, removed)
    if (removed === 0 && (entries.length === 0 || entries[0].start >= done)) return
    this.#trim(done)
  }

  /**
   * For each of the last `held` records handed over, oldest first, whether it
   * is only in memory: its frame could not be written (disk full). At the end,
   * those are lost with the process, and counted so.
   */
  inMemoryOnly (held: number): boolean[] {
    const done = this.#handed - held
    const flags: boolean[] = []
    for (const entry of this.#entries) {
      for (let position = Math.max(done, entry.start); position < entry.start + entry.count; position++) flags.push(entry.segment === undefined)
    }
    return flags
  }

  /** `count` handed records left the queue out of order (not the oldest): counted done only once nothing is held. */
  forget (count: number): void {
    this.#forgotten += count
  }

  /**
   * The transport is ending: write what is gathered, sync when asked to, and
   * let go of the files. What is unconfirmed stays for the next start.
   */
  close (): void {
    if (this.#closed) return
    this.commit()
    this.#sync()
    this.#closed = true
    for (const timer of this.#timers) clearInterval(timer)
    for (const segment of this.#segments) closeQuietly(segment)
    if (this.#journal.markFd !== undefined) closeFd(this.#journal.markFd)
    // A journal with nothing left in it goes: the next process has nothing to adopt.
    if (this.#unread === 0 && this.#entries.length === 0 && this.#segments.every((segment) => segment.unread === 0)) {
      quietly(() => { rmSync(this.#journal.dir, { recursive: true, force: true }) })
    }
  }

  /** Whether a record of `length` bytes may be added, making room per the overflow policy. */
  #room (length: number): boolean {
    const needed = this.#bytes + this.#frameUsed + RECORD_HEADER + length
    if (needed <= this.#options.maxBytes) return true
    if (this.#options.overflow === 'drop_oldest') {
      while (this.#bytes + this.#frameUsed + RECORD_HEADER + length > this.#options.maxBytes) {
        if (!this.#evictOldest()) break
      }
      if (this.#bytes + this.#frameUsed + RECORD_HEADER + length <= this.#options.maxBytes) return true
    }
    this.#sink.drop('overflow', 1, `the spool holds ${this.#bytes} bytes, its bound (maxSpoolBytes) is ${this.#options.maxBytes}`)
    return false
  }

  /** Room for a record of `length` bytes in the frame being gathered; returns where its bytes go. */
  #reserve (length: number): number {
    if (this.#frameUsed + RECORD_HEADER + length > FRAME_BYTES && this.#frameCount > 0) this.commit()
    const needed = this.#frameUsed + RECORD_HEADER + length
    if (needed > this.#frame.length) {
      const frame = Buffer.allocUnsafe(Math.max(needed, Math.min(this.#frame.length * 2, FRAME_BYTES + RECORD_HEADER + FRAME_HEADER)))
      this.#frame.copy(frame, 0, 0, this.#frameUsed)
      this.#frame = frame
    }
    this.#frame.writeUInt32LE(length, this.#frameUsed)
    const at = this.#frameUsed + RECORD_HEADER
    this.#frameUsed = at + length
    this.#frameCount++
    return at
  }

  /**
   * The frame could not be written (disk full, I/O error): what was written of
   * it is cut off again, so no torn frame stays; its records handed to the
   * engine are still sent from memory (they are simply not durable); the
   * others are dropped as `unwritable`.
   */
  #writeFailed (segment: Segment | undefined, offset: number, frame: Buffer, count: number, handed: number, error: NodeJS.ErrnoException): void {
    const fd = segment?.fd
    if (fd !== undefined) quietly(() => { ftruncateSync(fd, offset) })
    if (handed > 0) this.#entries.push({ segment: undefined, offset: 0, skip: 0, start: this.#handed - handed, count: handed })
    const lost = count - handed
    if (lost > 0) {
      let at = FRAME_HEADER
      for (let index = 0; index < count; index++) {
        const length = frame.readUInt32LE(at)
        if (index >= handed) this.#sink.evicted?.(frame.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length))
        at += RECORD_HEADER + length
      }
      this.#unread -= lost
      this.#sink.drop('unwritable', lost, `the spool could not write them (${error.code ?? error.message})`)
    }
    this.#sink.failed(error)
    if (this.#unread === 0 && this.#cursorAtEnd()) this.#caughtUp = true
  }

  #cursorAtEnd (): boolean {
    const writing = this.#writing
    return writing === undefined || (this.#cursor.segment === writing && this.#cursor.offset >= writing.bytes)
  }

  /** The segment a frame of `bytes` goes to: the one being written, or a new one. */
  #segmentFor (bytes: number): Segment {
    const writing = this.#writing
    if (writing !== undefined && (writing.bytes === 0 || writing.bytes + bytes <= this.#segmentBytes)) return writing
    if (writing !== undefined) this.#seal(writing)
    const seq = this.#nextSeq++
    const path = join(this.#journal.dir, `${String(seq).padStart(10, '0')}.seg`)
    const fd = openSync(path, 'wx+')
    const segment: Segment = { journal: this.#journal, seq, path, bytes: 0, unread: 0, recovered: false, fd }
    this.#segments.push(segment)
    this.#writing = segment
    return segment
  }

  /** A segment no longer written: synced when asked to, and closed unless it is being read. */
  #seal (segment: Segment): void {
    const fd = segment.fd
    if (this.#options.fsyncInterval > 0 && fd !== undefined) quietly(() => { fdatasyncSync(fd) })
    this.#writing = undefined
    if (this.#cursor.segment !== segment) closeQuietly(segment)
    this.#removeDone()
  }

  #sync (): void {
    if (!this.#dirty || this.#options.fsyncInterval === 0) return
    this.#dirty = false
    const fd = this.#writing?.fd
    if (fd === undefined) return
    quietly(() => { fdatasyncSync(fd) })
  }

  /** Move the cursor past a segment read to its end; false when it is the one being written (nothing more yet). */
  #nextSegment (segment: Segment): boolean {
    if (segment === this.#writing) return false
    const index = this.#segments.indexOf(segment)
    const next = this.#segments[index + 1]
    if (this.#entries.length === 0 || this.#entries[this.#entries.length - 1].segment !== segment) closeQuietly(segment)
    if (next === undefined) return false
    this.#cursor = { segment: next, offset: 0, skip: 0 }
    this.#removeDone()
    return true
  }

  /** Read one block of frames at the cursor into `take`; false when `take` has no more room. */
  #readBlock (segment: Segment, take: Take): boolean {
    const cursor = this.#cursor
    try {
      segment.fd ??= openSync(segment.path, 'r')
    } catch (error) {
      // A segment gone or unreadable: its records are counted, the rest go on.
      this.#damaged(segment, segment.unread, true, (error as NodeJS.ErrnoException).code)
      cursor.offset = segment.bytes
      return true
    }
    const base = cursor.offset
    // A view of exactly what was read: what the buffer held before is never looked at.
    let block = this.#blockOf(Math.min(segment.bytes - base, READ_BLOCK))
    let length = readSync(segment.fd, block, 0, block.length, base)
    block = block.subarray(0, length)
    let at = 0
    while (at + FRAME_HEADER <= length) {
      const frameOffset = base + at
      const magic = block.readUInt32LE(at)
      const bodyLength = block.readUInt32LE(at + 4)
      const count = block.readUInt32LE(at + 8)
      const end = at + FRAME_HEADER + bodyLength
      if (magic !== MAGIC || frameOffset + FRAME_HEADER + bodyLength > segment.bytes) {
        this.#damaged(segment, magic === MAGIC && plausible(count, bodyLength) ? count : 1)
        const next = block.indexOf(MAGIC_BYTES, at + 1)
        cursor.offset = base + (next === -1 ? Math.max(at + 1, length - 3) : next)
        cursor.skip = 0
        return true
      }
      if (end > length) {
        if (at > 0) break
        // A frame larger than the block: read it whole.
        block = this.#blockOf(FRAME_HEADER + bodyLength)
        length = readSync(segment.fd, block, 0, block.length, frameOffset)
        block = block.subarray(0, length)
        continue
      }
      if (crc32(block.subarray(at + FRAME_HEADER, end)) !== block.readUInt32LE(at + 12)) {
        this.#damaged(segment, plausible(count, bodyLength) ? count : 1)
        cursor.offset = frameOffset + FRAME_HEADER + bodyLength
        cursor.skip = 0
        at = end
        continue
      }
      // The records of this frame, from the first not yet read.
      let p = at + FRAME_HEADER
      let index = 0
      let entry: Entry | undefined
      while (p < end) {
        const size = block.readUInt32LE(p)
        if (index >= cursor.skip) {
          const taken = take(block.subarray(p + RECORD_HEADER, p + RECORD_HEADER + size))
          if (taken === false) {
            cursor.offset = frameOffset
            return false
          }
          segment.unread--
          this.#unread--
          if (taken === 'queued') {
            this.#handed++
            if (entry === undefined) {
              entry = { segment, offset: frameOffset, skip: cursor.skip, start: this.#handed - 1, count: 0 }
              this.#entries.push(entry)
            }
            entry.count++
          }
          cursor.skip = index + 1
        }
        p += RECORD_HEADER + size
        index++
      }
      cursor.offset = frameOffset + FRAME_HEADER + bodyLength
      cursor.skip = 0
      at = end
    }
    if (at === 0 && length < FRAME_HEADER) {
      // A stub shorter than a header at the end: torn.
      this.#damaged(segment, 1)
      cursor.offset = segment.bytes
    }
    return true
  }

  /** The read buffer, with room for `bytes` at least. */
  #blockOf (bytes: number): Buffer {
    if (this.#block.length < bytes) this.#block = Buffer.allocUnsafe(Math.max(bytes, Math.min(2 * this.#block.length, READ_BLOCK)))
    return this.#block.subarray(0, bytes)
  }

  /** Records found damaged while reading: counted unless the scan at start counted them (`always`: it could not). */
  #damaged (segment: Segment, count: number, always = false, code?: string): void {
    if (segment.recovered && !always) return
    const lost = Math.min(count, segment.unread)
    segment.unread -= lost
    this.#unread -= lost
    if (lost > 0) this.#sink.drop('damaged', lost, code === undefined ? `a frame of ${segment.path} failed its check` : `${segment.path} could not be read (${code})`)
  }

  #catchUp (): void {
    const writing = this.#writing
    if (writing !== undefined) this.#cursor = { segment: writing, offset: writing.bytes, skip: 0 }
    this.#caughtUp = this.#frameCount === this.#frameHanded
    this.#frameFromEnd = this.#caughtUp
  }

  /** The mark: where the first record not done is. Then segments wholly done go. */
  #trim (done: number): void {
    const first = this.#entries[0]
    let mark: Cursor
    if (first === undefined) mark = this.#cursor
    else mark = { segment: first.segment, offset: first.offset, skip: first.skip + Math.max(0, done - first.start) }
    if (first !== undefined && first.segment === undefined) return
    this.#writeMark(mark)
    this.#removeDone()
  }

  #writeMark (mark: Cursor): void {
    const segment = mark.segment
    if (segment === undefined) return
    const buffer = Buffer.allocUnsafe(MARK_BYTES)
    buffer.writeUInt32LE(segment.seq, 0)
    buffer.writeUInt32LE(mark.offset, 4)
    buffer.writeUInt32LE(mark.skip, 8)
    buffer.writeUInt32LE((MAGIC ^ segment.seq ^ mark.offset ^ mark.skip) >>> 0, 12)
    const journal = segment.journal
    quietly(() => {
      journal.markFd ??= openSync(join(journal.dir, 'mark'), 'w')
      writeSync(journal.markFd, buffer, 0, MARK_BYTES, 0)
    })
  }

  /** Delete the oldest segments none of whose records is held or unread. */
  #removeDone (): void {
    while (this.#segments.length > 0) {
      const segment = this.#segments[0]
      if (segment === this.#writing || segment === this.#cursor.segment || segment.unread > 0) return
      if (this.#entries.length > 0 && this.#entries[0].segment === segment) return
      this.#segments.shift()
      this.#delete(segment)
    }
  }

  #delete (segment: Segment): void {
    closeQuietly(segment)
    this.#bytes -= segment.bytes
    quietly(() => { unlinkSync(segment.path) })
    const journal = segment.journal
    if (journal !== this.#journal && !this.#segments.some((other) => other.journal === journal)) {
      // An adopted journal wholly sent.
      if (journal.markFd !== undefined) closeFd(journal.markFd)
      journal.markFd = undefined
      quietly(() => { rmSync(journal.dir, { recursive: true, force: true }) })
    }
  }

  /** drop_oldest with the spool full: the oldest segment no record of which has been read goes, counted. */
  #evictOldest (): boolean {
    const start = this.#cursor.segment === undefined ? 0 : this.#segments.indexOf(this.#cursor.segment) + 1
    for (let index = start; index < this.#segments.length; index++) {
      const segment = this.#segments[index]
      if (segment === this.#writing) return false
      this.#segments.splice(index, 1)
      const count = segment.unread
      const evicted = this.#sink.evicted
      if (evicted !== undefined) {
        quietly(() => forEachRecord(readFileSync(segment.path), evicted))
      }
      this.#unread -= count
      segment.unread = 0
      this.#delete(segment)
      if (count > 0) this.#sink.drop('overflow', count, `the spool was full (maxSpoolBytes ${this.#options.maxBytes}): its oldest unsent records gave way`)
      return true
    }
    return false
  }

  /**
   * Take the journals of dead owners in the directory: each renamed into ours
   * (one adopter wins), with the journals it had adopted itself moved up beside
   * it (so repeated crashes never nest them deeper), then their segments read
   * for what is left to send. Journals, and segments, with nothing left go.
   */
  #adopt (ownId: string): Recovery {
    const otherFormats = new Map<string, number>()
    const own = this.#journal.dir
    for (const name of readdirSafe(this.#options.dir).sort()) {
      if (name === ownId || name.startsWith('.')) continue
      const path = join(this.#options.dir, name)
      const owner = readOwner(path)
      if (owner === undefined || isAlive(owner, path)) continue
      if (owner.format !== this.#options.format) {
        otherFormats.set(owner.format ?? 'unknown', (otherFormats.get(owner.format ?? 'unknown') ?? 0) + 1)
        continue
      }
      // Another process may have taken it first: one rename wins.
      quietly(() => {
        renameSync(path, join(own, name))
        hoist(join(own, name), own)
      })
    }
    let records = 0
    let damaged = 0
    let journals = 0
    // Journal ids begin with their start time: oldest first, as they must be sent.
    for (const name of readdirSafe(own).sort()) {
      if (name === 'owner' || name === 'mark') continue
      const dir = join(own, name)
      const journal: Journal = { dir, markFd: undefined }
      const mark = readMark(join(dir, 'mark'))
      let left = 0
      for (const file of readdirSafe(dir).sort()) {
        if (!file.endsWith('.seg')) continue
        const seq = Number.parseInt(file, 10)
        const path = join(dir, file)
        const from = mark !== undefined && seq === mark.seq ? mark : { offset: 0, skip: 0 }
        const bytes = mark !== undefined && seq < mark.seq ? undefined : readQuietly(path)
        const found = bytes === undefined ? { records: 0, damaged: 0 } : scan(bytes, from.offset, from.skip)
        damaged += found.damaged
        if (bytes === undefined || found.records === 0) {
          // Confirmed before the owner died, or only damaged records: nothing to send.
          quietly(() => { unlinkSync(path) })
          continue
        }
        records += found.records
        left += found.records
        const segment: Segment = { journal, seq, path, bytes: bytes.length, unread: found.records, recovered: true, fd: undefined }
        this.#segments.push(segment)
        this.#bytes += bytes.length
        if (this.#cursor.segment === undefined) this.#cursor = { segment, offset: from.offset, skip: from.skip }
      }
      if (left > 0) journals++
      else quietly(() => { rmSync(dir, { recursive: true, force: true }) })
    }
    this.#unread = records
    this.#caughtUp = records === 0
    this.#frameFromEnd = this.#caughtUp
    return { records, damaged, journals, otherFormats }
  }
}

let lastStamp = 0

/**
 * The start of a journal's name: microseconds since the epoch, in base 36,
 * rising within this process, so names sort as the journals began (their
 * records are sent in that order once adopted).
 */
function journalStamp (): string {
  lastStamp = Math.max(Math.floor((performance.timeOrigin + performance.now()) * 1000), lastStamp + 1)
  return lastStamp.toString(36).padStart(11, '0')
}

/** Move the journals a journal had adopted up into `into`, theirs first. */
function hoist (journal: string, into: string): void {
  for (const name of readdirSafe(journal)) {
    if (name.endsWith('.seg') || name === 'owner' || name === 'mark') continue
    hoist(join(journal, name), into)
    quietly(() => { renameSync(join(journal, name), join(into, name)) })
  }
}

function readQuietly (path: string): Buffer | undefined {
  try {
    return readFileSync(path)
  } catch {
    return undefined
  }
}

const MAGIC_BYTES = Buffer.alloc(4)
MAGIC_BYTES.writeUInt32LE(MAGIC, 0)

/**
 * Walk a segment's frames from `offset`: `visit` gets each whole frame (its start,
 * end, record count and whether its CRC holds); a frame torn or without its
 * magic is `torn` (counted as its header says, or 1), and the walk goes on at the
 * next magic.
 */
function walkFrames (bytes: Buffer, offset: number, visit: (at: number, end: number, count: number, sound: boolean) => void, torn: (at: number, count: number) => void): void {
  let at = offset
  while (at < bytes.length) {
    if (at + FRAME_HEADER > bytes.length) {
      torn(at, 1)
      return
    }
    const bodyLength = bytes.readUInt32LE(at + 4)
    const count = bytes.readUInt32LE(at + 8)
    const end = at + FRAME_HEADER + bodyLength
    if (bytes.readUInt32LE(at) !== MAGIC || end > bytes.length) {
      // Torn (cut short by a crash) or damaged: counted, and reading goes on at the next frame.
      torn(at, bytes.readUInt32LE(at) === MAGIC && plausible(count, bodyLength) ? count : 1)
      const next = bytes.indexOf(MAGIC_BYTES, at + 1)
      if (next === -1) return
      at = next
      continue
    }
    const sound = crc32(bytes.subarray(at + FRAME_HEADER, end)) === bytes.readUInt32LE(at + 12)
    visit(at, end, sound || plausible(count, bodyLength) ? count : 1, sound)
    at = end
  }
}

/** Count the whole records of a segment from `offset` (skipping `skip` of the frame there), and the damaged ones. */
function scan (bytes: Buffer, offset: number, skip: number): { records: number, damaged: number } {
  let records = 0
  let damaged = 0
  // The mark's skip counts records of the frame it points at, and of no other.
  const left = (at: number, count: number): number => at === offset ? count - skip : count
  walkFrames(bytes, offset, (at, _end, count, sound) => {
    if (sound) records += Math.max(0, left(at, count))
    else damaged += Math.max(1, left(at, count))
  }, (at, count) => { damaged += Math.max(1, left(at, count)) })
  return { records, damaged }
}

/** Whether a frame header's record count can be believed: each record takes at least its length field. */
function plausible (count: number, bodyLength: number): boolean {
  return count >= 1 && count * RECORD_HEADER <= bodyLength
}

/** Each record of a segment's sound frames. */
function forEachRecord (bytes: Buffer, each: (record: Buffer) => void): void {
  walkFrames(bytes, 0, (at, end, _count, sound) => {
    if (!sound) return
    for (let p = at + FRAME_HEADER; p + RECORD_HEADER <= end;) {
      const size = bytes.readUInt32LE(p)
      each(bytes.subarray(p + RECORD_HEADER, p + RECORD_HEADER + size))
      p += RECORD_HEADER + size
    }
  }, () => {})
}

function writeAll (fd: number, buffer: Buffer, length: number, position: number): void {
  let written = 0
  while (written < length) written += writeSync(fd, buffer, written, length - written, position + written)
}

function readMark (path: string): { seq: number, offset: number, skip: number } | undefined {
  let bytes: Buffer
  try { bytes = readFileSync(path) } catch { return undefined }
  if (bytes.length < MARK_BYTES) return undefined
  const seq = bytes.readUInt32LE(0)
  const offset = bytes.readUInt32LE(4)
  const skip = bytes.readUInt32LE(8)
  // A mark that fails its check is no mark: everything is sent again rather than lost.
  return bytes.readUInt32LE(12) === ((MAGIC ^ seq ^ offset ^ skip) >>> 0) ? { seq, offset, skip } : undefined
}

interface Owner { pid?: number, host?: string, start?: string, format?: string }

function readOwner (dir: string): Owner | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'owner'), 'utf8')) as Owner
  } catch {
    return undefined
  }
}

/**
 * Whether a journal's owner lives: on this host, its pid runs and started when
 * the owner file says (a pid used again is another process); from another host
 * (a volume shared between containers), its heartbeat is recent.
 */
function isAlive (owner: Owner, dir: string): boolean {
  if (owner.host !== hostname()) {
    try {
      return Date.now() - statSync(join(dir, 'owner')).mtimeMs < STALE
    } catch {
      return false
    }
  }
  if (typeof owner.pid !== 'number') return false
  // Our own pid: another transport of this process (its start time is ours), or
  // a process before us that had the same pid (a container's pid 1 restarted).
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  return owner.start === undefined || startTime(owner.pid) === owner.start
}

/** A process's start time as Linux gives it (clock ticks since boot); undefined elsewhere. */
function startTime (pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command (which may hold spaces) are counted from its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

function readdirSafe (dir: string): string[] {
  try { return readdirSync(dir) } catch { return [] }
}

/** Best effort: cleaning up, a heartbeat, a mark; a failure here must not stop the records. */
function quietly (action: () => void): void {
  try {
    action()
  } catch {
    // Nothing to do: the next write, read or start finds the state as it is.
  }
}

function closeQuietly (segment: Segment): void {
  if (segment.fd === undefined) return
  closeFd(segment.fd)
  segment.fd = undefined
}

function closeFd (fd: number): void {
  quietly(() => { closeSync(fd) })
}

/** CRC-32 of the bytes: zlib's (Node 20.15 and later), else a table of our own. */
const crc32: (bytes: Uint8Array) => number = typeof (zlib as { crc32?: unknown }).crc32 === 'function'
  ? (bytes) => (zlib as unknown as { crc32: (data: Uint8Array) => number }).crc32(bytes)
  : tableCrc32()

function tableCrc32 (): (bytes: Uint8Array) => number {
  const table = new Int32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c
  }
  return (bytes) => {
    let crc = -1
    for (let index = 0; index < bytes.length; index++) crc = table[(crc ^ bytes[index]) & 0xff] ^ (crc >>> 8)
    return (crc ^ -1) >>> 0
  }
}

/** The format written in the journals of dead owners in `dir`, for `drain` to send them as they are. */
export function deadJournalFormat (dir: string): string | undefined {
  for (const name of readdirSafe(dir).sort()) {
    if (name.startsWith('.')) continue
    const owner = readOwner(join(dir, name))
    if (owner !== undefined && !isAlive(owner, join(dir, name))) return owner.format
  }
  return undefined
}
