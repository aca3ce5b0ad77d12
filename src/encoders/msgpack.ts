import { Encoder } from '@msgpack/msgpack'
import type { EventTime } from './dates.js'

// fixarray(2), fixarray(2), fixext8 of type 0 and its 8 bytes of time.
const HEADER_BYTES = 12
const EMPTY_MAP = new Uint8Array([0x80])

/**
 * One record in Fluent Bit's event format: `[[EventTime, metadata], record]`,
 * EventTime being ext type 0 with seconds then nanoseconds as big-endian uint32.
 */
export function createMsgpackRecordEncoder (): (time: EventTime, record: object, metadata?: object) => Buffer {
  // One encoder reused for every record: its buffer grows once, each record is copied out.
  // ignoreUndefined matches what the JSON formats do with undefined values.
  const encoder = new Encoder({ ignoreUndefined: true, useBigInt64: true })
  return function encodeMsgpackRecord (time, record, metadata) {
    const meta = metadata === undefined ? EMPTY_MAP : encoder.encode(metadata)
    if (!isMap(meta)) throw new TypeError('the metadata does not encode to a msgpack map')
    const body = encoder.encodeSharedRef(record)
    // Fluent Bit readers expect a record map, not a bare value.
    if (!isMap(body)) throw new TypeError('the record does not encode to a msgpack map')
    const out = Buffer.allocUnsafe(HEADER_BYTES + meta.length + body.length)
    out[0] = 0x92
    out[1] = 0x92
    out[2] = 0xd7
    out[3] = 0x00
    out.writeUInt32BE(time.sec >>> 0, 4)
    out.writeUInt32BE(time.nsec >>> 0, 8)
    out.set(meta, HEADER_BYTES)
    out.set(body, HEADER_BYTES + meta.length)
    return out
  }
}

function isMap (bytes: Uint8Array): boolean {
  const head = bytes[0]
  return (head >= 0x80 && head <= 0x8f) || head === 0xde || head === 0xdf
}
