import { debuglog } from 'node:util'
import type { WarningCode } from './codes.js'
import type { DropReason } from './encoders/index.js'
import type { FallbackFile } from './fallback.js'
import type { Warning } from './warnings.js'

const debug = debuglog('pino-websocket')

/** A warning of each code goes out at most this often; what happened meanwhile is summed up in the next. */
const WARN_INTERVAL = 60_000
const DROPPED: WarningCode = 'PINO_WS_WARN_DROPPED'
const DROP_WHY: Readonly<Record<DropReason, string>> = {
  overflow: 'the queue was full',
  oversized: 'too large for one message',
  unencodable: 'could not be encoded',
  refused: 'the server refused them as invalid data (1007)',
  shutdown: 'still queued at shutdown',
  unwritable: 'the spool could not write them',
  damaged: 'found torn or damaged in the spool'
}

/** Where a reporter's events go: the engine's own `drop` and `warn` events. */
export interface ReporterOutput {
  drop: (event: { reason: DropReason, count: number, error?: string }) => void
  warn: (warning: Warning) => void
}

/**
 * What the engine tells its user, and how often: warnings rate-limited per code,
 * drop events coalesced per reason and per turn of the event loop, drop warnings
 * summed up with where the records went (the fallback file's own counters), and
 * the one line that accounts for what was given up as the transport ends. No
 * I/O of its own but the fallback file's flush.
 */
export class Reporter {
  readonly #output: ReporterOutput
  readonly #fallback: FallbackFile | undefined
  #pendingDrops = new Map<DropReason, { count: number, error?: string }>()
  /** When each warning code last went out, and how many were held back since. */
  #warned = new Map<WarningCode, { at: number, held: number }>()
  /** Records dropped since the last drop warning, by reason, and the timer that will report them. */
  #dropsToWarn = new Map<DropReason, number>()
  #dropWarnTimer: NodeJS.Timeout | undefined
  /** Records dropped since the last drop warning with no bytes to keep (not unencodable ones). */
  #notKept = 0
  /** The fallback file's counters as of the last drop warning. */
  #reported = { written: 0, lost: 0 }

  constructor (output: ReporterOutput, fallback: FallbackFile | undefined) {
    this.#output = output
    this.#fallback = fallback
  }

  /**
   * A `warn` event for what a user must not miss; each code at most once per
   * WARN_INTERVAL, the next one saying how many were held back. Adapters turn
   * these into Node warnings on stderr unless `quiet`.
   */
  warn (code: WarningCode, message: string): void {
    const now = Date.now()
    const last = this.#warned.get(code)
    if (last !== undefined && now - last.at < WARN_INTERVAL) {
      last.held++
      debug('warning %s (held back): %s', code, message)
      return
    }
    const held = last === undefined || last.held === 0 ? '' : ` (${last.held} more like this since the last one)`
    this.#warned.set(code, { at: now, held: 0 })
    debug('warning %s: %s%s', code, message, held)
    this.#output.warn({ code, message: message + held })
  }

  /**
   * Records dropped (`error` already redacted): one `drop` event per reason per
   * turn of the event loop. `kept`: whether their bytes went to the fallback
   * file's care (false for a line too long to hold, or records written at most
   * once and shown unread).
   */
  drop (reason: DropReason, error: string | undefined, count: number, kept = true): void {
    if (!kept) this.#notKept += count
    const pending = this.#pendingDrops.get(reason)
    if (pending !== undefined) {
      pending.count += count
      return
    }
    if (this.#pendingDrops.size === 0) setImmediate(() => this.#flushDropEvents())
    this.#pendingDrops.set(reason, { count, error })
  }

  /**
   * The one line that accounts for what was given up as the transport ends, and
   * for any drop not yet warned of: a `warn` event marked `exit`, which adapters
   * print synchronously, since the process may end right after.
   */
  end (why: string): void {
    this.#flushDropEvents(false)
    clearTimeout(this.#dropWarnTimer)
    this.#dropWarnTimer = undefined
    if (this.#dropsToWarn.size === 0) return
    const onlyShutdown = this.#dropsToWarn.size === 1 && this.#dropsToWarn.has('shutdown')
    const { total, parts, where } = this.#dropAccount()
    const message = `${total} record(s) not delivered at exit${onlyShutdown ? '' : ` (${parts.join(', ')})`}: ${why}; ${where}`
    debug('warning %s: %s', DROPPED, message)
    this.#output.warn({ code: DROPPED, message, exit: true })
  }

  #flushDropEvents (warn = true): void {
    for (const [reason, { count, error }] of this.#pendingDrops) {
      debug('dropped %d record(s): %s', count, reason)
      this.#output.drop(error === undefined ? { reason, count } : { reason, count, error })
      this.#dropsToWarn.set(reason, (this.#dropsToWarn.get(reason) ?? 0) + count)
    }
    this.#pendingDrops.clear()
    if (warn) this.#warnDrops()
  }

  /** Warn of dropped records: the first at once, then a sum at most once per WARN_INTERVAL (at the end, {@link end}). */
  #warnDrops (): void {
    if (this.#dropsToWarn.size === 0) return
    const last = this.#warned.get(DROPPED)
    const wait = last === undefined ? 0 : last.at + WARN_INTERVAL - Date.now()
    if (wait > 0) {
      this.#dropWarnTimer ??= setTimeout(() => {
        this.#dropWarnTimer = undefined
        this.#warnDrops()
      }, wait).unref()
      return
    }
    const { total, parts, where } = this.#dropAccount()
    const message = `dropped ${total} record(s)${last === undefined ? '' : ' since the last warning'}: ${parts.join(', ')}; ${where}`
    debug('warning %s: %s', DROPPED, message)
    this.#output.warn({ code: DROPPED, message })
  }

  /** Sum up the drops not yet warned of (and forget them): how many, why, and where they went. */
  #dropAccount (): { total: number, parts: string[], where: string } {
    let total = 0
    const parts: string[] = []
    for (const [reason, count] of this.#dropsToWarn) {
      total += count
      parts.push(`${count} ${reason} (${DROP_WHY[reason]})`)
    }
    const unencodable = this.#dropsToWarn.get('unencodable') ?? 0
    // Records given up with no bytes left to keep: unencodable ones, and those whose bytes were gone.
    const notKept = unencodable + this.#notKept
    this.#notKept = 0
    this.#dropsToWarn.clear()
    this.#warned.set(DROPPED, { at: Date.now(), held: 0 })
    const where: string[] = []
    const fallback = this.#fallback
    if (total > notKept && fallback === undefined) where.push('set `fallbackFile` to keep them')
    if (total > notKept && fallback !== undefined) {
      fallback.flushSync()
      const written = fallback.written - this.#reported.written
      const lost = fallback.lost - this.#reported.lost
      this.#reported = { written: fallback.written, lost: fallback.lost }
      where.push(lost === 0 ? `written to ${fallback.path}` : `${written} written to ${fallback.path}, ${lost} could not be (${fallback.error ?? 'unknown error'})`)
    }
    if (unencodable > 0) where.push(`the ${unencodable} unencodable ${unencodable === 1 ? 'one is' : 'are'} only counted`)
    if (notKept > unencodable) where.push(`${notKept - unencodable} whose bytes were not kept (a line too long to hold, or written at most once and shown unread) ${notKept - unencodable === 1 ? 'is' : 'are'} only counted`)
    return { total, parts, where: where.join('; ') }
  }
}
