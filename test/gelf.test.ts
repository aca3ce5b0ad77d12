import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { hostname } from 'node:os'
import { describe, test } from 'node:test'
import { encodeMessages, type Options } from '../src/index.js'
import { createJsonToGelf, syslogLevel, type GelfKeys } from '../src/encoders/gelf.js'
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

/** What the line codec makes of a line, or undefined when it leaves the line to the parse path. */
function transcoded (line: string, options: Options = {}): string | undefined {
  const encoder = createEncoder(resolveEncoderOptions({ ...options, format: 'gelf' }))
  const bytes = Buffer.from(line)
  let out: string | undefined
  const sink = {
    pushEncoded: (record: Uint8Array) => { out = Buffer.from(record).toString() },
    pushSpliced: () => { throw new Error('GELF does not splice') },
    pushRun: () => { throw new Error('GELF does not splice') }
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

const alone = new Map<string, (epoch: number, json: Buffer, start: number, end: number) => Uint8Array | undefined>()
/** What one of the two transcoders alone (gelf-wasm.c or gelf.ts's) makes of a line, or undefined where it declines. */
function transcodedBy (engine: 'javascript' | 'webassembly', line: string | Buffer, options: Options = {}, epoch?: number): string | undefined {
  const keys: GelfKeys = { shortMessageKey: options.gelfShortMessageKey, fullMessageKey: options.gelfFullMessageKey, hostKey: options.gelfHostKey, levelKey: options.gelfLevelKey, timestampKey: options.gelfTimestampKey }
  const id = engine + JSON.stringify(keys)
  let transcode = alone.get(id)
  if (transcode === undefined) alone.set(id, transcode = createJsonToGelf(keys, engine))
  // As lines sit in a chunk: bytes before, a line feed and more after.
  const bytes = Buffer.concat([Buffer.from('xx'), Buffer.from(line), Buffer.from('\nyy')])
  const out = transcode(epoch ?? leadingTime(bytes, 2, bytes.length - 3), bytes, 2, bytes.length - 3)
  return out === undefined ? undefined : Buffer.from(out).toString()
}

describe('GELF from a JSON line\'s bytes (pino\'s path)', () => {
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
      // Every one of these is WebAssembly's but the one with numbers JavaScript prints otherwise.
      if (!line.includes('"big"')) assert.equal(transcodedBy('webassembly', line), fast, line)
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
    for (const line of lines) {
      assert.equal(transcoded(line), undefined, line)
      assert.equal(transcodedBy('webassembly', line), undefined, line)
    }
    // U+FFFD is a character like any other; a byte that is no UTF-8 is the parse path's to replace.
    assert.notEqual(transcoded('{"level":30,"time":1,"s":"\uFFFD"}'), undefined)
    const invalid = Buffer.concat([Buffer.from('{"level":30,"time":1,"s":"'), Buffer.of(0xff), Buffer.from('"}')])
    const encoder = createEncoder(resolveEncoderOptions({ format: 'gelf' }))
    assert.equal(encoder.lineCodec!.take(1, invalid, 0, invalid.length, { pushEncoded: () => {}, pushSpliced: () => {}, pushRun: () => {} }), false)
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
    let inWasm = 0
    for (let i = 0; i < 5000; i++) {
      const record = Object.fromEntries(Array.from({ length: Math.floor(random() * 6) }, () => [pick(KEYS), value(0)]))
      const line = JSON.stringify({ level: pick([30, 40, 'info', 'warn', 'x']), time: 1700000000000 + i, ...record })
      const options = i % 2 === 0 ? {} : { gelfShortMessageKey: 'a', gelfLevelKey: 'b' }
      const wasm = transcodedBy('webassembly', line, options)
      if (wasm !== undefined) {
        inWasm++
        assert.equal(wasm, parsed(line, options), `WebAssembly: ${line}`)
      }
      const fast = transcoded(line, options)
      if (fast === undefined) continue
      taken++
      assert.equal(fast, parsed(line, options), line)
    }
    // The generator makes collisions and odd keys on purpose; most lines must still take the fast path.
    assert.ok(taken > 1000, `only ${taken} of 5000 lines transcoded`)
    // WebAssembly leaves the lines with numbers JavaScript prints otherwise (1e21, -0, 2 ** 60) to JavaScript.
    assert.ok(inWasm > 700, `only ${inWasm} of 5000 lines transcoded in WebAssembly`)
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
    let inWasm = 0
    for (let i = 0; i < 20_000; i++) {
      const text = numberText()
      const line = `{"level":30,"time":1700000000000,"n":${text},"a":[${text},{"m":${text}}]}`
      const wasm = transcodedBy('webassembly', line)
      if (wasm !== undefined) {
        inWasm++
        assert.equal(wasm, parsed(line), `WebAssembly: ${line}`)
      }
      const fast = transcoded(line)
      if (fast === undefined) continue
      taken++
      assert.equal(fast, parsed(line), line)
      if (String(Number(text)) === text) copied++
    }
    assert.ok(taken > 10_000 && copied > 2_000, `taken ${taken}, printed back as written ${copied}`)
    // WebAssembly takes the numbers it can tell print as themselves, and leaves the rest.
    assert.ok(inWasm > 2_000 && inWasm <= copied, `${inWasm} in WebAssembly, ${copied} printed back as written`)
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
      pushSpliced: () => { throw new Error('GELF does not splice') },
      pushRun: () => { throw new Error('GELF does not splice') }
    }
    let taken = 0
    let inWasm = 0
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
      const wasm = transcodedBy('webassembly', line, {}, epoch)
      if (wasm !== undefined) {
        inWasm++
        assert.equal(wasm, reference.encodeRecord({ time: timeFromEpoch(epoch), json: line }), `WebAssembly: ${line}`)
      }
      if (!encoder.lineCodec!.take(epoch, bytes, 0, bytes.length, sink)) continue
      taken++
      assert.equal(out, reference.encodeRecord({ time: timeFromEpoch(epoch), json: line }), line)
    }
    assert.ok(taken > 5000, `only ${taken} of 20 000 lines transcoded`)
    assert.ok(inWasm > 3000, `only ${inWasm} of 20 000 lines transcoded in WebAssembly`)
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
        const sink = { pushEncoded: (record: Uint8Array) => { out = Buffer.from(record).toString() }, pushSpliced: () => {}, pushRun: () => {} }
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

// gelf-wasm.c against gelf.ts's JavaScript transcoder. The WebAssembly one may refuse more (the JavaScript
// one then decides), never answer otherwise: where it answers, the JavaScript one makes the same bytes.
describe('GELF: the WebAssembly transcoder against the JavaScript one', () => {
  function same (line: string | Buffer, options: Options = {}, epoch?: number): boolean {
    const wasm = transcodedBy('webassembly', line, options, epoch)
    if (wasm !== undefined) assert.equal(wasm, transcodedBy('javascript', line, options, epoch), String(line))
    return wasm !== undefined
  }

  test('what it leaves to JavaScript: numbers printed otherwise, a time or level no plain integer, a level name past ASCII', () => {
    const refused = [
      '{"level":30,"time":1700000000000,"n":1.50}',
      '{"level":30,"time":1700000000000,"n":1e3}',
      '{"level":30,"time":1700000000000,"n":1234567890123456}',
      '{"level":30,"time":1700000000000.0,"msg":"x"}',
      '{"level":30.0,"time":1700000000000,"msg":"x"}',
      '{"level":"\u0130nfo","time":1700000000000,"msg":"x"}'
    ]
    const epoch = 1700000000000
    const reference = createEncoder(resolveEncoderOptions({ format: 'gelf' }))
    for (const line of refused) {
      assert.equal(transcodedBy('webassembly', line, {}, epoch), undefined, line)
      assert.equal(transcodedBy('javascript', line, {}, epoch), reference.encodeRecord({ time: timeFromEpoch(epoch), json: line }), line)
    }
    // Level names in any case, "0"-"7", names GELF does not know (kept as _level).
    for (const level of ['"INFO"', '"Warning"', '"emerg"', '"7"', '"8"', '"nope"', '"constructor"', '10', '-5', '60', '999']) {
      const line = `{"level":${level},"time":1700000000000,"msg":"x"}`
      assert.ok(same(line), line)
      assert.equal(transcodedBy('webassembly', line), parsed(line), line)
    }
    // Fluent Bit's gelf_*_key options.
    const options = { gelfShortMessageKey: 'text', gelfHostKey: 'node', gelfLevelKey: 'sev', gelfFullMessageKey: 'detail' }
    const line = '{"sev":"error","time":1700000000000,"text":"boom","node":"n-1","msg":"kept","host":"kept too","detail":null}'
    assert.ok(same(line, options))
    assert.equal(transcodedBy('webassembly', line, options), parsed(line, options))
  })

  test('mutated lines: wherever it answers, the bytes are the JavaScript transcoder\'s', () => {
    const random = prng(0x6e1f)
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]
    const seeds = [
      '{"level":30,"time":1700000000250,"pid":7,"hostname":"web-1","reqId":"r-1","req":{"method":"GET","url":"/x?a=1","remoteAddress":"10.1.2.3"},"res":{"statusCode":200},"responseTime":12.5,"msg":"request completed"}',
      '{"level":50,"time":1700000000251,"msg":"héllo 日本 🎉","tags":["a","b"],"items":[{"id":1,"price":1.25}],"empty":{},"none":[],"ok":true,"no":false,"gone":null,"id":42}',
      `{"level":40,"time":1700000000252,"msg":"${'long text '.repeat(20)}","a":{"b":{"c":{"d":[1,2,{"e":"f"}]}}},"x.y":"z","_id":7}`
    ].map((line) => Buffer.from(line))
    // JSON's structure, digits, letters of literals, a control character, bytes past ASCII (some no UTF-8).
    const PIECES = ['{', '}', '[', ']', '"', ',', ':', '0', '9', '-', '.', 'e', 'a', '_', ' ', '\u0001', 't', 'n'].map((piece) => Buffer.from(piece))
      .concat([Buffer.of(0xff), Buffer.of(0xc3), Buffer.of(0xa9), Buffer.from('é'), Buffer.from('🎉').subarray(0, 3)])
    let answered = 0
    for (let i = 0; i < 20_000; i++) {
      let line = pick(seeds)
      for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) {
        const at = Math.floor(random() * line.length)
        const piece = pick(PIECES)
        const r = random()
        line = r < 0.4
          ? Buffer.concat([line.subarray(0, at), piece, line.subarray(at + 1)])
          : r < 0.7 ? Buffer.concat([line.subarray(0, at), piece, line.subarray(at)]) : Buffer.concat([line.subarray(0, at), line.subarray(at + 1)])
      }
      if (same(line, {}, 1700000000250)) answered++
    }
    assert.ok(answered > 2000, `only ${answered} of 20 000 mutated lines answered`)
  })

  test('deep nesting, many members, long names and long lines: the same bytes, or refused', () => {
    const nest = (depth: number): string => depth === 0 ? '1' : `{"k${depth}":${nest(depth - 1)},"s":"${'x'.repeat(depth)}"}`
    // 60 objects below the line's are taken; from 61 both decline.
    for (const depth of [1, 10, 59, 60]) assert.ok(same(`{"level":30,"time":1,"a":${nest(depth)}}`, {}, 1), `depth ${depth}`)
    for (const depth of [61, 70]) assert.ok(!same(`{"level":30,"time":1,"a":${nest(depth)}}`, {}, 1), `depth ${depth}`)
    const many = (count: number): string => `{"level":30,"time":1,${Array.from({ length: count }, (_, i) => `"m${i}":${i}`).join(',')}}`
    assert.ok(same(many(1022), {}, 1))
    assert.ok(!same(many(1023), {}, 1))
    // Children of a long parent: the message outgrows the line many times over.
    const wide = `{"level":30,"time":1,"${'p'.repeat(3000)}":{${Array.from({ length: 40 }, (_, i) => `"c${i}":[${i},"q",{"r":"s"}]`).join(',')}}}`
    assert.ok(same(wide, {}, 1))
    assert.ok(transcodedBy('webassembly', wide, {}, 1)!.length > 40 * 3000)
    // Lines past its 64 KiB go to JavaScript, which takes them.
    const long = `{"level":30,"time":1,"msg":"${'y'.repeat(70_000)}"}`
    assert.equal(transcodedBy('webassembly', long, {}, 1), undefined)
    assert.equal(transcoded(long), parsed(long))
  })
})

// Without WebAssembly (node --jitless), or without the memory for an instance (a V8 limit of 2 pages, 128 KiB),
// the JavaScript transcoder does the work.
for (const flag of ['--jitless', '--wasm-max-mem-pages=2']) {
  test(`GELF: where WebAssembly cannot run (node ${flag}), the JavaScript transcoder does the work`, () => {
    const line = '{"level":30,"time":1700000000000,"msg":"x","a":[1,-2.5,"x"],"b":{"c":null,"d":1.5}}'
    const script = `
      import { createJsonToGelf } from './src/encoders/gelf.ts'
      const line = Buffer.from(${JSON.stringify(line)})
      let alone
      try { createJsonToGelf({}, 'webassembly') } catch (error) { alone = error.message }
      console.log(JSON.stringify({ alone, text: Buffer.from(createJsonToGelf()(1700000000000, line, 0, line.length)).toString() }))`
    const child = spawnSync(process.execPath, [flag, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
    assert.equal(child.status, 0, child.stderr)
    const result = JSON.parse(child.stdout) as { alone: string, text: string }
    assert.equal(result.alone, 'WebAssembly is not available')
    const bytes = Buffer.from(line)
    assert.equal(result.text, Buffer.from(createJsonToGelf({}, 'javascript')(1700000000000, bytes, 0, bytes.length)!).toString())
  })
}
