import assert from 'node:assert/strict'
import { hostname } from 'node:os'
import { describe, test } from 'node:test'
import { encodeMessages, type Options } from '../src/index.js'
import { syslogLevel } from '../src/encoders/gelf.js'
import { timeFromEpoch } from '../src/encoders/dates.js'
import { createEncoder } from '../src/encoders/index.js'
import { leadingTime } from '../src/ndjson.js'
import { resolveEncoderOptions } from '../src/options.js'
import { prng } from './helpers.js'

const time = { sec: 1700000000, nsec: 250000000 }

function gelf (record: Record<string, unknown>, options: Options = {}): Record<string, unknown> {
  const [message] = encodeMessages([{ time, record }], { ...options, format: 'gelf' })
  const text = message.data.toString()
  assert.ok(text.endsWith('\n') && text.indexOf('\n') === text.length - 1, 'one GELF object per line')
  assert.equal(message.binary, false)
  return JSON.parse(text) as Record<string, unknown>
}

describe('GELF 1.1', () => {
  test('a pino record maps to GELF fields, the rest to additional fields', () => {
    const out = gelf({ level: 30, time: 1700000000250, pid: 7, hostname: 'web-1', msg: 'request done', req: { method: 'GET', url: '/x' }, ok: true })
    assert.deepEqual(out, {
      version: '1.1',
      host: 'web-1',
      short_message: 'request done',
      timestamp: 1700000000.25,
      level: 6,
      _pid: 7,
      _req_method: 'GET',
      _req_url: '/x',
      _ok: 'true'
    })
    assert.deepEqual(Object.keys(out).slice(0, 5), ['version', 'host', 'short_message', 'timestamp', 'level'])
  })

  test('a time key is sent once: as GELF\'s timestamp when it is the event time, else as a field', () => {
    assert.equal(gelf({ time: 1700000000250, msg: 'a' })._time, undefined)
    assert.equal(gelf({ timestamp: '2023-11-14T22:13:20.250Z', msg: 'a' })._timestamp, undefined)
    // Not the event time (or no time at all): the record's own value, kept.
    assert.equal(gelf({ time: 1600000000000, msg: 'a' })._time, 1600000000000)
    assert.equal(gelf({ timestamp: 'yesterday', msg: 'a' })._timestamp, 'yesterday')
  })

  test('a winston record with an error: message, level name, stack as full_message', () => {
    const out = gelf({ level: 'error', message: 'failed', stack: 'Error: failed\n    at x', timestamp: '2023-11-14T22:13:20.250Z', code: 'E1' })
    assert.equal(out.short_message, 'failed')
    assert.equal(out.full_message, 'Error: failed\n    at x')
    assert.equal(out.level, 3)
    assert.equal(out._timestamp, undefined, 'the event time is GELF\'s timestamp, not sent twice')
    assert.equal(out.timestamp, 1700000000.25)
    assert.equal(out._code, 'E1')
    assert.ok(!('_stack' in out), 'the stack moved to full_message')
    assert.equal(out.host, hostname(), 'no host key: the machine\'s host name')
  })

  test('pino\'s err.stack is the full_message', () => {
    const out = gelf({ level: 50, msg: 'boom', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n  at y' } })
    assert.equal(out.full_message, 'Error: boom\n  at y')
    assert.equal(out._err_type, 'Error')
    assert.equal(out._err_message, 'boom')
    assert.ok(!('_err_stack' in out), 'the stack is sent once, as full_message')
    const thrown = gelf({ msg: 'x', error: new RangeError('bad') })
    assert.match(String(thrown.full_message), /^RangeError: bad/)
    assert.equal(thrown._error_message, 'bad')
    assert.ok(!('_error_stack' in thrown))
  })

  test('never an empty short_message', () => {
    assert.equal(gelf({ level: 30 }).short_message, '-')
    assert.equal(gelf({ msg: '   ' }).short_message, '-')
    assert.equal(gelf({ msg: { nested: 1 } }).short_message, '{"nested":1}')
  })

  test('levels: pino numbers, winston npm names, syslog names, "0"-"7"; unknown kept as _level', () => {
    const table: Array<[unknown, number | undefined]> = [
      [10, 7], [20, 7], [30, 6], [40, 4], [50, 3], [60, 2], [100, 2],
      ['error', 3], ['warn', 4], ['info', 6], ['http', 6], ['verbose', 7], ['debug', 7], ['silly', 7],
      ['emerg', 0], ['alert', 1], ['crit', 2], ['warning', 4], ['notice', 5], ['fatal', 2], ['trace', 7], ['INFO', 6],
      ['0', 0], ['7', 7], ['8', undefined], ['custom', undefined], [null, undefined], [Number.NaN, undefined]
    ]
    for (const [level, expected] of table) assert.equal(syslogLevel(level), expected, String(level))
    const out = gelf({ level: 'custom', msg: 'x' })
    assert.ok(!('level' in out))
    assert.equal(out._level, 'custom')
  })

  test('names are sanitised, _id renamed, collisions numbered, nothing silently lost', () => {
    const out = gelf({ msg: 'x', 'a b/c': 1, id: 'i', _id: 'j', a: { b: 1 }, a_b: 2, 'ünï': 3 })
    assert.equal(out['_a_b_c'], 1)
    assert.equal(out.__id, 'i')
    assert.equal(out.__id_2, 'j')
    assert.equal(out._a_b, 1)
    assert.equal(out._a_b_2, 2)
    assert.equal(out.__n_, 3)
    assert.ok(!('_id' in out))
  })

  test('values are strings or numbers: booleans, arrays, empty objects, non-finite numbers, dates', () => {
    const out = gelf({ msg: 'x', t: true, f: false, arr: [1, { a: 2 }], empty: {}, inf: Infinity, nil: null, undef: undefined, when: new Date(0) })
    assert.equal(out._t, 'true')
    assert.equal(out._f, 'false')
    assert.equal(out._arr, '[1,{"a":2}]')
    assert.equal(out._empty, '{}')
    assert.equal(out._inf, 'Infinity')
    assert.equal(out._when, '1970-01-01T00:00:00.000Z')
    assert.ok(!('_nil' in out) && !('_undef' in out))
  })

  test('Fluent Bit\'s gelf_*_key options choose the fields', () => {
    const out = gelf({ text: 'hello', origin: 'box-2', sev: 'warn', detail: 'long text', at: 1700000001.5, msg: 'other' }, {
      gelf_short_message_key: 'text',
      gelf_host_key: 'origin',
      gelf_level_key: 'sev',
      gelf_full_message_key: 'detail',
      gelf_timestamp_key: 'at'
    } as Options)
    assert.deepEqual(out, { version: '1.1', host: 'box-2', short_message: 'hello', full_message: 'long text', timestamp: 1700000001.5, level: 4, _msg: 'other' })
  })

  test('a circular record is unencodable and dropped', () => {
    const record: Record<string, unknown> = { msg: 'x' }
    record.self = { record }
    const dropped: string[] = []
    encodeMessages([{ time, record }], { format: 'gelf' }, (drop) => dropped.push(drop.reason))
    assert.deepEqual(dropped, ['unencodable'])
  })
})

describe('GELF from a JSON line\'s bytes (pino\'s path)', () => {
  /** What the line codec makes of a line, or undefined when it leaves the line to the parse path. */
  function transcoded (line: string, options: Options = {}): string | undefined {
    const encoder = createEncoder(resolveEncoderOptions({ ...options, format: 'gelf' }))
    const bytes = Buffer.from(line)
    let out: string | undefined
    const sink = {
      pushEncoded: (record: Uint8Array) => { out = Buffer.from(record).toString() },
      pushSpliced: () => { throw new Error('GELF does not splice') }
    }
    const epoch = leadingTime(bytes, 0, bytes.length)
    // The reader offers the codec only lines that open with their time (the fuzzer may move it).
    if (epoch === -1) return undefined
    return encoder.lineCodec!.take(epoch, bytes, 0, bytes.length, sink) ? out : undefined
  }

  /** What the parse path makes of the same line: the object encoder on JSON.parse's record. */
  function parsed (line: string, options: Options = {}): string {
    const encoder = createEncoder(resolveEncoderOptions({ ...options, format: 'gelf' }))
    const bytes = Buffer.from(line)
    return encoder.encodeRecord({ time: timeFromEpoch(leadingTime(bytes, 0, bytes.length)), json: line }) as string
  }

  test('pino\'s lines are transcoded, byte for byte what the parse path makes', () => {
    const lines = [
      '{"level":30,"time":1700000000250,"pid":7,"hostname":"web-1","reqId":"r-1","req":{"method":"GET","url":"/x?a=1","remoteAddress":"10.1.2.3"},"res":{"statusCode":200},"responseTime":12.5,"msg":"request completed"}',
      '{"level":50,"time":1700000000251,"msg":"héllo 日本 🎉","tags":["a","b"],"items":[{"id":1,"price":1.25}],"empty":{},"none":[],"ok":true,"no":false,"gone":null,"id":42}',
      '{"level":"warn","time":1700000000,"msg":"  padded  ","big":12345678901234567890,"neg":-0,"exp":1e21,"tiny":1.5e-7}',
      '{"level":30,"time":1700000000252,"hostname":"","msg":""}',
      `{"level":30,"time":1700000000253,"msg":"a long array","items":${JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ id: i, name: `item-${i}`, price: i * 1.25, tags: ['a', 'ü'] })))}}`
    ]
    for (const line of lines) {
      const fast = transcoded(line)
      assert.ok(fast !== undefined, `transcoded: ${line}`)
      assert.equal(fast, parsed(line))
    }
  })

  test('lines where the two could differ go the parse path', () => {
    const lines = [
      // names that meet once flattened (the parse path numbers them), GELF's `_id`
      '{"level":30,"time":1,"a_b":1,"a":{"b":2}}',
      '{"level":30,"time":1,"id":1,"_id":2}',
      // a key given twice, a key JSON.parse puts first, a name GELF would change
      '{"level":30,"time":1,"a":1,"a":null}',
      '{"level":30,"time":1,"x":1,"7":2}',
      '{"level":30,"time":1,"bad key":1}',
      // an error's stack, a timestamp key, a message that is not a string
      '{"level":50,"time":1,"err":{"type":"Error","stack":"Error: x    at y"}}',
      '{"level":30,"time":1,"timestamp":2}',
      '{"level":30,"time":1,"msg":{"a":1}}',
      // whitespace, a number in an array JSON prints otherwise, invalid UTF-8, a message of Unicode spaces
      '{"level":30,"time":1, "msg":"x"}',
      '{"level":30,"time":1,"a":[1.50]}',
      '{"level":30,"time":1,"msg":"\u00a0"}',
      // not JSON
      '{"level":30,"time":1,"a":}'
    ]
    for (const line of lines) assert.equal(transcoded(line), undefined, line)
    // U+FFFD is a character like any other; a byte that is no UTF-8 is the parse path's to replace.
    assert.notEqual(transcoded('{"level":30,"time":1,"s":"\uFFFD"}'), undefined)
    const invalid = Buffer.concat([Buffer.from('{"level":30,"time":1,"s":"'), Buffer.of(0xff), Buffer.from('"}')])
    const encoder = createEncoder(resolveEncoderOptions({ format: 'gelf' }))
    assert.equal(encoder.lineCodec!.take(1, invalid, 0, invalid.length, { pushEncoded: () => {}, pushSpliced: () => {} }), false)
  })

  test('fuzzed: every line the codec takes is byte for byte the parse path\'s', () => {
    const random = prng(0x9e3779b9)
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]
    const KEYS = ['msg', 'message', 'short_message', 'host', 'hostname', 'id', '_id', 'a', 'a_b', 'b', 'level', 'time', 'err', 'req', 'x.y', 'x-y', 'constructor', '__proto__', 'full_message', 'é']
    const TEXTS = ['', ' ', 'hi', 'héllo 日本 🎉', '\u00a0', 'a"b', 'info', 'warn', 'constructor', '3', 'INFO']
    const NUMBERS = [0, 1, -1, 30, 12.5, 1e21, -0, 0.1, 2 ** 60, 1.5e-7]
    const value = (depth: number): unknown => {
      const r = random()
      if (depth > 3 || r < 0.3) return pick(TEXTS)
      if (r < 0.45) return pick(NUMBERS)
      if (r < 0.55) return pick([true, false, null])
      const size = Math.floor(random() * 4)
      if (r < 0.8) return Object.fromEntries(Array.from({ length: size }, () => [pick(KEYS), value(depth + 1)]))
      return Array.from({ length: size }, () => value(depth + 1))
    }
    let taken = 0
    for (let i = 0; i < 5000; i++) {
      const record = Object.fromEntries(Array.from({ length: Math.floor(random() * 6) }, () => [pick(KEYS), value(0)]))
      const line = JSON.stringify({ level: pick([30, 40, 'info', 'warn', 'x']), time: 1700000000000 + i, ...record })
      const fast = transcoded(line, i % 2 === 0 ? {} : { gelfShortMessageKey: 'a', gelfLevelKey: 'b' })
      if (fast === undefined) continue
      taken++
      assert.equal(fast, parsed(line, i % 2 === 0 ? {} : { gelfShortMessageKey: 'a', gelfLevelKey: 'b' }), line)
    }
    // The generator makes collisions and odd keys on purpose; most lines must still take the fast path.
    assert.ok(taken > 1000, `only ${taken} of 5000 lines transcoded`)
  })

  test('fuzzed numbers: any JSON number, as a member or in an array, is written as the parse path prints it', () => {
    const random = prng(12345)
    const digits = (count: number, first = '0123456789'): string => Array.from({ length: count }, (_, i) => (i === 0 ? first : '0123456789')[Math.floor(random() * (i === 0 ? first.length : 10))]).join('')
    /** A JSON number text, often one JavaScript would print otherwise: trailing or leading zeros, long, tiny, exponents. */
    const numberText = (): string => {
      const sign = random() < 0.3 ? '-' : ''
      const whole = random() < 0.4 ? '0' : digits(1 + Math.floor(random() * 17), '123456789')
      const fraction = random() < 0.25 ? '' : '.' + '0'.repeat(random() < 0.3 ? Math.floor(random() * 9) : 0) + digits(1 + Math.floor(random() * 16))
      const exponent = random() < 0.1 ? `e${random() < 0.5 ? '-' : ''}${digits(1 + Math.floor(random() * 2))}` : ''
      return sign + whole + fraction + exponent
    }
    let taken = 0
    let copied = 0
    for (let i = 0; i < 20_000; i++) {
      const text = numberText()
      const line = `{"level":30,"time":1700000000000,"n":${text},"a":[${text},{"m":${text}}]}`
      const fast = transcoded(line)
      if (fast === undefined) continue
      taken++
      assert.equal(fast, parsed(line), line)
      if (String(Number(text)) === text) copied++
    }
    assert.ok(taken > 10_000 && copied > 2_000, `taken ${taken}, printed back as written ${copied}`)
  })

  test('fuzzed: one codec takes lines of a few shapes in turn, each byte for byte the parse path\'s', () => {
    // The codec keeps the shape of a line it wrote (keys, kinds, which members fed
    // GELF's own fields) and copies the names of the next line of that shape. Lines
    // here mostly repeat a shape, with values that change a member's kind, collide
    // once flattened, or no longer feed short_message, host, timestamp or level.
    const random = prng(0x5eed)
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]
    const SHAPES = [
      ['level', 'time', 'pid', 'hostname', 'reqId', 'req', 'res', 'msg'],
      ['level', 'time', 'msg', 'a_b', 'a', 'id', 'tags', 'err'],
      ['time', 'level', 'host', 'message', 'short_message', 'x.y', 'n', 'hostname']
    ]
    const NESTED = ['method', 'url', 'b', 'statusCode', 'id']
    const TEXTS = ['', ' ', 'hi', 'web-1', 'héllo 日本 🎉', 'a"b', 'info', 'warn', 'x', 'a long enough value to be looked at natively']
    const usual: Record<string, number> = {}
    const value = (key: string, depth: number): unknown => {
      // Most values keep the kind their key usually has, so most lines keep their shape.
      // GELF's own fields are strings (a line where they are not is the parse path's).
      usual[key] ??= ['msg', 'message', 'short_message', 'host', 'hostname'].includes(key) ? 0 : Math.floor(random() * 4)
      const kind = random() < 0.97 ? usual[key] : Math.floor(random() * 7)
      switch (kind) {
        case 0: return pick(TEXTS)
        case 1: return pick([0, 7, 30, 12.5, -1, 1e21, 0.1])
        case 2: return depth > 1 ? null : Object.fromEntries(NESTED.slice(0, random() < 0.97 ? 3 : Math.floor(random() * 5)).map((nested) => [random() < 0.01 ? 'stack' : nested, value(`${key}.${nested}`, depth + 1)]))
        case 3: return pick([true, false])
        case 4: return null
        case 5: return {}
        default: return [1, 'two', { three: 3 }]
      }
    }
    const encoder = createEncoder(resolveEncoderOptions({ format: 'gelf' }))
    const reference = createEncoder(resolveEncoderOptions({ format: 'gelf' }))
    let out = ''
    const sink = {
      pushEncoded: (record: Uint8Array) => { out = Buffer.from(record).toString() },
      pushSpliced: () => { throw new Error('GELF does not splice') }
    }
    let taken = 0
    let shape = SHAPES[0]
    for (let i = 0; i < 20_000; i++) {
      // Runs of lines of one shape, and lines of other shapes between them.
      if (random() < 0.2) shape = pick(SHAPES)
      const record: Record<string, unknown> = {}
      for (const key of shape) {
        if (key === 'time') record.time = 1700000000000 + i
        else if (key === 'level') record.level = random() < 0.9 ? 30 : pick([40, 'info', 'x', null])
        else record[key] = value(key, 0)
      }
      const line = JSON.stringify(record)
      // Now and then an event time that is not the line's: its `time` is then an additional field.
      const epoch = random() < 0.9 ? 1700000000000 + i : 1700000000000 - i
      const bytes = Buffer.from(line)
      if (!encoder.lineCodec!.take(epoch, bytes, 0, bytes.length, sink)) continue
      taken++
      assert.equal(out, reference.encodeRecord({ time: timeFromEpoch(epoch), json: line }), line)
    }
    assert.ok(taken > 5000, `only ${taken} of 20 000 lines transcoded`)
  })

  test('a line after one of another tree is written with its own names', () => {
    // Each pair: the codec keeps the first line's shape, then meets a line with the
    // same keys in another place, a key that begins like the shape's, or fewer members.
    const pairs = [
      ['{"level":30,"time":1,"req":{"method":"GET"},"url":"/a"}', '{"level":30,"time":1,"req":{"method":"GET","url":"/a"}}'],
      ['{"level":30,"time":1,"req":{"method":"GET","url":"/a"}}', '{"level":30,"time":1,"req":{"method":"GET"},"url":"/a"}'],
      ['{"level":30,"time":1,"req":"x","res":1}', '{"level":30,"time":1,"reqId":"x","res":1}'],
      ['{"level":30,"time":1,"reqId":"x","res":1}', '{"level":30,"time":1,"req":"x","res":1}'],
      ['{"level":30,"time":1,"a":1,"b":{"c":2}}', '{"level":30,"time":1,"a":1}'],
      ['{"level":30,"time":1,"a":{"b":1},"c":2}', '{"level":30,"time":1,"a":{},"b":1,"c":2}']
    ]
    for (const [first, second] of pairs) {
      const encoder = createEncoder(resolveEncoderOptions({ format: 'gelf' }))
      for (const line of [first, second, first, second]) {
        const bytes = Buffer.from(line)
        let out: string | undefined
        const sink = { pushEncoded: (record: Uint8Array) => { out = Buffer.from(record).toString() }, pushSpliced: () => {} }
        assert.ok(encoder.lineCodec!.take(1, bytes, 0, bytes.length, sink), line)
        assert.equal(out, parsed(line), `${line} after ${line === first ? second : first}`)
      }
    }
  })

  test('a level named like an Object method is no level', () => {
    assert.equal(syslogLevel('constructor'), undefined)
    assert.equal(syslogLevel('toString'), undefined)
  })
})
