import TransportStream from 'winston-transport'
import { Client, type ClientEvents, type Stats } from './client.js'
import { parseTime, timeFromMillis } from './encoders/dates.js'
import type { JsonEvent } from './encoders/index.js'
import { InvalidOptionError } from './errors.js'
import { resolveOptions, type Options } from './options.js'
import { emitProcessWarning, printingExitNow } from './warnings.js'

const EVENTS: ReadonlyArray<keyof ClientEvents> = ['open', 'disconnect', 'reconnecting', 'drop', 'warn']
/** What winston's formats leave on `info`: the level uncoloured, and the final text. */
const LEVEL = Symbol.for('level')
const MESSAGE = Symbol.for('message')

/**
 * Options of {@link WebSocketTransport}: ours plus winston's own. `format` is
 * winston's format here; the wire format is `wireFormat` (or Fluent Bit's `Format`).
 */
export interface WebSocketTransportOptions extends Omit<Options, 'format'>, TransportStream.TransportStreamOptions {}

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
 * `log()` calls back as soon as the record is queued, never waiting on the
 * network; `logger.end()` finishes only once every record is confirmed by the
 * server or `closeTimeout` has passed.
 * @example
 * winston.createLogger({ transports: [new WebSocketTransport({ url: 'ws://127.0.0.1:8080', wireFormat: 'json_lines' })] })
 * @throws {InvalidOptionError} when an option is wrong
 */
// The interface of the same name below types the events; a class cannot narrow its base's `on` itself.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class WebSocketTransport extends TransportStream {
  readonly #client: Client

  constructor (options: WebSocketTransportOptions = {}) {
    const { level, format, silent, handleExceptions, handleRejections, ...rest } = options
    if (format !== undefined && (typeof format !== 'object' || format === null)) {
      throw new InvalidOptionError('format', 'a winston format (the wire format is `wireFormat`)', format)
    }
    super({ level, format, silent, handleExceptions, handleRejections })
    const resolved = resolveOptions(rest)
    this.#client = new Client(resolved)
    for (const name of EVENTS) this.#client.on(name, (payload: unknown) => this.emit(name, payload))
    if (!resolved.quiet) this.#client.on('warn', printingExitNow(emitProcessWarning))
  }

  override log (info: Record<string | symbol, unknown>, callback: () => void): void {
    try {
      this.#client.write(winstonEvent(info))
    } catch (error) {
      // write() never throws; winstonEvent does for a field whose toJSON throws:
      // that record is dropped and counted, the rest flow on.
      this.#client.reject((error as Error).message)
    }
    // With a spool, the record is on disk before log() calls back: one write per
    // record. Calling back later, once a turn's records were written together,
    // would make winston queue records in its logger, and winston's end() ends
    // its transports before that queue has reached them (write after end).
    this.#client.commit()
    // winston's convention: 'logged' once the record is taken, asynchronously.
    setImmediate(() => this.emit('logged', info))
    callback()
  }

  stats (): Stats {
    return this.#client.stats()
  }

  /** Resolves once every queued record is confirmed, or after `closeTimeout`. Never rejects. */
  flush (): Promise<void> {
    return this.#client.flush()
  }

  /** Called by winston on `logger.close()` and when the transport is removed. */
  override close (): void {
    void this.#client.close()
  }

  override _final (callback: (error?: Error | null) => void): void {
    void this.#client.close().then(() => callback())
  }
}

/** Typed listeners: `transport.on('drop', ({ reason, count }) => …)`. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface WebSocketTransport {
  on<K extends keyof WebSocketTransportEvents>(event: K, listener: (...args: WebSocketTransportEvents[K]) => void): this
  once<K extends keyof WebSocketTransportEvents>(event: K, listener: (...args: WebSocketTransportEvents[K]) => void): this
  off<K extends keyof WebSocketTransportEvents>(event: K, listener: (...args: WebSocketTransportEvents[K]) => void): this
}

/** An ANSI colour or style sequence (winston's `colorize()`), raw or as JSON escapes it. */
// eslint-disable-next-line no-control-regex
const ANSI = /(?:\x1b|\\u001[bB])\[[0-9;]*m/g
// eslint-disable-next-line no-control-regex
const ESCAPE_CHAR = /\x1b|\\u001[bB]/

/**
 * The record winston's formats made of `info`, as JSON text (the JSON formats
 * splice the date into it; msgpack and GELF reuse its parse):
 * - `info[MESSAGE]` that is a JSON object's text is taken as it is: what a
 *   `json({ replacer })` redacted stays redacted;
 * - otherwise the fields of `info` are serialized as winston's `json()` would
 *   (circular references as `"[Circular]"`, BigInt as a string), with the level
 *   uncoloured and the final text (`printf`, `simple`) as `message`;
 * - colour codes never reach the wire;
 * - an uncaught exception's or rejection's record drops winston's `date` text
 *   (`Date#toString()`, whole seconds): the event time is the same moment, to
 *   the millisecond, and in the JSON formats it takes the date key `date` needs.
 * The event time is the record's `timestamp` when it has one, else now.
 */
function winstonEvent (info: Record<string | symbol, unknown>): JsonEvent {
  const time = parseTime(info.timestamp) ?? timeFromMillis(Date.now())
  const message = info[MESSAGE]
  let record = typeof message === 'string' ? parseObject(message) : undefined
  let json: string
  if (record !== undefined) {
    json = message as string
  } else {
    const fields: Record<string, unknown> = { ...info }
    const level = info[LEVEL] ?? info.level
    if (level !== undefined) fields.level = level
    if (typeof message === 'string') fields.message = message
    json = safeJson(fields)
  }
  if (ESCAPE_CHAR.test(json)) {
    json = json.replace(ANSI, '')
    record = undefined
  }
  if (info.exception === true || json.includes('\n')) {
    record ??= JSON.parse(json) as Record<string, unknown>
    if (info.exception === true && typeof record.date === 'string') delete record.date
    // JSON with line breaks (`json({ space: 2 })`) is made one line again.
    json = JSON.stringify(record)
  }
  return record === undefined ? { time, json } : { time, json, record }
}

/** The object a JSON object's text holds; undefined for any other text. */
function parseObject (text: string): Record<string, unknown> | undefined {
  if (text.charCodeAt(0) !== 0x7b /* { */) return undefined
  try {
    const value = JSON.parse(text) as unknown
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
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
