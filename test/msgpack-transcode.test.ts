import assert from 'node:assert/strict'
import { test } from 'node:test'
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
