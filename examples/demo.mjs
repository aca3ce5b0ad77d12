// The quick-start demo: an embedded WebSocket receiver on 127.0.0.1 (free port),
// records logged through pino (in its worker thread) and winston, and what the
// receiver decoded. No external server needed: `npm run demo`.
import { once } from 'node:events'
import pino from 'pino'
import winston from 'winston'
import { WebSocketServer } from 'ws'
import { decodeMessage } from 'pino-websocket'
import { WebSocketTransport } from 'pino-websocket/winston'

const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
await once(server, 'listening')
const url = `ws://127.0.0.1:${server.address().port}/ingest`
console.log(`receiver listening on ${url}`)

const received = { pino: 0, winston: 0 }
server.on('connection', (socket, request) => {
  socket.on('message', (data, isBinary) => {
    // decodeMessage tells the formats apart (format: 'auto').
    for (const { time, record } of decodeMessage(data)) {
      const from = record.source
      received[from]++
      const date = new Date(time.sec * 1000 + time.nsec / 1e6).toISOString()
      console.log(`  received ${isBinary ? 'binary' : 'text  '} ${request.url} ${date} from ${from}: ${JSON.stringify(record)}`)
    }
  })
})

// pino: the transport runs in pino's worker thread; msgpack is the default format.
const transport = pino.transport({ target: 'pino-websocket', options: { url } })
transport.on('open', ({ endpoint }) => console.log(`pino transport connected to ${endpoint}`))
const logger = pino({ base: { source: 'pino' } }, transport)
logger.info('hello from pino')
logger.warn({ user: { id: 42 } }, 'a warning with context')
logger.error(new Error('boom'), 'an error with its stack')
await new Promise((resolve) => logger.flush(resolve))

// winston: the same connection manager in the main thread, here as json_lines.
const winstonTransport = new WebSocketTransport({ url, wireFormat: 'json_lines' })
const log = winston.createLogger({
  defaultMeta: { source: 'winston' },
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  transports: [winstonTransport]
})
log.info('hello from winston')
log.warn('winston warns too', { retry: 3 })
const finished = once(winstonTransport, 'finish')
log.end()
await finished

transport.end()
await once(transport, 'close')
server.close()
console.log(`received ${received.pino} record(s) from pino and ${received.winston} from winston`)
process.exitCode = received.pino === 3 && received.winston === 2 ? 0 : 1
