// A production-style receiver: decodes what pino-websocket (or Fluent Bit's
// websocket output) sends, in any format, and appends each record as one NDJSON
// line with its time, to stdout or to OUT. Pongs are answered by ws itself, and
// they are what confirms delivery to the sender: frames are handled in order, and
// each message's records are written (synchronously, to the operating system)
// before the ping that follows it is answered. So a receiver killed with -9 has
// lost nothing it confirmed; the sender re-sends what it had not.
//   PORT=8080 OUT=records.ndjson node examples/receiver.mjs
import { openSync, writeSync } from 'node:fs'
import { WebSocketServer } from 'ws'
import { decodeMessage } from 'pino-websocket'

const out = process.env.OUT === undefined ? 1 : openSync(process.env.OUT, 'a')
const server = new WebSocketServer({
  host: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 8080),
  // Fluent Bit sends msgpack in text frames; pino-websocket's are binary.
  skipUTF8Validation: true,
  // Our default maxMessageBytes is 1 MiB: allow that, refuse more (close 1009).
  maxPayload: 1024 * 1024
})

server.on('listening', () => console.error(`listening on ws://${server.address().address}:${server.address().port}/`))
server.on('connection', (socket, request) => {
  const peer = `${request.socket.remoteAddress}:${request.socket.remotePort}`
  socket.on('error', (error) => console.error(`${peer}: ${error.message}`))
  socket.on('message', (data) => {
    let events
    try {
      events = decodeMessage(data)
    } catch (error) {
      // Unconfirmed: the sender keeps the records. Tell it why, and hang up.
      console.error(`${peer}: undecodable message: ${error.message}`)
      socket.close(1007, 'undecodable message')
      return
    }
    let lines = ''
    for (const { time, record } of events) {
      lines += JSON.stringify({ time: new Date(time.sec * 1000 + time.nsec / 1e6).toISOString(), ...record }) + '\n'
    }
    // Synchronous: written before the next frame (and its ping) is read. A slow
    // disk slows this socket's reads, and the sender's queue holds the rest.
    writeAll(Buffer.from(lines))
  })
})

function writeAll (bytes) {
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(writeSync(out, bytes))
    } catch (error) {
      // stdout may be a non-blocking pipe that is full for a moment.
      if (error.code !== 'EAGAIN') throw error
    }
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    // 1001 "going away": senders keep unconfirmed records and reconnect elsewhere.
    for (const client of server.clients) client.close(1001, 'shutting down')
    server.close()
  })
}
