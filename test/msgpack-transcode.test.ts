import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { createJsonToMsgpack, createMsgpackRecordEncoder } from '../src/encoders/msgpack.js'
import { prng } from './helpers.js'

// The msgpack transcoder (pino's lines to msgpack with no parse) against the
// object path (JSON.parse, then @msgpack/msgpack): byte for byte, on random
// records with strings short and long, with and without escapes.

const SEED = 20261207
const random = prng(SEED)
const pick = <T> (items: readonly T[]): T => items[Math.floor(random() * items.length)]
const PIECES = ['a', 'xyz', ' ', 'é', '日本', '😀', '"', '\\', '\n', '\t', '\u0001', '/', '\u2028', 'plain text ']

function randomString (): string {
  const long = random() < 0.4
  const length = long ? 20 + Math.floor(random() * 5000) : Math.floor(random() * 40)
  const plain = random() < 0.5
  let text = ''
  while (text.length < length) text += plain ? 'abcdefghij'.slice(0, 1 + Math.floor(random() * 10)) : pick(PIECES)
  return text
}

function randomValue (depth: number): unknown {
  const kind = Math.floor(random() * (depth > 3 ? 5 : 7))
  switch (kind) {
    case 0: return randomString()
    case 1: return Math.floor(random() * 2 ** 40) * (random() < 0.5 ? 1 : -1)
    case 2: return random() * 1e6
    case 3: return pick([true, false, null])
    case 4: return Math.floor(random() * 300)
    case 5: return Array.from({ length: Math.floor(random() * 20) }, () => randomValue(depth + 1))
    default: return randomObject(depth + 1)
  }
}

function randomObject (depth: number): Record<string, unknown> {
  const record: Record<string, unknown> = {}
  const keys = Math.floor(random() * (depth === 0 ? 20 : 8))
  for (let i = 0; i < keys; i++) record[random() < 0.2 ? randomString() : `k${i}`] = randomValue(depth)
  return record
}

test(`msgpack: the transcoder makes the object path's bytes on 3 000 random records (seed ${SEED})`, () => {
  const transcode = createJsonToMsgpack()
  const encode = createMsgpackRecordEncoder()
  const time = { sec: 1_700_000_000, nsec: 123_456_789 }
  for (let i = 0; i < 3000; i++) {
    const json = JSON.stringify(randomObject(0))
    const text = Buffer.from('xx' + json + 'yy')
    const fast = Buffer.from(transcode(time, text, 2, text.length - 2))
    const reference = Buffer.from(encode(time, JSON.parse(json) as object))
    assert.ok(fast.equals(reference), `record ${i}: ${json.slice(0, 200)}`)
  }
})

// msgpack-wasm.c against this module's JavaScript transcoder. The WebAssembly one may refuse more
// (the JavaScript one then decides), never answer otherwise: where it answers, the bytes are the same;
// where the JavaScript one refuses, so does it.
describe('msgpack: the WebAssembly transcoder against the JavaScript one', () => {
  const time = { sec: 1_700_000_000, nsec: 1 }
  const inWasm = createJsonToMsgpack('webassembly')
  const inJs = createJsonToMsgpack('javascript')
  const both = createJsonToMsgpack()
  const run = (transcode: typeof inJs, text: Buffer, end: number): string | undefined => {
    try {
      return Buffer.from(transcode(time, text, 2, end)).toString('hex')
    } catch {
      return undefined
    }
  }
  // As lines sit in a chunk: a line feed after each.
  const inChunk = (line: string | Buffer): Buffer => Buffer.concat([Buffer.from('xx'), Buffer.from(line), Buffer.from('\nyy')])

  test('answers every record whose numbers have no exponent and at most 15 digits, with the same bytes', () => {
    const shortNumbers = (value: unknown): unknown => typeof value === 'number'
      ? Math.round(value * 1000) / 1000 % 1e11
      : Array.isArray(value)
        ? value.map(shortNumbers)
        : value !== null && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shortNumbers(v)])) : value
    let answered = 0
    for (let i = 0; i < 1000; i++) {
      const json = JSON.stringify(shortNumbers(randomObject(0)))
      if (Buffer.byteLength(json) > 65536 || /[eE][+-]?\d+(?=[,\]}])/.test(json.replace(/"(?:[^"\\]|\\.)*"/g, '""'))) continue
      const text = inChunk(json)
      const expected = run(inJs, text, text.length - 3)
      assert.ok(expected !== undefined, json.slice(0, 200))
      assert.equal(run(inWasm, text, text.length - 3), expected, `record ${i}: ${json.slice(0, 200)}`)
      answered++
    }
    // Most are under 64 KiB.
    assert.ok(answered > 500, `${answered} records`)
  })

  test('on 40 000 mutated lines, answers only as the JavaScript transcoder does (seed 20261208)', () => {
    const mine = prng(20261208)
    const BYTES = Buffer.from('{}[],:"\\0123456789-.eEtfnu \n\t\rx\u00e9')
    const one = <T> (items: ArrayLike<T>): T => items[Math.floor(mine() * items.length)]
    let answered = 0
    let refusedByBoth = 0
    for (let i = 0; i < 40_000; i++) {
      const record = i % 4 !== 0
        ? { level: 30, time: 1_700_000_000_000 + i, msg: 'request completed', n: [1, -2, 3.5, 0, -0.25, 12345678901, true, null], s: 'a"b\\c\u00e9\ud83d\ude00\n' }
        : randomObject(3)
      let bytes = Buffer.from(JSON.stringify(record))
      for (let edits = 1 + Math.floor(mine() * 3); edits > 0; edits--) {
        const at = Math.floor(mine() * bytes.length)
        const kind = Math.floor(mine() * 4)
        if (kind === 0) bytes[at] = one(BYTES)
        else if (kind === 1) bytes = Buffer.concat([bytes.subarray(0, at), Buffer.of(one(BYTES)), bytes.subarray(at)])
        else if (kind === 2) bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)])
        else bytes = bytes.subarray(0, Math.max(at, bytes.length - 3))
      }
      const text = inChunk(bytes)
      const end = text.length - 3
      const fromWasm = run(inWasm, text, end)
      const fromJs = run(inJs, text, end)
      if (fromWasm !== undefined) {
        assert.equal(fromWasm, fromJs, bytes.toString())
        answered++
      } else if (fromJs === undefined) {
        refusedByBoth++
      }
      assert.equal(run(both, text, end), fromJs, bytes.toString())
    }
    // Both kinds of answer were tried many times.
    assert.ok(answered > 5000 && refusedByBoth > 20_000, `${answered} answered, ${refusedByBoth} refused by both`)
  })

  test('takes lines of up to 64 KiB; a longer one goes to the JavaScript transcoder', () => {
    for (const length of [65535, 65536, 65537]) {
      const json = `{"a":"${'v'.repeat(length - 8)}"}`
      assert.equal(json.length, length)
      const text = inChunk(json)
      const expected = run(inJs, text, text.length - 3)
      assert.ok(expected !== undefined)
      assert.equal(run(inWasm, text, text.length - 3), length <= 65536 ? expected : undefined, `${length} bytes`)
      assert.equal(run(both, text, text.length - 3), expected, `${length} bytes`)
    }
    // The output's worst growth (floats of 3 characters, 9 bytes each), at the longest line.
    const floats = `{"f":[${Array(16382).fill('0.1').join(',')}]}`
    assert.ok(floats.length <= 65536 && floats.length > 65500, `${floats.length}`)
    const text = inChunk(floats)
    assert.equal(run(inWasm, text, text.length - 3), run(inJs, text, text.length - 3))
  })

  test('strings around its 16-byte loads and the 32-byte fixstr limit, with an escape and without', () => {
    for (let length = 0; length <= 50; length++) {
      for (const text of ['v'.repeat(length), 'v'.repeat(length) + '\n', '\t' + 'v'.repeat(length), 'é'.repeat(length)]) {
        const line = inChunk(JSON.stringify({ ['k'.repeat(length)]: text, [text]: length }))
        const expected = run(inJs, line, line.length - 3)
        assert.ok(expected !== undefined)
        assert.equal(run(inWasm, line, line.length - 3), expected, `${length}: ${JSON.stringify(text)}`)
      }
    }
  })

  test('refuses numbers with an exponent or over 15 digits, which JavaScript reads', () => {
    for (const number of ['1e3', '2.5E-3', '1E+2', '1234567890123456', '0.1234567890123456', '12345678.123456789']) {
      const text = inChunk(`{"n":${number}}`)
      assert.equal(run(inWasm, text, text.length - 3), undefined, number)
      assert.equal(run(both, text, text.length - 3), run(inJs, text, text.length - 3), number)
    }
    for (const number of ['123456789012345', '0.123456789012345', '-12345678.1234567', '4294967295', '4294967296', '-2147483648', '-2147483649', '-0', '-0.0', '1.0']) {
      const text = inChunk(`{"n":${number}}`)
      const expected = run(inJs, text, text.length - 3)
      assert.ok(expected !== undefined)
      assert.equal(run(inWasm, text, text.length - 3), expected, number)
    }
  })
})

// Without WebAssembly (node --jitless), or without the memory for an instance (a V8 limit of 2 pages, 128 KiB,
// where it needs 5), the JavaScript transcoder does the work.
for (const flag of ['--jitless', '--wasm-max-mem-pages=2']) {
  test(`msgpack: where WebAssembly cannot run (node ${flag}), the JavaScript transcoder does the work`, () => {
    const script = `
      import { createJsonToMsgpack } from './src/encoders/msgpack.ts'
      const line = Buffer.from('{"a":[1,-2.5,"x"],"b":{"c":null}}')
      const time = { sec: 1, nsec: 2 }
      let alone
      try { createJsonToMsgpack('webassembly') } catch (error) { alone = error.message }
      console.log(JSON.stringify({ alone, bytes: Buffer.from(createJsonToMsgpack()(time, line, 0, line.length)).toString('hex') }))`
    const child = spawnSync(process.execPath, [flag, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
    assert.equal(child.status, 0, child.stderr)
    const result = JSON.parse(child.stdout) as { alone: string, bytes: string }
    assert.equal(result.alone, 'WebAssembly is not available')
    const line = Buffer.from('{"a":[1,-2.5,"x"],"b":{"c":null}}')
    assert.equal(result.bytes, Buffer.from(createJsonToMsgpack('javascript')({ sec: 1, nsec: 2 }, line, 0, line.length)).toString('hex'))
  })
}
