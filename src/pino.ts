import { Writable } from 'node:stream'
import { isMainThread, parentPort } from 'node:worker_threads'
import { Client, type ClientEvents, type Stats } from './client.js'
import { NdjsonReader, type LineFraming } from './ndjson.js'
import { sharedMemory, threadStreamData, type SharedMemory } from './shared-memory.js'
import { STATS_INTERVAL, WINSTON_CLOSE, WINSTON_CLOSED, WINSTON_WORKER } from './worker-protocol.js'
import { resolveOptions, type Options } from './options.js'
import { emitProcessWarning, printingExitNow, type Warning } from './warnings.js'

const EVENTS: ReadonlyArray<keyof ClientEvents> = ['open', 'disconnect', 'reconnecting', 'drop', 'warn']
/**
 * The longest closeTimeout in pino's worker. thread-stream's end() (at exit, and
 * on `transport.end()`) waits at most 10 s for the worker, then kills it; the
 * close handshake (1 s at most) and writing leftovers to the fallback file must
 * fit in what is left.
 */
const PINO_MAX_CLOSE_TIMEOUT = 7500

/** The events on the stream `pino.transport()` returns: the engine's, `stats` once the worker ends or flushes, and thread-stream's own. */
export interface PinoTransportEvents extends ClientEvents {
  stats: [Stats]
  /** The worker has started (thread-stream). */
  ready: []
  /** Everything written was handed to the worker and it ended (thread-stream). */
  finish: []
  close: []
  /** The worker failed or could not start: a bad option, for one (thread-stream). */
  error: [Error]
}

/**
 * The stream `pino.transport()` returns (thread-stream's), typed with our events:
 * `const stream: PinoWebSocketStream = pino.transport({ target: 'pino-websocket', options })`,
 * then `pino(stream)` and `stream.on('drop', …)` without a cast.
 */
export interface PinoWebSocketStream {
  on<K extends keyof PinoTransportEvents>(event: K, listener: (...args: PinoTransportEvents[K]) => void): this
  once<K extends keyof PinoTransportEvents>(event: K, listener: (...args: PinoTransportEvents[K]) => void): this
  off<K extends keyof PinoTransportEvents>(event: K, listener: (...args: PinoTransportEvents[K]) => void): this
  /** What pino calls with each line. */
  write (data: string): boolean
  /** End the worker: it delivers what is held within `closeTimeout` (at most 7 500 ms). Blocks until it is done. */
  end (): void
  /** Calls back once the worker has everything written so far confirmed, or `closeTimeout` passed. */
  flush (callback?: (error?: Error) => void): void
  flushSync (): void
}

/** What pino sends its worker when it is told it may (`pinoWillSendConfig`). */
interface PinoConfig {
  messageKey?: unknown
}

/**
 * The pino transport: `pino({ transport: { target: 'pino-websocket', options } })`.
 * Runs in pino's worker thread; its events (`open`, `disconnect`, `reconnecting`,
 * `drop`, `warn`, `stats`) are re-emitted on the stream `pino.transport()` returns.
 * @throws {InvalidOptionError} when an option is wrong
 */
export default async function pinoWebSocket (options: Options = {}): Promise<Writable> {
  // pino and thread-stream add keys of their own to a target's options; the
  // winston transport adds WINSTON_WORKER when it runs this worker for itself.
  const { $context: _context, pinoWillSendConfig: _willSend, [WINSTON_WORKER]: winston, ...ours } =
    options as Options & { $context?: unknown, pinoWillSendConfig?: unknown, [WINSTON_WORKER]?: unknown }
  const resolved = resolveOptions(ours)
  // pino's messageKey is GELF's short_message unless the options name another key.
  const { messageKey } = await pinoConfig()
  const client = new Client(resolved.gelfShortMessageKey === undefined && typeof messageKey === 'string' && messageKey !== 'msg'
    ? { ...resolved, gelfShortMessageKey: messageKey }
    : resolved)
  const emit = eventForwarder()
  for (const name of EVENTS) client.on(name, (payload: unknown) => emit(name, payload))
  const emitStats = (): void => emit('stats', client.stats())
  if (winston === true) {
    // The winston transport prints the warnings it is sent (with their codes) on
    // the app's thread, and keeps the counters stats() returns from these reports.
    if (!resolved.quiet) client.on('warn', printingExitNow(() => {}))
    reportStatsWhileChanging(client, emitStats)
    // logger.end(): the engine closes while the app's thread runs on (thread-stream's
    // end(), which blocks it, then finds nothing left to wait for).
    parentPort?.on('message', (message: { code?: unknown } | null) => {
      if (message?.code !== WINSTON_CLOSE) return
      void client.close().then(() => {
        emitStats()
        emit(WINSTON_CLOSED, null)
      })
    })
  } else if (!resolved.quiet) {
    client.on('warn', warningPrinter())
  }
  return new LineStream(client, Math.min(resolved.closeTimeout, PINO_MAX_CLOSE_TIMEOUT), emitStats, winston === true ? 'headed' : 'json')
}

function reportStatsWhileChanging (client: Client, emitStats: () => void): void {
  let last = ''
  setInterval(() => {
    const { accepted, delivered, pending } = client.stats()
    const now = `${accepted} ${delivered} ${pending}`
    if (now === last) return
    last = now
    emitStats()
  }, STATS_INTERVAL).unref()
}

/**
 * What thread-stream writes pino's output to: text chunks of whole characters,
 * holding any number of lines (the last one maybe unfinished). They go straight
 * into the client's queue, so writing never waits on the network and pino's
 * buffer keeps draining while we are offline. The chunks are not split into a
 * stream of lines (split2, as pino-abstract-transport does): an NdjsonReader
 * takes them whole, and splices each line's bytes into the queue. Where it can,
 * it reads thread-stream's shared memory as bytes instead (see shared-memory.ts).
 */
class LineStream extends Writable {
  readonly #client: Client
  readonly #reader: NdjsonReader
  readonly #emitStats: () => void
  readonly #closeTimeout: number
  /** thread-stream's memory, until the first chunk says whether it is read directly. */
  #shared: SharedMemory | undefined = sharedMemory()

  constructor (client: Client, closeTimeout: number, emitStats: () => void, framing: LineFraming) {
    super({ decodeStrings: false })
    this.#client = client
    this.#closeTimeout = closeTimeout
    this.#reader = new NdjsonReader(client, framing)
    this.#emitStats = emitStats
  }

  // thread-stream's loop calls this with each chunk it decoded. At the first, the
  // bytes are read where they are from then on, and the loop, answered `false`,
  // waits for a 'drain' that never comes.
  override write (chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    const shared = this.#shared
    if (shared !== undefined) {
      this.#shared = undefined
      if (typeof chunk === 'string' && shared.takeOver(chunk, (bytes) => this.#take(bytes), () => this.end())) return false
    }
    return super.write(chunk, encoding as BufferEncoding, callback as () => void)
  }

  override _write (chunk: string | Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.#take(chunk)
    callback()
  }

  #take (chunk: string | Buffer): void {
    this.#reader.write(chunk)
    // With a spool, the chunk's records are written with those of the next millisecond
    // (at once if large): logger.flush() and the exit hooks write at once.
    this.#client.commitSoon()
  }

  override _final (callback: () => void): void {
    this.#reader.end()
    void this.#client.close(this.#closeTimeout).then(() => {
      this.#emitStats()
      callback()
    })
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    void this.#client.close(this.#closeTimeout).then(() => callback(error))
  }

  /** thread-stream calls this on `logger.flush(cb)` (its worker awaits a one-argument flush). */
  flush (callback: () => void): void {
    void this.#client.flush().then(() => {
      this.#emitStats()
      callback()
    })
  }
}

/**
 * pino's config (messageKey, levels), sent to the worker when pino says it will;
 * otherwise (an older pino, or outside a worker) pino's defaults apply.
 */
function pinoConfig (): Promise<PinoConfig> {
  const port = parentPort
  // Read from the worker's data, not the target's options: inside `targets`, pino's
  // own worker loads each target and only the worker's data says pino will send it.
  const willSend = threadStreamData()?.pinoWillSendConfig === true
  if (port === null || !willSend) return Promise.resolve({})
  return new Promise((resolve) => {
    port.on('message', function onMessage (message: { code?: unknown, config?: PinoConfig } | null) {
      if (message?.code !== 'PINO_CONFIG') return
      port.off('message', onMessage)
      resolve(message.config ?? {})
    })
  })
}

/**
 * How a warning reaches the user from pino's worker. A Node warning emitted in
 * the worker reaches stderr through the worker's own stdio, which is lost when
 * the app exits soon after; thread-stream (2.4 and later) takes a `WARNING`
 * message and emits it as a warning of the main thread, where `--no-warnings`
 * and `process.on('warning')` apply. Its text carries the code, since only a
 * string crosses (an Error's name and code do not survive the structured clone).
 */
function warningPrinter (): (warning: Warning) => void {
  const port = isMainThread ? null : parentPort
  const [major = 0, minor = 0] = (threadStreamData()?.$context?.threadStreamVersion ?? '').split('.').map(Number)
  // What is said as the worker ends cannot cross: the main thread is exiting, or
  // blocked in thread-stream's end() until the worker is done.
  return printingExitNow(port === null || major < 2 || (major === 2 && minor < 4)
    ? emitProcessWarning
    : ({ code, message }: Warning) => port.postMessage({ code: 'WARNING', err: `[${code}] pino-websocket: ${message}` }))
}

/**
 * Sends an event to the main thread, where thread-stream emits it on the stream
 * that `pino.transport()` returned. Outside a worker, it does nothing.
 */
function eventForwarder (): (name: string, payload: unknown) => void {
  const port = isMainThread ? null : parentPort
  if (port === null) return () => {}
  return (name, payload) => port.postMessage({ code: 'EVENT', name, args: [payload] })
}
