import { randomFillSync } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import { debuglog } from 'node:util'
import { isMainThread } from 'node:worker_threads'
import WebSocket, { type ClientOptions } from 'ws'
import { Backoff } from './backoff.js'
import { decodeMessage } from './encoders/decode.js'
import { timeFromMillis, timeOf } from './encoders/dates.js'
import { createEncoder, type DropReason, type Encoder, type JsonEvent, type LogEvent } from './encoders/index.js'
import { LineBuffer, leadingTime } from './encoders/lines.js'
import { FallbackFile } from './fallback.js'
import type { ResolvedOptions } from './options.js'
import { RecordQueue, type Chunk } from './queue.js'

/*
 * The connection manager: the only module that speaks WebSocket. It knows nothing
 * of pino or winston: adapters hand it events and call flush() and close().
 *
 *              write() / start                    'open'
 *     idle ─────────────────────► connecting ───────────────► open ◄─┐ pump(): one message per batch,
 *      ▲                            ▲      │                   │  └─┘ then a ping whose pong confirms it
 *      │               retry timer  │      │ error, close,      │ error, close, pong timeout
 *      │                            │      ▼ HTTP status        ▼
 *      │                           waiting ◄────────────────────┤   (backoff with full jitter,
 *      │                                                        │    Retry-After, 4xx slowed down)
 *      └─────────────── keepaliveIdleTimeout, queue empty ──────┘
 *
 *   close(): from any state, keep sending until everything is confirmed or
 *   closeTimeout passes, then close 1000 (terminate if the server does not answer),
 *   count leftovers as dropped (shutdown) and end in `closed`.
 *
 * Invariants: at most one socket exists at a time; a socket is written to only
 * after its own handshake ('open'); a network failure never throws, rejects or
 * emits 'error' (it becomes a 'disconnect'/'reconnecting' event and a retry); every
 * accepted record ends delivered, dropped with a reason, or pending:
 * accepted = delivered + dropped + pending.
 */

const debug = debuglog('pino-websocket')

/** Socket buffer level above which batches wait for the socket to drain. */
const HIGH_WATER_MARK = 1024 * 1024
/** How long close() waits for the server's close frame before terminating. */
const CLOSE_HANDSHAKE_TIMEOUT = 1000
/** Largest message accepted from the server: we expect none; pings and pongs are tiny. */
const MAX_INBOUND_PAYLOAD = 64 * 1024
/** Connections that must time out on pongs, with no pong ever seen, before the server is taken for one that never answers pings. */
const NO_PONG_CONNECTIONS = 2
/** Longest Retry-After honoured, in ms. */
const MAX_RETRY_AFTER = 3_600_000
/** Close code of a message too big for the server (RFC 6455 7.4.1). */
const MESSAGE_TOO_BIG = 1009

const BACKSLASH_U = Buffer.from('\\u')
const EMPTY = Buffer.alloc(0)

type State = 'idle' | 'connecting' | 'open' | 'waiting' | 'closed'

/** Counters since the transport started. */
export interface Stats {
  /** Records handed to the transport. */
  accepted: number
  /** Records the server confirmed (at-least-once) or that were written to the socket (at-most-once). */
  delivered: number
  /** Records given up, by reason. */
  dropped: Record<DropReason, number>
  /** Records held: waiting to be sent or to be confirmed. */
  pending: number
  /** Records sent again after a reconnect because their first sending was not confirmed. */
  resent: number
  /** Connection attempts after the first. */
  reconnects: number
  /** Pings that were not answered within `pongTimeout`. */
  pongTimeouts: number
  /** The delivery mode in force: `at-most-once` after a server was found never to answer pings. */
  delivery: ResolvedOptions['delivery']
}

/** Payloads of the events; all plain data, so they cross pino's worker boundary. */
export interface ConnectionEvents {
  open: [{ endpoint: string }]
  disconnect: [{ endpoint: string, code: number, reason: string }]
  reconnecting: [{ endpoint: string, attempt: number, delay: number, error?: string, status?: number }]
  drop: [{ reason: DropReason, count: number, error?: string }]
  warn: [{ code: string, message: string }]
}

export class Connection extends EventEmitter<ConnectionEvents> {
  readonly #options: ResolvedOptions
  readonly #encoder: Encoder
  readonly #queue: RecordQueue
  readonly #backoff: Backoff
  readonly #stats: Omit<Stats, 'pending'>
  readonly #fallback: FallbackFile | undefined
  readonly #lines = new LineBuffer()
  /** The splice head of the last line's time (lines come in bursts that share a millisecond). */
  #head: Buffer = EMPTY
  #headMs = -1
  #state: State = 'idle'
  #ws: WebSocket | undefined
  /** The TCP (or TLS) socket under #ws, for corking a message with its ping. */
  #socket: Socket | undefined
  /** Why the last attempt failed, for the reconnecting event: an error message, or the HTTP answer to the upgrade. */
  #lastError: string | undefined
  #rejection: { status: number, retryAfter: number | undefined } | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #heartbeatTimer: NodeJS.Timeout | undefined
  #pongTimer: NodeJS.Timeout | undefined
  #idleTimer: NodeJS.Timeout | undefined
  #closingIdle = false
  /** Sequence number of the last ping sent and of the last one answered, on the current socket. */
  #pingSent = 0
  #pongReceived = 0
  /** Whether any pong ever came, and how many connections timed out on pongs before one did. */
  #pongSeen = false
  #noPongConnections = 0
  /** Batches sent and not yet confirmed: the ping sent after each, the queue position past it, its record count. */
  #inflight: Array<{ seq: number, end: number, count: number }> = []
  /** Messages handed to ws whose write has not completed: while one is, records gather into the next batch. */
  #writing = 0
  /** Message size in force: maxMessageBytes, halved when the server refuses messages as too big. */
  #maxMessageBytes: number
  #pumpScheduled = false
  #pendingDrops = new Map<DropReason, { count: number, error?: string }>()
  #drained: Array<() => void> = []
  #closing: Promise<void> | undefined
  #exitFlushedAt = -1

  constructor (options: ResolvedOptions) {
    super()
    this.#options = options
    this.#encoder = createEncoder(options)
    this.#maxMessageBytes = options.maxMessageBytes
    this.#queue = new RecordQueue(options.maxQueueBytes, options.maxMessageBytes, options.overflow, (record) => {
      this.#toFallback(record)
      this.#drop('overflow')
    })
    this.#backoff = new Backoff(options.reconnectDelay, options.maxReconnectDelay)
    this.#stats = {
      accepted: 0,
      delivered: 0,
      dropped: { overflow: 0, oversized: 0, unencodable: 0, shutdown: 0 },
      resent: 0,
      reconnects: 0,
      pongTimeouts: 0,
      delivery: options.delivery
    }
    if (options.fallbackFile !== undefined) {
      this.#fallback = new FallbackFile(options.fallbackFile, (error) => {
        this.#warn('PINO_WS_WARN_FALLBACK_FILE', `the fallback file cannot be written (${error.message}); dropped records are only counted`)
      })
    }
    if (options.unknownKeys.length > 0) {
      const message = `unknown option${options.unknownKeys.length > 1 ? 's' : ''} ${options.unknownKeys.map((k) => `\`${k}\``).join(', ')} ignored`
      process.nextTick(() => this.#warn('PINO_WS_WARN_UNKNOWN_OPTION', message))
    }
    if (isMainThread) {
      // Our sockets and timers are unref'd so they never hold the app open; instead,
      // when the app runs out of work, we get one chance to deliver what is left.
      if (LIVE.size === 0) {
        process.on('beforeExit', onBeforeExit)
        process.on('exit', onExit)
      }
      LIVE.add(this)
    }
    // Connect in the background right away, so the first record finds the socket ready.
    process.nextTick(() => { if (this.#state === 'idle') this.#connect() })
  }

  /** Counters; `pending` is what the queue holds now. */
  stats (): Stats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped }, pending: this.#queue.length }
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

  /**
   * Queue the records of newline-delimited JSON text, such as pino's output: one
   * JSON object per line, its time read from its `time` key (epoch ms or a date
   * string; the time of writing without one). A chunk may end inside a line; the
   * line is taken when its end comes, or on {@link endLines}. Never throws: a line
   * that is not a JSON object is dropped as unencodable.
   */
  writeLines (text: string): void {
    const { bytes, end, textStart, ascii } = this.#lines.append(text)
    const splice = this.#encoder.splice
    // Lines holding a \u escape or the date key are parsed; both are rare, so
    // each is looked for once per chunk rather than once per line.
    const complete = bytes.subarray(0, end)
    let escape = splice === undefined ? -1 : complete.indexOf(BACKSLASH_U)
    let dateKey = splice?.datePrefix === undefined ? -1 : complete.indexOf(splice.datePrefix)
    let start = 0
    while (start < end) {
      // In ASCII text a character is a byte, and the string's own search is
      // cheaper than Buffer#indexOf, a call into C++ per line.
      const lineEnd = ascii ? textStart + text.indexOf('\n', Math.max(0, start - textStart)) : bytes.indexOf(0x0a, start)
      let stop = lineEnd
      if (stop > start && bytes[stop - 1] === 0x0d) stop--
      if (stop > start) {
        if (escape !== -1 && escape < start) escape = complete.indexOf(BACKSLASH_U, start)
        if (dateKey !== -1 && dateKey < start) dateKey = complete.indexOf(splice!.datePrefix!, start)
        const spliceable = splice !== undefined && (escape === -1 || escape >= stop) && (dateKey === -1 || dateKey >= stop)
        this.#writeLine(bytes, start, stop, spliceable)
      }
      start = lineEnd + 1
    }
  }

  /** Take the last line of {@link writeLines} text that did not end with a line feed. */
  endLines (): void {
    const rest = this.#lines.takeRest()
    let stop = rest.length
    if (stop > 0 && rest[stop - 1] === 0x0d) stop--
    if (stop > 0) this.#writeLine(rest, 0, stop, false)
  }

  /**
   * One line of JSON. When its time opens it, the JSON formats splice its bytes
   * straight into the queue and msgpack transcodes them; otherwise it is made a
   * string and parsed as the encoder needs.
   */
  #writeLine (bytes: Buffer, start: number, stop: number, spliceable: boolean): void {
    const ms = leadingTime(bytes, start, stop)
    const { splice, transcode } = this.#encoder
    if (ms !== -1 && transcode !== undefined) {
      let record: Uint8Array | undefined
      try {
        record = transcode(timeFromMillis(ms), bytes, start, stop)
      } catch {
        // Not a record the transcoder takes: the text path decides what it is.
      }
      if (record !== undefined) {
        this.#stats.accepted++
        this.#enqueue(record, record.length)
        return
      }
    }
    if (ms === -1 || !spliceable || splice === undefined || stop - start <= 2 || bytes[stop - 1] !== 0x7d /* } */) {
      this.#writeLineText(bytes.toString('utf8', start, stop), ms)
      return
    }
    if (ms !== this.#headMs) {
      this.#head = splice.head(timeFromMillis(ms))
      this.#headMs = ms
    }
    const head = this.#head
    const { terminator } = this.#encoder
    const length = head.length + (stop - start - 1) + (terminator === undefined ? 0 : 1)
    this.#stats.accepted++
    if (this.#state === 'closed' || !this.#fits(length) || !this.#queue.accepts(length)) {
      // The rare ways out (fallback file, drop counters) take the record as bytes.
      const record = Buffer.concat([head, bytes.subarray(start + 1, stop), terminator === undefined ? EMPTY : Buffer.of(terminator)])
      this.#enqueue(record, record.length)
      return
    }
    const offset = this.#queue.reserve(length)
    const ring = this.#queue.ring
    // The head is short: a loop beats Buffer#copy, which makes a view for each call.
    for (let i = 0; i < head.length; i++) ring[offset + i] = head[i]
    bytes.copy(ring, offset + head.length, start + 1, stop)
    if (terminator !== undefined) ring[offset + length - 1] = terminator
    this.#kick()
  }

  /** A line as text: its time from `time` (read from the bytes already when it opens the line). */
  #writeLineText (line: string, ms: number): void {
    if (ms !== -1) {
      this.write({ time: timeFromMillis(ms), json: line })
      return
    }
    let record: unknown
    try {
      record = JSON.parse(line)
    } catch {
      // Not JSON: the encoder fails on it too, and counts it as unencodable.
      this.write({ time: timeFromMillis(Date.now()), json: line })
      return
    }
    const time = timeOf((record as { time?: unknown } | null)?.time)
    if (record !== null && typeof record === 'object' && !Array.isArray(record)) this.write({ time, record: record as Record<string, unknown> })
    else this.write({ time, json: line })
  }

  /** Whether a record of `length` bytes fits in one message on its own. */
  #fits (length: number): boolean {
    return length + this.#encoder.overhead <= this.#maxMessageBytes
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
    this.#queue.push(record, length)
    this.#kick()
  }

  /** A record was queued: send it soon, connecting first if needed. */
  #kick (): void {
    if (this.#state === 'open') this.#schedulePump()
    else if (this.#state === 'idle') this.#connect()
  }

  /**
   * Resolves once every queued record is confirmed, or after `timeout` ms
   * (whatever is left stays queued). Never rejects.
   */
  flush (timeout = this.#options.closeTimeout): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve()
    if (this.#state === 'idle') this.#connect()
    return new Promise((resolve) => {
      // A referenced timer: an app waiting on flush stays alive until it is done.
      const timer = setTimeout(done, timeout)
      const drained = this.#drained
      function done (): void {
        clearTimeout(timer)
        const index = drained.indexOf(done)
        if (index !== -1) drained.splice(index, 1)
        resolve()
      }
      drained.push(done)
    })
  }

  /**
   * Deliver what is queued within `closeTimeout`, close the socket with 1000 and
   * stop. Records still queued then are dropped with reason `shutdown` (and go
   * to the fallback file). Never rejects.
   */
  close (): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown (): Promise<void> {
    await this.flush()
    this.#state = 'closed'
    clearTimeout(this.#retryTimer)
    clearTimeout(this.#idleTimer)
    const ws = this.#ws
    if (ws !== undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { ws.terminate(); resolve() }, CLOSE_HANDSHAKE_TIMEOUT)
        ws.once('close', () => { clearTimeout(timer); resolve() })
        if (ws.readyState === WebSocket.OPEN) ws.close(1000)
        else ws.terminate()
      })
    }
    const left = this.#queue.drain((record) => this.#toFallback(record))
    if (left > 0) this.#drop('shutdown', undefined, left)
    this.#flushDropEvents()
    await this.#fallback?.close(CLOSE_HANDSHAKE_TIMEOUT)
    if (LIVE.delete(this) && LIVE.size === 0) {
      process.off('beforeExit', onBeforeExit)
      process.off('exit', onExit)
    }
  }

  /** @internal The app has no more work: deliver what is left, once per batch of new records. */
  beforeExit (): void {
    if (this.#queue.length === 0 || this.#exitFlushedAt === this.#stats.accepted || this.#state === 'closed') return
    this.#exitFlushedAt = this.#stats.accepted
    void this.flush()
  }

  /** @internal The process is exiting: what could not be delivered is written to the fallback file. */
  exit (): void {
    this.#stats.dropped.shutdown += this.#queue.drain((record) => this.#toFallback(record))
    this.#fallback?.flushSync()
  }

  #connect (): void {
    if (this.#state === 'closed') return
    this.#state = 'connecting'
    this.#rejection = undefined
    const { tls } = this.#options
    const ws = new WebSocket(this.#options.url, {
      headers: this.#options.headers,
      handshakeTimeout: this.#options.connectTimeout,
      perMessageDeflate: false,
      followRedirects: false,
      maxPayload: MAX_INBOUND_PAYLOAD,
      // Random masks as ws makes them, but never all zeros: ws sends such a frame
      // without copying it, and our queue's views must not be written unmasked.
      generateMask: nonZeroMask,
      rejectUnauthorized: tls.rejectUnauthorized,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      // Our own socket, unref'd: an open log connection never keeps the app alive.
      createConnection: ((options: ConnectionOptions & { host?: string }) => {
        let socket: Socket
        if (this.#options.url.startsWith('wss:')) {
          const servername = tls.servername ?? (isIP(options.host ?? '') === 0 ? options.host : '')
          socket = tlsConnect({ ...options, servername })
        } else {
          socket = netConnect(options as Parameters<typeof netConnect>[0])
        }
        this.#socket = socket
        return socket.unref()
      }) as unknown as ClientOptions['createConnection']
    })
    this.#ws = ws
    ws.on('open', () => this.#onOpen(ws))
    ws.on('pong', (data) => this.#onPong(ws, data))
    // Without a listener ws would throw; the reason is kept for the reconnecting event.
    ws.on('error', (error) => { this.#lastError ??= this.#redact(error.message) })
    ws.on('unexpected-response', (_request, response) => {
      // The server answered the upgrade with plain HTTP: keep the status for the retry policy.
      const retryAfter = parseRetryAfter(response.headers['retry-after'])
      this.#rejection = { status: response.statusCode ?? 0, retryAfter }
      this.#lastError = `HTTP ${response.statusCode} on upgrade`
      response.resume()
      ws.terminate()
    })
    ws.on('close', (code, reason) => this.#onClose(ws, code, reason.toString()))
    // Messages from the server are not part of the protocol: ignored (and bounded by maxPayload).
  }

  #onOpen (ws: WebSocket): void {
    if (ws !== this.#ws) return
    this.#state = 'open'
    this.#lastError = undefined
    this.#pingSent = 0
    this.#pongReceived = 0
    // Unconfirmed records go again first, in order, on this freshly handshaked socket.
    this.#stats.resent += this.#queue.rewind()
    debug('open %s', this.#options.endpoint)
    this.emit('open', { endpoint: this.#options.endpoint })
    this.#heartbeatTimer = setInterval(() => {
      if (this.#pingSent === this.#pongReceived) this.#ping(ws)
    }, this.#options.pingInterval).unref()
    this.#armIdleTimer()
    this.#pump()
  }

  #onClose (ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.#ws) return
    this.#ws = undefined
    const wasOpen = this.#state === 'open'
    clearInterval(this.#heartbeatTimer)
    clearTimeout(this.#pongTimer)
    clearTimeout(this.#idleTimer)
    this.#pongTimer = undefined
    const inflight = this.#inflight
    this.#inflight = []
    this.#writing = 0
    if (this.#state === 'closed') return
    if (wasOpen) {
      debug('disconnected from %s: %d %s', this.#options.endpoint, code, reason)
      this.emit('disconnect', { endpoint: this.#options.endpoint, code, reason: this.#redact(reason) })
    }
    if (code === MESSAGE_TOO_BIG) this.#shrinkMessages(inflight[0])
    if (this.#closingIdle) {
      this.#closingIdle = false
      // Records that came during the closing handshake go out on a fresh connection at once.
      if (this.#queue.length === 0) this.#state = 'idle'
      else this.#connect()
      return
    }
    this.#state = 'waiting'
    const delay = this.#retryDelay()
    this.emit('reconnecting', {
      endpoint: this.#options.endpoint,
      attempt: this.#backoff.attempt,
      delay,
      ...(this.#lastError !== undefined ? { error: this.#lastError } : {}),
      ...(this.#rejection !== undefined ? { status: this.#rejection.status } : {})
    })
    this.#lastError = undefined
    this.#retryTimer = setTimeout(() => {
      this.#stats.reconnects++
      this.#connect()
    }, delay).unref()
  }

  /**
   * The wait before the next attempt: backoff with full jitter, except that a
   * server's Retry-After is honoured, and an answer that retrying cannot fix
   * soon (401, 403, 404, a redirect, a plain 200) waits the longest delay.
   */
  #retryDelay (): number {
    const delay = this.#backoff.next()
    const rejection = this.#rejection
    if (rejection === undefined) return delay
    if (rejection.retryAfter !== undefined) return Math.max(delay, rejection.retryAfter)
    const { status } = rejection
    if (status === 408 || status === 429 || status >= 500) return delay
    if (this.#backoff.attempt === 1) {
      this.#warn('PINO_WS_WARN_UPGRADE_REFUSED', `the server answered the WebSocket upgrade with HTTP ${status}; retrying every ${this.#options.maxReconnectDelay} ms or so`)
    }
    return Math.floor(this.#options.maxReconnectDelay * (0.5 + Math.random() / 2))
  }

  /**
   * The server closed with 1009: the oldest unconfirmed message was too big for
   * it. A single record that big is dropped as oversized; otherwise messages are
   * halved from now on, until they fit.
   */
  #shrinkMessages (culprit: { end: number, count: number } | undefined): void {
    if (culprit !== undefined && culprit.count === 1) {
      const record = this.#queue.removeHead(culprit.end - 1)
      if (record !== undefined) {
        this.#toFallback(record)
        this.#drop('oversized', 'the server refused the record as too big (1009)')
      }
      return
    }
    const smaller = Math.max(64, Math.floor(this.#maxMessageBytes / 2))
    if (smaller === this.#maxMessageBytes) return
    this.#maxMessageBytes = smaller
    this.#warn('PINO_WS_WARN_MESSAGE_TOO_BIG', `the server refused a message as too big (1009); messages are now at most ${smaller} bytes`)
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
    const ws = this.#ws
    if (this.#state !== 'open' || ws === undefined || ws.readyState !== WebSocket.OPEN || this.#closingIdle) return
    const atLeastOnce = this.#stats.delivery === 'at-least-once'
    let sent = false
    while (this.#writing === 0 && this.#queue.unsent > 0 && ws.bufferedAmount < HIGH_WATER_MARK) {
      const start = this.#queue.sentEnd
      const parts = this.#queue.takeBatch(this.#maxMessageBytes, this.#encoder.overhead)
      const end = this.#queue.sentEnd
      this.#writing++
      sent = true
      // ws copies the views of our queue while it masks them, before this call returns.
      // The message and its ping leave in one write.
      this.#socket?.cork()
      ws.send(this.#encoder.frame(parts), { binary: this.#encoder.binary }, (error) => {
        if (ws !== this.#ws) return
        this.#writing--
        if (error === undefined || error === null) {
          if (!atLeastOnce) this.#confirm(end)
          this.#pump()
        }
      })
      // A ping after every message, so a 1009 close can be pinned on the message
      // the server refused: every message before it has had its pong by then.
      if (atLeastOnce) this.#inflight.push({ seq: this.#ping(ws), end, count: end - start })
      this.#socket?.uncork()
    }
    if (sent) this.#armIdleTimer()
  }

  /** Send a ping whose payload is its sequence number; returns that number. */
  #ping (ws: WebSocket): number {
    const seq = ++this.#pingSent
    const payload = Buffer.allocUnsafe(4)
    payload.writeUInt32BE(seq >>> 0)
    ws.ping(payload)
    // A server found never to answer pings is not timed out on them (at-most-once from then on).
    if (this.#pongSeen || this.#stats.delivery === 'at-least-once') {
      this.#pongTimer ??= setTimeout(() => this.#onPongTimeout(ws), this.#options.pongTimeout).unref()
    }
    return seq
  }

  #onPong (ws: WebSocket, data: Buffer): void {
    // A pong answers its ping and, since control frames keep stream order, every
    // message before it. A server may answer only the latest of several pings.
    if (ws !== this.#ws || data.length !== 4) return
    const seq = data.readUInt32BE(0)
    if (seq <= this.#pongReceived || seq > this.#pingSent) return
    this.#pongReceived = seq
    this.#pongSeen = true
    clearTimeout(this.#pongTimer)
    this.#pongTimer = undefined
    if (this.#pongReceived < this.#pingSent) {
      this.#pongTimer = setTimeout(() => this.#onPongTimeout(ws), this.#options.pongTimeout).unref()
    }
    // The server reads what we send: this connection is healthy.
    this.#backoff.reset()
    let end = -1
    while (this.#inflight.length > 0 && this.#inflight[0].seq <= seq) end = this.#inflight.shift()!.end
    if (end !== -1) this.#confirm(end)
  }

  #onPongTimeout (ws: WebSocket): void {
    this.#pongTimer = undefined
    if (ws !== this.#ws) return
    this.#stats.pongTimeouts++
    this.#lastError = `no pong within ${this.#options.pongTimeout} ms`
    if (!this.#pongSeen && this.#stats.delivery === 'at-least-once' && ++this.#noPongConnections >= NO_PONG_CONNECTIONS) {
      // The server reads (the handshake worked) but never answers pings: confirming
      // through pongs would re-send forever. Deliver at most once instead.
      this.#stats.delivery = 'at-most-once'
      this.#warn('PINO_WS_WARN_NO_PONG', `the server never answered a ping on ${NO_PONG_CONNECTIONS} connections; delivery is now at-most-once`)
    }
    debug('%s: %s, terminating', this.#options.endpoint, this.#lastError)
    ws.terminate()
  }

  /** Close a connection that carried no record for keepaliveIdleTimeout; the next record opens a new one. */
  #armIdleTimer (): void {
    const timeout = this.#options.keepaliveIdleTimeout
    if (timeout === 0) return
    clearTimeout(this.#idleTimer)
    this.#idleTimer = setTimeout(() => {
      const ws = this.#ws
      if (ws === undefined || this.#state !== 'open') return
      if (this.#queue.length > 0) {
        this.#armIdleTimer()
        return
      }
      debug('%s idle for %d ms, closing', this.#options.endpoint, timeout)
      this.#closingIdle = true
      ws.close(1000, 'idle')
    }, timeout).unref()
  }

  #confirm (end: number): void {
    this.#stats.delivered += this.#queue.confirm(end)
    if (this.#queue.length === 0) this.#settle()
  }

  #settle (): void {
    for (const done of this.#drained.splice(0)) done()
  }

  #warn (code: string, message: string): void {
    debug('warning %s: %s', code, message)
    this.emit('warn', { code, message })
  }

  /** Count dropped records; drop events are coalesced per reason and per turn of the event loop. */
  #drop (reason: DropReason, error?: string, count = 1): void {
    this.#stats.dropped[reason] += count
    const pending = this.#pendingDrops.get(reason)
    if (pending !== undefined) {
      pending.count += count
    } else {
      if (this.#pendingDrops.size === 0) setImmediate(() => this.#flushDropEvents())
      this.#pendingDrops.set(reason, { count, error })
    }
    if (this.#queue.length === 0) this.#settle()
  }

  /** Append a record given up on to the fallback file, as one NDJSON line (msgpack decoded). */
  #toFallback (record: Chunk): void {
    if (this.#fallback === undefined) return
    if (this.#encoder.format !== 'msgpack') {
      let text = typeof record === 'string' ? record : Buffer.from(record.buffer, record.byteOffset, record.length).toString('utf8')
      // One record per line: json's trailing comma goes, a line feed ends it.
      if (this.#encoder.terminator === 0x2c) text = text.slice(0, -1)
      this.#fallback.write(text.endsWith('\n') ? text : text + '\n')
      return
    }
    const [{ time, record: fields }] = decodeMessage(record as Uint8Array)
    this.#fallback.write(JSON.stringify(Object.assign({ date: time.sec + time.nsec / 1e9 }, fields)) + '\n')
  }

  #flushDropEvents (): void {
    for (const [reason, { count, error }] of this.#pendingDrops) {
      debug('dropped %d record(s): %s', count, reason)
      this.emit('drop', error === undefined ? { reason, count } : { reason, count, error })
    }
    this.#pendingDrops.clear()
  }

  /** Remove the parts of the URL that may carry secrets from a message. */
  #redact (message: string): string {
    const url = new URL(this.#options.url)
    let text = message
    for (const secret of [url.username, url.password, url.search.slice(1), ...Object.values(this.#options.headers)]) {
      if (secret.length >= 3) text = text.split(secret).join('…')
    }
    return text
  }
}

/** Connections of the main thread not closed yet, for the process exit hooks (one pair for all of them). */
const LIVE = new Set<Connection>()
function onBeforeExit (): void { for (const connection of LIVE) connection.beforeExit() }
function onExit (): void { for (const connection of LIVE) connection.exit() }

/** Random bytes for masks, drawn 8 KiB at a time as ws does: one call per frame would cost more than masking it. */
const MASK_POOL = Buffer.alloc(8192)
let maskPoolAt = MASK_POOL.length

function nonZeroMask (mask: Buffer): void {
  if (maskPoolAt === MASK_POOL.length) {
    randomFillSync(MASK_POOL)
    maskPoolAt = 0
  }
  MASK_POOL.copy(mask, 0, maskPoolAt, maskPoolAt + 4)
  maskPoolAt += 4
  if ((mask[0] | mask[1] | mask[2] | mask[3]) === 0) mask[0] = 1
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date (RFC 9110 10.2.3). */
function parseRetryAfter (value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const ms = /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now()
  if (Number.isNaN(ms)) return undefined
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER)
}
