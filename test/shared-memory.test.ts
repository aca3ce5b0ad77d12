import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { knownProtocol, SharedMemory } from '../src/shared-memory.js'
import { waitFor } from './helpers.js'

// thread-stream's side of its protocol (4.2), as its index.js does it: the
// indexes change between two increments of the sequence number, then it is notified.
const SEQ = 2
const WRITE = 4
const READ = 8

function threadStream (size: number): { data: Buffer, state: Int32Array, write: (text: string) => void, update: (fn: () => void) => void } {
  const data = Buffer.from(new SharedArrayBuffer(size))
  const state = new Int32Array(new SharedArrayBuffer(128))
  const update = (fn: () => void): void => {
    Atomics.add(state, SEQ, 1)
    fn()
    Atomics.add(state, SEQ, 1)
    Atomics.notify(state, SEQ)
  }
  const write = (text: string): void => {
    const at = Atomics.load(state, WRITE)
    const written = data.write(text, at)
    update(() => Atomics.store(state, WRITE, at + written))
  }
  return { data, state, write, update }
}

describe('thread-stream\'s shared memory read as bytes', () => {
  test('only thread-stream 4.2 is taken for the protocol read', () => {
    assert.deepEqual(['4.2.0', '4.2.1', '4.2.17', '4.3.0', '4.1.0', '3.2.0', '2.7.0', '5.0.0', '4.2', 'x', undefined, 42].map(knownProtocol),
      [true, true, true, false, false, false, false, false, false, false, false, false])
  })

  test('a first chunk that is not the bytes at the read index leaves everything as it was', () => {
    const { data, state, write } = threadStream(1024)
    write('{"a":1}\n')
    const memory = new SharedMemory(data, state)
    assert.equal(memory.takeOver('{"b":2}\n', () => assert.fail('no bytes'), () => assert.fail('no end')), false)
    assert.equal(memory.takeOver('{"a":1}\n{"more":"than was written"}\n', () => assert.fail('no bytes'), () => assert.fail('no end')), false)
    assert.equal(Atomics.load(state, READ), 0)
  })

  test('from the first chunk on, every byte is read once, in order, across the buffer\'s restarts at 0, then the end', async () => {
    const { data, state, write, update } = threadStream(64)
    const got: Buffer[] = []
    let ended = false
    write('{"n":1,"t":"é"}\n{"n"')
    const memory = new SharedMemory(data, state)
    // thread-stream's loop hands over the text it decoded (a character may be cut).
    assert.equal(memory.takeOver('{"n":1,"t":"é"}\n{"n"', (bytes) => got.push(Buffer.from(bytes)), () => { ended = true }), true)
    await waitFor(() => Atomics.load(state, READ) === Atomics.load(state, WRITE), 'the first bytes read')
    write(':2}\n')
    await waitFor(() => Atomics.load(state, READ) === Atomics.load(state, WRITE), 'more bytes read')
    // The buffer is full enough: once the reader caught up, the app's thread starts again at 0.
    update(() => {
      Atomics.store(state, READ, 0)
      Atomics.store(state, WRITE, 0)
    })
    write('{"n":3,"t":"😀"}\n')
    await waitFor(() => Atomics.load(state, READ) === Atomics.load(state, WRITE) && Atomics.load(state, READ) > 0, 'the bytes after the restart read')
    update(() => Atomics.store(state, WRITE, -1))
    await waitFor(() => ended, 'the end')
    assert.equal(Buffer.concat(got).toString(), '{"n":1,"t":"é"}\n{"n":2}\n{"n":3,"t":"😀"}\n')
  })

  test('a change the app\'s thread made with no notification is read within a second, once; then a notified one as ever', async () => {
    const { data, state, write, update } = threadStream(256)
    const got: Buffer[] = []
    write('{"n":1}\n')
    const memory = new SharedMemory(data, state)
    assert.equal(memory.takeOver('{"n":1}\n', (bytes) => got.push(Buffer.from(bytes)), () => {}), true)
    await waitFor(() => Atomics.load(state, READ) === Atomics.load(state, WRITE), 'the first bytes read')
    // The reader now waits on the sequence number. The same change as write(), without its notification.
    const at = Atomics.load(state, WRITE)
    const written = data.write('{"n":2}\n', at)
    Atomics.add(state, SEQ, 1)
    Atomics.store(state, WRITE, at + written)
    Atomics.add(state, SEQ, 1)
    const changed = Date.now()
    await waitFor(() => Atomics.load(state, READ) === at + written, 'the bytes of a change not notified', 3000)
    assert.ok(Date.now() - changed < 2000)
    // The wait given up on wakes with the next notification: one reading goes on, every byte once.
    write('{"n":3}\n')
    await waitFor(() => Atomics.load(state, READ) === Atomics.load(state, WRITE), 'the next bytes read')
    write('{"n":4}\n')
    await waitFor(() => Atomics.load(state, READ) === Atomics.load(state, WRITE), 'more bytes read')
    update(() => Atomics.store(state, WRITE, -1))
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(Buffer.concat(got).toString(), '{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n')
  })
})
