import { closeSync, constants, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs'
import { InvalidOptionError } from './errors.js'
import { countLineFeeds } from './ndjson.js'

/** Lines gathered before they are written at once; past it, a write happens now. */
const BATCH_BYTES = 256 * 1024
/** Bytes held for a file that takes no more for now (a FIFO whose reader is slow); past it, lines are lost (counted). */
export const MAX_HELD_BYTES = 4 * 1024 * 1024
/** How soon a file that took no more is tried again. */
const BLOCKED_RETRY_DELAY = 100

/**
 * The fallback file: records we give up on are appended here, one NDJSON line
 * each, so a drop is never silent. It is a journal to replay, so:
 * - it is opened, and checked, at construction: a bad path is an error naming
 *   the option, and `process.exit()` right after construction finds it open;
 * - lines are gathered and written with one synchronous write per turn of the
 *   event loop (or per BATCH_BYTES), so exit hooks can write what is left;
 * - a write never blocks on a file that takes no more (opened non-blocking: a
 *   FIFO without a reader fails to open, a full one holds at most
 *   MAX_HELD_BYTES), and a failed write (a full disk) is cut back to the last
 *   whole line: no torn line is left for a replay to choke on;
 * - what could not be written is counted (`lost`), never thrown.
 */
export class FallbackFile {
  readonly path: string
  readonly #onError: (error: NodeJS.ErrnoException) => void
  #fd: number
  #held: string[] = []
  #heldBytes = 0
  /** Lines joined for one write, and how far the write got (a file that took part of it for now). */
  #batch: { data: Buffer, lines: number, offset: number, before: number } | undefined
  #scheduled = false
  /** Whether `#fd` is a regular file, whose torn tail can be cut off. */
  readonly #regular: boolean
  #failed = false
  /** Records written, and records that could not be. */
  written = 0
  lost = 0
  /** The last write error, as `CODE: message`. */
  error: string | undefined

  /**
   * @param option the option's name as the user gave it, for the error
   * @param onError told on the first write that fails after a success (then again after the next success)
   * @throws {InvalidOptionError} when the file cannot be opened for appending
   */
  constructor (path: string, option: string, onError: (error: NodeJS.ErrnoException) => void) {
    this.path = path
    this.#onError = onError
    try {
      this.#fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK, 0o644)
    } catch (error) {
      const { code } = error as NodeJS.ErrnoException
      const why = code === 'ENOENT' ? 'its directory does not exist'
        : code === 'ENXIO' ? 'it is a FIFO with no reader'
          : code === 'EISDIR' ? 'it is a directory'
            : code === 'EACCES' || code === 'EROFS' || code === 'EPERM' ? 'it cannot be written (permission denied or read-only)'
              : `it cannot be opened (${code ?? (error as Error).message})`
      throw new InvalidOptionError(option, 'a file that can be appended to', path, { hint: why })
    }
    this.#regular = fstatSync(this.#fd).isFile()
  }

  /** Append one record's line (without its line feed). Never throws. */
  append (line: string): void {
    if (this.#batch !== undefined && this.#heldBytes + this.#batch.data.length > MAX_HELD_BYTES) {
      // The file takes no more for now and enough is held for it: this one is lost.
      this.lost++
      return
    }
    this.#held.push(line)
    this.#heldBytes += line.length + 1
    if (this.#fd === -1) this.#late()
    else if (this.#batch === undefined && this.#heldBytes >= BATCH_BYTES) this.flushSync()
    else this.#schedule(this.#batch === undefined ? 0 : BLOCKED_RETRY_DELAY)
  }

  /** Write what is gathered, now, as far as the file takes it. Never throws. */
  flushSync (): void {
    if (this.#fd === -1) return
    if (this.#batch === undefined) {
      if (this.#held.length === 0) return
      this.#batch = { data: Buffer.from(this.#held.join('\n') + '\n'), lines: this.#held.length, offset: 0, before: this.#regular ? fstatSafe(this.#fd) : -1 }
      this.#held = []
      this.#heldBytes = 0
    }
    const batch = this.#batch
    try {
      while (batch.offset < batch.data.length) batch.offset += writeSync(this.#fd, batch.data, batch.offset)
    } catch (error) {
      const failure = error as NodeJS.ErrnoException
      if (failure.code === 'EAGAIN') {
        // Full for now (a FIFO whose reader is slow): the batch waits, and so do new lines, up to MAX_HELD_BYTES.
        this.#schedule(BLOCKED_RETRY_DELAY)
        this.#report(failure)
        return
      }
      this.#batch = undefined
      const kept = batch.offset > 0 ? this.#cutBack(batch.before, batch.data, batch.offset) : 0
      this.written += kept
      this.lost += batch.lines - kept
      this.#report(failure)
      return
    }
    this.#batch = undefined
    this.written += batch.lines
    this.#failed = false
    if (this.#held.length > 0) this.flushSync()
  }

  #schedule (delay: number): void {
    if (this.#scheduled) return
    this.#scheduled = true
    const retry = (): void => {
      this.#scheduled = false
      this.flushSync()
    }
    if (delay === 0) setImmediate(retry).unref()
    else setTimeout(retry, delay).unref()
  }

  #report (failure: NodeJS.ErrnoException): void {
    this.error = errorText(failure)
    if (this.#failed) return
    this.#failed = true
    this.#onError(failure)
  }

  /**
   * Write what is left and close the file (what a file that takes no more still
   * holds is counted lost); a later line opens it again for its own write.
   * Never throws.
   */
  close (): void {
    this.flushSync()
    if (this.#fd === -1) return
    this.lost += this.#held.length + (this.#batch?.lines ?? 0)
    this.#held = []
    this.#heldBytes = 0
    this.#batch = undefined
    try {
      closeSync(this.#fd)
    } catch {
      // Closing a descriptor only fails if it is already gone.
    }
    this.#fd = -1
  }

  /**
   * A write that failed part way (a full disk) leaves a torn line: cut the file
   * back to its last whole line. Returns how many lines stay written.
   */
  #cutBack (before: number, data: Buffer, written: number): number {
    if (!this.#regular || before === -1) return 0
    const whole = data.lastIndexOf(0x0a, written - 1) + 1
    try {
      ftruncateSync(this.#fd, before + whole)
    } catch {
      return 0
    }
    return countLineFeeds(data, whole)
  }

  /** A record given up after close() (an app logging on after its transport ended): written at once. */
  #late (): void {
    try {
      this.#fd = openSync(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_NONBLOCK)
    } catch (error) {
      this.lost += this.#held.length
      this.#held = []
      this.#heldBytes = 0
      this.error = errorText(error as NodeJS.ErrnoException)
      return
    }
    this.close()
  }
}

/** An I/O error as `CODE: message`. */
function errorText (error: NodeJS.ErrnoException): string {
  return `${error.code ?? 'EIO'}: ${error.message}`
}

function fstatSafe (fd: number): number {
  try { return fstatSync(fd).size } catch { return -1 }
}
