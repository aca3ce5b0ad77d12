// A counting receiver in its own process: a ws server (or, with --tcp, a plain TCP
// server for pino-socket; with --raw, a minimal WebSocket server) that reports when
// the record holding "END" arrives, and, with --latency, each json_lines record's
// delay from its `sent` field. It prints {"port":N} when listening, then one JSON
// line per finished run: when the run's first bytes came, when END came.
import { createHash } from 'node:crypto'
import { createServer } from 'node:net'
import { WebSocketServer } from 'ws'

const tcp = process.argv.includes('--tcp')
const raw = process.argv.includes('--raw')
const latency = process.argv.includes('--latency')
const END = Buffer.from('END')
const now = () => performance.timeOrigin + performance.now()
const report = (what) => process.stdout.write(JSON.stringify(what) + '\n')
let bytes = 0
let first = 0
// --tcp: records (lines) of the current run, for a run whose end never comes (below).
let lines = 0
let delays = []
// TCP may split "END" between two chunks: search the last bytes of the previous chunk too.
let carry = Buffer.alloc(0)

function onData (data) {
  if (bytes === 0) first = now()
  bytes += data.length
  // The last two bytes of the previous chunk and the first two of this one hold any split "END".
  const seen = Buffer.concat([carry, data.subarray(0, 2)])
  carry = Buffer.from(data.subarray(Math.max(0, data.length - 2)))
  if (tcp) for (let at = data.indexOf(10); at !== -1; at = data.indexOf(10, at + 1)) lines++
  if (latency) {
    const at = now()
    for (const line of data.toString().split('\n')) {
      const match = /"sent":([\d.]+)/.exec(line)
      if (match !== null) delays.push(at - Number(match[1]))
    }
  }
  if (data.indexOf(END) !== -1 || seen.indexOf(END) !== -1) {
    carry = Buffer.alloc(0)
    report({ first, end: now(), bytes, delays: latency ? delays : undefined })
    bytes = 0
    lines = 0
    delays = []
  }
}

if (tcp) {
  // pino-socket destroys its socket when its stream ends, whatever the socket has not
  // yet written: when this receiver is slow, a run's tail (END with it) never comes.
  // Then the run ends when its connection closes, with the records that came.
  const server = createServer((socket) => socket.on('data', onData).on('close', () => {
    if (bytes === 0) return
    report({ first, end: now(), bytes, lines, lost: true })
    bytes = 0
    lines = 0
    carry = Buffer.alloc(0)
  }))
  server.listen(0, '127.0.0.1', () => report({ port: server.address().port }))
} else if (raw) {
  const server = createServer(rawWebSocket)
  server.listen(0, '127.0.0.1', () => report({ port: server.address().port }))
} else {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 256 * 1024 * 1024 })
  server.on('connection', (socket) => socket.on('message', onData))
  server.on('listening', () => report({ port: server.address().port }))
}

/**
 * --raw: the least a WebSocket server can do, so that on a small machine the
 * receiver takes as little CPU from the producer as it can. Frame headers are
 * parsed and payloads counted without unmasking, save the last 8 KiB of each data
 * frame (where a run's END record ends); pings are answered. No UTF-8 check, no
 * fragmentation (our clients send whole messages), no extensions.
 */
function rawWebSocket (socket) {
  let handshake = Buffer.alloc(0)
  let pending = Buffer.alloc(0)
  // Bytes of the current frame's payload still to come, its mask, and whether it carries data.
  let left = 0
  let mask = null
  let offset = 0
  let opcode = 0
  let tail = Buffer.alloc(0)
  socket.on('data', (chunk) => {
    if (handshake !== null) {
      handshake = Buffer.concat([handshake, chunk])
      const end = handshake.indexOf('\r\n\r\n')
      if (end === -1) return
      const key = /sec-websocket-key:\s*(\S+)/i.exec(handshake.subarray(0, end).toString())[1]
      const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`)
      chunk = handshake.subarray(end + 4)
      handshake = null
    }
    let at = 0
    if (pending.length > 0) {
      chunk = Buffer.concat([pending, chunk])
      pending = Buffer.alloc(0)
    }
    while (at < chunk.length) {
      if (left > 0) {
        const take = Math.min(left, chunk.length - at)
        // Control frames are unmasked whole; data frames only in their last 8 KiB,
        // enough to hold a run's END record (its msg may come before 4 KiB of fields).
        const control = opcode >= 0x8
        const keepFrom = control ? offset : Math.max(offset, offset + left - 8192)
        if (keepFrom < offset + take) {
          const piece = Buffer.from(chunk.subarray(at + keepFrom - offset, at + take))
          for (let i = 0; i < piece.length; i++) piece[i] ^= mask[(keepFrom + i) & 3]
          tail = Buffer.concat([tail, piece])
        }
        if (!control) onCounted(take)
        offset += take
        left -= take
        at += take
        if (left === 0) endFrame()
        continue
      }
      // A frame header: 2 bytes, the extended length, the mask key.
      if (chunk.length - at < 2) break
      const second = chunk[at + 1]
      let length = second & 0x7f
      let header = 2
      if (length === 126) header = 4
      else if (length === 127) header = 10
      if (chunk.length - at < header + 4) break
      if (length === 126) length = chunk.readUInt16BE(at + 2)
      else if (length === 127) length = Number(chunk.readBigUInt64BE(at + 2))
      opcode = chunk[at] & 0x0f
      mask = Buffer.from(chunk.subarray(at + header, at + header + 4))
      at += header + 4
      left = length
      offset = 0
      tail = Buffer.alloc(0)
      if (left === 0) endFrame()
    }
    if (at < chunk.length) pending = Buffer.from(chunk.subarray(at))
  })
  function endFrame () {
    if (opcode === 0x9) {
      socket.write(Buffer.concat([Buffer.from([0x8a, tail.length]), tail]))
    } else if (opcode === 0x8) {
      socket.end(Buffer.from([0x88, 0x02, 0x03, 0xe8]))
    } else if (tail.indexOf(END) !== -1) {
      report({ first, end: now(), bytes })
      bytes = 0
    }
  }
  function onCounted (n) {
    if (bytes === 0) first = now()
    bytes += n
  }
}
