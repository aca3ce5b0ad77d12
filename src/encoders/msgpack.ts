import { Encoder } from '@msgpack/msgpack'
import type { EventTime } from './dates.js'

// fixarray(2), fixarray(2), fixext8 of type 0 and its 8 bytes of time.
const HEADER_BYTES = 12
const EMPTY_MAP = new Uint8Array([0x80])

/**
 * One record in Fluent Bit's event format: `[[EventTime, metadata], record]`,
 * EventTime being ext type 0 with seconds then nanoseconds as big-endian uint32.
 * The bytes returned are a view of a scratch buffer, valid until the next call:
 * the queue copies them at once.
 */
export function createMsgpackRecordEncoder (): (time: EventTime, record: object, metadata?: object) => Uint8Array {
  // One encoder reused for every record, so its buffer grows once.
  // ignoreUndefined matches what the JSON formats do with undefined values.
  const encoder = new Encoder({ ignoreUndefined: true, useBigInt64: true })
  let scratch = Buffer.allocUnsafeSlow(4096)
  return function encodeMsgpackRecord (time, record, metadata) {
    const meta = metadata === undefined ? EMPTY_MAP : encoder.encode(metadata)
    if (!isMap(meta)) throw new TypeError('the metadata does not encode to a msgpack map')
    const body = encoder.encodeSharedRef(record)
    // Fluent Bit readers expect a record map, not a bare value.
    if (!isMap(body)) throw new TypeError('the record does not encode to a msgpack map')
    const length = HEADER_BYTES + meta.length + body.length
    if (scratch.length < length) scratch = Buffer.allocUnsafeSlow(Math.max(length, scratch.length * 2))
    scratch[0] = 0x92
    scratch[1] = 0x92
    scratch[2] = 0xd7
    scratch[3] = 0x00
    scratch.writeUInt32BE(time.sec >>> 0, 4)
    scratch.writeUInt32BE(time.nsec >>> 0, 8)
    scratch.set(meta, HEADER_BYTES)
    scratch.set(body, HEADER_BYTES + meta.length)
    return scratch.subarray(0, length)
  }
}

function isMap (bytes: Uint8Array): boolean {
  const head = bytes[0]
  return (head >= 0x80 && head <= 0x8f) || head === 0xde || head === 0xdf
}
