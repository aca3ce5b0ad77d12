import { isMainThread, workerData } from 'node:worker_threads'
import { MODULE_URL } from './module-url.js'

/*
 * thread-stream's shared memory, read as bytes. thread-stream's worker decodes
 * every chunk the app's thread wrote into a string before its destination sees
 * it, and the NdjsonReader writes that string back into bytes: in profiles of
 * the worker, a quarter to a third of its time. Where the protocol below is
 * known to be the one running, the destination reads the bytes where the app's
 * thread put them instead, and thread-stream's own loop stops.
 *
 * The protocol is thread-stream's own, not a public one; read in its 4.2 source
 * (lib/worker.js, lib/indexes.js, index.js): `stateBuf` is an Int32Array whose
 * entry 2 is a sequence number (odd while the app's thread changes the indexes,
 * notified when it is done), 4 the write index (-1: the stream ended, -2: it
 * failed) and 8 the read index, which the reader stores and notifies as it goes;
 * `dataBuf` holds the unread bytes between the two; once the reader has caught up
 * with a full buffer, the app's thread sets both indexes to 0. Earlier versions
 * (2.x, 3.x: pino 8 and 9) wait on other entries, so only 4.2 is trusted here,
 * and a version not known keeps the text path: slower, never wrong.
 */

const SEQ_INDEX = 2
const WRITE_INDEX = 4
const READ_INDEX = 8
/**
 * How often a wait for the app's thread is looked at: a change it was not
 * notified of (none should be: the wait is on the sequence number read with the
 * indexes, and thread-stream notifies after each change; its own loop polls
 * every 10 s) costs at most this, well inside the 10 s its flushSync() waits for
 * the reader. One timer for the reading, not a timeout on each wait: V8 makes a
 * timeout a delayed task, posted and cancelled with every wait, a tenth to a
 * fifth of what a wake-up costs (measured apart: 40-61 against 34-47 µs of CPU).
 */
const CHECK_INTERVAL = 1000

/** The versions of thread-stream whose protocol is the one above. */
export function knownProtocol (version: unknown): boolean {
  return typeof version === 'string' && /^4\.2\.\d+$/.test(version)
}

/** What thread-stream puts in its worker's data: its own, and around it the target's (see threadStreamData). */
interface ThreadStreamWorkerData {
  filename?: unknown
  dataBuf?: unknown
  stateBuf?: unknown
  workerData?: TargetData
}

interface TargetData {
  pinoWillSendConfig?: boolean
  $context?: { threadStreamVersion?: string }
}

/** The data thread-stream passes the worker's module: the target's options, pino's and thread-stream's keys among them. */
export function threadStreamData (): TargetData | undefined {
  return (workerData as ThreadStreamWorkerData | null)?.workerData
}

/**
 * The shared memory of the thread-stream worker this module runs in, when this
 * module is its destination (not one of pino's `targets`, which pino's own
 * worker feeds line by line) and its protocol is known; otherwise undefined.
 */
export function sharedMemory (): SharedMemory | undefined {
  if (isMainThread) return undefined
  const data = workerData as ThreadStreamWorkerData | null
  if (data === null || typeof data !== 'object') return undefined
  const { filename, dataBuf, stateBuf } = data
  if (!(dataBuf instanceof SharedArrayBuffer) || !(stateBuf instanceof SharedArrayBuffer) || stateBuf.byteLength < (READ_INDEX + 1) * 4) return undefined
  if (!knownProtocol(threadStreamData()?.$context?.threadStreamVersion)) return undefined
  // The worker's module is this build's (index.js or pino.js beside this file).
  if (typeof filename !== 'string' || new URL('.', filename).href !== new URL('.', MODULE_URL).href) return undefined
  if (typeof Atomics.waitAsync !== 'function') return undefined
  return new SharedMemory(Buffer.from(dataBuf), new Int32Array(stateBuf))
}

/** See the top of this file. */
export class SharedMemory {
  readonly #data: Buffer
  readonly #state: Int32Array
  #onBytes: (bytes: Buffer) => void = () => {}
  #onEnd: () => void = () => {}
  /** The wait in progress (0: none), numbered so that only its own wake-up reads on; the sequence number it is on. */
  #waiting = 0
  #waits = 0
  #waitingOn = 0
  #check: NodeJS.Timeout | undefined

  constructor (data: Buffer, state: Int32Array) {
    this.#data = data
    this.#state = state
  }

  /**
   * Called with the first chunk thread-stream's loop hands the destination, while
   * that loop waits for it: true when the chunk's bytes are where the read index
   * says (the layout is the one known), and the reading is taken over from there,
   * this chunk's bytes first; false, and nothing changes, otherwise. The caller
   * then answers thread-stream's loop `false` (wait for 'drain', never emitted),
   * which stops it.
   */
  takeOver (chunk: string, onBytes: (bytes: Buffer) => void, onEnd: () => void): boolean {
    const current = Atomics.load(this.#state, READ_INDEX)
    const end = Atomics.load(this.#state, WRITE_INDEX)
    const bytes = Buffer.from(chunk)
    if (current < 0 || current + bytes.length > end || end > this.#data.length) return false
    if (this.#data.compare(bytes, 0, bytes.length, current, current + bytes.length) !== 0) return false
    this.#onBytes = onBytes
    this.#onEnd = onEnd
    this.#check = setInterval(this.#look, CHECK_INTERVAL).unref()
    setImmediate(this.#read)
    return true
  }

  /** A wait whose sequence number changed with no notification: read on (see CHECK_INTERVAL). */
  readonly #look = (): void => {
    if (this.#waiting === 0 || Atomics.load(this.#state, SEQ_INDEX) === this.#waitingOn) return
    this.#waiting = 0
    this.#read()
  }

  /** One turn: what is unread goes to onBytes, then the next turn, or a wait for the app's thread. */
  readonly #read = (): void => {
    const state = this.#state
    let seq: number
    let current: number
    let end: number
    // A consistent view: no change of the app's thread in progress, none between the loads.
    do {
      seq = Atomics.load(state, SEQ_INDEX)
      current = Atomics.load(state, READ_INDEX)
      end = Atomics.load(state, WRITE_INDEX)
    } while ((seq & 1) !== 0 || seq !== Atomics.load(state, SEQ_INDEX))
    if (end < 0) {
      clearInterval(this.#check)
      // -2: the worker failed; thread-stream's own handlers end it.
      if (end === -1) this.#onEnd()
      return
    }
    if (end === current) {
      const waiting = Atomics.waitAsync(state, SEQ_INDEX, seq)
      if (!waiting.async) {
        setImmediate(this.#read)
        return
      }
      const id = ++this.#waits
      this.#waiting = id
      this.#waitingOn = seq
      void waiting.value.then(() => {
        // A wait the interval gave up on wakes with a later change: the reading went on without it.
        if (this.#waiting !== id) return
        this.#waiting = 0
        this.#read()
      })
      return
    }
    this.#onBytes(this.#data.subarray(current, end))
    Atomics.store(state, READ_INDEX, end)
    Atomics.notify(state, READ_INDEX)
    // As thread-stream's loop: the event loop turns between chunks (sockets, timers).
    setImmediate(this.#read)
  }
}
