import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import ThreadStream from 'thread-stream'
import TransportStream from 'winston-transport'
import { Client, emptyCounters, type ClientEvents, type Stats } from './client.js'
import { parseTime } from './encoders/dates.js'
import { isJsonObject } from './encoders/json.js'
import { InvalidOptionError } from './errors.js'
import { watchExit, unwatchExit, type ExitAware } from './exit-hooks.js'
import { MODULE_URL } from './module-url.js'
import { NdjsonReader } from './ndjson.js'
import { resolveOptions, type Options, type ResolvedOptions } from './options.js'
import { WINSTON_CLOSE, WINSTON_CLOSED, WINSTON_WORKER } from './worker-protocol.js'
import { emitProcessWarning, printingExitNow, printWarningNow, type Warning } from './warnings.js'

const EVENTS: ReadonlyArray<keyof ClientEvents> = ['open', 'disconnect', 'reconnecting', 'drop', 'warn']
/** What winston's formats leave on `info`: the level uncoloured, and the final text. */
const LEVEL = Symbol.for('level')
const MESSAGE = Symbol.for('message')

/**
 * Options of {@link WebSocketTransport}: ours plus winston's own. `format` is
 * winston's format here; the wire format is `wireFormat` (or Fluent Bit's `Format`).
 */
export interface WebSocketTransportOptions extends Omit<Options, 'format'>, TransportStream.TransportStreamOptions {
  /**
   * Where the engine (encoding, the connection, the spool) runs: `true` in a
   * worker thread fed through thread-stream, as pino's transport runs, so that
   * `log()` costs the app's thread a copy into shared memory; `false` on the
   * app's thread. Default: `true`, or `false` with a `spool`, whose records are
   * on disk before `log()` calls back only when the app's thread writes them.
   */
  worker?: boolean
}

/** The transport's events: the engine's, winston's `logged`, and those of the writable stream it is. */
export interface WebSocketTransportEvents extends ClientEvents {
  logged: [Record<string, unknown>]
  /** Every record is confirmed by the server (or `closeTimeout` passed), after `logger.end()`. */
  finish: []
  close: []
  drain: []
  error: [Error]
  pipe: [NodeJS.ReadableStream]
  unpipe: [NodeJS.ReadableStream]
}

/**
 * The winston transport. What goes on the wire is what the format pipeline made
 * (`info[MESSAGE]`): a JSON object's text is the record as it is; any other text
 * (`printf`, `simple`) is the record's `message`, its other fields beside it.
 * `log()` calls back as soon as the record is handed on, never waiting on the
 * network; `logger.end()` finishes only once every record is confirmed by the
 * server or `closeTimeout` has passed.
 * @example
 * winston.createLogger({ transports: [new WebSocketTransport({ url: 'ws://127.0.0.1:8080', wireFormat: 'json_lines' })] })
 * @throws {InvalidOptionError} when an option is wrong
 */
// The interface of the same name below types the events; a class cannot narrow its base's `on` itself.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class WebSocketTransport extends TransportStream {
  readonly #engine: Engine

  constructor (options: WebSocketTransportOptions = {}) {
    const { level, format, silent, handleExceptions, handleRejections, worker, ...rest } = options
    if (format !== undefined && (typeof format !== 'object' || format === null)) {
      throw new InvalidOptionError('format', 'a winston format (the wire format is `wireFormat`)', format)
    }
    if (worker !== undefined && typeof worker !== 'boolean') throw new InvalidOptionError('worker', 'a boolean', worker)
    super({ level, format, silent, handleExceptions, handleRejections })
    const resolved = resolveOptions(rest)
    const emit = (name: keyof ClientEvents, payload: unknown): void => { this.emit(name, payload) }
    const inWorker = worker ?? resolved.spool === undefined
    const missing = inWorker && !existsSync(fileURLToPath(WORKER_URL))
    this.#engine = inWorker && !missing ? new WorkerEngine(rest, resolved, emit) : new AppThreadEngine(resolved, emit)
    if (missing) {
      // A bundled app: the worker's module is not beside this one.
      const warning: Warning = { code: 'PINO_WS_WARN_WORKER_FAILED', message: `the worker thread's module ${fileURLToPath(WORKER_URL)} is not on disk (a bundled app?): the engine runs on the app's thread (set \`worker: false\` to say so)` }
      process.nextTick(() => this.emit('warn', warning))
      if (!resolved.quiet) emitProcessWarning(warning)
    }
  }

  override log (info: Record<string | symbol, unknown>, callback: () => void): void {
    this.#engine.write(winstonLine(info))
    // winston's convention: 'logged' once the record is taken, asynchronously.
    setImmediate(() => this.emit('logged', info))
    callback()
  }

  /**
   * The counters. With the engine in a worker (the default) they are the
   * worker's as of its latest report, sent at most every 100 ms while they
   * change and at each flush(): `accepted` counts every record logged, and
   * those the worker has not reported yet are counted `pending`. After
   * `await transport.flush()` or `'finish'` they are exact.
   */
  stats (): Stats {
    return this.#engine.stats()
  }

  /** Resolves once every record logged so far is confirmed, or after `closeTimeout`. Never rejects. */
  flush (): Promise<void> {
    return this.#engine.flush()
  }

  /** Called by winston on `logger.close()` and when the transport is removed. */
  override close (): void {
    void this.#engine.close()
  }

  override _final (callback: (error?: Error | null) => void): void {
    void this.#engine.close().then(() => callback())
  }
}

/** Typed listeners: `transport.on('drop', ({ reason, count }) => …)`. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface WebSocketTransport {
  on<K extends keyof WebSocketTransportEvents>(event: K, listener: (...args: WebSocketTransportEvents[K]) => void): this
  once<K extends keyof WebSocketTransportEvents>(event: K, listener: (...args: WebSocketTransportEvents[K]) => void): this
  off<K extends keyof WebSocketTransportEvents>(event: K, listener: (...args: WebSocketTransportEvents[K]) => void): this
}

/** What runs the engine for the transport: in a worker thread, or on the app's. */
interface Engine {
  /** Hand on one record's line (see winstonLine). Never throws. */
  write (line: string): void
  stats (): Stats
  flush (): Promise<void>
  close (): Promise<void>
}

/** What thread-stream has and its types leave out. */
interface ThreadStreamMore {
  readonly destroyed: boolean
  readonly ready: boolean
  ref (): void
  unref (): void
}

/** A batch of lines this long is handed to thread-stream at once (see WorkerEngine's #batch). */
const BATCH_CHARS = 64 * 1024

/**
 * The module thread-stream's worker loads: pino's transport, which reads
 * `headed` lines when told it serves winston. Sources run under a TypeScript
 * loader (this repository's tests) use the build: Node 20 gives a worker
 * thread no loader of its parent's.
 */
const WORKER_URL = new URL(MODULE_URL.endsWith('.ts') ? '../dist/esm/pino.js' : './pino.js', MODULE_URL)

/**
 * The engine in a worker thread, as pino's: records cross as `headed` lines
 * through thread-stream's shared memory, events and counters come back as
 * messages. The worker does not hold the app open: when the process exits
 * (its natural end or `process.exit()`), the app's thread hands the worker what
 * is left and waits for it to deliver within `closeTimeout` (at most 7 500 ms,
 * as in pino's worker), as pino's exit hook does.
 */
class WorkerEngine implements Engine, ExitAware {
  readonly #stream: ThreadStream & ThreadStreamMore
  readonly #resolved: ResolvedOptions
  readonly #emit: (name: keyof ClientEvents, payload: unknown) => void
  /** Lines written to the worker. */
  #lines = 0
  /** The worker's counters at its latest report. */
  #report: Stats | undefined
  #closing: Promise<void> | undefined
  /** Set once the worker failed: the engine that takes the records from then on. */
  #replacement: AppThreadEngine | undefined
  /** Lines written before the worker was ready, kept until it is: a worker that fails to start loses none. */
  #early: string[] | undefined = []
  /**
   * Characters written since thread-stream's shared memory last had room: what
   * waits on the app's thread for the worker. Past `maxQueueBytes`, records are
   * dropped as they come (`overflow`), so a worker that falls behind cannot
   * make the app's memory grow without bound.
   */
  #backlog = 0
  /** Records dropped here, and those of them not yet said in a `drop` event. */
  #dropped = 0
  #unsaid = 0
  /**
   * Lines logged in the app's current run of synchronous code, handed to
   * thread-stream in one write when it ends (process.nextTick), or sooner (a
   * large batch, a flush, a close, the exit): thread-stream pays a copy and two
   * atomic updates of its indexes per write, whatever its size.
   */
  #batch = ''
  #batchQueued = false

  constructor (options: Record<string, unknown>, resolved: ResolvedOptions, emit: (name: keyof ClientEvents, payload: unknown) => void) {
    this.#resolved = resolved
    this.#emit = emit
    const stream: ThreadStream & ThreadStreamMore = new ThreadStream({
      filename: WORKER_URL.href,
      workerData: { ...options, [WINSTON_WORKER]: true },
      workerOpts: { name: 'pino-websocket' }
    }) as ThreadStream & ThreadStreamMore
    this.#stream = stream
    stream.on('ready', () => {
      this.#early = undefined
      stream.unref()
    })
    for (const name of EVENTS) stream.on(name, (payload: unknown) => emit(name, payload))
    stream.on('stats', (stats: Stats) => { this.#report = stats })
    // The worker prints only what is said at its end (the app's thread may be gone by then).
    if (!resolved.quiet) stream.on('warn', (warning: Warning) => { if (warning.exit !== true) emitProcessWarning(warning) })
    stream.on('error', (error: Error) => this.#fail(error))
    stream.on('drain', () => { this.#backlog = 0 })
    watchExit(this)
  }

  write (line: string): void {
    if (this.#replacement !== undefined) {
      this.#replacement.write(line)
      return
    }
    if (this.#backlog + this.#batch.length > this.#resolved.maxQueueBytes) {
      this.#drop()
      return
    }
    this.#lines++
    this.#early?.push(line)
    this.#batch += line
    if (this.#batch.length >= BATCH_CHARS) {
      this.#handOver()
    } else if (!this.#batchQueued) {
      this.#batchQueued = true
      process.nextTick(this.#handOver)
    }
  }

  /** The batch to thread-stream (see #batch). */
  readonly #handOver = (): void => {
    this.#batchQueued = false
    const batch = this.#batch
    if (batch === '' || this.#replacement !== undefined) return
    this.#batch = ''
    if (!this.#stream.write(batch)) this.#backlog += batch.length
  }

  /** One record given up on the app's thread: counted at once, said once the app's turn ends (one event for a burst). */
  #drop (): void {
    this.#dropped++
    if (this.#unsaid++ > 0) return
    setImmediate(() => this.#sayDrops(emitProcessWarning))
  }

  #sayDrops (print: (warning: Warning) => void): void {
    const count = this.#unsaid
    if (count === 0) return
    this.#unsaid = 0
    const error = `the worker thread fell more than maxQueueBytes (${this.#resolved.maxQueueBytes} bytes) behind the app`
    this.#emit('drop', { reason: 'overflow', count, error })
    const warning: Warning = { code: 'PINO_WS_WARN_DROPPED', message: `dropped ${count} record(s): ${count} overflow (${error}); they are only counted` }
    this.#emit('warn', warning)
    if (!this.#resolved.quiet) print(warning)
  }

  stats (): Stats {
    const report = this.#report ?? this.#zero()
    const unreported = this.#unreported(report)
    const stats = {
      ...report,
      dropped: { ...report.dropped, overflow: report.dropped.overflow + this.#dropped },
      accepted: report.accepted + unreported + this.#dropped,
      pending: report.pending + unreported
    }
    const local = this.#replacement?.stats()
    if (local === undefined) return stats
    for (const reason of Object.keys(stats.dropped) as Array<keyof Stats['dropped']>) stats.dropped[reason] += local.dropped[reason]
    return { ...stats, accepted: stats.accepted + local.accepted, delivered: stats.delivered + local.delivered, pending: local.pending }
  }

  flush (): Promise<void> {
    if (this.#replacement !== undefined) return this.#replacement.flush()
    this.#handOver()
    return new Promise((resolve) => this.#stream.flush(() => resolve()))
  }

  close (): Promise<void> {
    this.#closing ??= this.#end()
    return this.#closing
  }

  async #end (): Promise<void> {
    // Every line reaches the worker, whose engine then delivers and closes while
    // the app's thread runs on; thread-stream's end(), which blocks the app's
    // thread, then has nothing left to wait for but the worker's exit.
    const stream = this.#stream
    if (!stream.ready && !stream.destroyed) await new Promise((resolve) => { stream.once('ready', resolve); stream.once('close', resolve) })
    if (this.#replacement !== undefined) {
      unwatchExit(this)
      return this.#replacement.close()
    }
    if (stream.destroyed) return
    this.#handOver()
    try {
      // What is written is read by the worker (a wait of the worker's read, as pino's
      // flushSync), so the close below comes after every record.
      stream.flushSync()
    } catch {
      // The worker is gone: 'close' follows.
    }
    // The worker's answers, and its exit, must hold the app until they come.
    stream.ref()
    const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()))
    await Promise.race([closed, new Promise<void>((resolve) => {
      stream.once(WINSTON_CLOSED, () => resolve())
      stream.emit('message', { code: WINSTON_CLOSE })
    })])
    if (!stream.destroyed) stream.end()
    await closed
    unwatchExit(this)
  }

  /** @internal The app has run out of work: nothing to do; its exit comes next (see exit()). */
  beforeExit (): void {}

  /** @internal The process is exiting: the worker gets what is left and ends, the app's thread waiting as pino's exit hook does. */
  exit (): void {
    this.#sayDrops(printWarningNow)
    // A close under way included: thread-stream's end() then waits for it.
    if (this.#stream.destroyed) return
    try {
      this.#handOver()
      this.#stream.ref()
      this.#stream.flushSync()
      this.#stream.end()
    } catch {
      // The worker is gone: what it held is lost, and it said so if it could.
    }
  }

  /** The worker failed (it could not start, or died): records from now on are sent from the app's thread. */
  #fail (error: Error): void {
    if (this.#replacement !== undefined) return
    const replacement = new AppThreadEngine(this.#resolved, this.#emit)
    this.#replacement = replacement
    // Lines not handed over yet go to the replacement: with the early ones when the
    // worker never started (they are among them), on their own when it died.
    // Each line ends with its one line feed (see winstonLine).
    const batch = this.#batch
    this.#lines -= batch.split('\n').length - 1
    this.#batch = ''
    const early = this.#early
    this.#early = undefined
    let message = `the worker thread failed (${error.message}); records are sent from the app's thread from now on`
    if (early !== undefined) {
      // It never started: the records it was sent go through the replacement.
      this.#lines = 0
      for (const line of early) replacement.write(line)
    } else {
      // It died: what it had not delivered is lost with it (with a spool, on disk for the next start).
      const report = this.#report ?? this.#zero()
      const unreported = this.#unreported(report)
      const lost = unreported + report.pending
      this.#report = { ...report, accepted: report.accepted + unreported, pending: 0, dropped: { ...report.dropped, shutdown: report.dropped.shutdown + lost } }
      this.#lines = report.accepted - report.recovered
      if (lost > 0) {
        this.#emit('drop', { reason: 'shutdown', count: lost, error: error.message })
        message += `; ${lost} record(s) it held are lost`
      }
      if (batch !== '') replacement.write(batch)
    }
    const warning: Warning = { code: 'PINO_WS_WARN_WORKER_FAILED', message }
    this.#emit('warn', warning)
    if (!this.#resolved.quiet) emitProcessWarning(warning)
  }

  /** Lines written that the report does not count yet (the worker counts records it recovered from a spool as accepted too). */
  #unreported (report: Stats): number {
    return Math.max(0, this.#lines - (report.accepted - report.recovered))
  }

  /** The report before the worker's first. */
  #zero (): Stats {
    return { ...emptyCounters(this.#resolved.delivery), pending: 0, maxMessageBytes: this.#resolved.maxMessageBytes }
  }
}

/** The engine on the app's thread (`worker: false`): the same lines, read by the same reader, with no thread between. */
class AppThreadEngine implements Engine {
  readonly #client: Client
  readonly #reader: NdjsonReader

  constructor (resolved: ResolvedOptions, emit: (name: keyof ClientEvents, payload: unknown) => void) {
    this.#client = new Client(resolved)
    this.#reader = new NdjsonReader(this.#client, 'headed')
    for (const name of EVENTS) this.#client.on(name, (payload: unknown) => emit(name, payload))
    if (!resolved.quiet) this.#client.on('warn', printingExitNow(emitProcessWarning))
  }

  write (line: string): void {
    this.#reader.write(line)
    // With a spool, the record is on disk before log() calls back: one write per
    // record. Calling back later, once a turn's records were written together,
    // would make winston queue records in its logger, and winston's end() ends
    // its transports before that queue has reached them (write after end).
    this.#client.commit()
  }

  stats (): Stats {
    return this.#client.stats()
  }

  flush (): Promise<void> {
    return this.#client.flush()
  }

  close (): Promise<void> {
    return this.#client.close()
  }
}

/**
 * One record as a `headed` line (see LineFraming), made on the app's thread
 * with as little work as it can: the record's JSON text is parsed in the
 * worker, not here.
 * - `info[MESSAGE]` that is a JSON object's text is taken as it is: what a
 *   `json({ replacer })` redacted stays redacted (text that opens with `{` and
 *   closes with `}` but is no JSON is sent as the record's `message`);
 * - otherwise the fields of `info` are serialized as winston's `json()` would
 *   (circular references as `"[Circular]"`, BigInt as a string), with the level
 *   uncoloured and the final text (`printf`, `simple`) as `message`;
 * - colour codes never reach the wire (the worker's reader takes them out);
 * - an uncaught exception's or rejection's record drops winston's `date` text
 *   (`Date#toString()`, whole seconds): the event time is the same moment, to
 *   the millisecond, and in the JSON formats it takes the date key `date` needs.
 * The event time is the record's `timestamp` when it has one, else now.
 */
function winstonLine (info: Record<string | symbol, unknown>): string {
  let json: string
  try {
    json = recordText(info)
  } catch (error) {
    // A field whose toJSON throws: that record is dropped and counted, the rest flow on.
    return `${now()}\t\t!${String((error as Error).message).replace(/[\r\n]+/g, ' ')}\n`
  }
  const timestamp = info.timestamp
  if (typeof timestamp === 'string' && !timestamp.includes('\t') && !timestamp.includes('\n')) return `${now()}\t${timestamp}\t${json}\n`
  const time = timestamp === undefined ? undefined : parseTime(timestamp)
  return `${time === undefined ? now() : time.sec * 1000 + time.nsec / 1e6}\t\t${json}\n`
}

/** Date.now() as text: records logged in one millisecond share it (a number's text costs more than the clock). */
let nowMillis = 0
let nowText = '0'
function now (): string {
  const millis = Date.now()
  if (millis !== nowMillis) {
    nowMillis = millis
    nowText = String(millis)
  }
  return nowText
}

/** The record's JSON text, on one line (see winstonLine). */
function recordText (info: Record<string | symbol, unknown>): string {
  const message = info[MESSAGE]
  let json = typeof message === 'string' && message.charCodeAt(0) === 0x7b /* { */ && message.charCodeAt(message.length - 1) === 0x7d /* } */
    ? message
    : undefined
  // JSON with line breaks (`json({ space: 2 })`) is made one line again.
  if (json?.includes('\n') === true) json = reparsed(json)
  if (json === undefined) {
    const fields: Record<string, unknown> = { ...info }
    const level = info[LEVEL] ?? info.level
    if (level !== undefined) fields.level = level
    if (typeof message === 'string') fields.message = message
    json = safeJson(fields)
  }
  if (info.exception === true) json = reparsed(json, 'date') ?? json
  return json
}

/** A JSON object's text on one line, without `drop` if it is a string; undefined for text that is no JSON object. */
function reparsed (text: string, drop?: string): string | undefined {
  let record: unknown
  try {
    record = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isJsonObject(record)) return undefined
  if (drop !== undefined && typeof record[drop] === 'string') delete record[drop]
  return JSON.stringify(record)
}

/** JSON text of a value that JSON.stringify would refuse: a circular reference becomes `"[Circular]"`, a BigInt its digits. */
function safeJson (value: object): string {
  const ancestors: unknown[] = []
  return JSON.stringify(value, function (this: unknown, _key: string, item: unknown) {
    if (typeof item === 'bigint') return item.toString()
    if (typeof item !== 'object' || item === null) return item
    // `this` is the object holding `item`: what is above it on the path stays.
    while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop()
    if (ancestors.includes(item)) return '[Circular]'
    ancestors.push(item)
    return item
  })
}
