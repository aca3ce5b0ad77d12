import { once } from 'node:events'
import { appendFileSync } from 'node:fs'
import * as sonicBoomModule from 'sonic-boom'
import type { SonicBoom as SonicBoomStream, SonicBoomOpts } from 'sonic-boom'

// sonic-boom is CommonJS and its class is module.exports itself: ESM sees it as the
// default export, CommonJS (through esModuleInterop) as a property. Take it from either.
const loaded = sonicBoomModule as unknown as { SonicBoom?: unknown, default?: { SonicBoom?: unknown } }
const SonicBoom = (loaded.SonicBoom ?? loaded.default?.SonicBoom) as new (options: SonicBoomOpts) => SonicBoomStream

/**
 * The fallback file: records we give up on are appended here as NDJSON, so a
 * drop is never silent. Writes go through sonic-boom (buffered, asynchronous);
 * `flushSync()` is for process exit, `close()` for an orderly shutdown.
 */
export class FallbackFile {
  readonly #file: SonicBoomStream
  readonly #path: string
  readonly #onError: (error: Error) => void
  #failed = false
  #closed = false

  /** @param onError told once when the file cannot be written; the file is then given up. */
  constructor (path: string, onError: (error: Error) => void) {
    this.#path = path
    this.#onError = onError
    this.#file = new SonicBoom({ dest: path, append: true, mkdir: true, sync: false })
    // Without a listener a write error would be thrown: it is reported instead.
    this.#file.on('error', (error: Error) => this.#fail(error))
  }

  /** Append lines, each ending in a line feed. Never throws. */
  write (lines: string): void {
    if (this.#failed) return
    if (!this.#closed) {
      this.#file.write(lines)
      return
    }
    // Records that come after close() (an app logging on after its transport ended) are rare: written at once.
    try {
      appendFileSync(this.#path, lines)
    } catch (error) {
      this.#fail(error as Error)
    }
  }

  /** Write out what is buffered before the process exits. */
  flushSync (): void {
    if (this.#failed) return
    try {
      this.#file.flushSync()
    } catch (error) {
      // sonic-boom throws while its file is still opening: nothing is buffered for long then.
      if ((error as NodeJS.ErrnoException).code !== undefined) this.#failed = true
    }
  }

  /** Flush and close the file; resolves within `timeout` ms whatever happens. */
  async close (timeout: number): Promise<void> {
    if (this.#failed || this.#closed) return
    this.#closed = true
    const closed = once(this.#file, 'close').catch(() => {})
    this.#file.end()
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, timeout).unref())])
  }

  #fail (error: Error): void {
    if (this.#failed) return
    this.#failed = true
    this.#onError(error)
  }
}
