import { randomFillSync } from 'node:crypto'
import { createRequire } from 'node:module'
import { MODULE_URL } from './module-url.js'

// A client's data frame (RFC 6455 5.2), built here rather than by ws: ws makes a
// new buffer for every message it masks, and a message of tens or hundreds of
// KiB in a new buffer is written into fresh pages, a page fault each 4 KiB (a
// profile of pino's worker put ws's masking at 9 % of its time, most of it
// there). The frame goes into a buffer kept from message to message instead.

type MaskFunction = (source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number) => void

/**
 * bufferutil's native mask, when it is installed (an optional dependency, as it
 * is ws's, and off with ws's own WS_NO_BUFFER_UTIL); undefined: masked here.
 */
const nativeMask = ((): MaskFunction | undefined => {
  if (process.env.WS_NO_BUFFER_UTIL !== undefined) return undefined
  const load = createRequire(MODULE_URL)
  let mask: MaskFunction
  try {
    mask = (load('bufferutil') as { mask: MaskFunction }).mask
  } catch {
    return undefined
  }
  // When its native build does not load, bufferutil gives its own JavaScript
  // fallback, a byte at a time: maskHere is 4-5 x faster (0.29 against 1.34 ns a byte).
  try {
    if (mask === (load('bufferutil/fallback') as { mask: MaskFunction }).mask) return undefined
  } catch {
    // No fallback to tell apart (another bufferutil version): taken as native.
  }
  return mask
})()

/** Who masks frames: bufferutil's native code, or {@link maskHere}. */
export const MASKING: 'bufferutil' | 'javascript' = nativeMask === undefined ? 'javascript' : 'bufferutil'

/** Random bytes for masks, drawn 8 KiB at a time as ws does: one call per frame would cost more than masking it. */
const MASK_POOL = Buffer.alloc(8192)
let maskPoolAt = MASK_POOL.length

/** Four random bytes for a frame's masking key, written at `at`. */
function randomMask (target: Buffer, at: number): void {
  if (maskPoolAt === MASK_POOL.length) {
    randomFillSync(MASK_POOL)
    maskPoolAt = 0
  }
  // Four stores: Buffer#copy's checks and views cost more than the bytes, and in
  // the send path their inlined code is compiled again with every function it is in.
  target[at] = MASK_POOL[maskPoolAt]
  target[at + 1] = MASK_POOL[maskPoolAt + 1]
  target[at + 2] = MASK_POOL[maskPoolAt + 2]
  target[at + 3] = MASK_POOL[maskPoolAt + 3]
  maskPoolAt += 4
}

/** `source` XORed with the key at `target[key, key + 4)` into `target` from `at`: a word at a time, then the bytes left. */
export function maskHere (source: Uint8Array, target: Buffer, key: number, at: number): void {
  const length = source.length
  target.set(source, at)
  const view = new DataView(target.buffer, target.byteOffset, target.length)
  const word = view.getUint32(key)
  let i = 0
  for (; i + 4 <= length; i += 4) view.setUint32(at + i, view.getUint32(at + i) ^ word)
  for (; i < length; i++) target[at + i] ^= target[key + (i & 3)]
}

/** Bytes of a client's ping frame with a 4-byte payload: the header, the masking key, the payload. */
export const PING_FRAME_BYTES = 10

/** A masked ping frame whose payload is `seq` (4 bytes, big-endian), written at `at`. */
function writePing (target: Buffer, at: number, seq: number): void {
  target[at] = 0x89
  target[at + 1] = 0x80 | 4
  randomMask(target, at + 2)
  target[at + 6] = (seq >>> 24) ^ target[at + 2]
  target[at + 7] = (seq >>> 16) ^ target[at + 3]
  target[at + 8] = (seq >>> 8) ^ target[at + 4]
  target[at + 9] = seq ^ target[at + 5]
}

/** A ping frame on its own (see {@link frameMessage} for one that follows a message). */
export function framePing (seq: number): Buffer {
  const frame = Buffer.allocUnsafe(PING_FRAME_BYTES)
  writePing(frame, 0, seq)
  return frame
}

/**
 * One final, masked frame of `message` (a text frame, or binary), and after
 * it, when `ping` is given, a ping frame whose payload is `ping` (one socket
 * write for both), in `buffer` when it has room, else in a larger buffer that
 * replaces it: returns the buffer now kept and the frames, a view of it valid
 * until the next call.
 */
export function frameMessage (buffer: Buffer, message: Uint8Array, binary: boolean, ping?: number): { buffer: Buffer, frame: Buffer } {
  const length = message.length
  const header = length < 126 ? 6 : length < 0x10000 ? 8 : 14
  const size = header + length + (ping === undefined ? 0 : PING_FRAME_BYTES)
  if (buffer.length < size) buffer = Buffer.allocUnsafeSlow(Math.max(size, buffer.length * 2))
  buffer[0] = 0x80 | (binary ? 0x02 : 0x01)
  if (length < 126) {
    buffer[1] = 0x80 | length
  } else if (length < 0x10000) {
    buffer[1] = 0x80 | 126
    buffer[2] = length >>> 8
    buffer[3] = length
  } else {
    buffer[1] = 0x80 | 127
    const high = Math.floor(length / 0x100000000)
    buffer[2] = high >>> 24
    buffer[3] = high >>> 16
    buffer[4] = high >>> 8
    buffer[5] = high
    buffer[6] = length >>> 24
    buffer[7] = length >>> 16
    buffer[8] = length >>> 8
    buffer[9] = length
  }
  const key = header - 4
  randomMask(buffer, key)
  if (nativeMask !== undefined) nativeMask(message, buffer.subarray(key, header), buffer, header, length)
  else maskHere(message, buffer, key, header)
  if (ping !== undefined) writePing(buffer, header + length, ping)
  return { buffer, frame: buffer.subarray(0, size) }
}
