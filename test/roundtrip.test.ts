import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { decodeMulti } from '@msgpack/msgpack'
import { wellFormedJson } from '../src/encoders/json.js'
import { createJsonToMsgpack, createMsgpackRecordEncoder } from '../src/encoders/msgpack.js'
import { decodeMessage, encodeMessages, type DateFormat, type EventTime, type LogEvent } from '../src/index.js'
import { createEncoder } from '../src/encoders/index.js'
import { resolveEncoderOptions } from '../src/options.js'
import { prng } from './helpers.js'

const KEYS = ['msg', 'level', 'a', 'ключ', '日本', 'quote"d', 'back\\slash', 'new\nline', 'tab\t', 'emoji😀', 'nul\u0000', '', ' ', '__proto__x', 'date_', '0', '123']
const STRINGS = ['', 'plain', 'héllo "wörld"', 'line\nbreak\r\n', '\u0001\u001f\u007f', '😀 日本 ü', '</script>', '{"json":"inside"}', 'x'.repeat(300), '\\u0041']
const NUMBERS = [0, 1, -1, 42, 0.1, 1 / 3, 1e21, 1.5e-7, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 32, 2 ** 32 + 1, 123456.789]

function randomValue (random: () => number, depth: number): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]
  switch (Math.floor(random() * (depth > 3 ? 5 : 7))) {
    case 0: return pick(STRINGS)
    case 1: return pick(NUMBERS)
    case 2: return random() < 0.5
    case 3: return null
    case 4: return Math.floor(random() * 1e6) - 5e5
    case 5: return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1))
    default: return randomRecord(random, depth + 1)
  }
}

function randomRecord (random: () => number, depth = 0): Record<string, unknown> {
  const record: Record<string, unknown> = {}
  const size = Math.floor(random() * 6)
  for (let i = 0; i < size; i++) record[KEYS[Math.floor(random() * KEYS.length)] + (random() < 0.3 ? String(i) : '')] = randomValue(random, depth)
  return record
}

function randomTime (random: () => number): EventTime {
  return { sec: Math.floor(random() * 2 ** 32), nsec: Math.floor(random() * 1e9) }
}

/** What the date format keeps of a time (Fluent Bit truncates, double rounds to 16 digits). */
function assertTime (actual: EventTime, expected: EventTime, dateFormat: DateFormat | 'exact'): void {
  const tolerance = { exact: 0, double: 2000, epoch: 1e9, epoch_ms: 1e6, iso8601: 1000, java_sql_timestamp: 1000 }[dateFormat]
  // Seconds times 1e9 is past 2^53: subtract the parts.
  const error = (expected.sec - actual.sec) * 1e9 + (expected.nsec - actual.nsec)
  assert.ok(dateFormat === 'double' ? Math.abs(error) <= tolerance : error >= 0 && error < Math.max(tolerance, 1),
    `${JSON.stringify(actual)} for ${JSON.stringify(expected)} in ${dateFormat}`)
}

describe('round trip: decodeMessage(encode(events)) gives the events back', () => {
  const SEED = 20261127
  for (const format of ['json', 'json_stream', 'json_lines', 'msgpack'] as const) {
    for (const jsonDateFormat of (format === 'msgpack' ? ['double'] : ['double', 'epoch', 'epoch_ms', 'iso8601', 'java_sql_timestamp']) as DateFormat[]) {
      test(`${format}${format === 'msgpack' ? '' : ` with ${jsonDateFormat} dates`}: 300 random records (seed ${SEED})`, () => {
        const random = prng(SEED)
        // The date key is 'date'; random records never hold it (a collision keeps the record's own value).
        const events: LogEvent[] = Array.from({ length: 300 }, () => ({ time: randomTime(random), record: randomRecord(random) }))
        const messages = encodeMessages(events, { format, jsonDateFormat, maxMessageBytes: 16 * 1024 }, ({ reason }) => assert.fail(`dropped: ${reason}`))
        assert.ok(messages.length > 1, 'the batch was split')
        const decoded: LogEvent[] = []
        for (const { data, binary } of messages) {
          assert.ok(data.length <= 16 * 1024)
          assert.equal(binary, format === 'msgpack')
          if (format === 'msgpack') {
            assert.equal([...decodeMulti(data)].length > 0, true, 'decodes with @msgpack/msgpack decodeMulti')
          } else if (format === 'json') {
            JSON.parse(data.toString())
          } else {
            const text = data.toString()
            if (format === 'json_lines') for (const line of text.trimEnd().split('\n')) JSON.parse(line)
          }
          decoded.push(...decodeMessage(data, { format, jsonDateFormat }))
          // auto detection agrees with the named format
          assert.deepEqual(decodeMessage(data, { jsonDateFormat }).map((e) => e.record), decodeMessage(data, { format, jsonDateFormat }).map((e) => e.record))
        }
        assert.equal(decoded.length, events.length)
        for (const [i, event] of events.entries()) {
          // JSON and msgpack drop undefined alike; everything else must come back as it was.
          assert.deepEqual(decoded[i].record, JSON.parse(JSON.stringify(event.record)), `record ${i}`)
          assertTime(decoded[i].time, event.time, format === 'msgpack' ? 'exact' : jsonDateFormat)
        }
      })
    }
  }

  test('a record given as JSON text encodes to the same bytes as the record itself, in every format', () => {
    const random = prng(SEED + 1)
    const records = Array.from({ length: 300 }, () => randomRecord(random))
    records.push({ date: 'own', a: 1 }, { a: { date: 1 } }, { 'd\u0061te': 'escaped' }, {}, { s: 'quote " and \\u0041 text' })
    for (const format of ['json', 'json_stream', 'json_lines', 'msgpack', 'gelf'] as const) {
      for (const jsonDateKey of ['date', false] as const) {
        const encoder = createEncoder(resolveEncoderOptions({ format, jsonDateKey }))
        for (const record of records) {
          const time = randomTime(random)
          // Copies: msgpack hands out a view of its scratch buffer.
          const bytes = (chunk: string | Uint8Array): Buffer => typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk)
          const fromRecord = bytes(encoder.encodeRecord({ time, record }))
          const fromJson = bytes(encoder.encodeRecord({ time, json: JSON.stringify(record) }))
          assert.equal(fromJson.toString('hex'), fromRecord.toString('hex'), `${format} ${JSON.stringify(record)}`)
        }
      }
    }
  })

  test('gelf: the mapped fields come back, the timestamp is the event time', () => {
    const random = prng(SEED)
    const events: LogEvent[] = Array.from({ length: 200 }, () => ({ time: randomTime(random), record: randomRecord(random) }))
    const messages = encodeMessages(events, { format: 'gelf' }, ({ reason }) => assert.fail(`dropped: ${reason}`))
    const decoded = messages.flatMap(({ data }) => {
      for (const line of data.toString().trimEnd().split('\n')) JSON.parse(line)
      return decodeMessage(data)
    })
    assert.equal(decoded.length, events.length)
    for (const [i, { time, record }] of decoded.entries()) {
      assert.equal(record.version, '1.1')
      assert.ok(typeof record.short_message === 'string' && record.short_message !== '')
      for (const [key, value] of Object.entries(record)) {
        if (key.startsWith('_')) {
          assert.match(key, /^[\w.-]+$/)
          assert.notEqual(key, '_id')
          assert.ok(typeof value === 'string' || typeof value === 'number', `${key} is ${typeof value}`)
        }
      }
      assertTime(time, events[i].time, 'double')
    }
  })
})

describe('msgpack transcoder: JSON bytes straight to msgpack', () => {
  const time = { sec: 1700000000, nsec: 123456789 }
  const encodeParsed = createMsgpackRecordEncoder()
  const transcode = createJsonToMsgpack()
  const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
  const viaParse = (line: string): string => hex(encodeParsed(time, JSON.parse(line) as object))
  const viaBytes = (line: string): string => {
    // Inside a larger buffer, as lines sit in a chunk.
    const bytes = Buffer.from(`xx${line}\nyy`)
    return hex(transcode(time, bytes, 2, bytes.length - 3))
  }

  test('gives the bytes parse-then-encode gives, for 2 000 random records (seed 20261127)', () => {
    const random = prng(20261127)
    for (let i = 0; i < 2000; i++) {
      const line = JSON.stringify(randomRecord(random))
      assert.equal(viaBytes(line), viaParse(line), line)
    }
  })

  test('numbers, escapes, white space and wide containers as JSON.parse reads them', () => {
    const numbers = ['0', '-0', '-0.0', '1.0', '1e3', '0.1e1', '1E+2', '2.5E-3', '12.5', '-12.5', '0.30000000000000004',
      '123456789012345', '1234567890123456', '123456789012345678', '9007199254740993', '12345678901234567890.5',
      '4.9e-324', '1e400', '-1e400', '127', '128', '255', '256', '65535', '65536', '4294967295', '4294967296',
      '-32', '-33', '-128', '-129', '-32768', '-32769', '-2147483648', '-2147483649', '0.000001234567890123',
      '-1', '-31', '999999999', '-999999999', '1000000000', '-1000000000', '0.5', '-0.5']
    for (const text of numbers) assert.equal(viaBytes(`{"n":${text}}`), viaParse(`{"n":${text}}`), text)
    const wide = JSON.stringify(Object.fromEntries(Array.from({ length: 70000 }, (_, i) => [`k${i}`, i % 2 === 0 ? [i] : 'v'.repeat(i % 300)])))
    const lines = [
      '{ "a" : [ 1 , 2 , { } , [ ] ] , "b" :\t"c" }',
      '{"e":"\\u00e9 \\ud83d\\ude00 \\/ \\" \\\\ \\b\\f\\n\\r\\t \\u0000"}',
      '{"t":true,"f":false,"n":null}',
      `{"s16":"${'x'.repeat(300)}","s32":"${'y'.repeat(70000)}","a16":[${Array(20).fill(1).join(',')}]}`,
      wide
    ]
    // Every header size at its edges: fix/16/32 maps and arrays, fixstr/str8/16/32.
    for (const count of [15, 16, 65535, 65536]) {
      lines.push(JSON.stringify(Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 0]))))
      lines.push(JSON.stringify({ a: Array(count).fill(0) }))
    }
    for (const length of [31, 32, 255, 256, 65535, 65536]) lines.push(JSON.stringify({ [('k').repeat(length)]: 'é'.repeat(length / 2) + 'v'.repeat(length % 2) }))
    for (const line of lines) assert.equal(viaBytes(line), viaParse(line), line.slice(0, 80))
    // As deep as it goes: 64 containers.
    const deepest = '{"d":' + '['.repeat(60) + '{"x":[1,{}]}' + ']'.repeat(60) + '}'
    assert.equal(viaBytes(deepest), viaParse(deepest))
  })

  test('refuses what is not a JSON object it can take, so the parse path decides', () => {
    const refused = ['[1]', '"x"', '{"a":01}', '{"a":1,}', '{"a":tru}', '{"a":"x}', '{"a":1} x', '{"a":-}', '{"a":1.}',
      '{"a":1e}', '{"bad":"\\x"}', '{"hex":"\\u12g4"}', '{"pair":"\\ud83d\\u12g4"}', '{a:1}',
      '{"a":00}', '{"a":-01}', '{"a":1 2}', '{"a":[1 2]}', '{"a":[1,]}', '{"a":{"b":1]}', '{"a":[1}}', '{"a":1}}',
      '{"deep":' + '['.repeat(64) + ']'.repeat(64) + '}', '{"deep":' + '['.repeat(70) + ']'.repeat(70) + '}']
    for (const line of refused) assert.throws(() => viaBytes(line), TypeError, line)
  })

  test('a lone surrogate escape becomes U+FFFD, as the parse path gives it (wellFormedJson)', () => {
    for (const line of ['{"lone":"\\ud800"}', '{"low":"\\udc00x"}', '{"high then text":"\\ud83dx"}', '{"high then high":"\\ud83d\\ud83d\\ude00"}', '{"\\udfff":1}']) {
      assert.equal(viaBytes(line), viaParse(wellFormedJson(line)), line)
      const parsed = JSON.parse(wellFormedJson(line)) as Record<string, unknown>
      assert.ok([...Object.keys(parsed), ...Object.values(parsed)].every((text) => String(text).isWellFormed()), line)
    }
  })
})
