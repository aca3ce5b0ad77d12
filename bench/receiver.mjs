// A counting receiver in its own process: a ws server (or, with --tcp, a plain TCP
// server for pino-socket) that reports when the record holding "END" arrives, and,
// with --latency, each json_lines record's delay from its `sent` field.
// It prints {"port":N} when listening, then one JSON line per finished run.
import { createServer } from 'node:net'
import { WebSocketServer } from 'ws'

const tcp = process.argv.includes('--tcp')
const latency = process.argv.includes('--latency')
const END = Buffer.from('END')
const now = () => performance.timeOrigin + performance.now()
const report = (what) => process.stdout.write(JSON.stringify(what) + '\n')
let bytes = 0
let delays = []
// TCP may split "END" between two chunks: search the last bytes of the previous chunk too.
let carry = Buffer.alloc(0)

function onData (data) {
  bytes += data.length
  // The last two bytes of the previous chunk and the first two of this one hold any split "END".
  const seen = Buffer.concat([carry, data.subarray(0, 2)])
  carry = Buffer.from(data.subarray(Math.max(0, data.length - 2)))
  if (latency) {
    const at = now()
    for (const line of data.toString().split('\n')) {
      const match = /"sent":([\d.]+)/.exec(line)
      if (match !== null) delays.push(at - Number(match[1]))
    }
  }
  if (data.indexOf(END) !== -1 || seen.indexOf(END) !== -1) {
    carry = Buffer.alloc(0)
    report({ end: now(), bytes, delays: latency ? delays : undefined })
    bytes = 0
    delays = []
  }
}

if (tcp) {
  const server = createServer((socket) => socket.on('data', onData))
  server.listen(0, '127.0.0.1', () => report({ port: server.address().port }))
} else {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 256 * 1024 * 1024 })
  server.on('connection', (socket) => socket.on('message', onData))
  server.on('listening', () => report({ port: server.address().port }))
}
