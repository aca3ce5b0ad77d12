import assert from 'node:assert/strict'
import { hostname } from 'node:os'
import { describe, test } from 'node:test'
import { encodeMessages, type Options } from '../src/index.js'
import { syslogLevel } from '../src/encoders/gelf.js'

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
