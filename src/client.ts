import { EventEmitter } from 'node:events'
import { debuglog } from 'node:util'
import { Backoff, retryDelay } from './backoff.js'
import { Connection, isProtocolError, type CloseInfo } from './connection.js'
import { PROXY_REFUSED } from './proxy.js'
import { createEncoder, type DropReason, type Encoder, type JsonEvent, type LineCodec, type LogEvent } from './encoders/index.js'
import { redact } from './errors.js'
import { Reporter } from './reporter.js'
import { unwatchExit, watchExit } from './exit-hooks.js'
import { FallbackFile, MAX_HELD_BYTES } from './fallback.js'
import { ABNORMAL, LONE_LOSSES, MESSAGE_TOO_BIG, MessageSize, type SentMessage } from './message-size.js'
import type { RecordSink } from './ndjson.js'
import type { ResolvedOptions } from './options.js'
import type { Warning } from './warnings.js'
import { RecordQueue, type Chunk } from './queue.js'
import { Spool, SpoolUnusableError } from './spool.js'
import { InvalidOptionError } from './errors.js'

/*
 * The engine: it knows nothing of pino or winston. Adapters hand it records (or
 * an NdjsonReader does) and call flush() and close(); it owns the queue, the
 * reconnect policy, batching and confirmation, and speaks to the server through
 * one Connection at a time. How large a message may be is MessageSize's call
 * (fed every confirmation and every close); what the user is told, and how
 * often, is the Reporter's. With a spool, every record is written to the
 * Spool's journal first; the queue then holds what is in flight and a
 * read-ahead, refilled from disk as the server takes records, and the spool is
 * told how many are done.
 *
 *              write() / start                    'open'
 *     idle ─────────────────────► connecting ───────────────► open ◄─┐ pump(): one message per batch,
 *      ▲                            ▲      │                   │  └─┘ confirmed by a pong
 *      │               retry timer  │      │ failed             │ lost, pong timeout
 *      │                            │      ▼                    ▼
 *      │                           waiting ◄────────────────────┤   (backoff with full jitter,
 *      │                                                        │    Retry-After, 4xx slowed down)
 *      └───── idle-closing ◄──── keepaliveIdleTimeout, queue empty
 *
 *   close(): from any state, keep sending until everything is confirmed or
 *   closeTimeout passes, then close 1000 (terminate if the server does not answer),
 *   count leftovers as dropped (shutdown) and end in `closed`.
 *
 * Invariants: at most one Connection exists at a time, and it is written to only
 * after its own handshake; a network failure never throws, rejects or emits
 * 'error' (it becomes a 'disconnect'/'reconnecting' event and a retry); every
 * accepted record ends delivered, dropped with a reason, or pending:
 * accepted = delivered + dropped + pending.
 */

const debug = debuglog('pino-websocket')

/** How long close() waits for the server's close frame before terminating. */
const CLOSE_HANDSHAKE_TIMEOUT = 1000
/** Connections in a row that end on a pong timeout, with no pong ever seen, before a warning that the server may never answer pings. */
const NO_PONG_CONNECTIONS = 2
/** Connections in a row that the server closed, after the upgrade, before confirming anything, before a warning. */
const CLOSED_UNCONFIRMED_CONNECTIONS = 3
/** Close code of a message whose data the server refuses (RFC 6455 7.4.1): not UTF-8 in a text frame, or not what it parses. */
const INVALID_DATA = 1007
/** Records sent alone and refused with 1007, with nothing confirmed between, before the refusals are taken for the server refusing everything. */
const REFUSED_IN_A_ROW = 3
/** Messages written at most once that are remembered, for what a 1009 shows was never read. */
const WRITTEN_KEPT = 256
/** The longest wait between attempts once the transport is ending: the last records get every chance within closeTimeout. */
const ENDING_RETRY_DELAY = 200
/** Error codes of a TLS handshake that refused the server (or us): retrying soon will not help. */
const TLS_REFUSAL = /CERT|SELF_SIGNED|UNABLE_TO_|HOSTNAME|^ERR_TLS_|^ERR_SSL_/
/**
 * With a spool, the bytes of records held in memory: what is in flight and a
 * read-ahead; the backlog stays on disk.
 */
const SPOOL_READ_AHEAD = 4 * 1024 * 1024
/** How long records read may wait to be written to the spool together, and how much makes a write at once. */
const SPOOL_COMMIT_DELAY = 1
const SPOOL_COMMIT_BYTES = 16 * 1024

type State = 'idle' | 'connecting' | 'open' | 'idle-closing' | 'waiting' | 'closed'

/** Counters since the transport started. */
export interface Stats {
  /** Records handed to the transport. */
  accepted: number
  /** Records the server confirmed (at-least-once) or that were written to the socket (at-most-once). */
  delivered: number
  /** Records given up, by reason. */
  dropped: Record<DropReason, number>
  /** Records held: waiting to be sent or to be confirmed (with a spool, those on disk too). */
  pending: number
  /** Records found in the spool, left by an earlier process, and sent first (counted in `accepted` too). */
  recovered: number
  /** Records sent again after a reconnect because their first sending was not confirmed. */
  resent: number
  /** Connection attempts after the first. */
  reconnects: number
  /** Pings that were not answered within `pongTimeout`. */
  pongTimeouts: number
  /** The delivery mode, as the options chose it: never changed behind the user's back. */
  delivery: ResolvedOptions['delivery']
  /** The message size in force: `maxMessageBytes`, or less while the server is shown to refuse larger messages. */
  maxMessageBytes: number
}

/** The counters of a transport that has done nothing yet (all but what is derived: `pending`, `maxMessageBytes`). */
export function emptyCounters (delivery: Stats['delivery']): Omit<Stats, 'pending' | 'maxMessageBytes'> {
  return {
    accepted: 0,
    delivered: 0,
    dropped: { overflow: 0, oversized: 0, unencodable: 0, refused: 0, shutdown: 0, unwritable: 0, damaged: 0 },
    recovered: 0,
    resent: 0,
    reconnects: 0,
    pongTimeouts: 0,
    delivery
  }
}

/** Payloads of the events; all plain data, so they cross pino's worker boundary. */
export interface ClientEvents {
  open: [{ endpoint: string }]
  disconnect: [{ endpoint: string, code: number, reason: string }]
  reconnecting: [{ endpoint: string, attempt: number, delay: number, error?: string, status?: number }]
  drop: [{ reason: DropReason, count: number, error?: string }]
  /** `exit`: said as the transport ends, maybe with the process: print it synchronously. */
  warn: [Warning]
}

export class Client extends EventEmitter<ClientEvents> implements RecordSink {
  readonly #options: ResolvedOptions
  readonly #encoder: Encoder
  readonly #queue: RecordQueue
  readonly #backoff: Backoff
  readonly #stats: Omit<Stats, 'pending' | 'maxMessageBytes'>
  readonly #size: MessageSize
  readonly #fallback: FallbackFile | undefined
  readonly #reporter: Reporter
  readonly #spool: Spool | undefined
  /** Bytes of records the queue holds at most: `maxQueueBytes`, or the read-ahead with a spool. */
  readonly #queueBytes: number
  #commitTimer: NodeJS.Timeout | undefined
  /** Records the queue held at the end that stay in the spool for the next start. */
  #keptAtEnd = 0
  #state: State = 'idle'
  #connection: Connection | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #idleTimer: NodeJS.Timeout | undefined
  /** Whether any pong ever came, and how many connections in a row timed out on pongs before one did. */
  #pongSeen = false
  #noPongConnections = 0
  /** Whether this connection has confirmed a record, and how many in a row ended before one did. */
  #confirmedHere = false
  #closedUnconfirmed = 0
  /**
   * Messages sent on this connection and not yet confirmed (at most once: the
   * last ones written): the queue positions they span, their size.
   */
  #unconfirmed: Array<{ start: number, end: number, bytes: number }> = []
  /** Bytes of the messages sent on this connection and not confirmed (at least once). */
  #unconfirmedBytes = 0
  /**
   * After a 1007 (the server refuses some record's data): until the queue
   * position `until`, one message of at most `records` records at a time, so the
   * refused record is found and given up alone.
   */
  #isolate: { until: number, records: number } | undefined
  /** Records given up on a 1007 since the last confirmation. */
  #refusedInARow = 0
  #openedAt = 0
  #pumpScheduled = false
  #flushWaiters: Array<() => void> = []
  #roomWaiters: Array<{ bytes: number, resolve: () => void }> = []
  #closing: Promise<void> | undefined
  #exitFlushedAt = -1
  /** Why the server has not taken records lately, for the line at exit (cleared by a confirmation). */
  #lastFailure: string | undefined
  #attemptStartedAt = 0
  /** Set once the transport is ending (close(), the app's end): retry at once, then at short intervals. */
  #ending = false

  constructor (options: ResolvedOptions) {
    super()
    this.#options = options
    this.#encoder = createEncoder(options)
    this.#queueBytes = options.spool === undefined ? options.maxQueueBytes : Math.min(options.maxQueueBytes, Math.max(SPOOL_READ_AHEAD, 2 * options.maxMessageBytes))
    this.#queue = new RecordQueue(this.#queueBytes, options.maxMessageBytes, options.overflow, (record) => {
      this.#toFallback(record)
      this.#drop('overflow')
    })
    this.#backoff = new Backoff(options.reconnectDelay, options.maxReconnectDelay)
    this.#size = new MessageSize(options.maxMessageBytes)
    this.#stats = emptyCounters(options.delivery)
    if (options.fallbackFile !== undefined) {
      this.#fallback = new FallbackFile(options.fallbackFile, 'fallbackFile', (error) => {
        this.#reporter.warn('PINO_WS_WARN_FALLBACK_FILE', error.code === 'EAGAIN'
          ? `the fallback file ${options.fallbackFile} takes no more for now (EAGAIN: a pipe whose reader is slow); up to ${FALLBACK_HELD_MIB} MiB of lines wait for it, and lines past that are only counted`
          : `the fallback file ${options.fallbackFile} cannot be written (${error.code ?? error.message}); records given up on meanwhile are only counted`)
      })
    }
    this.#reporter = new Reporter({ drop: (event) => this.emit('drop', event), warn: (warning) => this.emit('warn', warning) }, this.#fallback)
    this.#spool = options.spool === undefined ? undefined : this.#openSpool(options.spool)
    if (options.unknownKeys.length > 0) {
      const message = `unknown option${options.unknownKeys.length > 1 ? 's' : ''} ${options.unknownKeys.join(', ')} ignored`
      process.nextTick(() => this.#reporter.warn('PINO_WS_WARN_UNKNOWN_OPTION', message))
    }
    watchExit(this)
    // Connect in the background right away, so the first record finds the socket ready.
    process.nextTick(() => { if (this.#state === 'idle') this.#connect() })
  }

  /** Open the spool and count what an earlier process left in it; an unusable directory is the option's error. */
  #openSpool (dir: string): Spool {
    const options = this.#options
    let spool: Spool
    try {
      spool = new Spool({ dir, maxBytes: options.maxSpoolBytes, fsyncInterval: options.spoolFsyncInterval, format: this.#encoder.format, overflow: options.overflow }, {
        drop: (reason, count, error) => this.#drop(reason, error, count, reason !== 'damaged'),
        evicted: options.fallbackFile === undefined ? undefined : (record) => this.#toFallback(record),
        failed: (error) => this.#reporter.warn('PINO_WS_WARN_SPOOL_FAILED', `the spool ${dir} cannot be written (${error.code ?? error.message}); ` +
          'records sent at once still go from memory, those that would wait are dropped (`unwritable`) until it can')
      })
    } catch (error) {
      if (!(error instanceof SpoolUnusableError)) throw error
      const code = error.reason.code
      throw new InvalidOptionError('spool', 'a directory that can be made and written (its parent must exist)', dir, {
        hint: code === 'ENOENT' ? 'its parent directory does not exist' : code === 'ENOTDIR' || code === 'EEXIST' ? 'it is not a directory' : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? `it cannot be written (${code})` : `it cannot be used (${code ?? error.message})`
      })
    }
    const { records, damaged, journals, otherFormats } = spool.recovery
    this.#stats.accepted += records + damaged
    this.#stats.recovered = records
    if (damaged > 0) this.#drop('damaged', `torn or damaged in the spool ${dir} (cut short by a crash)`, damaged, false)
    const parts: string[] = []
    if (records > 0) parts.push(`${records} record(s) left unconfirmed by ${journals} earlier process(es) in the spool ${dir} are sent first`)
    if (damaged > 0) parts.push(`${damaged} torn or damaged record(s) in the spool ${dir} were skipped (dropped as \`damaged\`)`)
    for (const [format, count] of otherFormats) {
      parts.push(`${count} journal(s) of dead processes in ${dir} were written as ${format}, not ${this.#encoder.format}, and are left there: send them with \`pino-websocket drain ${dir} --url …\``)
    }
    if (parts.length > 0) process.nextTick(() => this.#reporter.warn('PINO_WS_WARN_SPOOL_RECOVERED', parts.join('; ')))
    return spool
  }

  /**
   * Write what the spool gathered since the last call, before the adapter counts
   * it read (the CLI's chunk of stdin, winston's record). Never throws.
   */
  commit (): void {
    this.#spool?.commit()
  }

  /**
   * A chunk was read (pino's worker): what was gathered is written now when it
   * is large, or within SPOOL_COMMIT_DELAY, so a stream of small chunks costs one
   * write per millisecond rather than one each (a write is a few µs). flush(),
   * close() and the exit hooks write at once.
   */
  commitSoon (): void {
    const spool = this.#spool
    if (spool === undefined) return
    if (spool.gathered >= SPOOL_COMMIT_BYTES) spool.commit()
    else if (spool.gathered > 0) this.#commitLater()
  }

  /** Records held: in the queue, and with a spool on disk not yet read back. */
  get #held (): number {
    return this.#queue.length + (this.#spool?.unread ?? 0) + this.#keptAtEnd
  }

  /** How this client's wire format takes a line of JSON without a parse, for an NdjsonReader. */
  get lineCodec (): LineCodec | undefined {
    return this.#encoder.lineCodec
  }

  /** Counters; `pending` is what the queue holds now. */
  stats (): Stats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped }, pending: this.#held, maxMessageBytes: this.#size.limit }
  }

  /** Queue one record for sending. Never throws: a bad record is dropped and counted. */
  write (event: LogEvent | JsonEvent): void {
    this.#stats.accepted++
    let record: Chunk
    try {
      record = this.#encoder.encodeRecord(event)
    } catch (error) {
      this.#drop('unencodable', (error as Error).message)
      return
    }
    this.#enqueue(record, RecordQueue.byteLength(record))
  }

  /** Bytes of encoded records held: waiting to be sent or to be confirmed (with a spool, its bytes on disk). */
  get queuedBytes (): number {
    return this.#spool?.bytes ?? this.#queue.bytes
  }

  /**
   * Resolves once the queue holds at most `bytes`, or the client is closed: for
   * a producer that can wait rather than drop (the CLI's stdin), never for an
   * app's logger, which must not block.
   */
  whenQueueBelow (bytes: number): Promise<void> {
    if (this.queuedBytes <= bytes || this.#state === 'closed') return Promise.resolve()
    return new Promise((resolve) => this.#roomWaiters.push({ bytes, resolve }))
  }

  /** The longest line of NDJSON that can still make a record within `maxMessageBytes` (msgpack may be smaller than its JSON text). */
  get maxLineBytes (): number {
    return this.#encoder.format === 'msgpack' ? 2 * this.#options.maxMessageBytes : this.#options.maxMessageBytes
  }

  /** Count a line of NDJSON dropped for its length before its end came (its bytes were not kept). */
  dropLongLine (bytes: number): void {
    this.#stats.accepted++
    this.#drop('oversized', `a line of ${bytes} bytes or more, longer than any record a message can hold (${this.maxLineBytes}), was thrown away as it came`, 1, false)
  }

  /** Count a record the adapter could not turn into an event (a throwing `toJSON`): accepted, then dropped. */
  reject (error: string): void {
    this.#stats.accepted++
    this.#drop('unencodable', error)
  }

  /** Queue one record already encoded (a view, valid during the call). */
  pushEncoded (record: Uint8Array): void {
    this.#stats.accepted++
    this.#enqueue(record, record.length)
  }

  /** Queue one record made of `head`, `source[start, end)` and `terminator`, copied once into the queue. */
  pushSpliced (head: Uint8Array, source: Buffer, start: number, end: number, terminator: number | undefined): void {
    const length = head.length + (end - start) + (terminator === undefined ? 0 : 1)
    if (this.#state === 'closed' || !this.#fits(length) || !this.#queue.accepts(length)) {
      // The rare ways out (fallback file, drop counters) take the record as bytes.
      const record = Buffer.concat([head, source.subarray(start, end), terminator === undefined ? EMPTY : Buffer.of(terminator)])
      this.pushEncoded(record)
      return
    }
    this.#stats.accepted++
    const spool = this.#spool
    if (spool !== undefined && !this.#queueToo(spool, spool.addSpliced(head, source, start, end, terminator, length), length)) return
    try {
      this.#queue.pushSpliced(head, source, start, end, terminator, length)
    } catch (error) {
      this.#drop('overflow', (error as Error).message)
      return
    }
    this.#kick()
  }

  /**
   * Queue `count` encoded records that follow one another in `source` from
   * `from`, of `lengths[0, count)` bytes, `total` in all and `longest` the
   * largest: as a run, with one copy, when no record of it needs more than
   * queueing (not closing, no spool, each fits a message, the queue takes all);
   * else one by one, each where pushEncoded sends it.
   */
  pushRun (source: Uint8Array, from: number, lengths: Int32Array, count: number, total: number, longest: number): void {
    if (this.#state !== 'closed' && this.#spool === undefined && this.#fits(longest) && this.#queue.accepts(total)) {
      let queued = false
      try {
        queued = this.#queue.pushRun(source, from, lengths, count, total)
      } catch {
        // No memory for a larger index: one by one, where each is counted.
      }
      if (queued) {
        this.#stats.accepted += count
        this.#kick()
        return
      }
    }
    let at = from
    for (let i = 0; i < count; i++) {
      const length = lengths[i]
      this.pushEncoded(source.subarray(at, at + length))
      at += length
    }
  }

  /** Whether a record of `length` bytes fits in one message on its own, and the server has not refused one so large. */
  #fits (length: number): boolean {
    const bytes = length + this.#encoder.overhead
    return bytes <= this.#options.maxMessageBytes && !this.#size.refuses(bytes)
  }

  /** Queue an encoded record, or route it to the fallback file with its drop reason. */
  #enqueue (record: Chunk, length: number): void {
    if (this.#state === 'closed') {
      this.#toFallback(record)
      this.#drop('shutdown')
      return
    }
    if (!this.#fits(length)) {
      this.#toFallback(record)
      this.#drop('oversized')
      return
    }
    const spool = this.#spool
    if (spool !== undefined && !this.#queueToo(spool, spool.add(record, length), length)) return
    try {
      this.#queue.push(record, length)
    } catch (error) {
      // The queue could not take it (memory could not be had): counted, never thrown at the app.
      this.#drop('overflow', (error as Error).message)
      return
    }
    this.#kick()
  }

  /**
   * A record of `length` bytes was just `added` to the spool (false: it had no
   * room, and counted the drop): whether it goes to the queue at once as well.
   * Only while the server is connected, the spool has nothing older to send and
   * the read-ahead has room; otherwise it waits on disk (in an outage the queue
   * holds nothing) and the spool is told so.
   */
  #queueToo (spool: Spool, added: boolean, length: number): boolean {
    if (!added) return false
    this.#commitLater()
    if (this.#state === 'open' && spool.caughtUp && this.#queue.bytes + length <= this.#queueBytes) {
      spool.handed()
      return true
    }
    spool.fallBehind()
    this.#kick()
    return false
  }

  /** What no adapter commits is written within SPOOL_COMMIT_DELAY. */
  #commitLater (): void {
    this.#commitTimer ??= setTimeout(() => {
      this.#commitTimer = undefined
      this.#spool?.commit()
    }, SPOOL_COMMIT_DELAY).unref()
  }

  /**
   * With a spool, read records back from disk into the queue while it has room
   * for them: the read-ahead. A record too large for a message now (the server
   * refused one so large, or an earlier process allowed more) is given up.
   */
  #readAhead (): void {
    const spool = this.#spool
    if (spool === undefined || spool.unread === 0) return
    spool.read((record) => {
      if (!this.#fits(record.length)) {
        this.#toFallback(record)
        this.#drop('oversized')
        return 'dropped'
      }
      if (this.#queue.bytes + record.length > this.#queueBytes && this.#queue.length > 0) return false
      this.#queue.push(record, record.length)
      return 'queued'
    })
  }

  /** A record was queued: send it soon, connecting first if needed. */
  #kick (): void {
    if (this.#state === 'open') this.#schedulePump()
    else if (this.#state === 'idle') this.#connect()
  }

  /**
   * Resolves once every queued record is confirmed, or after `timeout` ms
   * (whatever is left stays queued; `Infinity`: no deadline, and nothing of
   * ours holds the process open meanwhile). Never rejects.
   */
  flush (timeout = this.#options.closeTimeout): Promise<void> {
    this.#spool?.commit()
    if (this.#held === 0) return Promise.resolve()
    if (this.#state === 'idle') this.#connect()
    return new Promise((resolve) => {
      // A referenced timer: an app waiting on flush stays alive until it is done.
      const timer = timeout === Infinity ? undefined : setTimeout(done, timeout)
      const waiters = this.#flushWaiters
      function done (): void {
        clearTimeout(timer)
        const index = waiters.indexOf(done)
        if (index !== -1) waiters.splice(index, 1)
        resolve()
      }
      waiters.push(done)
    })
  }

  /**
   * Deliver what is queued within `closeTimeout`, close the socket with 1000 and
   * stop. Records still queued then are dropped with reason `shutdown` (and go
   * to the fallback file). `timeout` overrides `closeTimeout` (0: give up at
   * once). Never rejects.
   */
  close (timeout = this.#options.closeTimeout): Promise<void> {
    this.#hurry()
    this.#closing ??= this.#shutdown(timeout)
    return this.#closing
  }

  async #shutdown (timeout: number): Promise<void> {
    if (timeout > 0) await this.flush(timeout)
    const why = this.#whyUndelivered()
    this.#state = 'closed'
    clearTimeout(this.#retryTimer)
    clearTimeout(this.#idleTimer)
    const connection = this.#connection
    if (connection !== undefined) {
      await new Promise<void>((resolve) => {
        connection.once('close', () => resolve())
        connection.close(1000, undefined, CLOSE_HANDSHAKE_TIMEOUT)
      })
    }
    this.#giveUpAtEnd(why)
    this.#wakeRoomWaiters()
    this.#fallback?.close()
    unwatchExit(this)
  }

  /** @internal The app has no more work: deliver what is left, once per batch of new records. */
  beforeExit (): void {
    if (this.#state === 'closed') return
    this.#spool?.commit()
    if (this.#held === 0) {
      // Everything is confirmed and the app is done: say goodbye with a close frame
      // (1000), which the kernel delivers even if the process ends before the
      // server answers; otherwise the server sees the connection reset (1006).
      // Should the app log again, the next record opens a new connection.
      if (this.#state === 'open') {
        this.#state = 'idle-closing'
        this.#connection?.close(1000, undefined, CLOSE_HANDSHAKE_TIMEOUT)
      }
      return
    }
    if (this.#exitFlushedAt === this.#stats.accepted) return
    this.#exitFlushedAt = this.#stats.accepted
    this.#hurry()
    void this.flush()
  }

  /**
   * The transport is ending: a retry due in seconds (a long outage's backoff)
   * would come after closeTimeout, so try now, and from now on at short intervals.
   */
  #hurry (): void {
    this.#ending = true
    if (this.#state !== 'waiting') return
    clearTimeout(this.#retryTimer)
    this.#stats.reconnects++
    this.#connect()
  }

  /**
   * @internal The process is exiting: what could not be delivered is written to
   * the fallback file and accounted for in one line, synchronously (nothing
   * asynchronous runs any more).
   */
  exit (): void {
    if (this.#state === 'closed') return
    // Without a beforeExit (process.exit(), or records logged in an exit handler) nothing was tried.
    this.#giveUpAtEnd(this.#exitFlushedAt === this.#stats.accepted
      ? this.#whyUndelivered()
      : 'the process exited before they could be sent (a synchronous exit cannot wait for the network)')
    this.#state = 'closed'
  }

  /**
   * The transport ends with records undelivered: without a spool they are
   * dropped (`shutdown`, to the fallback file); with one they stay in it for the
   * next start, said in one line. Then the line that accounts for drops.
   */
  #giveUpAtEnd (why: string): void {
    const spool = this.#spool
    if (spool === undefined) {
      const left = this.#queue.drain((record) => this.#toFallback(record))
      if (left > 0) this.#drop('shutdown', undefined, left)
      this.#reporter.end(why)
      return
    }
    clearTimeout(this.#commitTimer)
    spool.close()
    // Records whose frame the disk refused were held in memory only: they end here.
    const memoryOnly = spool.inMemoryOnly(this.#queue.length)
    let index = 0
    let lost = 0
    this.#queue.drain((record) => {
      if (memoryOnly[index++] !== true) return
      this.#toFallback(record)
      lost++
    })
    if (lost > 0) this.#drop('unwritable', `the spool could not write them, and they were not delivered before the end (${why})`, lost)
    this.#keptAtEnd = index - lost
    const left = this.#held
    this.#reporter.end(why)
    if (left > 0) {
      this.emit('warn', {
        code: 'PINO_WS_WARN_SPOOL_KEPT',
        message: `${left} record(s) not yet delivered stay in the spool ${this.#options.spool} (${why}); the next start with this spool sends them, ` +
          `or \`pino-websocket drain ${this.#options.spool} --url …\` does`,
        exit: true
      })
    }
  }

  #connect (): void {
    if (this.#state === 'closed') return
    this.#state = 'connecting'
    this.#attemptStartedAt = Date.now()
    const { endpoint, proxy } = this.#options
    debug('connecting to %s%s (attempt %d)', endpoint, proxy === undefined ? '' : ` through the proxy ${proxy.endpoint}`, this.#backoff.attempt + 1)
    const atLeastOnce = this.#stats.delivery === 'at-least-once'
    const connection = new Connection(this.#options, {
      // At most once (chosen for a server that may not answer pings), messages are
      // still followed by pings: a pong proves what the server read, and the
      // message size grows on that proof alone. Pongs are required, and find a
      // dead peer, once the server has shown that it answers them.
      requirePongs: atLeastOnce || this.#pongSeen
    })
    this.#connection = connection
    connection.on('open', () => this.#onOpen())
    connection.on('written', (mark) => {
      if (this.#stats.delivery === 'at-most-once') this.#confirm(mark)
      this.#pump()
    })
    connection.on('confirm', (mark) => this.#onConfirm(mark))
    connection.on('close', (info) => this.#onClose(connection, info))
  }

  #onOpen (): void {
    this.#state = 'open'
    this.#confirmedHere = false
    this.#openedAt = Date.now()
    this.#size.opened()
    debug('open %s', this.#options.endpoint)
    this.emit('open', { endpoint: this.#options.endpoint })
    this.#armIdleTimer()
    this.#pump()
    // Nothing to send: a ping at once shows whether the server answers (a pong also resets the backoff).
    if (this.#queue.unsent === 0) this.#connection?.probe()
  }

  #onConfirm (mark: number): void {
    this.#pongSeen = true
    this.#noPongConnections = 0
    this.#lastFailure = undefined
    // The server reads what we send: this connection is healthy.
    this.#backoff.reset()
    if (mark === -1) return
    this.#confirmedHere = true
    this.#closedUnconfirmed = 0
    this.#refusedInARow = 0
    while (this.#unconfirmed.length > 0 && this.#unconfirmed[0].end <= mark) {
      const { bytes } = this.#unconfirmed.shift()!
      this.#unconfirmedBytes -= bytes
      this.#size.confirmed(bytes)
    }
    this.#confirm(mark)
    // Messages that wait for the ones in flight (see #pump) go now, and the spool's backlog after them.
    if (this.#queue.unsent > 0 || (this.#spool?.unread ?? 0) > 0) this.#pump()
  }

  #onClose (connection: Connection, info: CloseInfo): void {
    if (connection !== this.#connection) return
    this.#connection = undefined
    clearTimeout(this.#idleTimer)
    const unconfirmed = this.#unconfirmed
    this.#unconfirmed = []
    this.#unconfirmedBytes = 0
    const error = info.error === undefined ? undefined : this.#redact(info.error)
    const reason = this.#redact(info.reason)
    if (info.pongTimedOut) this.#onPongTimeout()
    this.#lastFailure = info.pongTimedOut ? `did not answer a ping within ${this.#options.pongTimeout} ms`
      : !info.opened ? `could not be reached: ${error ?? `closed with ${info.code} before the handshake completed`}`
        : `closed the connection (${info.code}${reason === '' ? '' : ` ${reason}`})`
    if (this.#state === 'closed') return
    if (info.opened && !info.ours && !this.#confirmedHere && unconfirmed.length > 0 && info.code !== MESSAGE_TOO_BIG &&
      ++this.#closedUnconfirmed === CLOSED_UNCONFIRMED_CONNECTIONS) this.#warnServerClosed(info.code, reason)
    if (info.opened && !info.pongTimedOut && isProtocolError(info.errorCode)) {
      this.#reporter.warn('PINO_WS_WARN_PROTOCOL_ERROR', `${this.#options.endpoint} sent what the WebSocket protocol forbids (${error ?? info.errorCode}), so the connection was closed; ` +
        `records are kept and sent again (${this.#held} queued)`)
    }
    if (info.opened) {
      // 1006 without an error: a reset, or a guard of the server's (ws ends a connection with 60 pongs pending) that sent no close frame.
      debug('disconnected from %s: %d %s%s', this.#options.endpoint, info.code,
        reason === '' ? (info.code === ABNORMAL ? '(no close frame: reset or terminated)' : '') : JSON.stringify(reason), error === undefined ? '' : ` (${error})`)
      this.emit('disconnect', { endpoint: this.#options.endpoint, code: info.code, reason })
    } else {
      debug('attempt failed: %s', error ?? `closed with ${info.code} before the handshake completed`)
    }
    // What was sent and not confirmed goes again, first and in order, on the next connection.
    this.#stats.resent += this.#queue.rewind()
    if (info.opened) this.#judge(info, unconfirmed)
    // A connection that stayed up through a heartbeat and its pong timeout was healthy, pong or not.
    if (info.opened && Date.now() - this.#openedAt >= this.#options.pingInterval + this.#options.pongTimeout) this.#backoff.reset()
    if (this.#held === 0) {
      // Nothing to send (an idle proxy or the server closed a quiet connection, or
      // we did): no reconnect loop while idle; the next record connects at once.
      debug('%s: nothing queued; the next record opens a new connection', this.#options.endpoint)
      this.#state = 'idle'
      return
    }
    if (this.#state === 'idle-closing') {
      // Records that came during the closing handshake go out on a fresh connection at once.
      this.#connect()
      return
    }
    this.#state = 'waiting'
    const why = info.errorCode === PROXY_REFUSED ? 'proxy' : info.errorCode !== undefined && TLS_REFUSAL.test(info.errorCode) ? 'tls' : undefined
    const next = retryDelay(this.#backoff.next(), info.rejection ?? why, this.#options.maxReconnectDelay)
    const { refused } = next
    // What retrying cannot fix soon (a refusal) keeps its slow pace, ending or not.
    const delay = this.#ending && !refused ? Math.min(next.delay, ENDING_RETRY_DELAY) : next.delay
    if (!info.opened) this.#warnFailedAttempt(info, error, refused, why)
    debug('retrying in %d ms', delay)
    this.emit('reconnecting', {
      endpoint: this.#options.endpoint,
      attempt: this.#backoff.attempt,
      delay,
      ...(error !== undefined ? { error } : {}),
      ...(info.rejection !== undefined ? { status: info.rejection.status } : {})
    })
    this.#retryTimer = setTimeout(() => {
      this.#stats.reconnects++
      this.#connect()
    }, delay).unref()
  }

  /** A connection attempt failed: say so, the first time and then rarely, with the reason. */
  #warnFailedAttempt (info: CloseInfo, error: string | undefined, refused: boolean, why: 'tls' | 'proxy' | undefined): void {
    const { endpoint, maxReconnectDelay } = this.#options
    const queued = `${this.#held} record(s) queued`
    if (info.rejection !== undefined && refused) {
      this.#reporter.warn('PINO_WS_WARN_UPGRADE_REFUSED', `${endpoint} answered the WebSocket upgrade with HTTP ${info.rejection.status}; retrying every ${maxReconnectDelay} ms or so (${queued})`)
    } else if (why === 'proxy') {
      this.#reporter.warn('PINO_WS_WARN_PROXY_REFUSED', `${error ?? 'the proxy refused the tunnel'}; retrying every ${maxReconnectDelay} ms or so (${queued}). A 407 wants credentials in the \`proxy\` URL`)
    } else if (why === 'tls') {
      this.#reporter.warn('PINO_WS_WARN_TLS_REFUSED', `the TLS handshake with ${endpoint} failed: ${error ?? info.errorCode}; retrying every ${maxReconnectDelay} ms or so (${queued}). ` +
        'Trust its CA with `ca`, or set `servername` when the certificate names another host')
    } else {
      this.#reporter.warn('PINO_WS_WARN_UNREACHABLE', `cannot reach ${endpoint}: ${error ?? `closed with ${info.code} before the handshake completed`}; retrying (${queued})`)
    }
  }

  /**
   * The server takes the upgrade and then ends every connection before
   * confirming a record: the common way to refuse a token or a format after the
   * handshake. The records stay queued, and the backoff grows (no connection
   * proves itself healthy).
   */
  #warnServerClosed (code: number, reason: string): void {
    const hint = code === 1003 ? 'A 1003 refuses the frames\' data type: check `format` (msgpack goes in binary frames, the JSON formats and gelf in text frames)'
      : code === 1007 ? 'A 1007 refuses the data itself: check `format` and what the server parses'
        : code === 1008 || (code >= 4000 && code <= 4999) ? `A ${code} is the server's own refusal, most often of credentials or policy: check the token in \`headers\` or the URL, and the path`
          : code === ABNORMAL ? 'They ended without a close frame: a reset by the server or a proxy between us'
            : 'The server\'s logs say why'
    this.#reporter.warn('PINO_WS_WARN_SERVER_CLOSED', `${this.#options.endpoint} accepted the upgrade, then closed ${CLOSED_UNCONFIRMED_CONNECTIONS} connections in a row with ${code}` +
      `${reason === '' ? '' : ` (${JSON.stringify(reason)})`} before confirming any record; records are kept and retried with a growing delay (${this.#held} queued). ${hint}`)
  }

  #onPongTimeout (): void {
    this.#stats.pongTimeouts++
    debug('%s: no pong within %d ms, terminated', this.#options.endpoint, this.#options.pongTimeout)
    // A slow server looks just like one that never answers pings, so delivery is
    // never switched to at-most-once here: records stay queued and go again. The
    // user is told, since only they know which server they have.
    if (!this.#pongSeen && ++this.#noPongConnections === NO_PONG_CONNECTIONS) {
      this.#reporter.warn('PINO_WS_WARN_NO_PONG', `the server has not answered a ping within ${this.#options.pongTimeout} ms on ${NO_PONG_CONNECTIONS} connections; records are kept and sent again. ` +
        'A slow server needs a longer `pongTimeout`; one that never answers pings needs `delivery: \'at-most-once\'`')
    }
  }

  /**
   * What a connection's end says about the records in flight: the message size
   * (see MessageSize), and, on a 1007, which record's data the server refuses.
   * Runs after the rewind: the first unconfirmed message is first in the queue.
   */
  #judge (info: CloseInfo, unconfirmed: ReadonlyArray<{ start: number, end: number, bytes: number }>): void {
    const atLeastOnce = this.#stats.delivery === 'at-least-once'
    // At most once, only what was written counts; what was not goes again.
    const sent: SentMessage[] = []
    for (const message of unconfirmed) {
      if (!atLeastOnce && message.end > this.#queue.sentEnd) break
      sent.push({ bytes: message.bytes, records: message.end - message.start, id: message.start })
    }
    if (info.code === INVALID_DATA && atLeastOnce && !info.ours && sent.length > 0) this.#isolateRefused(sent)
    if (info.code === MESSAGE_TOO_BIG && !atLeastOnce && !info.ours) this.#unread(sent)
    const verdict = this.#size.ended({ code: info.code, ours: info.ours, unconfirmed: sent })
    if (verdict === undefined) return
    const { endpoint } = this.#options
    const overhead = this.#encoder.overhead
    const parts: string[] = []
    if (verdict.lowered !== undefined) {
      parts.push(verdict.stated
        ? `${endpoint} closed the connection with 1009 (message too big) after a message of ${verdict.largest} bytes`
        : `connections to ${endpoint} were lost without a close frame right after a message of ${verdict.largest} bytes, larger than any it has confirmed (${this.#size.proven})`)
      parts.push(`messages are now at most ${verdict.lowered} bytes; larger ones are tried again in ${Math.round((verdict.probeIn ?? 0) / 1000)} s`)
    }
    if (verdict.dropFirst && atLeastOnce) {
      const error = verdict.stated ? 'the server refused it alone with 1009 (message too big)' : `the connection was lost ${LONE_LOSSES} times in a row right after it, sent alone`
      this.#queue.dropFirst((record) => this.#toFallback(record))
      this.#drop('oversized', error)
      parts.push(`a record of ${verdict.largest - overhead} bytes was dropped as oversized: ${error}`)
      // Records as large as one the server refused alone cannot go either.
      this.#spoolDone()
      const dropped = verdict.stated ? this.#queue.removeLarger(verdict.largest - overhead - 1, (record) => this.#toFallback(record)) : 0
      // Records removed from the middle of the queue are not done in the spool's order: kept there until those before them are.
      if (dropped > 0) this.#spool?.forget(dropped)
      if (dropped > 0) {
        this.#drop('oversized', `the server refuses messages of ${verdict.largest} bytes`, dropped)
        parts.push(`${dropped} more record(s) as large were dropped`)
      }
    }
    if (parts.length > 0) this.#reporter.warn('PINO_WS_WARN_MESSAGE_TOO_BIG', parts.join('; '))
  }

  /**
   * At most once, a 1009 shows records counted delivered were never read: the
   * server refused the first message over its limit and read nothing after it.
   * The largest message written is over that limit, so from its first
   * occurrence on, nothing was read: counted dropped, no longer delivered.
   * `written`: the messages written on the connection, oldest first.
   */
  #unread (written: readonly SentMessage[]): void {
    let from = -1
    for (const [index, message] of written.entries()) if (from === -1 || message.bytes > written[from].bytes) from = index
    if (from === -1) return
    let records = 0
    for (const message of written.slice(from)) records += message.records
    this.#stats.delivered -= records
    this.#drop('oversized', 'the server closed the connection with 1009 (message too big): never read', records, false)
  }

  /**
   * The server refused some record's data (1007). One message sent alone and
   * refused holds it: a lone record is given up (as `refused`, to the fallback
   * file); a larger message is split. Sent one at a time, so the culprit is
   * always the message in flight. A server that refuses everything (nothing
   * confirmed through REFUSED_IN_A_ROW refusals) is not searched further: its
   * records stay queued, as without this rule.
   */
  #isolateRefused (sent: readonly SentMessage[]): void {
    const isolate = this.#isolate
    if (isolate !== undefined && sent.length === 1) {
      if (sent[0].records > 1) {
        this.#isolate = { until: sent[0].id + sent[0].records, records: Math.ceil(sent[0].records / 2) }
        return
      }
      if (this.#refusedInARow >= REFUSED_IN_A_ROW) return
      this.#refusedInARow++
      this.#queue.dropFirst((record) => this.#toFallback(record))
      this.#spoolDone()
      this.#drop('refused', 'the server closed the connection with 1007 (invalid data) on this record alone')
      return
    }
    const last = sent[sent.length - 1]
    let records = 1
    for (const message of sent) if (message.records > records) records = message.records
    this.#isolate = { until: last.id + last.records, records: Math.ceil(records / 2) }
  }

  #schedulePump (): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    // Records written in the same turn of the event loop go out as one message.
    setImmediate(() => {
      this.#pumpScheduled = false
      this.#pump()
    })
  }

  /**
   * Send what has gathered, as long as the socket is not backed up. While a
   * message is being written, new records gather into the next one: batches grow
   * with load, with no timer adding latency.
   */
  #pump (): void {
    const connection = this.#connection
    if (this.#state !== 'open' || connection === undefined) return
    const atLeastOnce = this.#stats.delivery === 'at-least-once'
    // At most half the queue in flight: when it fills, records still waiting are
    // there to give way (drop_oldest), rather than ones the server may already hold.
    const inFlightBound = this.#queueBytes / 2
    this.#readAhead()
    let sent = false
    while (this.#queue.unsent > 0 && connection.writable && (!atLeastOnce || this.#unconfirmedBytes < inFlightBound)) {
      const start = this.#queue.sentEnd
      let maxRecords = Infinity
      const isolate = this.#isolate
      if (isolate !== undefined) {
        // Finding a refused record: one small message at a time, so a 1007 names its
        // message; over once the last of them is confirmed.
        if (this.#unconfirmed.length > 0) break
        if (start >= isolate.until) this.#isolate = undefined
        else maxRecords = Math.min(isolate.records, isolate.until - start)
      }
      // A record too large for the size in force goes alone, with nothing else in
      // flight: the server's answer to it is then about it alone.
      if (this.#unconfirmed.length > 0 && this.#queue.nextLength + this.#encoder.overhead > this.#size.limit) break
      const parts = this.#queue.takeBatch(this.#size.next, this.#encoder.overhead, maxRecords)
      const end = this.#queue.sentEnd
      const message = this.#encoder.frame(parts)
      this.#unconfirmed.push({ start, end, bytes: message.length })
      if (atLeastOnce) this.#unconfirmedBytes += message.length
      else if (this.#unconfirmed.length > WRITTEN_KEPT) this.#unconfirmed.shift()
      connection.send(message, this.#encoder.binary, end)
      if (this.#spool !== undefined && this.#queue.unsent === 0) this.#readAhead()
      debug('sent %d record(s) in %d bytes (size %d, limit %d)', end - start, message.length, this.#size.next, this.#size.limit)
      sent = true
    }
    if (sent) this.#armIdleTimer()
  }

  /** Close a connection that carried no record for keepaliveIdleTimeout; the next record opens a new one. */
  #armIdleTimer (): void {
    const timeout = this.#options.keepaliveIdleTimeout
    if (timeout === 0) return
    clearTimeout(this.#idleTimer)
    this.#idleTimer = setTimeout(() => {
      if (this.#state !== 'open') return
      if (this.#held > 0) {
        this.#armIdleTimer()
        return
      }
      debug('%s idle for %d ms, closing', this.#options.endpoint, timeout)
      this.#state = 'idle-closing'
      this.#connection?.close(1000, 'idle', CLOSE_HANDSHAKE_TIMEOUT)
    }, timeout).unref()
  }

  #confirm (end: number): void {
    this.#stats.delivered += this.#queue.confirm(end)
    this.#spoolDone()
    if (this.#roomWaiters.length > 0) this.#wakeRoomWaiters()
    if (this.#held === 0) this.#settle()
  }

  /** Tell the spool how many of the records it handed over are done: all but those the queue still holds. */
  #spoolDone (): void {
    this.#spool?.done(this.#queue.length)
  }

  #wakeRoomWaiters (): void {
    const bytes = this.#state === 'closed' ? -1 : this.queuedBytes
    this.#roomWaiters = this.#roomWaiters.filter((waiter) => {
      if (bytes > waiter.bytes) return true
      waiter.resolve()
      return false
    })
  }

  #settle (): void {
    for (const done of this.#flushWaiters.splice(0)) done()
  }

  /** Why records are still held: the server's last failure, or what is happening now. */
  #whyUndelivered (): string {
    const { endpoint, closeTimeout } = this.#options
    if (this.#state === 'open') return `${endpoint} did not confirm them within ${closeTimeout} ms`
    if (this.#lastFailure !== undefined) return `${endpoint} ${this.#lastFailure}`
    if (this.#state === 'connecting') return `${endpoint} gave no answer within ${Date.now() - this.#attemptStartedAt} ms`
    return `${endpoint} was not reached in time`
  }

  /** Count dropped records (`kept`: their bytes went to the fallback file's care); the reporter tells of them. */
  #drop (reason: DropReason, error?: string, count = 1, kept = true): void {
    this.#stats.dropped[reason] += count
    // A parser's error quotes the record, which may hold one of the options' secrets.
    this.#reporter.drop(reason, error === undefined ? undefined : this.#redact(error), count, kept)
    if (this.#held === 0) this.#settle()
  }

  /** Append a record given up on to the fallback file, as the encoder renders it for a replay. */
  #toFallback (record: Chunk): void {
    this.#fallback?.append(this.#encoder.fallbackLine(record))
  }

  #redact (text: string): string {
    return redact(text, this.#options.secrets)
  }
}

const EMPTY = Buffer.alloc(0)
const FALLBACK_HELD_MIB = MAX_HELD_BYTES / (1024 * 1024)
