import { isMainThread } from 'node:worker_threads'

/** What the exit hooks call on each live client. */
export interface ExitAware {
  /** The app has run out of work: one chance to deliver what is left. */
  beforeExit (): void
  /** The process is exiting: synchronous last words only. */
  exit (): void
}

/** Clients of the main thread not closed yet: one beforeExit/exit listener pair serves them all. */
const LIVE = new Set<ExitAware>()

function onBeforeExit (): void { for (const client of LIVE) client.beforeExit() }
function onExit (): void { for (const client of LIVE) client.exit() }

/**
 * Watch the process's end for a client. Our sockets and timers are unref'd so they
 * never hold the app open; instead, when the app runs out of work, each client gets
 * one chance to deliver what is left. In a worker thread (pino's) the worker's own
 * end is the adapter's business, so nothing is hooked there.
 */
export function watchExit (client: ExitAware): void {
  if (!isMainThread) return
  if (LIVE.size === 0) {
    process.on('beforeExit', onBeforeExit)
    process.on('exit', onExit)
  }
  LIVE.add(client)
}

/** Stop watching for a client that has closed. */
export function unwatchExit (client: ExitAware): void {
  if (LIVE.delete(client) && LIVE.size === 0) {
    process.off('beforeExit', onBeforeExit)
    process.off('exit', onExit)
  }
}
