import { EventEmitter } from 'node:events'
import { debuglog } from 'node:util'
import WebSocket from 'ws'
import { Backoff } from './backoff.js'
import { createEncoder, type DropReason, type Encoder, type JsonEvent, type LogEvent } from './encoders/index.js'
import type { ResolvedOptions } from './options.js'
import { RecordQueue } from './queue.js'

/*
 * The connection manager: the only module that speaks WebSocket. It knows nothing
 * of pino or winston: adapters hand it events and call flush() and close().
 *
 *              write() / start                    'open'
 *     idle ─────────────────────► connecting ───────────────► open ◄─┐ pump(): one message per batch,
 *                                   ▲      │                   │  └─┘ then a ping whose pong confirms it
 *                      retry timer  │      │ error, close,      │ error, close, pong timeout
 *                                   │      ▼ handshake timeout  ▼
 *                                  waiting ◄────────────────────┘   (backoff with full jitter)
 *
 *   close(): from any state, keep sending until everything is confirmed or
 *   closeTimeout passes, then close 1000 (terminate if the server does not answer),
 *   count leftovers as dropped (shutdown) and end in `closed`.
 *
 * Invariants: at most one socket exists at a time; a socket is written to only
 * after its own handshake ('open'); a network failure never throws, rejects or
 * emits 'error' (it becomes a 'disconnect' event and a reconnect); every accepted
 * record ends delivered, dropped with a reason, or pending:
 * accepted = delivered + dropped + pending.
 */

const debug = debuglog('pino-websocket')

/** Socket buffer level above which batches wait for the socket to drain. */
const HIGH_WATER_MARK = 1024 * 1024
/** How long close() waits for the server's close frame before terminating. */
const CLOSE_HANDSHAKE_TIMEOUT = 1000
/** Largest message accepted from the server: we expect none, pings and pongs are tiny. */
const MAX_INBOUND_PAYLOAD = 64 * 1024

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
}

/** Payloads of the events; all plain data, so they cross pino's worker boundary. */
export interface ConnectionEvents {
  open: [{ endpoint: string }]
  disconnect: [{ endpoint: string, code: number, reason: string }]
  reconnecting: [{ endpoint: string, attempt: number, delay: number, error?: string }]
  drop: [{ reason: DropReason, count: number, error?: string }]
  warn: [{ code: string, message: string }]
}

export class Connection extends EventEmitter<ConnectionEvents> {
  readonly #options: ResolvedOptions
  readonly #encoder: Encoder
  readonly #queue: RecordQueue
  readonly #backoff: Backoff
  readonly #stats: Stats
  #state: State = 'idle'
  #ws: WebSocket | undefined
  #lastError: string | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #heartbeatTimer: NodeJS.Timeout | undefined
  #pongTimer: NodeJS.Timeout | undefined
  /** Sequence number of the last ping sent and of the last one answered, on the current socket. */
  #pingSent = 0
  #pongReceived = 0
  /** Batches sent and not yet confirmed: the ping sent after each, and the queue position past it. */
  #inflight: Array<{ seq: number, end: number }> = []
  /** Messages handed to ws whose write has not completed: while one is, records gather into the next batch. */
  #writing = 0
  #pumpScheduled = false
  #pendingDrops = new Map<DropReason, { count: number, error?: string }>()
  #drained: Array<() => void> = []
  #closing: Promise<void> | undefined

  constructor (options: ResolvedOptions) {
    super()
    this.#options = options
    this.#encoder = createEncoder(options)
    this.#queue = new RecordQueue(options.maxQueueBytes, options.overflow, () => this.#drop('overflow'))
    this.#backoff = new Backoff(options.reconnectDelay, options.maxReconnectDelay)
    this.#stats = { accepted: 0, delivered: 0, dropped: { overflow: 0, oversized: 0, unencodable: 0, shutdown: 0 }, pending: 0, resent: 0, reconnects: 0 }
    if (options.unknownKeys.length > 0) {
      const message = `unknown option${options.unknownKeys.length > 1 ? 's' : ''} ${options.unknownKeys.map((k) => `\`${k}\``).join(', ')} ignored`
      process.nextTick(() => this.emit('warn', { code: 'PINO_WS_WARN_UNKNOWN_OPTION', message }))
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
    if (this.#state === 'closed') {
      this.#drop('shutdown')
      return
    }
    let record: Buffer
    try {
      record = this.#encoder.encodeRecord(event)
    } catch (error) {
      this.#drop('unencodable', (error as Error).message)
      return
    }
    if (record.length + this.#encoder.separator + this.#encoder.overhead > this.#options.maxMessageBytes) {
      this.#drop('oversized')
      return
    }
    this.#queue.push(record)
    if (this.#state === 'open') this.#schedulePump()
    else if (this.#state === 'idle') this.#connect()
  }

  /**
   * Resolves once every queued record is confirmed, or after `closeTimeout`
   * (whatever is left stays queued). Never rejects.
   */
  flush (timeout = this.#options.closeTimeout): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve()
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
   * stop. Records still queued then are dropped with reason `shutdown`. Never rejects.
   */
  close (): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown (): Promise<void> {
    const deadline = Date.now() + this.#options.closeTimeout
    await this.flush()
    this.#state = 'closed'
    clearTimeout(this.#retryTimer)
    const ws = this.#ws
    if (ws !== undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { ws.terminate(); resolve() }, Math.max(0, Math.min(CLOSE_HANDSHAKE_TIMEOUT, deadline - Date.now())))
        ws.once('close', () => { clearTimeout(timer); resolve() })
        if (ws.readyState === WebSocket.OPEN) ws.close(1000)
        else ws.terminate()
      })
    }
    const left = this.#queue.drain().length
    if (left > 0) this.#drop('shutdown', undefined, left)
    this.#flushDropEvents()
  }

  #connect (): void {
    if (this.#state === 'closed') return
    if (this.#stats.reconnects > 0 || this.#backoff.attempt > 0) debug('reconnecting to %s', this.#options.endpoint)
    this.#state = 'connecting'
    const { tls } = this.#options
    const ws = new WebSocket(this.#options.url, {
      headers: this.#options.headers,
      handshakeTimeout: this.#options.connectTimeout,
      perMessageDeflate: false,
      followRedirects: false,
      maxPayload: MAX_INBOUND_PAYLOAD,
      rejectUnauthorized: tls.rejectUnauthorized,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      // Passed on to tls.connect(); ws's types omit it.
      ...(tls.servername !== undefined ? { servername: tls.servername } as object : {})
    })
    this.#ws = ws
    ws.on('open', () => this.#onOpen(ws))
    ws.on('pong', (data) => this.#onPong(data))
    // Without a listener ws would throw; the reason is kept for the reconnecting event.
    ws.on('error', (error) => { this.#lastError = this.#redact(error.message) })
    ws.on('close', (code, reason) => this.#onClose(ws, code, reason.toString()))
    // The server may send messages; they are not part of the protocol, so they are ignored.
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
      if (this.#pingSent === this.#pongReceived) this.#ping()
    }, this.#options.pingInterval).unref()
    this.#pump()
  }

  #onClose (ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.#ws) return
    this.#ws = undefined
    const wasOpen = this.#state === 'open'
    clearInterval(this.#heartbeatTimer)
    clearTimeout(this.#pongTimer)
    this.#pongTimer = undefined
    this.#inflight = []
    this.#writing = 0
    if (this.#state === 'closed') return
    if (wasOpen) {
      debug('disconnected from %s: %d %s', this.#options.endpoint, code, reason)
      this.emit('disconnect', { endpoint: this.#options.endpoint, code, reason: this.#redact(reason) })
    }
    this.#state = 'waiting'
    const delay = this.#backoff.next()
    this.emit('reconnecting', { endpoint: this.#options.endpoint, attempt: this.#backoff.attempt, delay, error: this.#lastError })
    this.#retryTimer = setTimeout(() => {
      this.#stats.reconnects++
      this.#connect()
    }, delay).unref()
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
    if (this.#state !== 'open' || ws === undefined) return
    const atLeastOnce = this.#options.delivery === 'at-least-once'
    while (this.#writing === 0 && this.#queue.unsent > 0 && ws.bufferedAmount < HIGH_WATER_MARK) {
      const batch = this.#queue.takeBatch(this.#options.maxMessageBytes, this.#encoder.overhead, this.#encoder.separator)
      const end = this.#queue.sentEnd
      this.#writing++
      ws.send(this.#encoder.frame(batch), { binary: this.#encoder.binary }, (error) => {
        if (ws !== this.#ws) return
        this.#writing--
        if (error === undefined || error === null) {
          if (!atLeastOnce) this.#confirm(end)
          this.#pump()
        }
      })
      if (atLeastOnce) this.#inflight.push({ seq: this.#ping(), end })
    }
  }

  /** Send a ping whose payload is its sequence number; returns that number. */
  #ping (): number {
    const seq = ++this.#pingSent
    const payload = Buffer.allocUnsafe(4)
    payload.writeUInt32BE(seq >>> 0)
    this.#ws?.ping(payload)
    this.#pongTimer ??= setTimeout(() => this.#onPongTimeout(), this.#options.pongTimeout).unref()
    return seq
  }

  #onPong (data: Buffer): void {
    // A pong answers its ping and, since control frames keep stream order, every
    // message before it. A server may answer only the latest of several pings.
    if (data.length !== 4) return
    const seq = data.readUInt32BE(0)
    if (seq <= this.#pongReceived || seq > this.#pingSent) return
    this.#pongReceived = seq
    clearTimeout(this.#pongTimer)
    this.#pongTimer = undefined
    if (this.#pongReceived < this.#pingSent) {
      this.#pongTimer = setTimeout(() => this.#onPongTimeout(), this.#options.pongTimeout).unref()
    }
    // The server reads what we send: this connection is healthy.
    this.#backoff.reset()
    let end = -1
    while (this.#inflight.length > 0 && this.#inflight[0].seq <= seq) end = this.#inflight.shift()!.end
    if (end !== -1) this.#confirm(end)
  }

  #onPongTimeout (): void {
    this.#pongTimer = undefined
    this.#lastError = `no pong within ${this.#options.pongTimeout} ms`
    debug('%s: %s, terminating', this.#options.endpoint, this.#lastError)
    this.#ws?.terminate()
  }

  #confirm (end: number): void {
    this.#stats.delivered += this.#queue.confirm(end)
    if (this.#queue.length === 0) this.#settle()
  }

  #settle (): void {
    for (const done of this.#drained.splice(0)) done()
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
    for (const secret of [url.username, url.password, url.search.slice(1)]) {
      if (secret !== '') text = text.split(secret).join('…')
    }
    return text
  }
}
