import { EventEmitter } from 'node:events'
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions as TlsOptions } from 'node:tls'
import WebSocket, { type ClientOptions } from 'ws'
import { parseRetryAfter, type Rejection } from './backoff.js'
import { frameMessage, framePing } from './frame.js'
import { openTunnel } from './proxy.js'
import type { ResolvedOptions } from './options.js'
import { VERSION } from './version.js'

const USER_AGENT = `pino-websocket/${VERSION}`
/** Socket buffer level above which messages wait for the socket to drain. */
const HIGH_WATER_MARK = 1024 * 1024
/**
 * Largest message taken from the server (and thrown away): the protocol has
 * none, but an echo server or a broadcast hub sends our own messages back, and
 * ending the connection for that would be ours to blame, not the server's.
 */
const MAX_INBOUND_PAYLOAD = 16 * 1024 * 1024

/** What a connection needs of the options. */
export type ConnectionOptions = Pick<ResolvedOptions, 'url' | 'headers' | 'protocols' | 'connectTimeout' | 'pingInterval' | 'pongTimeout' | 'tls' | 'maxMessageBytes'> & Partial<Pick<ResolvedOptions, 'proxy'>>

/** How a connection ended; plain data. */
export interface CloseInfo {
  /** The WebSocket close code (1006: the connection ended without a close frame). */
  code: number
  /** The server's close reason, as it sent it (it may echo secrets: redact before showing). */
  reason: string
  /** Whether the handshake had completed. */
  opened: boolean
  /** Why it failed, when we know: an error's message, the HTTP answer, a pong timeout. */
  error?: string
  /** The failing error's code, when it had one (`ECONNREFUSED`, `CERT_HAS_EXPIRED`, …). */
  errorCode?: string
  /** The server's HTTP answer to the upgrade, when it refused it. */
  rejection?: Rejection
  /** Whether we ended it because a ping went unanswered. */
  pongTimedOut: boolean
  /**
   * Whether our side ended it: a pong timeout, our own close, or a frame of the
   * server's that breaks the protocol (ws's `WS_ERR_` codes), which ws answers
   * with a close of its own. Never a sign of what the server takes.
   */
  ours: boolean
}

export interface ConnectionEvents {
  open: []
  /** A message's write completed; `mark` is what it was sent with. */
  written: [mark: number]
  /** A pong confirmed every message up to the one sent with `mark`. */
  confirm: [mark: number]
  /** Emitted once, whatever happened; nothing is emitted after it. */
  close: [CloseInfo]
}

/**
 * ONE WebSocket, from the upgrade to its close: the only module that imports ws.
 * It owns socket creation (TCP or TLS, SNI, unref'd so it never holds the app
 * open), masks, sending a message with its confirming ping in one write, the
 * heartbeat, the pong timeout and the ping ledger of this socket, and why the
 * attempt failed. It never sees the queue: messages come with a `mark` (an
 * opaque position), and 'confirm' hands marks back. Never throws, never emits
 * 'error': every failure ends in one 'close'.
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  readonly #options: ConnectionOptions
  #requirePongs: boolean
  #ws: WebSocket | undefined
  /** The TCP (or TLS) socket under ws: messages and our pings are written to it as frames built here (see frame.ts). */
  #socket: Socket | undefined
  /** The buffer messages are framed in, kept from one to the next: one is written at a time. */
  #frames: Buffer = Buffer.alloc(0)
  #opened = false
  #closed = false
  #error: string | undefined
  #errorCode: string | undefined
  #pongTimedOut = false
  #closedByUs = false
  #rejection: Rejection | undefined
  /** Messages handed to ws whose write has not completed. */
  #writing = 0
  /**
   * The one ping in flight: its sequence number and the mark of the last message
   * before it (-1: none). One at a time keeps us far below any server's guard
   * against piled-up pongs (ws ends a connection past 60 pending ones).
   */
  #ping: { seq: number, mark: number } | undefined
  /** The mark of the last message sent since the ping in flight (-1: none): the next ping covers it. */
  #uncovered = -1
  #pingSeq = 0
  #heartbeatTimer: NodeJS.Timeout | undefined
  #pongTimer: NodeJS.Timeout | undefined

  /**
   * Messages are confirmed with pings: a ping follows a message at once when none
   * is in flight, else when the pong comes, covering every message since (a pong
   * proves the server read everything sent before its ping).
   * @param requirePongs end the connection when a ping is not answered within `pongTimeout`
   */
  constructor (options: ConnectionOptions, { requirePongs }: { requirePongs: boolean }) {
    super()
    this.#options = options
    this.#requirePongs = requirePongs
    try {
      this.#ws = this.#open()
    } catch (error) {
      // Whatever ws or the socket throws synchronously is a failed attempt, never an uncaught exception.
      this.#keepError(error as NodeJS.ErrnoException)
      process.nextTick(() => this.#finish(1006, ''))
    }
  }

  /** Whether a message may be sent now: open, no message being written, the socket not backed up. */
  get writable (): boolean {
    const ws = this.#ws
    return this.#opened && !this.#closed && ws !== undefined && ws.readyState === WebSocket.OPEN &&
      this.#writing === 0 && ws.bufferedAmount < HIGH_WATER_MARK
  }

  /**
   * Send one message (only when {@link writable}); with no ping in flight, its
   * ping is framed after it, and both leave in one socket write. The message is
   * copied as it is masked, before this returns. The frames go to the socket
   * under ws, past ws's own sender: it holds nothing between frames (no
   * compression, no fragments), and its pongs and close frames follow ours on
   * the same socket, in order.
   */
  send (message: Buffer, binary: boolean, mark: number): void {
    const seq = this.#ping === undefined ? this.#pinged(mark) : undefined
    if (seq === undefined) this.#uncovered = mark
    // A frame still being written keeps its buffer: the next one gets a new buffer (never, while writable holds).
    const kept = this.#writing === 0
    const { buffer, frame } = frameMessage(kept ? this.#frames : Buffer.alloc(0), message, binary, seq)
    if (kept) this.#frames = buffer
    this.#writing++
    this.#socket!.write(frame, (error) => {
      if (this.#closed) return
      this.#writing--
      if (error === undefined || error === null) this.emit('written', mark)
    })
  }

  /** Check that the server answers now, rather than at the next heartbeat (a ping unless one is in flight). */
  probe (): void {
    if (this.#ping === undefined) this.#sendPing(this.#uncovered)
  }

  /** Close with a close frame; terminate if the server does not answer within `timeout` ms. */
  close (code: number, reason: string | undefined, timeout: number): void {
    const ws = this.#ws
    if (ws === undefined || this.#closed) return
    this.#closedByUs = true
    if (ws.readyState !== WebSocket.OPEN) {
      ws.terminate()
      return
    }
    ws.close(code, reason)
    setTimeout(() => ws.terminate(), timeout).unref()
  }

  #open (): WebSocket {
    const { url, tls } = this.#options
    const ws = new WebSocket(url, [...this.#options.protocols], {
      headers: this.#headers(),
      handshakeTimeout: this.#options.connectTimeout,
      perMessageDeflate: false,
      followRedirects: false,
      maxPayload: Math.max(MAX_INBOUND_PAYLOAD, this.#options.maxMessageBytes),
      // What the server sends is thrown away: its text need not be valid for us.
      skipUTF8Validation: true,
      rejectUnauthorized: tls.rejectUnauthorized,
      ca: tls.ca === undefined ? undefined : [...tls.ca],
      cert: tls.cert,
      key: tls.key,
      pfx: tls.pfx,
      passphrase: tls.passphrase,
      minVersion: tls.minVersion,
      ciphers: tls.ciphers,
      // Our own socket, unref'd: an open log connection never keeps the app alive.
      createConnection: ((options: TlsOptions & { host?: string, port?: number }, created: (error: Error | null, socket?: Socket) => void) => {
        const secure = url.startsWith('wss:')
        const servername = tls.servername ?? (isIP(options.host ?? '') === 0 ? options.host : '')
        const proxy = this.#options.proxy
        if (proxy === undefined) {
          this.#socket = secure ? tlsConnect({ ...options, servername }) : netConnect(options as Parameters<typeof netConnect>[0])
          return this.#socket.unref()
        }
        // Through the proxy's tunnel, TLS to the server inside it; Node's http takes the socket when it comes.
        openTunnel(proxy, options.host ?? '', Number(options.port), this.#options.connectTimeout, (error, tunnel) => {
          if (error !== null) {
            created(error)
            return
          }
          this.#socket = secure ? tlsConnect({ ...options, socket: tunnel, servername }) : tunnel!
          created(null, this.#socket)
        })
        return undefined
      }) as unknown as ClientOptions['createConnection']
    })
    ws.on('open', () => this.#onOpen())
    ws.on('pong', (data) => this.#onPong(data))
    // Without a listener ws would throw; the first reason is the one worth keeping.
    ws.on('error', (error) => this.#keepError(error))
    ws.on('unexpected-response', (_request, response) => {
      // The server answered the upgrade with plain HTTP: keep the status for the retry policy.
      this.#rejection = { status: response.statusCode ?? 0, retryAfter: parseRetryAfter(response.headers['retry-after']) }
      this.#error = `HTTP ${response.statusCode} on upgrade`
      response.resume()
      ws.terminate()
    })
    ws.on('close', (code, reason) => this.#finish(code, reason.toString()))
    // Messages from the server are not part of the protocol: ignored (and bounded by maxPayload).
    return ws
  }

  /** The configured headers, after a User-Agent that tells server operators who connects, unless one is configured. */
  #headers (): Record<string, string> {
    const { headers } = this.#options
    if (Object.keys(headers).some((name) => name.toLowerCase() === 'user-agent')) return { ...headers }
    return { 'User-Agent': USER_AGENT, ...headers }
  }

  #keepError (error: NodeJS.ErrnoException): void {
    if (this.#error !== undefined) return
    this.#error = error.message
    if (typeof error.code === 'string') this.#errorCode = error.code
  }

  #onOpen (): void {
    this.#opened = true
    this.#heartbeatTimer = setInterval(() => this.probe(), this.#options.pingInterval).unref()
    this.emit('open')
  }

  /** A ping on its own, covering every message before it: only while open (after a close frame, no frame may follow). */
  #sendPing (mark: number): void {
    if (!this.#opened || this.#closed || this.#ws?.readyState !== WebSocket.OPEN) return
    this.#socket!.write(framePing(this.#pinged(mark)))
  }

  /** The next ping is in flight, covering messages up to `mark`: its sequence number (its payload), its pong timeout armed. */
  #pinged (mark: number): number {
    const seq = ++this.#pingSeq >>> 0
    this.#ping = { seq, mark }
    this.#uncovered = -1
    if (this.#requirePongs) this.#pongTimer = setTimeout(() => this.#onPongTimeout(), this.#options.pongTimeout).unref()
    return seq
  }

  #onPong (data: Buffer): void {
    // A pong answers its ping and, since control frames keep stream order, every
    // message before it. Unsolicited pongs (heartbeats some servers send) are ignored.
    const ping = this.#ping
    if (ping === undefined || this.#closed || data.length !== 4 || data.readUInt32BE(0) !== ping.seq) return
    this.#ping = undefined
    clearTimeout(this.#pongTimer)
    this.#pongTimer = undefined
    // A server that answers pings is held to it from now on.
    this.#requirePongs = true
    // The confirmation first: a message it lets go carries the next ping, covering
    // those sent since this one's; with none, that ping goes on its own.
    this.emit('confirm', ping.mark)
    if (this.#uncovered !== -1 && this.#ping === undefined) this.#sendPing(this.#uncovered)
  }

  #onPongTimeout (): void {
    this.#pongTimer = undefined
    if (this.#closed) return
    this.#error = `no pong within ${this.#options.pongTimeout} ms`
    this.#pongTimedOut = true
    this.#ws?.terminate()
  }

  #finish (code: number, reason: string): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#heartbeatTimer)
    clearTimeout(this.#pongTimer)
    this.emit('close', {
      code,
      reason,
      opened: this.#opened,
      pongTimedOut: this.#pongTimedOut,
      ours: this.#closedByUs || this.#pongTimedOut || isProtocolError(this.#errorCode),
      ...(this.#error !== undefined ? { error: this.#error } : {}),
      ...(this.#errorCode !== undefined ? { errorCode: this.#errorCode } : {}),
      ...(this.#rejection !== undefined ? { rejection: this.#rejection } : {})
    })
  }
}

/** Whether a failure's code is ws's refusal of a frame the server sent (`WS_ERR_*`): ws then closes the connection itself. */
export function isProtocolError (errorCode: string | undefined): boolean {
  return errorCode?.startsWith('WS_ERR_') === true
}
