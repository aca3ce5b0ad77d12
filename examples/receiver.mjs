// A production-style receiver: decodes what pino-websocket (or Fluent Bit's
// websocket output) sends, in any format, and appends each record as one NDJSON
// line with its time, to stdout or to OUT. Pongs are answered by ws itself, and
// they are what confirms delivery to the sender: frames are handled in order, so
// a message's records are handed to the output before the ping that follows it
// is answered.
//   PORT=8080 OUT=records.ndjson node examples/receiver.mjs
import { createWriteStream } from 'node:fs'
import { WebSocketServer } from 'ws'
import { decodeMessage } from 'pino-websocket'

const out = process.env.OUT === undefined ? process.stdout : createWriteStream(process.env.OUT, { flags: 'a' })
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
    // When the file cannot keep up, stop reading this socket: the sender's queue holds the rest.
    if (!out.write(lines)) {
      socket.pause()
      out.once('drain', () => socket.resume())
    }
  })
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    // 1001 "going away": senders keep unconfirmed records and reconnect elsewhere.
    for (const client of server.clients) client.close(1001, 'shutting down')
    server.close(() => out.end())
  })
}
