import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { frameMessage, framePing, maskHere, PING_FRAME_BYTES } from '../src/frame.js'
import { prng } from './helpers.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

// The frames pino-websocket writes itself (src/frame.ts), read back the way a
// server reads them (RFC 6455 5.2): every server in the interop suite reads them
// too; here each length class and both masks, byte for byte.

/** What a server makes of a frame: its first byte, the payload unmasked, and the bytes it took. */
function readFrame (frame: Buffer): { first: number, payload: Buffer, size: number } {
  assert.equal(frame[1] & 0x80, 0x80, 'masked')
  let length = frame[1] & 0x7f
  let at = 2
  if (length === 126) {
    length = frame.readUInt16BE(2)
    at = 4
  } else if (length === 127) {
    length = frame.readUInt32BE(2) * 0x100000000 + frame.readUInt32BE(6)
    at = 10
  }
  const key = frame.subarray(at, at + 4)
  const payload = Buffer.from(frame.subarray(at + 4, at + 4 + length))
  for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3]
  return { first: frame[0], payload, size: at + 4 + length }
}

test('a frame of each length class, text and binary, carries the message masked, in the shortest length form', () => {
  const random = prng(6455)
  let buffer: Buffer = Buffer.alloc(0)
  const keys = new Set<string>()
  for (const length of [0, 1, 3, 125, 126, 127, 4096, 65535, 65536, 70001]) {
    for (const binary of [false, true]) {
      const message = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)))
      const made = frameMessage(buffer, message, binary)
      buffer = made.buffer
      const { first, payload, size } = readFrame(made.frame)
      assert.equal(first, binary ? 0x82 : 0x81, 'final, text or binary')
      assert.equal(size, made.frame.length, 'nothing after the payload')
      assert.equal(made.frame.length - length, length < 126 ? 6 : length < 65536 ? 8 : 14, `header of a ${length}-byte message`)
      assert.ok(payload.equals(message), `${length} bytes`)
      keys.add(made.frame.subarray(made.frame.length - length - 4, made.frame.length - length).toString('hex'))
    }
  }
  assert.equal(keys.size, 20, 'a new masking key each frame')
})

test('a ping framed after a message, or alone, is a masked ping whose payload is its sequence number, big-endian', () => {
  const random = prng(9)
  let buffer: Buffer = Buffer.alloc(0)
  for (const [length, seq] of [[0, 1], [125, 2], [126, 0xffffffff], [70001, 0x01020304], [3, 2 ** 32 + 5]]) {
    const message = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)))
    const made = frameMessage(buffer, message, false, seq)
    buffer = made.buffer
    const data = readFrame(made.frame)
    assert.ok(data.payload.equals(message), `the message of ${length} bytes first`)
    const alone = framePing(seq)
    assert.equal(alone.length, PING_FRAME_BYTES)
    for (const frame of [made.frame.subarray(data.size), alone]) {
      const ping = readFrame(frame)
      assert.equal(ping.first, 0x89, 'a final ping')
      assert.equal(ping.size, frame.length, 'nothing after the ping')
      assert.equal(ping.payload.readUInt32BE(0), seq >>> 0, `payload of ping ${seq}`)
    }
  }
  assert.equal(frameMessage(buffer, Buffer.from('x'), true).frame.length, 7, 'no ping unless asked for')
})

test('masking in JavaScript (no bufferutil) XORs every byte with the key, whatever the length and offset', () => {
  const random = prng(17)
  for (let round = 0; round < 200; round++) {
    const source = Buffer.from(Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256)))
    const at = 6 + Math.floor(random() * 9)
    const target = Buffer.alloc(at + source.length)
    const key = Buffer.from(Array.from({ length: 4 }, () => Math.floor(random() * 256)))
    key.copy(target, at - 4)
    maskHere(source, target, at - 4, at)
    for (let i = 0; i < source.length; i++) assert.equal(target[at + i], source[i] ^ key[i & 3], `byte ${i} of ${source.length} at ${at}`)
    assert.ok(target.subarray(at - 4, at).equals(key), 'the key is left as it was')
  }
})

/** Which mask src/frame.ts takes in a fresh process with these arguments and environment. */
function masking (args: string[], env: NodeJS.ProcessEnv = {}): string {
  const probe = "import('./src/frame.ts').then((frame) => console.log(frame.MASKING))"
  return execFileSync(process.execPath, [...args, '--import', 'tsx', '--input-type=module', '-e', probe], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' }).trim()
}

// bufferutil is optional: where it is, its directory; and whether its native build loads here (as bufferutil loads it).
const require = createRequire(import.meta.url)
const bufferutilDir = ((): string | undefined => {
  try {
    return dirname(require.resolve('bufferutil/package.json'))
  } catch {
    return undefined
  }
})()
const nativeLoads = ((): boolean => {
  try {
    return bufferutilDir !== undefined && typeof (require('node-gyp-build')(bufferutilDir) as { mask?: unknown }).mask === 'function'
  } catch {
    return false
  }
})()

test('bufferutil masks when its native build loads here, maskHere otherwise, and WS_NO_BUFFER_UTIL turns bufferutil off', () => {
  assert.equal(masking([]), nativeLoads ? 'bufferutil' : 'javascript')
  assert.equal(masking([], { WS_NO_BUFFER_UTIL: '1' }), 'javascript')
})

test('bufferutil installed, its native build not loading: its JavaScript fallback is not taken, maskHere is', { skip: bufferutilDir === undefined && 'bufferutil is not installed here' }, () => {
  // node-gyp-build throws, as it does for a platform with no prebuilt binary and no compiler; bufferutil then gives its fallback.
  const preload = join(mkdtempSync(join(tmpdir(), 'pino-websocket-mask-')), 'no-native.cjs')
  writeFileSync(preload, `
    const Module = require('node:module')
    const path = require.resolve('node-gyp-build', { paths: [${JSON.stringify(bufferutilDir)}] })
    const fake = new Module(path)
    fake.filename = path
    fake.loaded = true
    fake.exports = () => { throw new Error('no native build here') }
    require.cache[path] = fake
  `)
  try {
    assert.equal(masking(['--require', preload]), 'javascript')
  } finally {
    rmSync(dirname(preload), { recursive: true, force: true })
  }
})
