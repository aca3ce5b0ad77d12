import TransportStream from 'winston-transport'
import { Client, type ClientEvents, type Stats } from './client.js'
import { timeOf } from './encoders/dates.js'
import { InvalidOptionError } from './errors.js'
import { resolveOptions, type Options } from './options.js'
import { emitProcessWarning } from './warnings.js'

const EVENTS: ReadonlyArray<keyof ClientEvents> = ['open', 'disconnect', 'reconnecting', 'drop', 'warn']

/**
 * Options of {@link WebSocketTransport}: ours plus winston's own. `format` is
 * winston's format here; the wire format is `wireFormat` (or Fluent Bit's `Format`).
 */
export interface WebSocketTransportOptions extends Omit<Options, 'format'>, TransportStream.TransportStreamOptions {}

/**
 * The winston transport. `log()` calls back as soon as the record is queued, never
 * waiting on the network; `logger.end()` finishes only once every record is
 * confirmed by the server or `closeTimeout` has passed.
 * @example
 * winston.createLogger({ transports: [new WebSocketTransport({ url: 'ws://127.0.0.1:8080', wireFormat: 'json_lines' })] })
 * @throws {InvalidOptionError} when an option is wrong
 */
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
    if (!resolved.quiet) this.#client.on('warn', emitProcessWarning)
  }

  override log (info: Record<string, unknown>, callback: () => void): void {
    this.#client.write({ time: timeOf(info.timestamp), record: info })
    // winston's convention: 'logged' once the record is taken, asynchronously.
    setImmediate(() => this.emit('logged', info))
    callback()
  }

  /** Counters: accepted, delivered, dropped by reason, pending, resent, reconnects. */
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

