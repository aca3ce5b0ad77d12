import { codecEpoch, parseTime } from './dates.js'
import type { LineSink } from './index.js'
import { copyRange } from './words.js'

/** What lines.h's run() stopped at (see there). */
const DONE = 0
const WANTS_HEAD = 2
const FULL = 3
const WANTS_TIMESTAMP = 4
/** The most pieces handed back whole in a row after runs that did not pay (see takeLines). */
const MAX_SKIPPED = 64

/**
 * How a format takes a piece of whole lines at once, in WebAssembly (see
 * lines.h: splice-wasm.c, msgpack-wasm.c, gelf-wasm.c). Returns false, having taken nothing,
 * where WebAssembly is not available (node --jitless) or the module cannot
 * serve (needles too long for it); the caller then offers each line to the
 * codec's take().
 */
export type TakeLines = (bytes: Buffer, start: number, end: number, sink: LineSink, other: (start: number, feed: number) => void) => boolean

/** What lines.h has a module export. */
export interface LineRunnerExports {
  memory: { buffer: ArrayBuffer }
  input_buffer: () => number
  input_bytes: () => number
  output_buffer: () => number
  output_bytes: () => number
  lengths_buffer: () => number
  max_records: () => number
  head_buffer: () => number
  head_bytes: () => number
  needle_bytes: () => number
  needle_buffer: (k: number) => number
  configure_needles: (first: number, second: number) => void
  configure_headed: (on: number) => void
  set_head: (length: number, epoch: number) => void
  timestamp_at: () => number
  timestamp_length: () => number
  set_timestamp: (ms: number) => void
  wanted_epoch: () => number
  record_count: () => number
  record_bytes: () => number
  longest_record: () => number
  position: () => number
  run: (n: number, at: number, fresh: number) => number
}

/**
 * The lines of `bytes[start, end)` (whole lines, UTF-8) that the module takes,
 * made into records in WebAssembly and queued in runs through the sink's
 * pushRun; each other line goes to `other` (where it starts, and its line
 * feed), in order with the runs.
 * @param instantiate a new instance of the module, undefined where WebAssembly cannot run; called at the first piece
 * @param needles the codec's: a line holding one goes to `other`
 * @param makeHead the bytes each record of a line of time `epoch` starts with; a throw sends the line to `other`
 * @param headed the lines are the winston transport's (ndjson.ts's `headed` framing), not pino's
 */
export function createTakeLines (instantiate: () => LineRunnerExports | undefined, needles: readonly Buffer[], makeHead: (epoch: number) => Uint8Array, headed = false): TakeLines {
  // null: not available here; made at the first piece, not with the encoder.
  let wasm: Runner | null | undefined
  // A line the runs hand back costs more than one the reader takes itself (a call into the module, the
  // checks made there): after a piece whose lines were mostly handed back, the next pieces go to the
  // reader whole, twice as many each time in a row (at most MAX_SKIPPED), then runs are tried again.
  let skipped = 0
  let backoff = 1
  return function takeLines (bytes, start, end, sink, other) {
    if (wasm === undefined) wasm = runner(instantiate(), needles, headed) ?? null
    if (wasm === null) return false
    if (skipped > 0) {
      skipped--
      for (let at = start; at < end;) {
        const feed = bytes.indexOf(0x0a, at)
        other(at, feed)
        at = feed + 1
      }
      return true
    }
    const { input, output, lengths, head, exports } = wasm
    let taken = 0
    let handedBack = 0
    while (start < end) {
      // As many whole lines as the module's input holds; a longer line is the reader's.
      let stop = end
      if (stop - start > input.length) {
        stop = bytes.lastIndexOf(0x0a, start + input.length - 1) + 1
        if (stop <= start) {
          const feed = bytes.indexOf(0x0a, start)
          other(start, feed)
          start = feed + 1
          continue
        }
      }
      const n = stop - start
      copyRange(bytes, start, stop, input, 0)
      let at = 0
      let fresh = 1
      for (;;) {
        const status = exports.run(n, at, fresh)
        fresh = 0
        const count = exports.record_count()
        if (count > 0) sink.pushRun(output, 0, lengths, count, exports.record_bytes(), exports.longest_record())
        taken += count
        at = exports.position()
        if (status === DONE) break
        if (status === FULL) continue
        if (status === WANTS_TIMESTAMP) {
          // As the reader reads winston's timestamp text, and offers the codec its lines.
          const from = exports.timestamp_at()
          const time = parseTime(input.toString('utf8', from, from + exports.timestamp_length()))
          exports.set_timestamp(time === undefined ? -1 : codecEpoch(time))
          continue
        }
        if (status === WANTS_HEAD) {
          const epoch = exports.wanted_epoch()
          let made: Uint8Array | undefined
          try {
            made = makeHead(epoch)
          } catch {
            // A time the format cannot write: the reader's line path says why.
          }
          if (made !== undefined && made.length <= head.length) {
            head.set(made)
            exports.set_head(made.length, epoch)
            continue
          }
        }
        // Handed back, or no head for it: the reader takes the line.
        const feed = bytes.indexOf(0x0a, start + at)
        other(start + at, feed)
        handedBack++
        at = feed + 1 - start
      }
      start = stop
    }
    if (handedBack > taken) {
      skipped = backoff
      backoff = Math.min(2 * backoff, MAX_SKIPPED)
    } else {
      backoff = 1
    }
    return true
  }
}

interface Runner {
  /** Views of the instance's memory, which never grows. */
  input: Buffer
  output: Buffer
  lengths: Int32Array
  head: Buffer
  exports: LineRunnerExports
}

/** Views of an instance's memory and its calls, the needles set; undefined where it cannot serve. */
function runner (exports: LineRunnerExports | undefined, needles: readonly Buffer[], headed: boolean): Runner | undefined {
  // configure_needles() takes two needles at most; a date key makes one as long as the key.
  if (exports === undefined || needles.length > 2 || needles.some((needle) => needle.length === 0 || needle.length > exports.needle_bytes())) return undefined
  const { buffer } = exports.memory
  needles.forEach((needle, k) => new Uint8Array(buffer, exports.needle_buffer(k), needle.length).set(needle))
  exports.configure_needles(needles[0]?.length ?? 0, needles[1]?.length ?? 0)
  exports.configure_headed(headed ? 1 : 0)
  return {
    input: Buffer.from(buffer, exports.input_buffer(), exports.input_bytes()),
    output: Buffer.from(buffer, exports.output_buffer(), exports.output_bytes()),
    lengths: new Int32Array(buffer, exports.lengths_buffer(), exports.max_records()),
    head: Buffer.from(buffer, exports.head_buffer(), exports.head_bytes()),
    exports
  }
}
